"""What reconciliation returns: findings, their severity, and the package's error.

A :class:`Finding` is one observation about one station's minutes (procès-
verbal, PV): a stable rule code from :mod:`reconciliation.catalogue`, a
severity, the PV fields involved, a plain English sentence naming the fields
by their printed French labels, what a person should do next, and the
evidence (values, timestamps, stroke indices) that lets that person check it.
Findings are plain frozen values: comparing, sorting and storing them needs
nothing else.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

#: One evidence value: a number, a text, a flag, nothing, or a tuple of those.
EvidenceScalar = int | float | str | bool | None
EvidenceValue = EvidenceScalar | tuple[EvidenceScalar, ...]
Evidence = Mapping[str, EvidenceValue]


class Severity(enum.Enum):
    """How much a finding weighs; the rule code's letter says the same (F, W, I)."""

    ERROR = "error"
    """The minutes cannot be right as they stand: a person must resolve it."""
    WARNING = "warning"
    """Remarkable: the station must explain it, or a person must look."""
    INFO = "info"
    """Worth knowing; nothing to resolve."""

    @property
    def letter(self) -> str:
        return {"error": "F", "warning": "W", "info": "I"}[self.value]


class ReconciliationError(Exception):
    """Base of every error raised by :mod:`reconciliation` (bad input or configuration)."""

    code = "REC.000"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"


def _freeze(evidence: Evidence) -> Mapping[str, EvidenceValue]:
    return MappingProxyType(dict(sorted(evidence.items())))


@dataclass(frozen=True, slots=True)
class Finding:
    """One rule that fired on one station's minutes."""

    code: str
    """Stable rule code, e.g. ``F.203``; see docs/reconciliation-rules.md."""
    severity: Severity
    station_id: str
    """The station; for an area-level statistic (W.604-W.606) the area, see
    :func:`reconciliation.tallies.area_id` (``departement:<code>`` or ``national``)."""
    fields: tuple[str, ...]
    """PV field ids involved (``ballots``, ``candidate_3``, ...), in form order."""
    message: str
    """What was found, in a sentence for people."""
    action: str
    """What to do next."""
    evidence: Evidence = field(default_factory=dict, hash=False)
    """Values, times (epoch ms) and stroke indices a person can check."""

    def __post_init__(self) -> None:
        if not self.code.startswith(self.severity.letter + "."):
            raise ReconciliationError(
                f"finding code {self.code!r} does not match severity {self.severity.value}"
            )
        object.__setattr__(self, "fields", tuple(self.fields))
        object.__setattr__(self, "evidence", _freeze(self.evidence))

    def sort_key(self) -> tuple[str, tuple[str, ...], str, str]:
        """Findings are listed by code, then fields (deterministic for equal inputs)."""
        return (self.code, self.fields, self.station_id, self.message)
