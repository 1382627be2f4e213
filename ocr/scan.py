"""Reading a scanned paper form: registration on the printed marks, then each count's comb.

:func:`register` finds the form's registration marks (solid squares or discs
at known places, ``layout.marks``) in a grayscale scan without being told the
scanner's resolution or how the sheet lay, fits the homography from page
millimetres to image pixels with OpenCV, and checks that the form's boxes are
where it says (a page that is blank, another document or a sheet without
marks raises a typed :class:`~ocr.errors.ScanError`). A sheet scanned upside
down is detected (the station QR code is then at the wrong corner) and read
turned back. When the marks are missing, damaged (a blot the size of a mark
or more) or do not frame the form, the page is registered on the rest of
the printed form instead (:mod:`ocr.register_orb`: ORB features matched
against the form rendered from its layout, refined on its boxes and rules).

:func:`read_scan` then warps the page to the layout's millimetre frame at
:data:`PX_PER_MM`, and for every ``count`` field cuts each box of its comb,
removes the printed box lines (ink is much darker than the pale blue box
lines; what is left of a box edge is a straight run across the whole cell,
removed by a morphological opening), and reads the ink of each box with the
offline digit classifier (``ocr/models/scan_digits.npz``, an ensemble of
small MLPs on a normalised 24x24 raster, trained by :mod:`ocr.train_scan`
on UNIPEN digits rendered as a scanner sees them, temperature fitted on
held-out contributors). Each box is read twice, as scanned and with its
ink thinned by about a pixel, and the two probability vectors averaged: a
digit whose reading hangs on its stroke width loses confidence. The field's
text is the digits of its non-empty boxes in order; its confidence the
product of the digits' calibrated probabilities, lowered when a box holds a
smudge too small to be sure of. Its alternatives are every reading that
changes one box's digit with probability at least
:data:`ALTERNATIVE_FLOOR`, so the pen-against-paper rule can tell whether
the reader left the pen's own value a chance.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from ocr import register_orb
from ocr.errors import BadScan, FormNotFound, ModelFileError
from ocr.model import Classifier, FloatArray
from ocr.reading import Reading
from pen.forms.model import FormLayout, Rect

Image = npt.NDArray[np.uint8]
#: Resolution of the registered page the fields are cut from (8 px/mm, about 203 dpi).
PX_PER_MM = 8.0
#: The offline digit model shipped in the repository.
SCAN_MODEL = Path(__file__).resolve().parent / "models" / "scan_digits.npz"
#: Side of the raster a digit is normalised to (ink box scaled into RASTER - 4 pixels).
RASTER = 24
#: Inset (mm) of a box's crop inside its printed outline.
CELL_INSET_MM = 0.3
#: Normalised gray level under which a pixel is ink (paper 255, box lines about 165).
INK_LEVEL = 125
#: Ink area (mm^2) under which a box is empty, and over which it surely holds a character.
EMPTY_MM2 = (0.35, 1.2)
#: Least evidence (:func:`_form_evidence`) that the form lies where a homography puts it.
MIN_EVIDENCE = 0.15
#: Side of a mark found over the side expected there: outside this, the mark is damaged.
MARK_SIZE = (0.8, 1.25)
#: Alternatives a field's reading lists: every reading that changes one box's digit with
#: at least this probability (so the rule can tell whether the pen's value kept a chance) ...
ALTERNATIVE_FLOOR = 1e-4
#: ... and at most this many, the reading itself included.
MAX_ALTERNATIVES = 12


@dataclass(frozen=True, slots=True)
class Registration:
    """Where the form lies in the scan."""

    homography: npt.NDArray[np.float64]
    """3x3: page millimetres (x, y, 1) -> image pixels."""
    upside_down: bool
    """The sheet was scanned turned by 180 degrees (and is read turned back)."""
    marks_px: npt.NDArray[np.float64]
    """Centres of the marks found, in ``layout.marks`` order, image pixels (where the
    homography puts them when the page was registered without them)."""
    method: str = "marks"
    """``marks`` (the printed registration marks) or ``features`` (ORB matching of the
    printed form, :mod:`ocr.register_orb`, when the marks are missing or damaged)."""

    def to_pixels(self, x_mm: float, y_mm: float) -> tuple[float, float]:
        v = self.homography @ np.array([x_mm, y_mm, 1.0])
        return (float(v[0] / v[2]), float(v[1] / v[2]))


@dataclass(frozen=True, slots=True)
class ScannedField:
    """One field read from the scan, with its image for the person who checks it."""

    reading: Reading
    crop: Image
    """The field's comb on the registered page (grayscale, :data:`PX_PER_MM`)."""


