"""Correction forensics: what the pen's stroke timeline says about how a PV was written.

Input is :class:`PvTimeline`: for each PV field the strokes written in it
(:class:`pen.ink.Ink`, each stroke with its pen serial, page and times), and
the station's context (pens issued to it, when the poll closed, when the
president signed, when the centre received the ink). Rules: a count written
long after the others (W.501), after the president's signature (F.502), after
the count had to be over (F.503), over earlier ink of the same comb cell
(W.504), by a pen not issued to the station (F.505), on a sheet not issued to
it (F.508, swapped pages), with impossible times
(W.506) or before the poll closed (W.507).

Results do not depend on the order strokes arrived in: each field's strokes
are put in a canonical order (start time, end time, pen, page, points) and
stroke indices in the evidence are positions in that order, i.e.
``sorted_strokes(ink)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType

import numpy as np

from pen.forms import FormLayout, hit_test
from pen.ink import Ink, Stroke
from pen.page import PageAddress
from reconciliation.catalogue import field_label, rule
from reconciliation.config import DEFAULT_CONFIG, HOUR_MS, MINUTE_MS, ReconciliationConfig
from reconciliation.findings import EvidenceValue, Finding

#: Fields whose ink is not a written value: timing rules on values skip them.
NON_VALUE_FIELDS = frozenset({"president_signature", "assessor_signature", "remarks"})


@dataclass(frozen=True, slots=True)
class StationContext:
    """What the centre knows about the station, independent of the PV's ink."""

    pen_serials: frozenset[str] = frozenset()
    """Pens issued to this station; empty: F.505 is not checked."""
    closing_ms: float | None = None
    """When the poll closed (epoch ms); None: F.503 and W.507 are not checked."""
    signed_ms: float | None = None
    """When the president signed; None: taken from ``president_signature`` ink."""
    received_ms: float | None = None
    """When the centre received the ink; later ink is impossible (W.506)."""
    pages: frozenset[PageAddress] = frozenset()
    """Page addresses of the sheets issued to this station; empty: F.508 is not checked."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "pen_serials", frozenset(self.pen_serials))
        object.__setattr__(self, "pages", frozenset(self.pages))


@dataclass(frozen=True, slots=True)
class PvTimeline:
    """The ink of one PV split by field, with the station's context."""

    fields: Mapping[str, Ink]
    station: StationContext = field(default_factory=StationContext)
    layout: FormLayout | None = None
    """The PV layout, to tell comb cells apart for W.504; None: overlapping boxes."""

    def __post_init__(self) -> None:
        frozen = {k: Ink.of(v) for k, v in sorted(self.fields.items())}
        object.__setattr__(self, "fields", MappingProxyType(frozen))


def _stroke_key(s: Stroke) -> tuple[float, float, str, str, int, bytes]:
    return (s.start_ms, s.end_ms, s.pen_serial, str(s.page), len(s), s.points.tobytes())


def sorted_strokes(ink: Sequence[Stroke]) -> tuple[Stroke, ...]:
    """A field's strokes in canonical order; evidence stroke indices refer to it."""
    return tuple(sorted(ink, key=_stroke_key))


def clock(ms: float) -> str:
    """An epoch-ms time for people, in UTC."""
    try:
        return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, ValueError, OSError):
        return f"{ms:.0f} ms since 1970"


def _when(strokes: Sequence[Stroke]) -> str:
    first, last = min(s.start_ms for s in strokes), max(s.start_ms for s in strokes)
    return clock(first) if first == last else f"{clock(first)} to {clock(last)}"


def _evidence(field_id: str, indexed: Sequence[tuple[int, Stroke]]) -> dict[str, EvidenceValue]:
    return {
        "field": field_id,
        "stroke_indices": tuple(i for i, _ in indexed),
        "stroke_start_ms": tuple(s.start_ms for _, s in indexed),
        "pen_serials": tuple(s.pen_serial for _, s in indexed),
        "pages": tuple(str(s.page) for _, s in indexed),
    }


def _finding(
    code: str,
    station_id: str,
    field_id: str,
    indexed: Sequence[tuple[int, Stroke]],
    extra: Mapping[str, EvidenceValue] | None = None,
    **values: object,
) -> Finding:
    evidence = {**_evidence(field_id, indexed), **(extra or {})}
    strokes = [s for _, s in indexed]
    return rule(code).finding(
        station_id,
        (field_id,),
        evidence,
        label=field_label(field_id),
        field=field_id,
        count=len(indexed),
        when=_when(strokes),
        **values,
    )


