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
    flags: tuple[str, ...] = ()
    """Why the ink is doubtful beyond its confidence: ``scribble`` (a scribbled or
    blackened character or box), ``crossed_out`` (a cross or a line through it);
    see :mod:`ocr.overwriting`. Empty for ordinary ink."""
