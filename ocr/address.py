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
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache

import numpy as np

from ocr import lexicon
from ocr.features import FloatArray
from ocr.reading import Reading

#: Texts kept by the beam, characters tried per cell (plus common-domain letters).
BEAM = 256
PER_CELL = 6
TOP = 5

_LETTERS = frozenset(string.ascii_lowercase)
_DIGITS = frozenset(string.digits)
_LOCAL_SYMBOLS = frozenset("-_+")
_DOMAIN_CHARS = _LETTERS | _DIGITS | {"-"}

# States: ("X",) a text that broke the rules; ("L", what) in the local part, ``what``
# "^" (nothing yet), "." (after a dot), "-" (after - _ +), "0" (after a digit) or
# the last letter; ("D", common, label) in the domain: ``common`` the prefix of a
# common domain matched so far (None once none matches), ``label`` the grammar's
# state: (letters in the current label, 0-2; only letters so far; a dot seen), or
# None once the grammar is broken.
State = tuple[object, ...]
_BROKEN: State = ("X",)
_START: State = ("L", "^")


@cache
def _common_prefixes() -> frozenset[str]:
    return frozenset(d[:i] for d in lexicon.COMMON_DOMAINS for i in range(len(d) + 1))


@lru_cache(maxsize=1 << 16)
def _step(state: State, c: str) -> tuple[State, float]:
    """The next state and the weight of writing ``c`` in ``state`` (pure: cached, as the
    beam asks the same few hundred questions again and again)."""
    if state[0] == "X":
        return _BROKEN, 1.0
    if state[0] == "L":
        what = str(state[1])
        in_word = what in _LETTERS
        end = lexicon.spelling_weight(what, "$") if in_word else 1.0
        if c == "@":
            return (_BROKEN, 1.0) if what in "^." else (("D", "", (0, True, False)), end)
        if c == ".":
            return (_BROKEN, 1.0) if what in "^." else (("L", "."), end)
        if c in _LOCAL_SYMBOLS:
            return ("L", "-"), end
        if c in _DIGITS:
            return ("L", "0"), end * (1.0 if what == "0" else lexicon.NUMBER)
        if c in _LETTERS:
            w = lexicon.spelling_weight(what if in_word else "^", c)
            return ("L", c), w * (lexicon.DIGIT_INSIDE if what == "0" else 1.0)
        return _BROKEN, 1.0
    common, label = state[1], state[2]
    if c == "@" or c not in _DOMAIN_CHARS | {"."}:
        return _BROKEN, 1.0
    grown = f"{common}{c}" if common is not None else None
    if grown is not None and grown not in _common_prefixes():
        grown = None
    new_label: tuple[int, bool, bool] | None = None
    if isinstance(label, tuple):
        n, letters, dot = label
        if c == ".":
            new_label = (0, True, True) if n > 0 else None
        else:
            new_label = (min(n + 1, 2), letters and c in _LETTERS, dot)
    if grown is None and new_label is None:
        return _BROKEN, 1.0
    return ("D", grown, new_label), lexicon.DIGIT_INSIDE if c in _DIGITS else 1.0


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


@dataclass(frozen=True, slots=True)
class _Automaton:
    """Every state reachable over an alphabet, as arrays for the forward algorithm."""

    states: tuple[State, ...]
    nxt: np.ndarray
    """(states, characters) index of the next state."""
    weight: np.ndarray
    """(states, characters) weight of the step."""
    final: np.ndarray


@cache
def _automaton(alphabet: tuple[str, ...]) -> _Automaton:
    index: dict[State, int] = {_START: 0}
    states: list[State] = [_START]
    rows: list[list[tuple[int, float]]] = []
    i = 0
    while i < len(states):
        row = []
        for c in alphabet:
            t, w = _step(states[i], c)
            if t not in index:
                index[t] = len(states)
                states.append(t)
            row.append((index[t], w))
        rows.append(row)
        i += 1
    nxt = np.array([[t for t, _ in r] for r in rows], dtype=np.int64)
    weight = np.array([[w for _, w in r] for r in rows], dtype=np.float64)
    final = np.array([_final(s) for s in states])
    return _Automaton(tuple(states), nxt, weight, final)


def total_weight(cells: Sequence[tuple[tuple[str, ...], FloatArray]]) -> float:
    """The summed weight of every text the cells can spell (forward algorithm)."""
    if not cells:
        return lexicon.INVALID
    classes = cells[0][0]
    auto = _automaton(tuple(classes))
    n = len(auto.states)
    mass: np.ndarray = np.zeros(n)
    mass[0] = 1.0
    dst = auto.nxt.ravel()
    for cl, probs in cells:
        if tuple(cl) != tuple(classes):
            raise ValueError("every cell of a comb must have the same classes")
        step = auto.weight * np.asarray(probs, dtype=np.float64)[None, :]
        mass = np.bincount(dst, weights=(mass[:, None] * step).ravel(), minlength=n)
    return float(mass @ auto.final)


def text_weight(text: str) -> float:
    """The prior weight of one whole text (rules, domain and spelling), at most 1."""
    state, w = _START, 1.0
    for c in text:
        state, step = _step(state, c)
        w *= step
    return w * _final(state)


def decode_email(cells: Sequence[tuple[tuple[str, ...], FloatArray] | None]) -> Reading:
    """The most probable addresses of a comb's cells (empty inner cells skipped)."""
    seq = [c for c in cells if c is not None]
    if not seq:
        return Reading("", lexicon.INVALID, (("", lexicon.INVALID),))
    # text, probability of its characters, prior weight so far, state
    beam: list[tuple[str, float, float, State]] = [("", 1.0, 1.0, _START)]
    for k, (classes, probs) in enumerate(seq):
        left = len(seq) - k - 1
        top = [int(i) for i in np.argsort(-probs, kind="stable")[:PER_CELL]]
        where = {c: i for i, c in enumerate(classes)}
        grown: list[tuple[float, str, float, float, State]] = []
        for text, p, w, state in beam:
            tries = top + [where[c] for c in _common_next(state) if c in where]
            for i in dict.fromkeys(tries):
                q = float(probs[i])
                if q <= 0.0:
                    continue
                nxt, step = _step(state, classes[i])
                key = p * q * w * step * _best_final(nxt, left)
                grown.append((key, text + classes[i], p * q, w * step, nxt))
        grown.sort(key=lambda g: (-g[0], g[1]))
        beam = [(t, p, w, s) for _, t, p, w, s in grown[:BEAM]]
    total = total_weight(seq)
    found = {t: p * w * _final(s) for t, p, w, s in beam}
    # the characters as read, whatever the rules say: a clearly written invalid
    # address is read as written even when the beam dropped it early
    plain = "".join(classes[int(np.argmax(probs))] for classes, probs in seq)
    if plain not in found:
        chars = float(np.prod([float(np.max(probs)) for _, probs in seq]))
        found[plain] = chars * text_weight(plain)
    scored = sorted(found.items(), key=lambda x: (-x[1], x[0]))
    alts = tuple((t, float(min(1.0, s / total))) for t, s in scored[:TOP])
    return Reading(alts[0][0], alts[0][1], alts)


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
