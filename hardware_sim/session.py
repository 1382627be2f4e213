"""A pen session as bytes: what a simulated pen sends over the wire for some ink.

This is the minimal pen of the foundation: a hello, the strokes (live
framing), a status and a shutdown, with optional byte damage on the line.
The full simulated device (clock drift, battery, offline memory, batches,
faults) is issue 3's :mod:`hardware_sim` work and builds on this.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pen.ink import Ink
from pen.wire import (
    ANOTO_UNITS,
    PROTOCOL_VERSION,
    DeviceUnits,
    FrameEncoder,
    Hello,
    Shutdown,
    ShutdownReason,
    Status,
    stroke_messages,
)


@dataclass(frozen=True, slots=True)
class PenIdentity:
    serial: str
    model: str = "Plume-SIM-1"
    firmware: str = "0.1.0"
    units: DeviceUnits = ANOTO_UNITS
    sample_rate_hz: int = 75


def session_bytes(ink: Ink, pen: PenIdentity, *, battery_pct: int = 80) -> bytes:
    """The byte stream a pen sends for ``ink``, from hello to shutdown."""
    enc = FrameEncoder()
    clock = int(ink[0].start_ms) if len(ink) else 0
    u = pen.units
    parts = [
        enc.encode(
            Hello(
                PROTOCOL_VERSION,
                clock,
                u.unit_nm,
                u.fraction_den,
                u.force_max,
                pen.sample_rate_hz,
                pen.serial,
                pen.model,
                pen.firmware,
            )
        )
    ]
    for number, stroke in enumerate(ink):
        parts += [enc.encode(m) for m in stroke_messages(stroke, number, u)]
    parts.append(enc.encode(Status(battery_pct, 0, ink.n_points * 10, 8 * 2**20, 0)))
    parts.append(enc.encode(Shutdown(ShutdownReason.USER)))
    return b"".join(parts)


def flip_bytes(data: bytes, count: int, rng: np.random.Generator) -> tuple[bytes, list[int]]:
    """Line noise: XOR ``count`` distinct random bytes with a non-zero value."""
    if count <= 0 or not data:
        return data, []
    damaged = bytearray(data)
    where = sorted(int(p) for p in rng.choice(len(data), size=min(count, len(data)), replace=False))
    for p in where:
        damaged[p] ^= int(rng.integers(1, 256))
    return bytes(damaged), where
