"""The paper reader's alternatives in the rule: an uncertain agreement with a fair disagreeing
alternative is reviewed, and a confident disagreement that leaves the pen's own value a chance
is reviewed rather than an error."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from reconciliation import DEFAULT_CONFIG, PvCounts
from reconciliation.paper import PaperReading, check_paper

THRESHOLD = DEFAULT_CONFIG.paper_confidence
DOUBT = DEFAULT_CONFIG.paper_doubt


def counts(signatures: int) -> PvCounts:
    return PvCounts(
        signatures=signatures, ballots=None, blank=None, spoiled=None, valid=None,
        candidates=(), contributions=None, closing_time=None,
    )  # fmt: skip


def test_an_uncertain_agreement_goes_to_review_with_the_disagreeing_reading() -> None:
    r = PaperReading("141", 0.40, alternatives=(("141", 0.40), ("741", 0.39), ("101", 0.03)))
    (f,) = check_paper(counts(141), {"signatures": r}, "s")
    assert f.code == "W.302"
    assert (f.evidence["paper"], f.evidence["confidence"], f.evidence["read"]) == (
        "741",
        0.39,
        "141",
    )


def test_a_confident_agreement_raises_nothing() -> None:
    r = PaperReading("141", 0.95, alternatives=(("141", 0.95), ("741", 0.04)))
    assert check_paper(counts(141), {"signatures": r}, "s") == []


def test_a_confident_disagreement_is_an_error() -> None:
    r = PaperReading("741", 0.95, alternatives=(("741", 0.95), ("791", 0.03)))
    (f,) = check_paper(counts(141), {"signatures": r}, "s")
    assert f.code == "F.301" and f.evidence["paper"] == "741"


def test_leading_zeros_do_not_count_as_a_disagreement() -> None:
    r = PaperReading("13", 0.5, alternatives=(("13", 0.5), ("013", 0.3), ("18", 0.1)))
    (f,) = check_paper(counts(13), {"signatures": r}, "s")
    assert f.evidence["paper"] == "18"


@given(
    st.integers(0, 99_999),
    st.floats(0.0, 1.0),
    st.lists(st.tuples(st.integers(0, 99_999), st.floats(0.0, 1.0)), max_size=4),
)
def test_an_agreement_is_never_an_error_nor_a_value_the_reader_did_not_give(
    value: int, conf: float, alts: list[tuple[int, float]]
) -> None:
    alternatives = ((str(value), conf), *((str(a), p) for a, p in alts))
    r = PaperReading(str(value), conf, alternatives=alternatives)
    found = check_paper(counts(value), {"signatures": r}, "s")
    for f in found:
        assert f.code == "W.302" and conf < THRESHOLD
        assert f.evidence["confidence"] <= conf
        assert f.evidence["paper"] in {a for a, p in alternatives if p >= DOUBT}
    if conf >= THRESHOLD:
        assert found == []


PEN_CHANCE = DEFAULT_CONFIG.paper_pen_chance


def test_a_confident_disagreement_that_leaves_the_pen_a_chance_goes_to_review() -> None:
    r = PaperReading("741", 0.95, alternatives=(("741", 0.95), ("141", 0.02), ("711", 0.01)))
    (f,) = check_paper(counts(141), {"signatures": r}, "s")
    assert f.code == "W.302"
    assert (f.evidence["paper"], f.evidence["pen_chance"]) == ("741", 0.02)
    assert "2.0% for the pen's figure" in f.message


def test_a_confident_disagreement_that_rules_the_pen_out_is_an_error() -> None:
    r = PaperReading("741", 0.95, alternatives=(("741", 0.95), ("141", 0.0005)))
    (f,) = check_paper(counts(141), {"signatures": r}, "s")
    assert f.code == "F.301" and f.evidence["pen_chance"] == 0.0005


@given(
    st.integers(0, 99_999),
    st.integers(1, 5_000),
    st.floats(0.0, 1.0),
    st.floats(0.0, 1.0),
)
def test_an_error_needs_a_confident_reading_that_rules_the_pen_out(
    value: int, delta: int, conf: float, pen_p: float
) -> None:
    r = PaperReading(str(value + delta), conf, alternatives=((str(value), pen_p),))
    (f,) = check_paper(counts(value), {"signatures": r}, "s")
    error = conf >= THRESHOLD and pen_p < PEN_CHANCE
    assert f.code == ("F.301" if error else "W.302")
    assert f.evidence["paper"] == str(value + delta)


def test_a_paper_that_reads_as_the_pen_ink_is_reviewed_not_an_error() -> None:
    """A writer's 8 drawn like a 6: the paper and the pen's own ink both read 62."""
    r = PaperReading("62", 0.99, alternatives=(("62", 0.99),), pen_ink="62")
    (f,) = check_paper(counts(82), {"signatures": r}, "s")
    assert f.code == "W.302" and f.evidence["pen_ink"] == "62"
    assert "the pen's own ink reads 62 too" in f.message
    changed = PaperReading("862", 0.99, alternatives=(("862", 0.99),), pen_ink="62")
    (f,) = check_paper(counts(62), {"signatures": changed}, "s")
    assert f.code == "F.301" and f.evidence["pen_ink"] == "62"


@given(
    st.integers(0, 99_999),
    st.integers(1, 5_000),
    st.floats(0.9, 1.0),
    st.one_of(st.none(), st.integers(0, 99_999)),
)
def test_an_error_never_reads_the_paper_as_the_pen_ink_reads(
    value: int, delta: int, conf: float, ink: int | None
) -> None:
    read = str(value + delta)
    r = PaperReading(read, conf, pen_ink=None if ink is None else str(ink))
    (f,) = check_paper(counts(value), {"signatures": r}, "s")
    assert f.code == ("W.302" if ink == value + delta else "F.301")
