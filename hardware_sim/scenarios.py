"""A station's PV written at closing, honestly or with a labelled fraud or error.

:func:`simulate_station` has the station's president fill the ``pv`` form
with a :class:`hardware_sim.handwriting.Writer` on the sheet issued to the
station (:attr:`Station.pv_page`), after the poll closes, then sign. Each
scenario of :data:`SCENARIOS` changes the ink, the counts or the paper in the
way reconciliation (issue 7) must catch, and the :class:`StationRun` carries
the label and the evidence (``details``) so detection can be scored:

- ``honest``: counts consistent, written 45-100 min after closing, then signed.
- ``pen_correction``: a count first written wrong, crossed out and rewritten in
  the same cells minutes later (both in the pen ink).
- ``paper_alteration``: after capture, someone changes the paper (a 1 turned
  into a 7, or a digit added in front); only ``paper_ink``/``paper_counts`` show it.
- ``arithmetic_error``: the president's valid-votes total is off, so the sums fail.
- ``ballot_stuffing``: extra ballots for one candidate: ballots > signatures.
- ``after_closing``: one count written hours after the count had to be over.
- ``wrong_pen``: one count written with another station's pen.
- ``swapped_pages``: the PV written on the sheet issued to another station.
- ``duplicate_upload``: the pen's batch uploaded twice (same bytes twice).
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from hardware_sim.electorate import StationCount
from hardware_sim.glyphs import GlyphBank
from hardware_sim.handwriting import Writer
from hardware_sim.session import PenIdentity, session_bytes
from hardware_sim.stations import Station, load_stations
from pen.forms import FormLayout, assign, load_form
from pen.forms.model import Field
from pen.ink import Ink, Stroke
from pen.page import PageAddress
from reconciliation import PvCounts, PvTimeline, StationContext

SCENARIOS = (
    "honest",
    "pen_correction",
    "paper_alteration",
    "arithmetic_error",
    "ballot_stuffing",
    "after_closing",
    "wrong_pen",
    "swapped_pages",
    "duplicate_upload",
)
#: 2011-10-09 19:00 Paris (17:00 UTC): the polls of round one close.
CLOSING_MS = 1_318_179_600_000
MINUTE_MS = 60_000
COUNT_FIELDS = ("signatures", "ballots", "blank", "spoiled", "valid")
N_CANDIDATES = 6


class UnknownScenario(ValueError):
    """A scenario label not in :data:`SCENARIOS`."""


@dataclass(frozen=True, slots=True)
class StationRun:
    """One station's simulated PV: what happened, what the pen saw, what the paper shows."""

    station: Station
    scenario: str
    seed: int
    true_counts: StationCount
    """What the ballot box held (before any fraud or slip)."""
    written_counts: StationCount
    """The final values in the pen ink (after corrections)."""
    paper_counts: StationCount
    """What the paper PV shows (differs only under ``paper_alteration``)."""
    ink: Ink
    """Everything the pens captured on the PV, in time order."""
    paper_ink: Ink
    """The ink on the paper: ``ink`` plus any paper-only strokes (pen serial "")."""
    pen_serials: tuple[str, ...]
    """Pens issued to the station."""
    closing_ms: float
    signed_ms: float
    page: PageAddress
    """The sheet the PV was written on (another station's under ``swapped_pages``)."""
    printed_station_id: str
    """The station id printed on that sheet."""
    uploads: tuple[bytes, ...]
    """Batches sent to the centre, one per pen session (twice under ``duplicate_upload``)."""
    duplicate_upload: bool = False
    details: Mapping[str, str | int | float] = field(default_factory=dict)
    """Scenario evidence: field changed, values, times, foreign serial..."""

    def pv_counts(self, which: str = "written") -> PvCounts:
        """The counts as reconciliation takes them: ``written``, ``paper`` or ``true``."""
        return pv_counts(
            {"written": self.written_counts, "paper": self.paper_counts, "true": self.true_counts}[
                which
            ]
        )

    def timeline(self, layout: FormLayout | None = None) -> PvTimeline:
        """The pen ink split by PV field, with the station's context."""
        layout = layout or load_form("pv")
        ctx = StationContext(
            pen_serials=frozenset(self.pen_serials),
            closing_ms=self.closing_ms,
            pages=frozenset({self.station.pv_page}),
        )
        return PvTimeline(assign(self.ink, layout).fields, ctx, layout)


def pv_counts(c: StationCount) -> PvCounts:
    return PvCounts(
        c.signatures,
        c.ballots,
        c.blank,
        c.spoiled,
        c.valid,
        c.candidates,
        c.contributions,
        c.closing_time,
    )


def count_value(c: StationCount, field_id: str) -> int:
    if field_id.startswith("candidate_"):
        return c.candidates[int(field_id.split("_")[1]) - 1]
    return int(getattr(c, field_id))


def with_value(c: StationCount, field_id: str, value: int) -> StationCount:
    """``c`` with one count replaced."""
    if field_id.startswith("candidate_"):
        votes = list(c.candidates)
        votes[int(field_id.split("_")[1]) - 1] = value
        return dataclasses.replace(c, candidates=tuple(votes))
    counts: dict[str, int] = {field_id: value}
    return dataclasses.replace(c, **counts)  # type: ignore[arg-type]


