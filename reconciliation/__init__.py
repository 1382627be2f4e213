"""Pure rules over digitised minutes, paper readings and stroke timelines,
returning findings with stable codes and evidence. Depends only on pen.
(Built under issue 7.)

Entry points: :func:`check_pv` (one station's PV), :func:`check_transmission`
(one station's batch chain and transmission) and :func:`check_across`
(statistics over many stations). The rules are listed in
:mod:`reconciliation.catalogue` and docs/reconciliation-rules.md.
"""

from __future__ import annotations

from collections.abc import Mapping

from reconciliation.across import check_across
from reconciliation.arithmetic import PvCounts, check_counts
from reconciliation.catalogue import RULES, Rule, field_label, render_markdown, rule
from reconciliation.config import DEFAULT_CONFIG, ReconciliationConfig
from reconciliation.findings import (
    Evidence,
    EvidenceValue,
    Finding,
    ReconciliationError,
    Severity,
)
from reconciliation.paper import PaperReading, check_paper
from reconciliation.tallies import NATIONAL, StationTally, area_id
from reconciliation.timeline import (
    PvTimeline,
    StationContext,
    check_timeline,
    sorted_strokes,
)
from reconciliation.transmission import (
    PvState,
    ReceivedBatch,
    RejectedBatch,
    Transmission,
    check_transmission,
)

__all__ = [
    "DEFAULT_CONFIG",
    "NATIONAL",
    "RULES",
    "Evidence",
    "EvidenceValue",
    "Finding",
    "PaperReading",
    "PvCounts",
    "PvState",
    "PvTimeline",
    "ReceivedBatch",
    "ReconciliationConfig",
    "ReconciliationError",
    "RejectedBatch",
    "Rule",
    "Severity",
    "StationContext",
    "StationTally",
    "Transmission",
    "area_id",
    "check_across",
    "check_counts",
    "check_paper",
    "check_pv",
    "check_timeline",
    "check_transmission",
    "field_label",
    "render_markdown",
    "rule",
    "sorted_strokes",
]


def check_pv(
    counts: PvCounts,
    *,
    station_id: str,
    timeline: PvTimeline | None = None,
    paper: Mapping[str, PaperReading] | None = None,
    config: ReconciliationConfig = DEFAULT_CONFIG,
) -> list[Finding]:
    """Every finding on one station's PV, sorted by code then fields.

    ``paper``: the fields as read from the scanned paper PV, if it has come.
    Pure and idempotent: the same counts, ink and readings give the same
    findings, whatever order the strokes arrived in.
    """
    findings = check_counts(counts, station_id, config)
    if timeline is not None:
        findings += check_timeline(timeline, station_id, config)
    if paper is not None:
        findings += check_paper(counts, paper, station_id, timeline, config)
    return sorted(findings, key=Finding.sort_key)
