"""The result of reading one field: text, calibrated confidence, ranked alternatives."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Reading:
    """What the recogniser read in one field."""

    text: str
    """The best reading; "" for an empty field."""
    confidence: float
    """Calibrated probability in [0, 1] that ``text`` is right."""
    alternatives: tuple[tuple[str, float], ...]
    """Readings (best first, ``text`` included) with their probabilities, descending."""
