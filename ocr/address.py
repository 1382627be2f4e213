"""Decoding an e-mail comb: the address grammar, French spelling and common domains as
one weighted automaton over the cells' character probabilities.

A text's weight is the product of its characters' probabilities times its
prior, every factor at most 1:

- the rules of :func:`ocr.lexicon.prior` (one ``@``, the local part and
  domain grammar, :data:`ocr.lexicon.INVALID` for a text that breaks them,
  :data:`ocr.lexicon.DIGIT_INSIDE` for each digit inside a word,
  :data:`ocr.lexicon.NUMBER` for each number in the local part);
- the domain: one of :data:`ocr.lexicon.COMMON_DOMAINS` weighs 1, any other
  valid domain :data:`ocr.lexicon.RARE_DOMAIN`. The domain is matched as a
  whole string: each common domain that has as many characters as there are
  cells after the ``@`` is scored with the probability each of those cells
  gives its letter (all of the cell's alternatives, not only its top few), so
  ``hotmail.fr`` is found even when a cell's best reading is ``i`` for ``l``;
- the local part's spelling (:func:`ocr.lexicon.spelling_weight`): letter
  pairs rare in French words weigh less (``ii``, ``lx``), common ones 1.

The automaton's states carry what the weights depend on (where in the address,
the last letter, the common-domain prefix matched, the domain grammar), so the
sum of the weights of *every* text the cells can spell is computed exactly by
the forward algorithm. The confidence of a reading is its weight over that sum:
the posterior under this prior, neither inflated for lack of search nor
deflated by mass the beam did not reach (the mass the comb decoder of
:mod:`ocr.fields` counts as valid). The best texts themselves are found by a
beam search on the same automaton, the common domains' continuations always
tried.
"""

from __future__ import annotations

import string
import unicodedata
from collections.abc import Sequence
from functools import cache, lru_cache
from pathlib import Path

import numpy as np

from ocr import lexicon
from ocr.features import FloatArray
from ocr.reading import Reading

#: Texts kept by the beam, characters tried per cell (plus common-domain letters).
BEAM = 256
PER_CELL = 6
TOP = 5
#: A form's name fields' readings at least this probable are the words its e-mail
#: address is decoded with (``decode_email(words=...)``; fewer wrong spellings favoured).
FORM_NAME_MIN = 0.2
#: Characters of a cell among which the beam also tries those that continue a name.
NAME_TRIES = 12
#: ... when at least this probable.
NAME_FLOOR = 1e-3
NAMES_FILE = Path(__file__).resolve().parent / "models" / "names.txt"

_LETTERS = frozenset(string.ascii_lowercase)
_DIGITS = frozenset(string.digits)
_LOCAL_SYMBOLS = frozenset("-_+")
_DOMAIN_CHARS = _LETTERS | _DIGITS | {"-"}

# States: ("X",) a text that broke the rules; ("L", what, word) in the local part,
# ``what`` "^" (nothing yet), "." (after a dot), "-" (after - _ +), "0" (after a digit) or
# the last letter, ``word`` where the current letter run stands among the names
# (:class:`Names`: a frozenset of (trie node, part) pairs, empty once it can be no
# name, None outside a run); ("D", common, label) in the domain: ``common`` the prefix
# of a common domain matched so far (None once none matches), ``label`` the grammar's
# state: (letters in the current label, 0-2; only letters so far; a dot seen), or
# None once the grammar is broken.
State = tuple[object, ...]
Word = frozenset[tuple[int, int]]
_BROKEN: State = ("X",)
_START: State = ("L", "^", None)
_ROOT = 0