def as_gray(image: object) -> Image:
    """A 2-D uint8 grayscale image from a grayscale or BGR array, or raise :class:`BadScan`."""
    a = np.asarray(image)
    if a.ndim == 3 and a.shape[2] in (3, 4):
        a = cv2.cvtColor(a.astype(np.uint8), cv2.COLOR_BGR2GRAY)
    if a.ndim != 2 or min(a.shape) < 64:
        raise BadScan(
            f"a scan must be a grayscale or colour image; got an array of shape {a.shape}"
        )
    if a.dtype != np.uint8:
        if not np.issubdtype(a.dtype, np.number) or not np.isfinite(a).all():
            raise BadScan("a scan must hold finite pixel values 0-255")
        a = np.clip(a, 0, 255).astype(np.uint8)
    return a


def flatten_light(gray: Image) -> Image:
    """The image divided by its paper brightness (a closing wider than any mark): 255 is paper."""
    k = max(5, min(gray.shape) // 60) | 1  # at quarter scale: about 15 mm, wider than a mark
    small = cv2.resize(gray, None, fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (k, k))
    paper = cv2.morphologyEx(small, cv2.MORPH_CLOSE, kernel)
    paper = cv2.resize(paper, (gray.shape[1], gray.shape[0]), interpolation=cv2.INTER_LINEAR)
    out = gray.astype(np.float32) / np.maximum(paper.astype(np.float32), 1.0) * 255.0
    return np.clip(out, 0, 255).astype(np.uint8)


def _mark_candidates(flat: Image) -> npt.NDArray[np.float64]:
    """Centres and sides (x, y, side) of solid dark squares or discs, largest first."""
    dark = (flat < 110).astype(np.uint8)
    n, _, stats, centroids = cv2.connectedComponentsWithStats(dark, connectivity=8)
    out = []
    min_side = max(6.0, min(flat.shape) / 150)
    for i in range(1, n):
        w, h, area = stats[i, 2:5]
        side = float(np.sqrt(area))
        if side < min_side or not 0.75 <= w / h <= 1.33:
            continue
        if area / (w * h) < 0.7:  # a disc fills 0.785 of its box, a square nearly 1
            continue
        out.append((centroids[i][0], centroids[i][1], side))
    out.sort(key=lambda c: -c[2])
    return np.array(out, dtype=np.float64).reshape(-1, 3)


def register(image: object, layout: FormLayout) -> Registration:
    """Find ``layout`` in a scan from its registration marks.

    Raises :class:`~ocr.errors.BadScan` or :class:`~ocr.errors.FormNotFound`.
    """
    gray = as_gray(image)
    if len(layout.marks) < 4:
        raise FormNotFound(f"form {layout.name} has no registration marks to find it by")
    if float(gray.std()) < 4.0:
        raise FormNotFound("the scan is blank (no printed form on it); rescan the sheet")
    flat = flatten_light(gray)
    cands = _mark_candidates(flat)
    big = cands[cands[:, 2] >= 0.6 * cands[0, 2]] if len(cands) else cands
    if len(big) < 4:
        return _register_without_marks(
            flat,
            layout,
            f"found {len(big)} of the {len(layout.marks)} registration marks of form "
            f"{layout.name}; the sheet may be another document, cut off or badly scanned",
        )
    page = np.array([(m.cx, m.cy) for m in layout.marks], dtype=np.float64)
    found = _corners(big[:, :2], page)
    best: tuple[float, Registration] | None = None
    for flipped in (False, True):
        target = found if not flipped else found[_rotated_order(page)]
        fitted, _ = cv2.findHomography(page, target, 0)
        if fitted is None:
            continue
        h = np.asarray(fitted, np.float64)
        score = _form_evidence(flat, layout, h)
        reg = Registration(h, flipped, target)
        if best is None or score > best[0]:
            best = (score, reg)
    if best is None or best[0] < MIN_EVIDENCE:
        return _register_without_marks(
            flat,
            layout,
            f"the marks found do not frame form {layout.name} (its boxes are not where they "
            "should be); the sheet is another document or too damaged to read",
        )
    if not _marks_whole(big, best[1], layout):
        return _register_without_marks(
            flat, layout, f"a registration mark of form {layout.name} is blotted or damaged"
        )
    return best[1]


def _marks_whole(cands: FloatArray, reg: Registration, layout: FormLayout) -> bool:
    """Whether each mark used is the size the homography gives a mark there (a blot over
    a mark makes it larger and moves its centre, silently, without this check)."""
    for (mx, my), m in zip(reg.marks_px, layout.marks, strict=True):
        row = cands[np.argmin(np.hypot(cands[:, 0] - mx, cands[:, 1] - my))]
        a, b = reg.to_pixels(m.cx - m.size / 2, m.cy), reg.to_pixels(m.cx + m.size / 2, m.cy)
        expected = float(np.hypot(a[0] - b[0], a[1] - b[1]))
        side = row[2] if m.shape == "square" else row[2] / np.sqrt(np.pi / 4)
        if not MARK_SIZE[0] <= side / expected <= MARK_SIZE[1]:
            return False
    return True


def _register_without_marks(flat: Image, layout: FormLayout, why: str) -> Registration:
    """The page registered on its printed features (ORB), or :class:`FormNotFound`."""
    try:
        h, _ = register_orb.register_by_features(flat, layout)
    except FormNotFound as e:
        raise FormNotFound(f"{why}; without the marks: {e.message}") from None
    if _form_evidence(flat, layout, h) < MIN_EVIDENCE:
        raise FormNotFound(
            f"{why}; matching the printed form instead put its boxes where there are none: "
            "the sheet is another document or too damaged to read"
        )
    turned = register_orb.is_turned(h, layout)
    marks = np.array([_apply(h, m.cx, m.cy) for m in layout.marks], np.float64)
    return Registration(h, turned, marks.reshape(-1, 2), method="features")


def _apply(h: npt.NDArray[np.float64], x: float, y: float) -> tuple[float, float]:
    v = h @ np.array([x, y, 1.0])
    return (float(v[0] / v[2]), float(v[1] / v[2]))


def _corners(points: npt.NDArray[np.float64], page: npt.NDArray[np.float64]) -> FloatArray:
    """For each mark of the page, the candidate at the same extreme of the point cloud."""
    out = []
    for mx, my in page:
        # Direction of this mark from the page centre; pick the candidate furthest that way.
        d = np.array([mx - page[:, 0].mean(), my - page[:, 1].mean()])
        d /= np.linalg.norm(d) or 1.0
        out.append(points[int(np.argmax(points @ d))])
    return np.array(out, dtype=np.float64)


def _rotated_order(page: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
    """Index of the mark that lands on each mark when the page turns by 180 degrees."""
    w, h = page[:, 0].min() + page[:, 0].max(), page[:, 1].min() + page[:, 1].max()
    turned = np.stack([w - page[:, 0], h - page[:, 1]], axis=1)
    return np.array([int(np.argmin(((page - t) ** 2).sum(axis=1))) for t in turned])


def _form_evidence(flat: Image, layout: FormLayout, h: npt.NDArray[np.float64]) -> float:
    """How much the printed boxes and the QR corner show where ``h`` puts them, about 0 to 1."""
    page = warp_page(flat, layout, h, px_per_mm=4.0)
    k = 4.0
    contrast = []
    for box in layout.boxes:
        r = box.rect
        x0, y0 = round(r.x * k), round(r.y * k)
        x1, y1 = round(r.right * k), round(r.bottom * k)
        if x1 - x0 < 6 or y1 - y0 < 6:
            continue
        edge = float(np.mean(page[y0 : y1 + 1, [x0, x1]]))
        inner = float(np.median(page[y0 + 2 : y1 - 1, x0 + 2 : x1 - 1]))
        contrast.append((inner - edge) / 80.0)
    score = float(np.clip(np.median(contrast), 0, 1)) if contrast else 0.0
    if layout.station is not None:
        q = layout.station.qr
        qr = page[round(q.y * k) : round(q.bottom * k), round(q.x * k) : round(q.right * k)]
        dark = float(np.mean(qr < 128)) if qr.size else 0.0
        score *= 1.0 if 0.2 <= dark <= 0.8 else 0.5
    return score


def warp_page(
    gray: Image, layout: FormLayout, h: npt.NDArray[np.float64], px_per_mm: float = PX_PER_MM
) -> Image:
    """The scan resampled to the layout's frame: pixel (i, j) is page mm (j, i) / px_per_mm."""
    to_frame = np.diag([1 / px_per_mm, 1 / px_per_mm, 1.0])
    m = h @ to_frame
    size = (round(layout.page_width * px_per_mm), round(layout.page_height * px_per_mm))
    out = cv2.warpPerspective(
        gray, m, size, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderValue=255
    )
    return np.asarray(out, dtype=np.uint8)


def crop_mm(page: Image, rect: Rect, inset: float = 0.0) -> Image:
    """The part of a registered page inside ``rect`` (mm), shrunk by ``inset`` mm each side."""
    k = PX_PER_MM
    y0, y1 = round((rect.y + inset) * k), round((rect.bottom - inset) * k)
    x0, x1 = round((rect.x + inset) * k), round((rect.right - inset) * k)
    return page[max(y0, 0) : y1, max(x0, 0) : x1]


def cell_ink(cell: Image) -> npt.NDArray[np.bool_]:
    """Ink pixels of one box's crop (normalised gray): dark, box-line runs and specks removed."""
    mask = (cell < INK_LEVEL).astype(np.uint8)
    h, w = mask.shape
    across = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((1, max(3, int(0.95 * w))), np.uint8))
    down = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((max(3, int(0.95 * h)), 1), np.uint8))
    mask = mask * (1 - np.maximum(across, down))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    keep = np.zeros(n, bool)
    keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= 6
    return np.asarray(keep[labels], dtype=np.bool_)


