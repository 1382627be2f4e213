"""E-mail combs decoded under the address grammar, common domains and French spelling
(ocr.address): the weights, the exact total, whole-string domains, honest confidences."""

from __future__ import annotations

import itertools
import re
import string

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ocr import address, lexicon
from ocr.address import Names, _shipped_names, decode_email, names, text_weight, total_weight

CLASSES = (*string.ascii_lowercase, *string.digits, ".", "-", "@", "+", "_")


def _cells(text: str, sure: float = 0.9, **doubt: dict[str, float]) -> list:
    """One cell per character of ``text`` with probability ``sure``, or, for a cell
    named in ``doubt`` (``c3``: the fourth), the probabilities given there (the true
    character's included)."""
    out = []
    for k, ch in enumerate(text):
        p = np.full(len(CLASSES), 1e-4)
        given = doubt.get(f"c{k}", {ch: sure})
        for other, q in given.items():
            p[CLASSES.index(other)] = q
        out.append((CLASSES, p / p.sum()))
    return out


def _is_names(run: str, words: frozenset[str]) -> bool:
    """A letter run made of names: an initial, a name, an initial then a name, or two
    names run together (the first after an initial or not): the rule, by brute force."""

    def core(s: str) -> bool:
        return s in words or any(s[:k] in words and s[k:] in words for k in range(1, len(s)))

    return len(run) == 1 or core(run) or core(run[1:])


def _names_weight(text: str, words: frozenset[str]) -> float:
    local = text.partition("@")[0]
    runs = re.findall(r"[a-z]+", local)
    return float(np.prod([1.0 if _is_names(r, words) else lexicon.UNKNOWN_WORD for r in runs]))


def test_weights_are_the_rules_times_the_spelling_and_names() -> None:
    rng = np.random.default_rng(3)
    alphabet = [*"aeilmnou1.-_@", "orange.fr", "gmail.com", "@free.fr", "marie", "leon", "j"]
    valid = named = 0
    words = _shipped_names()
    for _ in range(3000):
        text = "".join(rng.choice(alphabet, int(rng.integers(1, 6))))
        w = text_weight(text)
        rule = lexicon.prior("email", text)
        assert 0.0 <= w <= 1.0
        if rule > lexicon.INVALID:
            valid += 1
            factor = _names_weight(text, words)
            named += factor == 1.0 and any(len(r) > 1 for r in re.findall("[a-z]+", text))
            spelling = lexicon.spelling(text.partition("@")[0])
            assert np.isclose(w, rule * spelling * factor), text
    assert valid > 100 and named > 20


@settings(max_examples=200, deadline=None)
@given(
    words=st.frozensets(st.text("abcde", min_size=2, max_size=5), min_size=1, max_size=8),
    run=st.text("abcde", min_size=1, max_size=9),
)
def test_the_name_trie_matches_runs_as_the_rule_says(words: frozenset[str], run: str) -> None:
    lex = Names(words)
    word = lex.start(run[0])
    for c in run[1:]:
        assert set(c) <= lex.next_letters(word) or not lex.grow(word, c)
        word = lex.grow(word, c)
    assert (bool(word) and lex.complete(word)) == _is_names(run, words)


def test_names_correct_a_misread_letter_of_a_name() -> None:
    # "christophe" with its h read "l" (0.5) rather than "h" (0.4): the name wins
    doubt = {"l": 0.5, "h": 0.4}
    r = decode_email(_cells("christophe.durand@free.fr", sure=0.95, c1=doubt, c8=doubt))
    assert r.text == "christophe.durand@free.fr", r
    # an unknown word written clearly is kept as written
    r = decode_email(_cells("clristople.durand@free.fr", sure=0.99))
    assert r.text == "clristople.durand@free.fr", r


def test_a_forms_own_names_help_its_address() -> None:
    doubt = {"l": 0.6, "h": 0.35}
    cells = _cells("kervhella@free.fr", sure=0.95, c4=doubt)
    assert "kervhella" not in names().children[0] and decode_email(cells).text != (
        "kervhella@free.fr"
    )
    assert decode_email(cells, words=("Kervhella",)).text == "kervhella@free.fr"


def test_spelling_prefers_french_letter_pairs() -> None:
    assert lexicon.spelling("aurelie") > 10 * lexicon.spelling("aureiie")
    assert lexicon.spelling("nathalie.martin") == lexicon.spelling("nathalie") * lexicon.spelling(
        "martin"
    )
    assert all(0.0 < lexicon.spelling_weight("^", c) <= 1.0 for c in string.ascii_lowercase)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 4), seed=st.integers(0, 2**32 - 1))