class Names:
    """The names an address's letter runs are likely made of, as a trie: a run is a
    name if it is one of them, an initial then one, or two run together
    (``jdupont``, ``jeanmartin``); a single letter is an initial. Compared by identity
    (one per word set, from :func:`names`), so the automaton's caches can key on it."""

    __slots__ = ("children", "terminal")

    def __init__(self, words: frozenset[str]) -> None:
        children: list[dict[str, int]] = [{}]
        terminal: set[int] = set()
        for w in sorted(words):
            node = _ROOT
            for c in w:
                nxt = children[node].get(c)
                if nxt is None:
                    nxt = len(children)
                    children[node][c] = nxt
                    children.append({})
                node = nxt
            terminal.add(node)
        self.children = tuple(children)
        self.terminal = frozenset(terminal)

    def start(self, c: str) -> Word:
        """The run of one letter ``c``: a name begun, or an initial before one."""
        first = self.children[_ROOT].get(c)
        return frozenset({(_ROOT, 0)} | ({(first, 0)} if first is not None else set()))

    def grow(self, word: Word, c: str) -> Word:
        """The run ``word`` followed by the letter ``c``."""
        out = set()
        for node, part in word:
            nxt = self.children[node].get(c)
            if nxt is not None:
                out.add((nxt, part))
            if part == 0 and node in self.terminal:
                second = self.children[_ROOT].get(c)
                if second is not None:
                    out.add((second, 1))
        return frozenset(out)

    def complete(self, word: Word) -> bool:
        """Whether the run ends here as names (or an initial)."""
        return any(node == _ROOT or node in self.terminal for node, _ in word)

    def next_letters(self, word: Word | None) -> frozenset[str]:
        """Letters that keep the run a possible name."""
        if word is None:
            return frozenset(self.children[_ROOT])
        out: set[str] = set()
        for node, part in word:
            out.update(self.children[node])
            if part == 0 and node in self.terminal:
                out.update(self.children[_ROOT])
        return frozenset(out)


def _plain(text: str, keep: str = "") -> str:
    """``text`` in lower case without accents; other characters than a-z and ``keep``
    become spaces."""
    low = unicodedata.normalize("NFKD", text.lower())
    return "".join(c if c in _LETTERS or c in keep else " " for c in low if c.isascii())


def _normal(name: str) -> list[str]:
    """The forms of a name in an address: lower case, no accents, no spaces or
    apostrophes; a hyphenated name as its parts (and run together)."""
    plain = _plain(name, keep="-").replace(" ", "")
    parts = [p for p in plain.split("-") if len(p) > 1]
    return [*parts, "".join(parts)] if len(parts) > 1 else parts


@cache
def _shipped_names() -> frozenset[str]:
    words = []
    for line in NAMES_FILE.read_text(encoding="ascii").splitlines():
        if not line.startswith("#"):
            words += [n for w in line.split() for n in _normal(w)]
    return frozenset(words)


@lru_cache(maxsize=256)
def names(extra: frozenset[str] = frozenset()) -> Names:
    """The shipped names (``models/names.txt``) and ``extra`` ones (a form's own name
    fields, say) as one :class:`Names`."""
    return Names(_shipped_names() | frozenset(n for w in extra for n in _normal(w)))


#: Words of French surnames written apart (``LE GALL``, ``DA SILVA``, ``BEN ALI``): free in
#: a name field, where the particle and the next word may also be a listed name run
#: together; not names in an address (two letters run into a word too easily).
PARTICLES = frozenset({"le", "la", "de", "du", "des", "da", "di", "van", "von", "der", "ben", "el"})


@lru_cache(maxsize=1 << 14)
def names_weight(text: str, words: frozenset[str] = frozenset()) -> float:
    """The prior weight of a name field's text (``name``: capitals, spaces, hyphens,
    apostrophes): :data:`ocr.lexicon.UNKNOWN_WORD` for each word of two letters or
    more not made of names (as a run of an address's local part), 1 otherwise."""
    lex = names(words)
    w = 1.0
    runs = _plain(text).split()
    k = 0
    while k < len(runs):
        run = runs[k]
        if run in PARTICLES:  # free; with the next word, a listed name (le gall: legall)
            if k + 1 < len(runs) and _is_name(lex, run + runs[k + 1]):
                k += 1
            k += 1
            continue
        if len(run) > 1 and not _is_name(lex, run):
            w *= lexicon.UNKNOWN_WORD
        k += 1
    return w


def _is_name(lex: Names, run: str) -> bool:
    word = lex.start(run[0])
    for c in run[1:]:
        word = lex.grow(word, c)
    return bool(word) and lex.complete(word)