def _line_stroke(
    p0: tuple[float, float],
    p1: tuple[float, float],
    t0: float,
    serial: str,
    page: PageAddress,
    rng: np.random.Generator,
    speed_mm_s: float = 70.0,
) -> Stroke:
    """A quick straight stroke (crossing out, a bar), sampled at 75 Hz."""
    length = float(np.hypot(p1[0] - p0[0], p1[1] - p0[1]))
    n = max(3, int(length / speed_mm_s * 75) + 1)
    s = np.linspace(0.0, 1.0, n)
    x = p0[0] + (p1[0] - p0[0]) * s + rng.normal(0, 0.05, n)
    y = p0[1] + (p1[1] - p0[1]) * s + 0.3 * np.sin(np.pi * s) + rng.normal(0, 0.05, n)
    force = 0.05 + 0.6 * np.sin(np.pi * np.clip(s * 1.1, 0, 1)) ** 0.5
    return Stroke(np.column_stack([x, y, t0 + np.arange(n) * 1000 / 75, force]), serial, page)


def _signature(
    box: Field, t0: float, serial: str, page: PageAddress, rng: np.random.Generator
) -> list[Stroke]:
    """A scribbled signature: a loopy run and an underline flourish."""
    r = box.rect
    n = int(rng.integers(90, 140))
    s = np.linspace(0, 1, n)
    loops = float(rng.uniform(3, 6))
    x = r.x + r.width * (0.12 + 0.7 * s) + 2.0 * np.cos(2 * np.pi * loops * s)
    y = r.y + r.height * 0.45 + r.height * 0.18 * np.sin(2 * np.pi * loops * s + s * 3)
    force = 0.05 + 0.6 * np.sin(np.pi * s) ** 0.3
    first = Stroke(np.column_stack([x, y, t0 + np.arange(n) * 1000 / 75, force]), serial, page)
    y_under = r.y + r.height * 0.75
    under = _line_stroke(
        (r.x + 0.1 * r.width, y_under),
        (r.x + 0.85 * r.width, y_under - 2),
        first.end_ms + 400,
        serial,
        page,
        rng,
    )
    return [first, under]