def check_timeline(
    timeline: PvTimeline, station_id: str, config: ReconciliationConfig = DEFAULT_CONFIG
) -> list[Finding]:
    """Every forensic finding on one PV's ink."""
    ctx = timeline.station
    fields = {fid: sorted_strokes(ink) for fid, ink in timeline.fields.items()}
    if ctx.received_ms is not None:
        latest: float | None = ctx.received_ms + config.early_tolerance_ms
    elif ctx.closing_ms is not None:
        latest = ctx.closing_ms + config.max_future_ms
    else:
        latest = None
    out: list[Finding] = []
    timed: dict[str, list[tuple[int, Stroke]]] = {}
    for fid, strokes in fields.items():
        bad = [
            (i, s)
            for i, s in enumerate(strokes)
            if s.start_ms < config.earliest_ms or (latest is not None and s.end_ms > latest)
        ]
        if bad:
            out.append(_finding("W.506", station_id, fid, bad))
        if ctx.pen_serials:
            foreign = [(i, s) for i, s in enumerate(strokes) if s.pen_serial not in ctx.pen_serials]
            if foreign:
                pens = ", ".join(sorted({s.pen_serial for _, s in foreign}))
                out.append(_finding("F.505", station_id, fid, foreign, pens=pens))
        if ctx.pages:
            elsewhere = [
                (i, s)
                for i, s in enumerate(strokes)
                if s.page is not None and s.page not in ctx.pages
            ]
            if elsewhere:
                pages = ", ".join(sorted({str(s.page) for _, s in elsewhere}))
                out.append(_finding("F.508", station_id, fid, elsewhere, pages=pages))
        bad_ids = {i for i, _ in bad}
        timed[fid] = [(i, s) for i, s in enumerate(strokes) if i not in bad_ids]
    signed = ctx.signed_ms
    if signed is None and timed.get("president_signature"):
        signed = min(s.start_ms for _, s in timed["president_signature"])
    values = {fid: ink for fid, ink in timed.items() if fid not in NON_VALUE_FIELDS and ink}
    starts = [s.start_ms for ink in values.values() for _, s in ink]
    median = float(np.median(starts)) if starts else 0.0
    for fid, ink in values.items():
        late = [(i, s) for i, s in ink if s.start_ms > median + config.late_after_ms]
        if late:
            minutes = (max(s.start_ms for _, s in late) - median) / MINUTE_MS
            extra = {"median_ms": median}
            out.append(
                _finding(
                    "W.501", station_id, fid, late, extra, minutes=minutes, median=clock(median)
                )
            )
        if signed is not None:
            after = [(i, s) for i, s in ink if s.start_ms > signed + config.signature_grace_ms]
            if after:
                extra = {"signed_ms": signed}
                out.append(_finding("F.502", station_id, fid, after, extra, signed=clock(signed)))
        if ctx.closing_ms is not None:
            closing = ctx.closing_ms
            too_late = [(i, s) for i, s in ink if s.start_ms > closing + config.closing_grace_ms]
            if too_late:
                grace_h = config.closing_grace_ms / HOUR_MS
                extra = {"closing_ms": closing}
                out.append(
                    _finding(
                        "F.503",
                        station_id,
                        fid,
                        too_late,
                        extra,
                        grace_h=grace_h,
                        closing=clock(closing),
                    )
                )
            early = [(i, s) for i, s in ink if s.start_ms < closing - config.early_tolerance_ms]
            if early:
                extra = {"closing_ms": closing}
                out.append(_finding("W.507", station_id, fid, early, extra, closing=clock(closing)))
        out += _rewrites(fid, ink, timeline.layout, station_id, config)
    return out


def _overlap_share(a: Stroke, b: Stroke) -> float:
    ax0, ay0, ax1, ay1 = a.bbox()
    bx0, by0, bx1, by1 = b.bbox()
    w = min(ax1, bx1) - max(ax0, bx0)
    h = min(ay1, by1) - max(ay0, by0)
    if w <= 0 or h <= 0:
        return 0.0
    smaller = min(
        max(ax1 - ax0, 1e-3) * max(ay1 - ay0, 1e-3), max(bx1 - bx0, 1e-3) * max(by1 - by0, 1e-3)
    )
    return min(1.0, w * h / smaller)


def _rewrites(
    fid: str,
    ink: Sequence[tuple[int, Stroke]],
    layout: FormLayout | None,
    station_id: str,
    config: ReconciliationConfig,
) -> list[Finding]:
    """W.504: strokes on earlier ink of the same cell, after a pause."""
    cells = [hit_test(s, layout).box_id if layout is not None else None for _, s in ink]
    found: list[tuple[int, Stroke]] = []
    pauses: list[float] = []
    cell_ids: list[str] = []
    for j, (idx, s) in enumerate(ink):
        if layout is not None:
            under = [ink[i][1] for i in range(j) if cells[i] is not None and cells[i] == cells[j]]
        else:
            under = [
                ink[i][1] for i in range(j) if _overlap_share(ink[i][1], s) >= config.overlap_share
            ]
        if not under:
            continue
        pause = s.start_ms - max(u.end_ms for u in under)
        if pause >= config.rewrite_pause_ms:
            found.append((idx, s))
            pauses.append(pause)
            cell_ids.append(cells[j] or "")
    if not found:
        return []
    extra: dict[str, EvidenceValue] = {"pause_ms": tuple(pauses), "cells": tuple(cell_ids)}
    return [_finding("W.504", station_id, fid, found, extra, pause_s=max(pauses) / 1000)]
