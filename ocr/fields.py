"""Reading comb fields: one character per box, joined, decoded under the field's rules.

The ink of a field is cut into cells: with the comb's box rectangles, each
stroke goes to the box holding the centre of its bounding box (or the nearest
box); without them, digit fields (``postcode``, ``phone``) are segmented as
counts are (:func:`ocr.online.read_count`, under the field's rules), and
other fields split into lines (large vertical gaps) and each line into
characters (strokes that overlap horizontally are one character). Each
cell is read as one character of the field's cell kind (:data:`CELL_KIND`),
then the field is decoded by a beam search over the cells' alternatives: a
text's probability is the product of its characters' probabilities times
the prior of :mod:`ocr.lexicon` (1 for a text that keeps the field's rules,
0.01 for one that breaks them). The confidence is the best text's weight
over the weight of every text, the mass outside the beam counted as if
valid, so lack of search can only make it too low, never too high.
E-mail combs are decoded by :mod:`ocr.address` instead (an automaton whose
total weight is summed exactly), after their dotless bars are settled by the
field's case (:func:`ocr.address.bars_by_case`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ocr import lexicon
from ocr.address import bars_by_case, decode_email, names_weight
from ocr.chars import Box, chars_probabilities, model_of
from ocr.features import FloatArray
from ocr.online import atoms, read_count
from ocr.reading import Reading

#: The one-character kind each comb field kind is made of.
CELL_KIND = {
    "digit": "digit",
    "upper": "upper",
    "name": "upper",
    "lower": "lower",
    "email_char": "email_char",
    "email": "email_char",
    "postcode": "digit",
    "phone": "digit",
}
#: The rules (:mod:`ocr.lexicon`) a comb of each kind is decoded under: an
#: ``email_char`` comb is an e-mail address, as on the contact form.
RULES = {"email_char": "email", "email": "email", "postcode": "postcode", "phone": "phone"}
#: Most digits of a digit comb read without its boxes (by the count segmentation).
_DIGITS = {"digit": 5, "postcode": 5, "phone": 10}
#: Characters kept per cell, and texts kept by the beam.
_PER_CELL = 5
_BEAM = 256
#: Kinds whose empty inner boxes are spaces (names); elsewhere a skipped box is nothing.
_SPACED = ("upper", "name", "lower")
_TOP = 5

Cell = tuple[tuple[str, ...], FloatArray] | None


def cells_from_boxes(strokes: Sequence[FloatArray], boxes: Sequence[Box]) -> list[list[FloatArray]]:
    """The strokes of each box, in writing order."""
    rect = np.array(boxes, dtype=np.float64)
    lo, hi = rect[:, :2], rect[:, :2] + rect[:, 2:]
    out: list[list[FloatArray]] = [[] for _ in boxes]
    for s in strokes:
        c = (s[:, :2].min(axis=0) + s[:, :2].max(axis=0)) / 2
        gap = np.maximum(np.maximum(lo - c, c - hi), 0.0)
        out[int(np.argmin(np.hypot(gap[:, 0], gap[:, 1])))].append(s)
    return out


def cells_from_ink(strokes: Sequence[FloatArray]) -> list[list[FloatArray]]:
    """Characters found in the ink alone: lines top to bottom, atoms left to right."""
    spans = np.array([[s[:, 1].min(), s[:, 1].max()] for s in strokes])
    centres = spans.mean(axis=1)
    tall = float(np.percentile(spans[:, 1] - spans[:, 0], 90))
    order = np.argsort(centres, kind="stable")
    lines: list[list[FloatArray]] = [[]]
    for prev, i in zip([None, *order[:-1]], order, strict=True):
        if prev is not None and centres[i] - centres[prev] > max(0.8 * tall, 1e-6):
            lines.append([])
        lines[-1].append(strokes[i])
    return [sorted(a.strokes, key=lambda s: float(s[0, 2])) for line in lines for a in atoms(line)]


def read_comb(
    strokes: Sequence[FloatArray],
    kind: str,
    boxes: Sequence[Box] | None = None,
    *,
    words: Sequence[str] = (),
) -> Reading:
    """The text of a whole comb field of ``kind`` (see :data:`CELL_KIND`); ``words``: names
    an e-mail address is likely made of (:func:`ocr.address.decode_email`)."""
    cell_kind = CELL_KIND[kind]
    rules = RULES.get(kind, "")
    if boxes:
        groups = cells_from_boxes(strokes, boxes)
        used = [i for i, g in enumerate(groups) if g]
        groups = groups[used[0] : used[-1] + 1]
        cell_boxes: list[Box | None] = list(boxes[used[0] : used[-1] + 1])
    elif cell_kind == "digit":
        return read_count(strokes, model_of("digit"), max_digits=_DIGITS[kind], rules=rules)
    else:
        groups = cells_from_ink(strokes)
        cell_boxes = [None] * len(groups)
    inked = [i for i, g in enumerate(groups) if g]
    found = (
        chars_probabilities([groups[i] for i in inked], cell_kind, [cell_boxes[i] for i in inked])
        if inked
        else []
    )
    cells: list[Cell] = [None] * len(groups)
    for i, c in zip(inked, found, strict=True):
        cells[i] = c
    if rules == "email":
        return decode_email(bars_by_case([groups[i] for i in inked], found), words)
    return decode(cells, rules, spaced=kind in _SPACED, names=kind == "name")


def decode(
    cells: Sequence[Cell], rules: str, *, spaced: bool = False, names: bool = False
) -> Reading:
    """The most probable texts of a sequence of cells under ``rules`` (a beam search;
    e-mail addresses by :func:`ocr.address.decode_email`)."""
    if rules == "email":
        return decode_email(cells)
    beam = _ruled_beam(cells, rules, spaced) if rules else _free_beam(cells, spaced)
    weight = names_weight if names else (lambda t: lexicon.prior(rules, t))
    scored = sorted(((t, p * weight(t)) for t, p, _ in beam), key=lambda x: (-x[1], x[0]))
    # texts outside the beam count at full weight: confidences err low, never high
    outside = max(0.0, 1.0 - sum(p for _, p, _ in beam))
    total = sum(s for _, s in scored) + outside
    alts = tuple((t, float(min(1.0, s / total))) for t, s in scored[:_TOP])
    return Reading(alts[0][0], alts[0][1], alts)


def _free_beam(cells: Sequence[Cell], spaced: bool) -> list[tuple[str, float, float]]:
    """The beam of :func:`_ruled_beam` when no rule weighs a prefix (names, plain combs):
    the same texts in the same order, grown in numpy (a text is built only when kept)."""
    texts, p = [""], np.ones(1)
    for cell in cells:
        if cell is None:
            if spaced:
                texts = [t + " " for t in texts]
            continue
        classes, probs = cell
        top = np.argsort(-probs, kind="stable")[:_PER_CELL]
        grown = (p[:, None] * probs[top][None, :]).ravel()
        keep = np.argsort(-grown, kind="stable")[:_BEAM]
        texts = [texts[k // len(top)] + classes[top[k % len(top)]] for k in keep.tolist()]
        p = grown[keep]
    return [(t, float(q), 1.0) for t, q in zip(texts, p.tolist(), strict=True)]


def _ruled_beam(cells: Sequence[Cell], rules: str, spaced: bool) -> list[tuple[str, float, float]]:
    """Beam search over the cells: (text, probability, weight), the weight
    :data:`ocr.lexicon.INVALID` once a prefix breaks ``rules``."""
    beam: list[tuple[str, float, float]] = [("", 1.0, 1.0)]  # text, probability, weight
    for cell in cells:
        if cell is None:
            if spaced:
                beam = [(t + " ", p, w) for t, p, w in beam]
            continue
        classes, probs = cell
        top = np.argsort(-probs, kind="stable")[:_PER_CELL]
        grown = []
        for text, p, w in beam:
            for i in top:
                t = text + classes[i]
                ok = w < 1.0 or lexicon.prefix_possible(rules, t)
                grown.append((t, p * float(probs[i]), w if ok else lexicon.INVALID))
        grown.sort(key=lambda x: -x[1] * x[2])
        beam = grown[:_BEAM]
    return beam