def simulate_station(
    station: Station,
    scenario: str = "honest",
    seed: int = 0,
    *,
    layout: FormLayout | None = None,
    bank: GlyphBank | None = None,
) -> StationRun:
    """Simulate one station's PV under ``scenario`` (a label of :data:`SCENARIOS`)."""
    if scenario not in SCENARIOS:
        raise UnknownScenario(f"unknown scenario {scenario!r}; choose one of {SCENARIOS}")
    layout = layout or load_form("pv")
    rng = np.random.default_rng([seed, zlib.crc32(station.id.encode()), SCENARIOS.index(scenario)])
    writer = Writer(seed=int(rng.integers(2**31)), bank=bank)
    truth = station.count(rng)
    written = truth
    details: dict[str, str | int | float] = {}
    serial = station.pen_serials[0]
    page, printed = station.pv_page, station.id
    others = [s for s in load_stations() if s.id != station.id]
    other = others[int(rng.integers(len(others)))]
    candidates = [f"candidate_{i}" for i in range(1, N_CANDIDATES + 1)]

    if scenario == "arithmetic_error":
        delta = int(rng.choice([-1, 1])) * int(rng.integers(1, 10))
        written = dataclasses.replace(truth, valid=max(0, truth.valid + delta) or truth.valid + 1)
        details.update(field="valid", true_value=truth.valid, written_value=written.valid)
    elif scenario == "ballot_stuffing":
        extra = int(rng.integers(max(3, truth.signatures // 50), max(6, truth.signatures // 8)))
        who = int(np.argmax(truth.candidates))
        votes = list(truth.candidates)
        votes[who] += extra
        written = dataclasses.replace(
            truth, ballots=truth.ballots + extra, valid=truth.valid + extra, candidates=tuple(votes)
        )
        details.update(extra_ballots=extra, field=candidates[who])
    elif scenario == "swapped_pages":
        page, printed = other.pv_page, other.id
        details.update(other_station=other.id, page=str(page))

    target = candidates[int(rng.integers(N_CANDIDATES))]
    strokes: list[Stroke] = []
    t = CLOSING_MS + float(rng.uniform(45, 100)) * MINUTE_MS
    texts = written.fields()
    order = [*COUNT_FIELDS, *candidates, "contributions", "closing_time"]
    late: list[tuple[str, str]] = []
    for fid in order:
        text, pen = texts[fid], serial
        if scenario == "after_closing" and fid == target:
            late.append((fid, text))
            continue
        if scenario == "wrong_pen" and fid == target:
            pen = other.pen_serials[0]
            details.update(field=fid, foreign_serial=pen, other_station=other.id)
        if scenario == "pen_correction" and fid == target:
            true_v = count_value(written, fid)
            wrong = true_v + int(rng.choice([-1, 1])) * int(rng.integers(1, 4)) * 10
            wrong = wrong if wrong >= 0 else true_v + 10
            text = str(wrong)
            details.update(field=fid, first_value=wrong, written_value=true_v)
        new = writer.write_field(text, layout.field(fid), t, pen_serial=pen, page=page)
        strokes += new
        t = strokes[-1].end_ms + float(rng.uniform(6, 25)) * 1000

    if scenario == "pen_correction":
        f = layout.field(target)
        first = details["first_value"]
        cells = f.boxes[len(f.boxes) - len(str(first)) :]
        y = f.rect.y + f.rect.height * float(rng.uniform(0.4, 0.6))
        t += float(rng.uniform(2, 6)) * MINUTE_MS
        details["correction_ms"] = t
        cross = _line_stroke(
            (cells[0].rect.x + 1, y + 0.8),
            (cells[-1].rect.right - 1, y - 0.8),
            t,
            serial,
            page,
            rng,
        )
        strokes.append(cross)
        strokes += writer.write_field(
            texts[target], f, cross.end_ms + 1500, pen_serial=serial, page=page
        )
        t = strokes[-1].end_ms + float(rng.uniform(10, 30)) * 1000

    signed_ms = t
    strokes += _signature(layout.field("president_signature"), t, serial, page, rng)
    strokes += _signature(
        layout.field("assessor_signature"),
        strokes[-1].end_ms + 20_000,
        station.pen_serials[1],
        page,
        rng,
    )
    for fid, text in late:
        t_late = CLOSING_MS + float(rng.uniform(3.5, 6.0)) * 60 * MINUTE_MS
        strokes += writer.write_field(text, layout.field(fid), t_late, pen_serial=serial, page=page)
        details.update(field=fid, written_ms=t_late)

    ink = Ink.of(strokes).by_time()
    paper_extra: list[Stroke] = []
    paper = written
    if scenario == "paper_alteration":
        paper_extra, paper = _alter_paper(ink, written, layout, page, rng, details, bank)
    by_pen: dict[str, list[Stroke]] = {}
    for s in ink:
        by_pen.setdefault(s.pen_serial, []).append(s)
    uploads = tuple(session_bytes(Ink.of(v), PenIdentity(k)) for k, v in sorted(by_pen.items()))
    if scenario == "duplicate_upload":
        uploads = (*uploads, uploads[0])
        details.update(duplicated_batch=0)
    return StationRun(
        station=station,
        scenario=scenario,
        seed=seed,
        true_counts=truth,
        written_counts=written,
        paper_counts=paper,
        ink=ink,
        paper_ink=ink + Ink.of(paper_extra),
        pen_serials=station.pen_serials,
        closing_ms=float(CLOSING_MS),
        signed_ms=signed_ms,
        page=page,
        printed_station_id=printed,
        uploads=uploads,
        duplicate_upload=scenario == "duplicate_upload",
        details=MappingProxyType(details),
    )


def _alter_paper(
    ink: Ink,
    written: StationCount,
    layout: FormLayout,
    page: PageAddress,
    rng: np.random.Generator,
    details: dict[str, str | int | float],
    bank: GlyphBank | None,
) -> tuple[list[Stroke], StationCount]:
    """Strokes added to the paper after capture, and the counts the paper then shows."""
    t = CLOSING_MS + 20 * 60 * MINUTE_MS  # the next morning, no pen involved
    fields = [f"candidate_{i}" for i in range(1, N_CANDIDATES + 1)]
    with_one = [f for f in fields if "1" in str(count_value(written, f))]
    by_field = assign(ink, layout).fields
    if with_one and rng.random() < 0.5:
        fid = with_one[int(rng.integers(len(with_one)))]
        text = str(count_value(written, fid))
        pos = text.index("1")
        f = layout.field(fid)
        cell = f.boxes[len(f.boxes) - len(text) + pos].rect
        pts = np.vstack([s.points[:, :2] for s in by_field[fid]])
        inside = pts[(pts[:, 0] >= cell.x) & (pts[:, 0] <= cell.right)]
        top = inside[np.argmin(inside[:, 1])]
        bar_left = (max(cell.x + 0.8, top[0] - 0.45 * cell.width), top[1] + 0.3)
        extra = [
            _line_stroke(bar_left, (float(top[0]) + 0.3, float(top[1])), t, "", page, rng, 40.0)
        ]
        new = text[:pos] + "7" + text[pos + 1 :]
        details.update(kind="1->7")
    else:
        fid = fields[int(rng.integers(len(fields)))]
        text = str(count_value(written, fid))
        f = layout.field(fid)
        digit = str(int(rng.integers(1, 10)))
        cell = f.boxes[len(f.boxes) - len(text) - 1].rect
        forger = Writer(seed=int(rng.integers(2**31)), bank=bank)
        extra = forger.write_in_box(digit, cell, t, pen_serial="", page=page)
        new = digit + text
        details.update(kind="digit added")
    details.update(field=fid, written_value=int(text), paper_value=int(new))
    return extra, with_value(written, fid, int(new))