@cache
def _common_prefixes() -> frozenset[str]:
    return frozenset(d[:i] for d in lexicon.COMMON_DOMAINS for i in range(len(d) + 1))


def _run_end(lex: Names, what: str, word: object) -> float:
    """The weight of ending the letter run ``word`` (last letter ``what``) here: its
    spelling's end, and :data:`ocr.lexicon.UNKNOWN_WORD` for a run still alive that
    is no name (a run that could no longer be one paid when it died)."""
    if what not in _LETTERS or not isinstance(word, frozenset):
        return 1.0
    end = lexicon.spelling_weight(what, "$")
    return end if not word or lex.complete(word) else end * lexicon.UNKNOWN_WORD


@lru_cache(maxsize=1 << 18)
def _step(lex: Names, state: State, c: str) -> tuple[State, float]:
    """The next state and the weight of writing ``c`` in ``state`` (pure: cached, as the
    beam asks the same few hundred questions again and again)."""
    if state[0] == "X":
        return _BROKEN, 1.0
    if state[0] == "L":
        what, word = str(state[1]), state[2]
        end = _run_end(lex, what, word)
        if c == "@":
            return (_BROKEN, 1.0) if what in "^." else (("D", "", (0, True, False)), end)
        if c == ".":
            return (_BROKEN, 1.0) if what in "^." else (("L", ".", None), end)
        if c in _LOCAL_SYMBOLS:
            return ("L", "-", None), end
        if c in _DIGITS:
            return ("L", "0", None), end * (1.0 if what == "0" else lexicon.NUMBER)
        if c in _LETTERS:
            if what in _LETTERS and isinstance(word, frozenset):
                grown = lex.grow(word, c)
                w = lexicon.spelling_weight(what, c)
                if word and not grown:  # the run can no longer be a name
                    w *= lexicon.UNKNOWN_WORD
                return ("L", c, grown), w
            w = lexicon.spelling_weight("^", c)
            return ("L", c, lex.start(c)), w * (lexicon.DIGIT_INSIDE if what == "0" else 1.0)
        return _BROKEN, 1.0
    common, label = state[1], state[2]
    if c == "@" or c not in _DOMAIN_CHARS | {"."}:
        return _BROKEN, 1.0
    grown_domain = f"{common}{c}" if common is not None else None
    if grown_domain is not None and grown_domain not in _common_prefixes():
        grown_domain = None
    new_label: tuple[int, bool, bool] | None = None
    if isinstance(label, tuple):
        n, letters, dot = label
        if c == ".":
            new_label = (0, True, True) if n > 0 else None
        else:
            new_label = (min(n + 1, 2), letters and c in _LETTERS, dot)
    if grown_domain is None and new_label is None:
        return _BROKEN, 1.0
    return ("D", grown_domain, new_label), lexicon.DIGIT_INSIDE if c in _DIGITS else 1.0


def _final(state: State) -> float:
    """The weight of ending the text in ``state`` (the domain's and the rules')."""
    if state[0] == "D":
        if state[1] in lexicon.COMMON_DOMAINS:
            return 1.0
        label = state[2]
        if isinstance(label, tuple) and label[0] == 2 and label[1] and label[2]:
            return lexicon.RARE_DOMAIN
    return lexicon.INVALID


@lru_cache(maxsize=1 << 16)
def _best_final(state: State, left: int) -> float:
    """The largest final weight a continuation of ``state`` by ``left`` characters can reach."""
    if state[0] == "L":
        return 1.0
    if state[0] == "D":
        common = state[1]
        if isinstance(common, str) and any(
            len(d) == len(common) + left and d.startswith(common) for d in lexicon.COMMON_DOMAINS
        ):
            return 1.0
        return lexicon.RARE_DOMAIN if state[2] is not None else lexicon.INVALID
    return lexicon.INVALID


