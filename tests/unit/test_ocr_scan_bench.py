"""How bench/reconciliation hands scan readings to the pen-against-paper rule."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bench.reconciliation import DOUBT, as_paper_reading
from ocr import Reading

THRESHOLD = 0.9


def test_an_uncertain_agreement_goes_to_review_with_the_disagreeing_reading() -> None:
    r = Reading("141", 0.40, (("141", 0.40), ("741", 0.39), ("101", 0.03)))
    got = as_paper_reading(r, "141", THRESHOLD)
    assert (got.value, got.confidence) == ("741", 0.39)


def test_a_confident_agreement_is_passed_as_read() -> None:
    r = Reading("141", 0.95, (("141", 0.95), ("741", 0.04)))
    got = as_paper_reading(r, "141", THRESHOLD)
    assert (got.value, got.confidence) == ("141", 0.95)


def test_a_disagreement_is_passed_as_read() -> None:
    r = Reading("741", 0.6, (("741", 0.6), ("141", 0.3)))
    got = as_paper_reading(r, "141", THRESHOLD)
    assert (got.value, got.confidence) == ("741", 0.6)


def test_leading_zeros_do_not_count_as_a_disagreement() -> None:
    r = Reading("13", 0.5, (("13", 0.5), ("013", 0.3), ("18", 0.1)))
    got = as_paper_reading(r, "13", THRESHOLD)
    assert got.value == "18"


@given(
    st.integers(0, 99_999),
    st.floats(0.0, 1.0),
    st.lists(st.tuples(st.integers(0, 99_999), st.floats(0.0, 1.0)), max_size=4),
)
def test_never_a_confident_value_the_reader_did_not_give(
    value: int, conf: float, alts: list[tuple[int, float]]
) -> None:
    r = Reading(str(value), conf, ((str(value), conf), *((str(a), p) for a, p in alts)))
    got = as_paper_reading(r, str(value), THRESHOLD)
    if got.value != str(value):
        assert conf < THRESHOLD and got.confidence <= conf
        assert got.value in {a for a, p in r.alternatives if p >= DOUBT}
    else:
        assert got.confidence == conf