def test_total_weight_is_the_sum_over_every_text(n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    classes = tuple("al1.@f-")
    cells = [(classes, rng.dirichlet(np.full(len(classes), 0.4))) for _ in range(n)]
    brute = sum(
        np.prod([c[1][classes.index(ch)] for c, ch in zip(cells, t, strict=True)])
        * text_weight("".join(t))
        for t in itertools.product(classes, repeat=n)
    )
    # pruned (states under 1e-9 of the largest dropped): never more, barely less
    pruned = total_weight(cells)
    assert brute * (1 - 1e-6) <= pruned <= brute * (1 + 1e-12)
    exact = address.PRUNE
    try:
        address.PRUNE = 0.0
        assert np.isclose(total_weight(cells), brute, rtol=1e-9, atol=0.0)
    finally:
        address.PRUNE = exact


def _posterior(cells: list, text: str) -> float:
    classes = cells[0][0]
    chars = np.prod([c[1][classes.index(ch)] for c, ch in zip(cells, text, strict=True)])
    return float(chars * text_weight(text) / total_weight(cells))


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 5), seed=st.integers(0, 2**32 - 1))
def test_confidences_are_posteriors(n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    classes = tuple("al1.@f-")
    cells = [(classes, rng.dirichlet(np.full(len(classes), 0.4))) for _ in range(n)]
    r = decode_email(cells)
    probs = [p for _, p in r.alternatives]
    assert r.alternatives[0] == (r.text, r.confidence) and len(r.text) == n
    assert probs == sorted(probs, reverse=True) and sum(probs) <= 1.0 + 1e-9
    # every confidence is the exact posterior of its text under the prior
    for text, p in r.alternatives:
        assert np.isclose(p, _posterior(cells, text)), text
    # never below the characters as read (a clearly written invalid address stays)
    plain = "".join(classes[int(np.argmax(c[1]))] for c in cells)
    assert r.confidence >= _posterior(cells, plain) - 1e-12
    if n <= 2:  # the beam holds every text: the best one is found
        texts = ["".join(t) for t in itertools.product(classes, repeat=n)]
        assert np.isclose(r.confidence, max(_posterior(cells, t) for t in texts))


def test_common_domain_found_as_a_whole_string() -> None:
    # the 'l' of hotmail is read 'i' first, 'l' only seventh (past the characters the
    # beam tries per cell): the domain lexicon still finds it
    doubt = {"i": 0.4, "1": 0.15, "t": 0.1, "e": 0.08, "j": 0.07, "f": 0.06, "l": 0.04}
    cells = _cells("jean@hotmail.fr", c11=doubt)
    r = decode_email(cells)
    assert r.text == "jean@hotmail.fr", r


def test_a_clear_rare_domain_is_read_as_written() -> None:
    r = decode_email(_cells("jean@plume.org", sure=0.999))
    assert r.text == "jean@plume.org" and r.confidence > 0.5


def test_doubt_lowers_the_confidence() -> None:
    sure = decode_email(_cells("marie.durand@orange.fr", sure=0.99))
    unsure = decode_email(_cells("marie.durand@orange.fr", sure=0.99, c4={"e": 0.5, "l": 0.45}))
    assert sure.text == "marie.durand@orange.fr" and sure.confidence > 0.8
    assert unsure.confidence < sure.confidence


def _stroke(x: float, y0: float, y1: float, width: float = 0.0) -> np.ndarray:
    """A stroke from (x, y0) down to (x + width, y1), mm, 13 ms a point."""
    n = 12
    return np.column_stack(
        [np.linspace(x, x + width, n), np.linspace(y0, y1, n), np.arange(n) * 13.0]
    )


def _ring(x: float, y: float, size: float) -> np.ndarray:
    a = np.linspace(0, 2 * np.pi, 24)
    return np.column_stack(
        [x + size / 2 * (1 + np.cos(a)), y + size / 2 * (1 + np.sin(a)), np.arange(24) * 13.0]
    )


def _sure(ch: str, p: float = 0.9) -> tuple[tuple[str, ...], np.ndarray]:
    probs = np.full(len(CLASSES), (1 - p) / (len(CLASSES) - 1))
    probs[CLASSES.index(ch)] = p
    return CLASSES, probs


def _bar_cell() -> tuple[tuple[str, ...], np.ndarray]:
    probs = np.full(len(CLASSES), 1e-3)
    for ch, p in (("1", 0.4), ("i", 0.35), ("l", 0.2)):
        probs[CLASSES.index(ch)] = p
    return CLASSES, probs / probs.sum()


def _field(x_height: float, bar: float, dot: bool = False) -> tuple[list, list]:
    """o, d, o, d and a bar of the given heights (mm), the bar dotted or not."""
    groups = [
        [_ring(0, 10 - x_height, x_height)],
        [_ring(8, 10 - x_height, x_height), _stroke(8 + x_height, 5, 10)],
        [_ring(16, 10 - x_height, x_height)],
        [_ring(24, 10 - x_height, x_height), _stroke(24 + x_height, 5, 10)],
        [
            _stroke(33, 10 - bar, 10),
            *([_stroke(33, 10 - bar - 1.2, 10 - bar - 0.9)] if dot else []),
        ],
    ]
    cells = [_sure("o"), _sure("d"), _sure("o"), _sure("d"), _bar_cell()]
    return groups, cells


def _best(cell: tuple[tuple[str, ...], np.ndarray]) -> str:
    return cell[0][int(np.argmax(cell[1]))]


def test_a_dotless_bar_is_settled_by_case_and_height() -> None:
    from ocr.address import bars_by_case, has_dot

    # lower case (x-height half the tall letters): a tall dotless bar is an l
    groups, cells = _field(x_height=2.5, bar=5.0)
    assert not has_dot(groups[4]) and _best(bars_by_case(groups, cells)[4]) == "l"
    # a short one is an i whose writer left out the dot
    groups, cells = _field(x_height=2.5, bar=2.5)
    assert _best(bars_by_case(groups, cells)[4]) == "i"
    # capitals (every letter as tall): a bar is a capital I, read i
    groups, cells = _field(x_height=5.0, bar=5.0)
    assert _best(bars_by_case(groups, cells)[4]) == "i"
    # a dotted glyph is left to the classifier, and the 1's probability is never moved
    groups, cells = _field(x_height=2.5, bar=2.5, dot=True)
    assert has_dot(groups[4])
    after = bars_by_case(groups, cells)
    assert np.allclose(after[4][1], cells[4][1])
    for g, c in zip(*_field(x_height=2.5, bar=5.0), strict=True):
        moved = bars_by_case([g], [c])[0][1]
        assert np.isclose(moved.sum(), c[1].sum())
        assert np.isclose(moved[CLASSES.index("1")], c[1][CLASSES.index("1")])


def test_dots_flicked_or_overlapping_are_dots_and_serifs_are_not() -> None:
    from ocr.address import has_dot

    stem = _stroke(10, 6, 10)
    assert has_dot([stem, _stroke(10, 4.6, 4.9)])  # a round dot above
    assert has_dot([stem, _stroke(10.2, 2.4, 6.4)])  # a long flick overlapping the stem top
    assert not has_dot([stem])  # a bar
    serif = _stroke(9.3, 5.9, 6.0, width=1.4)  # capital I: flat serifs on its bar
    assert not has_dot([stem, serif, _stroke(9.3, 10.0, 10.1, width=1.4)])


def test_a_number_in_the_local_part_is_rarer_than_a_letter() -> None:
    # a bar read 1 a little more than l, inside a word: the letter wins, doubtfully
    cells = _cells("bichel@free.fr", c5={"1": 0.5, "l": 0.4})
    r = decode_email(cells)
    assert r.text == "bichel@free.fr" and r.confidence < 0.9
    assert dict(r.alternatives).get("biche1@free.fr", 0.0) > 0.0
    # inside a name, surely
    named = decode_email(_cells("michel@free.fr", c5={"1": 0.5, "l": 0.4}))
    assert named.text == "michel@free.fr" and named.confidence > r.confidence
    # a clearly written number stays
    assert decode_email(_cells("michel75@free.fr", sure=0.99)).text == "michel75@free.fr"


def test_name_fields_weigh_words_that_are_no_names() -> None:
    from ocr.address import names_weight

    assert names_weight("MARTIN") == names_weight("JEAN-PIERRE") == 1.0
    assert names_weight("LE GALL") == names_weight("DA SILVA") == 1.0  # particle + name
    assert names_weight("KERVELLA") == lexicon.UNKNOWN_WORD
    assert names_weight("KERVELLA", frozenset({"Kervella"})) == 1.0
    assert names_weight("ZORB MARTIN") == lexicon.UNKNOWN_WORD
    assert names_weight("J MARTIN") == 1.0  # an initial


def test_a_name_field_prefers_a_name_and_stays_honest() -> None:
    from ocr.fields import decode

    upper = tuple(string.ascii_uppercase)

    def cell(ch: str, **doubt: float) -> tuple[tuple[str, ...], np.ndarray]:
        p = np.full(len(upper), 1e-4)
        for c, q in (doubt or {ch: 0.95}).items():
            p[upper.index(c)] = q
        return upper, p / p.sum()

    cells = [cell(c) for c in "MARTI"] + [cell("N", M=0.55, N=0.4)]
    plain = decode(cells, "", spaced=True)
    named = decode(cells, "", spaced=True, names=True)
    assert plain.text == "MARTIM" and named.text == "MARTIN"
    probs = [p for _, p in named.alternatives]
    assert probs == sorted(probs, reverse=True) and sum(probs) <= 1.0 + 1e-9
    # a clearly written unknown name is read as written
    clear = decode([cell(c) for c in "KERVELLA"], "", spaced=True, names=True)
    assert clear.text == "KERVELLA"
