"""Online reading of pen ink: one digit per box, and whole count fields.

A ``digit`` field is one character: all its strokes go to the classifier.
A ``count`` field holds 1 to 5 digits written anywhere in the field (the
comb's boxes are only hints). Its strokes are first merged into *atoms*
(strokes that overlap horizontally belong to one digit: the bar of a 4, the
flag of a 5), then every split of the atoms, taken left to right, into
digits is weighed: each gap between neighbouring atoms is a digit boundary
with a probability that grows with the gap (overlapping atoms are probably
one digit, well separated ones two), and each candidate digit is scored by
the classifier. The boundary probability is a logistic function of the gap
over the ink height, fitted on UNIPEN digits laid out as counts
(:mod:`ocr.train_count`). A reading's probability is the sum, over the splits that give
it, of the split's probability times its digits' probabilities, so an
uncertain split or an uncertain digit both lower the confidence.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ocr import lexicon
from ocr.features import FloatArray
from ocr.model import Classifier
from ocr.reading import Reading

#: Most digits in a count field.
MAX_DIGITS = 5
#: Atoms that overlap by more than this share of the narrower one are one digit.
_OVERLAP = 0.4
#: Longest run of atoms taken as one digit.
_MAX_SPAN = 3
#: Above this many atoms only the atoms themselves are tried as digits.
_MAX_ENUMERATED_ATOMS = 12
#: Alternatives kept per reading.
_TOP = 5
#: Digit boundary between two atoms: logistic(a + b * gap / ink height), ``(a, b)``,
#: fitted by ``python -m ocr.train_count`` (0.5 at a gap of 0.057 of the ink height;
#: hand-set before at (1.25, 25), 0.5 at -0.05: atoms that overlapped a little were
#: split, and the two strokes of a 4 read 21).
GAP = (-2.599, 45.845)


@dataclass(frozen=True, slots=True)
class _Atom:
    strokes: tuple[FloatArray, ...]
    x0: float
    x1: float


def read_digit(strokes: Sequence[FloatArray], model: Classifier) -> Reading:
    """One character from all the strokes (already checked, in writing order)."""
    probs = model.probabilities(model.features([[s[:, :2] for s in strokes]]))[0]
    order = np.argsort(-probs, kind="stable")
    alts = tuple((model.classes[i], float(probs[i])) for i in order[:_TOP])
    return Reading(alts[0][0], alts[0][1], alts)


def atoms(strokes: Sequence[FloatArray]) -> list[_Atom]:
    """The strokes grouped into probable characters, left to right: a stroke that
    overlaps the previous group horizontally by more than :data:`_OVERLAP` of the
    narrower joins it."""
    groups: list[list[FloatArray]] = []
    spans: list[list[float]] = []
    for s in sorted(strokes, key=lambda s: float(s[:, 0].min())):
        x0, x1 = float(s[:, 0].min()), float(s[:, 0].max())
        if spans:
            g0, g1 = spans[-1]
            overlap = min(x1, g1) - max(x0, g0)
            if overlap > _OVERLAP * max(min(x1 - x0, g1 - g0), 1e-6):
                groups[-1].append(s)
                spans[-1] = [min(g0, x0), max(g1, x1)]
                continue
        groups.append([s])
        spans.append([x0, x1])
    # keep each digit's strokes in writing order
    return [
        _Atom(tuple(sorted(g, key=lambda s: float(s[0, 2]))), a, b)
        for g, (a, b) in zip(groups, spans, strict=True)
    ]


def _split_probability(
    left: _Atom, right: _Atom, height: float, gap: tuple[float, float] = GAP
) -> float:
    """Probability that a digit boundary lies between two neighbouring atoms."""
    z = gap[0] + gap[1] * (right.x0 - left.x1) / height
    return float(1.0 / (1.0 + np.exp(-np.clip(z, -50.0, 50.0))))


def read_count(
    strokes: Sequence[FloatArray],
    model: Classifier,
    *,
    max_digits: int = MAX_DIGITS,
    rules: str = "",
    gap: tuple[float, float] = GAP,
) -> Reading:
    """A whole number of 1 to ``max_digits`` digits from all the ink of a field.

    ``rules``: a kind of :mod:`ocr.lexicon` (``postcode``, ``phone``) whose prior
    weighs each text; the mass of the texts not enumerated counts as valid.
    ``gap``: the boundary logistic's ``(a, b)`` (default :data:`GAP`).
    """
    found = atoms(strokes)
    pts = np.concatenate([s[:, :2] for s in strokes])
    height = max(float(np.ptp(pts[:, 1])), 1e-6)
    k = len(found)
    span = _MAX_SPAN if k <= _MAX_ENUMERATED_ATOMS else 1
    ranges = [(i, j) for i in range(k) for j in range(i + 1, min(k, i + span) + 1)]
    glyphs = [[s[:, :2] for a in found[i:j] for s in a.strokes] for i, j in ranges]
    probs = dict(zip(ranges, model.probabilities(model.features(glyphs)), strict=True))
    p_split = [_split_probability(found[i], found[i + 1], height, gap) for i in range(k - 1)]
    scores: dict[str, float] = {}
    fallback: tuple[str, float] | None = None
    for cuts in _segmentations(k, span):
        bounds = [0, *cuts, k]
        groups = list(itertools.pairwise(bounds))
        p_seg = float(
            np.prod([p_split[i - 1] if i in cuts else 1 - p_split[i - 1] for i in range(1, k)])
        )
        for text, p in _best_texts(model.classes, [probs[g] for g in groups]):
            if len(groups) > max_digits:
                if fallback is None or p * p_seg > fallback[1]:
                    fallback = (text, p * p_seg)
                continue
            scores[text] = scores.get(text, 0.0) + p_seg * p
    if not scores and fallback is not None:
        # more digits than a count holds: say what is there, but do not trust it
        return Reading(fallback[0], 0.0, ((fallback[0], 0.0),))
    if rules:
        outside = max(0.0, 1.0 - sum(scores.values()))
        scores = {t: p * lexicon.prior(rules, t) for t, p in scores.items()}
        total = sum(scores.values()) + outside
        scores = {t: p / total for t, p in scores.items()}
    ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:_TOP]
    alts = tuple((t, float(min(max(p, 0.0), 1.0))) for t, p in ranked)
    return Reading(alts[0][0], alts[0][1], alts)


def _segmentations(k: int, span: int) -> list[tuple[int, ...]]:
    """Cut positions (1..k-1) splitting k atoms into runs of at most ``span``."""
    if span == 1:
        return [tuple(range(1, k))]
    out = []
    for mask in range(1 << max(k - 1, 0)):
        cuts = tuple(i + 1 for i in range(k - 1) if not mask >> i & 1)
        bounds = [0, *cuts, k]
        if all(b - a <= span for a, b in itertools.pairwise(bounds)):
            out.append(cuts)
    return out


def _best_texts(
    classes: Sequence[str], probs: Sequence[FloatArray], beam: int = 4
) -> list[tuple[str, float]]:
    """The most probable strings, one character per probability row (beam search)."""
    found: list[tuple[str, float]] = [("", 1.0)]
    for row in probs:
        top = np.argsort(-row, kind="stable")[:beam]
        found = sorted(
            ((t + classes[i], p * float(row[i])) for t, p in found for i in top),
            key=lambda tp: -tp[1],
        )[:beam]
    return found
