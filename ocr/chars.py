"""Reading one character in one box: ``digit``, ``upper``, ``lower``, ``email_char``.

The shape classifier of the kind (:mod:`ocr.charsets`) sees the glyph scaled to
a unit box, so size and position are gone; two characters of ``email_char``
differ mainly by them and are settled here from the ink in millimetres and,
when the caller gives it, the box's rectangle:

- ``.``, ``-`` and ``_``: a dot is small and sits on the baseline, a hyphen
  is a flat stroke at mid height, an underscore a long flat stroke on the
  baseline (the classifier has one class ``-`` for both strokes). With a
  box: the ink is *small* with a logistic probability of its larger side
  relative to the box height (0.5 at :data:`DOT_SHARE`), *low* if centred
  below :data:`LOW_LINE` of the box height, *long* if wider than
  :data:`LONG_LINE` of it. A small mark is a dot if low; higher up, a
  hyphen (a round one a dot in share :data:`DOT_HIGH`). The classifier's
  stroke class is a hyphen if not low; low, an underscore if long, else a
  dot (a dot drawn as a short tick). Without a box a small mark is a dot
  unless flat (logistic, 0.5 at :data:`DOT_MM`) and the stroke class is
  ``-`` or ``_`` with half the probability each, so such a reading is never
  confident.

``upper`` has no ``-`` class (UNIPEN's capitals have none) but names hold
hyphens (MARIE-CLAIRE): a single stroke much wider than tall (height under
about :data:`FLAT` of its width) is read as ``-``, with a logistic
probability, the letters sharing the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import numpy as np

from ocr.charsets import CHARSETS
from ocr.features import FloatArray
from ocr.model import Classifier
from ocr.reading import Reading

#: A box: x, y (top-left, mm, y down), width, height.
Box = tuple[float, float, float, float]
#: Alternatives kept per character.
TOP = 5
#: Ink no larger than this share of the box height is probably a dot.
DOT_SHARE = 0.14
#: Without a box: ink no larger than this (mm) is probably a dot.
DOT_MM = 1.0
#: Height over width of one stroke below which it is probably a hyphen (``upper``).
FLAT = 0.3
#: A flat stroke centred below this share of the box height is ``_``, above it ``-``;
#: a small mark centred below it is a dot.
LOW_LINE = 0.68
#: A low flat mark wider than this share of the box height is ``_``, not a dot.
LONG_LINE = 0.25
#: Share of a small round mark centred above :data:`LOW_LINE` read as a dot (a
#: dot belongs on the baseline; the rest is a short hyphen).
DOT_HIGH = 0.2


@cache
def model_of(kind: str) -> Classifier:
    """The shipped classifier of a one-character kind."""
    return Classifier.load(CHARSETS[kind].model)


def char_probabilities(
    strokes: Sequence[FloatArray], kind: str, box: Box | None = None
) -> tuple[tuple[str, ...], FloatArray]:
    """The classes of ``kind`` and their calibrated probabilities for one glyph."""
    return chars_probabilities([strokes], kind, [box])[0]


def chars_probabilities(
    glyphs: Sequence[Sequence[FloatArray]], kind: str, boxes: Sequence[Box | None]
) -> list[tuple[tuple[str, ...], FloatArray]]:
    """:func:`char_probabilities` of several glyphs (each with its box or None), the
    classifier run once on all of them (a comb field's cells: the networks' per-call cost
    is paid once a field, not once a character)."""
    model = model_of(kind)
    probs = model.probabilities(model.features([[s[:, :2] for s in g] for g in glyphs]))
    return [
        _adjusted(g, kind, model.classes, p, b)
        for g, p, b in zip(glyphs, probs, boxes, strict=True)
    ]


def _adjusted(
    strokes: Sequence[FloatArray],
    kind: str,
    classes: tuple[str, ...],
    probs: FloatArray,
    box: Box | None,
) -> tuple[tuple[str, ...], FloatArray]:
    """The classifier's probabilities with what size and position settle (``.``, ``-``,
    ``_``)."""
    if kind == "email_char":
        classes, probs = _size_and_height(strokes, classes, probs, box)
    elif kind == "upper":
        p = _flat_probability(strokes)
        classes, probs = (*classes, "-"), np.append(probs * (1.0 - p), p)
    return classes, probs


def read_char(strokes: Sequence[FloatArray], kind: str, box: Box | None = None) -> Reading:
    """One character from all the strokes (already checked, in writing order)."""
    classes, probs = char_probabilities(strokes, kind, box)
    return reading_of(classes, probs)


def reading_of(classes: Sequence[str], probs: FloatArray) -> Reading:
    order = np.argsort(-probs, kind="stable")
    alts = tuple((classes[i], float(probs[i])) for i in order[:TOP])
    return Reading(alts[0][0], alts[0][1], alts)


def _logistic(z: float) -> float:
    return float(1.0 / (1.0 + np.exp(-np.clip(z, -50.0, 50.0))))


def _flat_probability(strokes: Sequence[FloatArray]) -> float:
    """Probability that the glyph is a hyphen: one stroke, much wider than tall."""
    if len(strokes) != 1:
        return 0.0
    w, h = np.ptp(strokes[0][:, :2], axis=0)
    return _logistic((FLAT - float(h) / max(float(w), 1e-6)) / 0.05)


def _size_and_height(
    strokes: Sequence[FloatArray],
    classes: tuple[str, ...],
    probs: FloatArray,
    box: Box | None,
) -> tuple[tuple[str, ...], FloatArray]:
    """``email_char`` probabilities with ``.`` decided by size and ``-``/``_`` by height."""
    pts = np.concatenate([s[:, :2] for s in strokes])
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    side = float(max(hi - lo))
    w, h = float(hi[0] - lo[0]), float(hi[1] - lo[1])
    not_flat = 1.0 - _logistic((FLAT - h / max(w, 1e-6)) / 0.05) if w > 0.3 else 1.0
    dot, dash = classes.index("."), classes.index("-")
    out = probs.copy()
    out[dot] = 0.0
    out /= max(float(out.sum()), 1e-12)
    if box is None or box[3] <= 0:
        p_dot = _logistic((np.log(DOT_MM) - np.log(side + 1e-3)) / 0.15) * not_flat
        out *= 1.0 - p_dot
        out[dot] = p_dot
        dash_p = float(out[dash])
        out[dash] = dash_p / 2
        return (*classes, "_"), np.append(out, dash_p / 2)
    small = _logistic((np.log(DOT_SHARE * box[3]) - np.log(side + 1e-3)) / 0.15)
    centre = ((lo[1] + hi[1]) / 2 - box[1]) / box[3]
    low = _logistic((float(centre) - LOW_LINE) / 0.04)
    long = _logistic((w / box[3] - LONG_LINE) / 0.04)
    # a small mark: on the baseline a dot, higher up a hyphen (a dot if round, 1 in 5)
    small_dot = low + (1.0 - low) * not_flat * DOT_HIGH
    out *= 1.0 - small
    # the classifier's stroke class: higher up a hyphen; low, an underscore if long, else a dot
    dash_p = float(out[dash])
    out[dash] = dash_p * (1.0 - low) + small * (1.0 - small_dot)
    out[dot] = small * small_dot + dash_p * low * (1.0 - long)
    return (*classes, "_"), np.append(out, dash_p * low * long)
