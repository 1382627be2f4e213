"""What the pen link tells the screen: typed, frozen link events (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Connected:
    pen_serial: str
    model: str
    firmware: str
    clock_offset_ms: int
    """Laptop clock minus pen clock at the hello (corrected by SetTime)."""
    known: bool
    """The pen is in the station kit's list."""


@dataclass(frozen=True, slots=True)
class Disconnected:
    reason: str
    retry_in_s: float
    code: str = "AGENT.101"
    """``AGENT.101`` the port went away or cannot be opened; ``AGENT.111``-``113`` the
    pen could not be found by its USB id (none configured, none or several plugged in)."""


@dataclass(frozen=True, slots=True)
class PenStatus:
    battery_pct: int
    charging: bool
    memory_used: int
    memory_total: int
    offline_batches: int


@dataclass(frozen=True, slots=True)
class InkCaptured:
    strokes: int
    """Strokes captured so far on this link (live and offline)."""
    pages: int
    """Distinct pages written on."""


@dataclass(frozen=True, slots=True)
class BatchProgress:
    batch_id: int
    received_chunks: int
    n_chunks: int


@dataclass(frozen=True, slots=True)
class BatchSaved:
    batch_id: int
    strokes: int
    already_saved: bool
    """The pen offered again a batch already journaled (its commit was lost)."""


@dataclass(frozen=True, slots=True)
class Anomaly:
    code: str
    """``WIRE.1xx``/``WIRE.2xx`` from the decoder, ``AGENT.1xx`` from the agent."""
    kind: str
    detail: str


LinkEvent = (
    Connected | Disconnected | PenStatus | InkCaptured | BatchProgress | BatchSaved | Anomaly
)
