"""Pen against paper (F.301, W.302): each value the pen wrote against the paper PV.

The point of the digital pen: its copy of the minutes exists the moment they
are written, so a later change to the paper shows as a disagreement. Input
is a :class:`PaperReading` per field, as a scan reader (or a person) read it
from the scanned paper PV, with a confidence. A confident mismatch is an
error (F.301, "the paper says 187; the pen wrote 137 at 19:42") when the
paper's evidence rules out that the paper still shows the pen's figure:

- the reader gave the pen's own value less than ``paper_pen_chance`` among
  its alternatives (a reader sure of 187 that still gives 137 a percent has
  seen a 3 it takes for an 8 about as often as a changed paper), and
- when the same reader's reading of the pen's own ink is given
  (``pen_ink``), the paper does not read the same as that ink (a writer's 8
  drawn like a 6 reads 6 on the paper and in the pen's ink alike: the paper
  shows what the pen wrote, and the difference lies between the pen's value
  and its own ink).

Any other mismatch goes to review (W.302), as does an uncertain agreement
whose alternatives include a fair disagreeing reading (``paper_doubt``). So
an error stands on the paper's evidence only when the reader rules the pen's
figure out; the price is that some real alterations (a 1 barred into a 7
that the reader still gives a percent as a 1) are reviewed rather than
flagged as errors. A reading without alternatives or ``pen_ink`` (a
person's, or a results file's) is an error at ``paper_confidence`` as
before. A field the paper reading leaves empty, or the pen did not give, is
not compared (W.010 already says the pen value is missing). This module
reads no image: it takes the readings as data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from reconciliation.arithmetic import PvCounts
from reconciliation.catalogue import field_label, rule
from reconciliation.config import DEFAULT_CONFIG, ReconciliationConfig
from reconciliation.findings import EvidenceValue, Finding, ReconciliationError
from reconciliation.timeline import PvTimeline, clock


@dataclass(frozen=True, slots=True)
class PaperReading:
    """One field as read from the scanned paper PV."""

    value: str | None
    """The text read (digits of a count, ``HHMM``); None: nothing readable."""
    confidence: float
    """The reader's confidence in ``value``, 0 to 1 (a person reading it: 1)."""
    crop: str | None = None
    """Where the field's image on the scan is (path or id), for the person who checks."""
    alternatives: tuple[tuple[str, float], ...] = ()
    """Other readings the reader gave, with their probabilities (any order)."""
    pen_ink: str | None = None
    """What the same reader reads in the pen's own ink of this field, drawn as it lies on
    paper (``ocr.read_pen_ink``); None: not given."""

    def __post_init__(self) -> None:
        for c in (self.confidence, *(p for _, p in self.alternatives)):
            if not 0.0 <= c <= 1.0:
                raise ReconciliationError(f"paper confidence {c} is not in [0, 1]")


def _pen_values(counts: PvCounts) -> dict[str, str | None]:
    values: dict[str, str | None] = {
        name: None if v is None else str(v) for name, v in counts.counts()
    }
    values["closing_time"] = counts.closing_time
    return values


def _same(field_id: str, paper: str, pen: str) -> bool:
    """Counts compare as numbers (``0187`` is ``187``); the closing time as written."""
    a, b = paper.strip(), pen.strip()
    if field_id != "closing_time" and a.isdigit() and b.lstrip("-").isdigit():
        return int(a) == int(b)
    return a == b


def _doubt(
    name: str, reading: PaperReading, written: str, config: ReconciliationConfig
) -> tuple[str, float] | None:
    """An uncertain reading that agrees with the pen, when the reader gave a different
    figure a fair chance (a 1 barred into a 7 read as 141 at 40%, 741 at 39%): that
    figure, at no more than the reading's own confidence, so a person looks (W.302)."""
    if reading.confidence >= config.paper_confidence:
        return None
    for text, p in sorted(reading.alternatives, key=lambda a: -a[1]):
        if p >= config.paper_doubt and not _same(name, text, written):
            return text, min(p, reading.confidence)
    return None


def _pen_chance(name: str, reading: PaperReading, written: str) -> float:
    """The probability the reader gave the pen's value (0 when it is not among the
    alternatives, as for a person's reading)."""
    return max((p for text, p in reading.alternatives if _same(name, text, written)), default=0.0)


def check_paper(
    counts: PvCounts,
    paper: Mapping[str, PaperReading],
    station_id: str,
    timeline: PvTimeline | None = None,
    config: ReconciliationConfig = DEFAULT_CONFIG,
) -> list[Finding]:
    """F.301 / W.302 for each field where the paper's reading differs from the pen's value."""
    pen = _pen_values(counts)
    out = []
    for name in sorted(paper):
        reading = paper[name]
        if name not in pen:
            raise ReconciliationError(f"paper reading for {name!r}, which is not a PV value")
        written = pen[name]
        if reading.value is None or written is None:
            continue
        chance, as_ink = 0.0, False
        if _same(name, reading.value, written):
            doubt = _doubt(name, reading, written, config)
            if doubt is None:
                continue
            shown, confidence = doubt
        else:
            shown, confidence = reading.value, reading.confidence
            chance = _pen_chance(name, reading, written)
            as_ink = reading.pen_ink is not None and _same(name, reading.value, reading.pen_ink)
        ink = timeline.fields.get(name) if timeline is not None else None
        last = max((s.end_ms for s in ink), default=None) if ink else None
        at = "" if last is None else f" (last ink at {clock(last)})"
        evidence: dict[str, EvidenceValue] = {
            "pen": written,
            "paper": shown,
            "confidence": confidence,
            "crop": reading.crop,
            "pen_last_ms": last,
            "threshold": config.paper_confidence,
        }
        if shown != reading.value:
            evidence["read"] = reading.value  # the doubt: what the reader chose first
        if chance > 0.0:
            evidence["pen_chance"] = chance
            evidence["pen_chance_threshold"] = config.paper_pen_chance
        if reading.pen_ink is not None:
            evidence["pen_ink"] = reading.pen_ink  # the same reader on the pen's own ink
        sure = confidence >= config.paper_confidence and chance < config.paper_pen_chance
        code = "F.301" if sure and not as_ink else "W.302"
        why = ""
        if as_ink:
            why = f"; the pen's own ink reads {reading.pen_ink} too"
        elif chance >= config.paper_pen_chance:
            why = f", {100 * chance:.1f}% for the pen's figure"
        out.append(
            rule(code).finding(
                station_id,
                (name,),
                evidence,
                label=field_label(name),
                field=name,
                paper=shown,
                pen=written,
                at=at,
                confidence=100 * confidence,
                why=why,
            )
        )
    return out