def raster(cell: Image, ink: npt.NDArray[np.bool_]) -> FloatArray:
    """The ink of a box as a RASTER x RASTER darkness image (0 paper, 1 ink), size-normalised."""
    ys, xs = np.nonzero(ink)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    near = cv2.dilate(ink.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    dark = np.clip((235.0 - cell.astype(np.float64)) / 160.0, 0, 1) * near
    glyph = dark[y0:y1, x0:x1]
    inner = RASTER - 4
    s = inner / max(glyph.shape)
    gw, gh = max(1, round(glyph.shape[1] * s)), max(1, round(glyph.shape[0] * s))
    small = cv2.resize(glyph, (gw, gh), interpolation=cv2.INTER_AREA)
    out = np.zeros((RASTER, RASTER), np.float64)
    oy, ox = (RASTER - gh) // 2, (RASTER - gw) // 2
    out[oy : oy + gh, ox : ox + gw] = small
    return out


def _directions(r: FloatArray) -> FloatArray:
    """Gradient energy in 8 directions over 4x4-pixel cells of a raster: stroke shape."""
    gx = cv2.Sobel(r, cv2.CV_64F, 1, 0, ksize=3)
    gy = cv2.Sobel(r, cv2.CV_64F, 0, 1, ksize=3)
    mag = np.hypot(gx, gy)
    b = (np.floor((np.arctan2(gy, gx) + np.pi) / (2 * np.pi) * 8).astype(int)) % 8
    c = RASTER // 4
    out = np.zeros((c, c, 8))
    cells = (np.arange(RASTER) // 4)[:, None] * c + (np.arange(RASTER) // 4)[None, :]
    np.add.at(out.reshape(c * c, 8), (cells.ravel(), b.ravel()), mag.ravel())
    return np.sqrt(out.ravel())


def raster_features(rasters: list[FloatArray]) -> FloatArray:
    """Rows of classifier input: the flattened raster and its direction histograms."""
    if not rasters:
        return np.zeros((0, RASTER * RASTER + (RASTER // 4) ** 2 * 8))
    return np.stack([np.concatenate([r.ravel(), _directions(r)]) for r in rasters])


@cache
def scan_classifier(path: Path = SCAN_MODEL) -> Classifier:
    """The offline digit model (raster input), loaded once."""
    if not path.exists():
        raise ModelFileError(
            f"scan model {path} not found; rebuild it with `python -m ocr.train_scan`"
        )
    return Classifier.load(path)


def box_variants(cell: Image, ink: npt.NDArray[np.bool_]) -> list[FloatArray]:
    """Rasters of one box read at test time: the ink as scanned, and thinned by about a
    pixel (a 2x2 grey dilation), whose probabilities :func:`read_comb` averages, so a
    digit whose reading hangs on its stroke width loses confidence."""
    thin = np.asarray(cv2.dilate(cell, np.ones((2, 2), np.uint8)), dtype=np.uint8)
    thin_ink = cell_ink(thin)
    second = raster(thin, thin_ink) if thin_ink.sum() >= 6 else raster(cell, ink)
    return [raster(cell, ink), second]


def read_comb(page: Image, boxes: list[Rect], model: Classifier) -> Reading:
    """The digits of one comb field of a registered page, box by box."""
    px2 = PX_PER_MM * PX_PER_MM
    rasters, doubt = [], 1.0
    for rect in boxes:
        cell = crop_mm(page, rect, CELL_INSET_MM)
        ink = cell_ink(cell)
        area = float(ink.sum()) / px2
        if area < EMPTY_MM2[0]:
            continue
        if area < EMPTY_MM2[1]:
            doubt *= 0.5  # a smudge or a tiny mark: maybe a digit, maybe not
        rasters.append(box_variants(cell, ink))
    if not rasters:
        return Reading("", 1.0 if doubt == 1.0 else 0.5, (("", 1.0),))
    n, k = len(rasters), len(rasters[0])
    flat = model.probabilities(raster_features([r for box in rasters for r in box]))
    probs = flat.reshape(n, k, -1).mean(axis=1)
    best = probs.argmax(axis=1)
    text = "".join(model.classes[i] for i in best)
    conf = float(np.prod(probs[np.arange(n), best])) * doubt
    alts = [(text, conf)]
    for j, row in enumerate(probs):
        for i in np.argsort(row)[::-1][1:]:
            p = conf / max(float(row[best[j]]), 1e-12) * float(row[i])
            if p < ALTERNATIVE_FLOOR:
                break
            alts.append((text[:j] + model.classes[i] + text[j + 1 :], p))
    alts.sort(key=lambda a: -a[1])
    return Reading(text, conf, tuple(alts[:MAX_ALTERNATIVES]))


def read_scan(
    image: object, layout: FormLayout, *, kinds: tuple[str, ...] = ("count",)
) -> Mapping[str, ScannedField]:
    """Every field of ``kinds`` (counts by default) read from a scan of ``layout``.

    Raises :class:`~ocr.errors.BadScan` for an array that is not an image and
    :class:`~ocr.errors.FormNotFound` for a page on which the form cannot be found.
    """
    gray = as_gray(image)
    reg = register(gray, layout)
    page = warp_page(flatten_light(gray), layout, reg.homography)
    model = scan_classifier()
    out = {}
    for f in layout.fields:
        if f.kind not in kinds:
            continue
        reading = read_comb(page, [b.rect for b in f.boxes], model)
        out[f.id] = ScannedField(reading, np.ascontiguousarray(crop_mm(page, f.rect, -1.0)))
    return out