class _Automaton:
    """The states reached so far over one alphabet and name set, numbered, with their
    transitions as arrays for the forward algorithm; a state's row is built the first
    time it holds mass (the names make too many states to list them all up front)."""

    def __init__(self, lex: Names, alphabet: tuple[str, ...]) -> None:
        self.lex, self.alphabet = lex, alphabet
        self.index: dict[State, int] = {_START: 0}
        self.states: list[State] = [_START]
        self.rows: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self.finals: list[float] = [_final(_START)]

    def _id(self, state: State) -> int:
        i = self.index.get(state)
        if i is None:
            i = self.index[state] = len(self.states)
            self.states.append(state)
            self.finals.append(_final(state))
        return i

    def row(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """The next states and weights of state ``i`` over the alphabet."""
        r = self.rows.get(i)
        if r is None:
            steps = [_step(self.lex, self.states[i], c) for c in self.alphabet]
            r = self.rows[i] = (
                np.array([self._id(t) for t, _ in steps], dtype=np.int64),
                np.array([w for _, w in steps], dtype=np.float64),
            )
        return r


@lru_cache(maxsize=64)
def _automaton(lex: Names, alphabet: tuple[str, ...]) -> _Automaton:
    return _Automaton(lex, alphabet)


#: States holding less than this share of the largest mass after a cell are dropped by
#: the forward algorithm (what they could add to the total is far below what the
#: confidences are rounded to).
PRUNE = 1e-9


def total_weight(
    cells: Sequence[tuple[tuple[str, ...], FloatArray]], lex: Names | None = None
) -> float:
    """The summed weight of every text the cells can spell (forward algorithm, states
    under :data:`PRUNE` of the largest dropped)."""
    if not cells:
        return lexicon.INVALID
    classes = cells[0][0]
    auto = _automaton(lex or names(), tuple(classes))
    live: np.ndarray = np.zeros(1, dtype=np.int64)
    mass: np.ndarray = np.ones(1)
    for cl, probs in cells:
        if tuple(cl) != tuple(classes):
            raise ValueError("every cell of a comb must have the same classes")
        rows = [auto.row(int(i)) for i in live]
        dst = np.stack([r[0] for r in rows])
        step = np.stack([r[1] for r in rows]) * np.asarray(probs, dtype=np.float64)[None, :]
        flow = (mass[:, None] * step).ravel()
        ids, inverse = np.unique(dst.ravel(), return_inverse=True)
        summed = np.bincount(inverse, weights=flow, minlength=len(ids))
        keep = summed >= PRUNE * summed.max() if summed.max() > 0 else summed > 0
        live, mass = ids[keep], summed[keep]
    return float(mass @ np.asarray(auto.finals)[live]) if len(live) else 0.0


def text_weight(text: str, lex: Names | None = None) -> float:
    """The prior weight of one whole text (rules, domain, spelling, names), at most 1."""
    lex = lex or names()
    state, w = _START, 1.0
    for c in text:
        state, step = _step(lex, state, c)
        w *= step
    return w * _final(state)


#: A text the beam may keep: its key (weight times the best final weight it can reach),
#: text, probability of its characters, prior weight so far, state.
_Candidate = tuple[float, str, float, float, State]


def _candidate(
    lex: Names, text: str, p: float, w: float, state: State, c: str, left: int
) -> _Candidate:
    """``text`` (characters' probability ``p`` with ``c``'s, prior weight ``w`` before it,
    in ``state``) extended by ``c``, ``left`` cells before the end."""
    nxt, step = _step(lex, state, c)
    return (p * w * step * _best_final(nxt, left), text + c, p, w * step, nxt)


def decode_email(
    cells: Sequence[tuple[tuple[str, ...], FloatArray] | None],
    words: Sequence[str] = (),
) -> Reading:
    """The most probable addresses of a comb's cells (empty inner cells skipped);
    ``words``: names the address is likely made of besides the shipped ones (those
    written on the same form)."""
    seq = [c for c in cells if c is not None]
    if not seq:
        return Reading("", lexicon.INVALID, (("", lexicon.INVALID),))
    lex = names(frozenset(words))
    # text, probability of its characters, prior weight so far, state
    beam: list[tuple[str, float, float, State]] = [("", 1.0, 1.0, _START)]
    for k, (classes, probs) in enumerate(seq):
        left = len(seq) - k - 1
        order = [int(i) for i in np.argsort(-probs, kind="stable")[:NAME_TRIES]]
        top = order[:PER_CELL]
        more = [i for i in order[PER_CELL:] if probs[i] >= NAME_FLOOR]
        where = {c: i for i, c in enumerate(classes)}
        q_of = [float(q) for q in probs]
        grown: list[_Candidate] = []

        # each text with the cell's best character first: the BEAM-th best of these
        # bounds what any other candidate must reach (its key is at most p * w * q)
        best = top[0]
        if q_of[best] > 0.0:
            for text, p, w, state in beam:
                grown.append(_candidate(lex, text, p * q_of[best], w, state, classes[best], left))
        bar = 0.0
        if len(grown) >= BEAM:
            firsts = np.fromiter((g[0] for g in grown), dtype=np.float64, count=len(grown))
            bar = float(np.partition(firsts, len(firsts) - BEAM)[len(firsts) - BEAM])
        for text, p, w, state in beam:
            tries = top + [where[c] for c in _common_next(state) if c in where]
            if state[0] == "L":
                follow = _name_next(lex, state)
                tries += [i for i in more if classes[i] in follow]
            pw = p * w
            for i in dict.fromkeys(tries):
                q = q_of[i]
                if i == best or q <= 0.0 or pw * q < bar:
                    continue
                grown.append(_candidate(lex, text, p * q, w, state, classes[i], left))
        if len(grown) > BEAM:  # only the candidates that can make the beam are sorted
            keys = np.fromiter((g[0] for g in grown), dtype=np.float64, count=len(grown))
            cut = float(np.partition(keys, len(keys) - BEAM)[len(keys) - BEAM])
            grown = [grown[int(i)] for i in np.flatnonzero(keys >= cut)]
        grown.sort(key=lambda g: (-g[0], g[1]))
        beam = [(t, p, w, s) for _, t, p, w, s in grown[:BEAM]]
    total = total_weight(seq, lex)
    found = {t: p * w * _final(s) for t, p, w, s in beam}
    # the characters as read, whatever the rules say: a clearly written invalid
    # address is read as written even when the beam dropped it early
    plain = "".join(classes[int(np.argmax(probs))] for classes, probs in seq)
    if plain not in found:
        chars = float(np.prod([float(np.max(probs)) for _, probs in seq]))
        found[plain] = chars * text_weight(plain, lex)
    scored = sorted(found.items(), key=lambda x: (-x[1], x[0]))
    alts = tuple((t, float(min(1.0, s / total))) for t, s in scored[:TOP])
    return Reading(alts[0][0], alts[0][1], alts)


@lru_cache(maxsize=1 << 14)
def _name_next(lex: Names, state: State) -> frozenset[str]:
    """Letters that keep the local part's current run a possible name."""
    word = state[2]
    if state[1] in _LETTERS and isinstance(word, frozenset):
        return lex.next_letters(word) if word else frozenset()
    return lex.next_letters(None)


@lru_cache(maxsize=1 << 12)
def _common_next(state: State) -> tuple[str, ...]:
    """Characters that extend a common domain from ``state`` (the ``@`` from the local part)."""
    if state[0] == "L":
        return ("@",) if state[1] not in ("^", ".") else ()
    if state[0] == "D" and isinstance(state[1], str):
        k = len(state[1])
        return tuple(
            sorted({d[k] for d in lexicon.COMMON_DOMAINS if d.startswith(state[1]) and len(d) > k})
        )
    return ()


#: Letters written within the x-height in lower case, and letters and digits that reach
#: the ascender or capital height (bars, ``i l 1``, are in neither: they are what is decided).
X_HEIGHT = frozenset("acemnorsuvwxz")
TALL = frozenset("bdfhkt023456789")
#: Median x-height letter over median tall character heights below which the address is
#: written in lower case (lower case about 0.5, capitals about 1).
LOWER_RATIO = 0.8
#: A glyph narrower than this share of its height is a bar (``l``, capital ``I``, ``1``).
BAR = 0.3


def _logistic(z: float) -> float:
    return float(1.0 / (1.0 + np.exp(-np.clip(z, -50.0, 50.0))))


def _height(strokes: Sequence[FloatArray]) -> float:
    return float(np.ptp(np.concatenate([s[:, 1] for s in strokes])))


def letter_heights(
    groups: Sequence[Sequence[FloatArray]], cells: Sequence[tuple[tuple[str, ...], FloatArray]]
) -> tuple[float, float] | None:
    """Median ink height of the cells read as x-height letters and of those read as tall
    characters, or None when either kind is missing."""
    small, tall = [], []
    for g, (classes, probs) in zip(groups, cells, strict=True):
        best = classes[int(np.argmax(probs))]
        if best in X_HEIGHT:
            small.append(_height(g))
        elif best in TALL:
            tall.append(_height(g))
    if not small or not tall:
        return None
    return float(np.median(small)), max(float(np.median(tall)), 1e-6)


def has_dot(strokes: Sequence[FloatArray]) -> bool:
    """Whether the glyph has a dot (``i``, ``j``): a stroke above the rest of the ink
    (overlapping it by at most 5% of the glyph's height, or its points on average
    above the rest's top) that is not a flat line (the top serif of a capital I).
    Dots are not always small: some writers flick them."""
    if len(strokes) < 2:
        return False
    height = max(_height(strokes), 1e-6)
    for k, s in enumerate(strokes):
        rest = np.concatenate([r[:, 1] for j, r in enumerate(strokes) if j != k])
        w, h = np.ptp(s[:, :2], axis=0)
        flat = w > 0.15 * height and h < 0.5 * w
        top = float(rest.min())
        above = float(s[:, 1].max()) < top + 0.05 * height or float(s[:, 1].mean()) < top
        if not flat and above:
            return True
    return False


def bars_by_case(
    groups: Sequence[Sequence[FloatArray]], cells: Sequence[tuple[tuple[str, ...], FloatArray]]
) -> list[tuple[tuple[str, ...], FloatArray]]:
    """The cells with ``i`` and ``l`` settled by the field's case and the glyph's height
    where its shape says nothing.

    Capitals are learnt as their lower-case letters, so a dotless bar reads ``i``
    (capital I) or ``l`` alike. The address is written in lower case with
    probability ``q`` (x-height letters about half as tall as the tall ones, rather
    than as tall). In lower case a dotless glyph is ``i`` if it is as short as the
    x-height letters (a writer who leaves out the dot), ``l`` if it is as tall as
    the tall ones (probability ``s``: a logistic function of the log of its height,
    0.5 halfway between the two medians); in capitals a bar is ``i`` (capital L has
    a foot). The ``i`` + ``l`` probability of the cell is shared out accordingly;
    ``1`` keeps its own. Undecided, the share is split, and the reading is not
    confident."""
    if not cells:
        return []
    heights = letter_heights(groups, cells)
    if heights is None:
        q, mid = 0.5, None
    else:
        q = _logistic((LOWER_RATIO - heights[0] / heights[1]) / 0.05)
        mid = float(np.log(np.sqrt(heights[0] * heights[1])))
    out = []
    for g, (classes, probs) in zip(groups, cells, strict=True):
        if "i" not in classes or "l" not in classes or has_dot(g):
            out.append((classes, probs))
            continue
        i, el = classes.index("i"), classes.index("l")
        mass = float(probs[i] + probs[el])
        if mass <= 0.0:
            out.append((classes, probs))
            continue
        w, h = np.ptp(np.concatenate([s[:, :2] for s in g]), axis=0)
        bar = _logistic((BAR - w / max(h, 1e-6)) / 0.05)
        tall = 0.5 if mid is None else _logistic((np.log(max(h, 1e-6)) - mid) / 0.15)
        own = float(probs[i]) / mass
        share_i = q * (1.0 - tall) + (1.0 - q) * (bar + (1.0 - bar) * own)
        p = probs.copy()
        p[i], p[el] = mass * share_i, mass * (1.0 - share_i)
        out.append((classes, p))
    return out
