"""Reading a checkbox: ticked (``"x"``) or not (``""``) from the ink inside it.

A tick, a cross or a filled box leaves millimetres of ink; a box left alone
leaves none, or a dot where the pen rested. The probability of "ticked" is a
logistic function of the log of the pen-down path length: 0.5 at
:data:`HALF_MM` of ink, rising to more than 0.999 for a 6 mm check mark and
falling below 0.01 for a 0.5 mm touch. The curve is set by hand, not fitted:
no labelled corpus of real stray marks exists here, so the zone of doubt
(about 0.8 to 3 mm of ink) is deliberately wide and its readings go to review.
A box blackened by scribbling (to fill it or to cancel a tick) is flagged by
:mod:`ocr.overwriting` in :func:`ocr.read`, with a low confidence.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ocr.features import FloatArray
from ocr.reading import Reading

TICKED = "x"
#: Pen-down ink (mm) at which ticked and not ticked are equally likely.
HALF_MM = 1.5
#: Width of the logistic, in log-millimetres.
_SCALE = 0.2


def ink_length_mm(strokes: Sequence[FloatArray]) -> float:
    """Total pen-down path length of the strokes, in millimetres."""
    return float(sum(np.hypot(*np.diff(s[:, :2], axis=0).T).sum() for s in strokes if len(s) > 1))


def ticked_probability(strokes: Sequence[FloatArray]) -> float:
    """Probability that the ink is a deliberate mark rather than a stray touch."""
    length = ink_length_mm(strokes)
    z = (np.log(length + 1e-3) - np.log(HALF_MM)) / _SCALE
    return float(1.0 / (1.0 + np.exp(-np.clip(z, -50.0, 50.0))))


def read_checkbox(strokes: Sequence[FloatArray]) -> Reading:
    """``"x"`` (ticked) or ``""`` with its probability; the other reading second."""
    p = ticked_probability(strokes)
    alts = ((TICKED, p), ("", 1.0 - p)) if p >= 0.5 else (("", 1.0 - p), (TICKED, p))
    return Reading(alts[0][0], alts[0][1], alts)
