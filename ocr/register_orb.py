"""Registering a scan without its marks: ORB features matched against the form itself.

When the printed registration marks are blotted, torn off or cut by the
scanner, :func:`register_by_features` finds the form from everything else
printed on it. The form is rendered from its layout (:func:`template`: the
boxes, rules, marks and text, as ``pen.forms.render.drawing`` lays them out,
without the station's QR code and id, which differ per sheet) at
:data:`TEMPLATE_PX_PER_MM`; ORB keypoints (OpenCV, oriented FAST + rotated
BRIEF, rotation invariant, so a sheet turned by 180 degrees is found too) of
the template and of the scan, brought to about the same scale, are matched
(Hamming distance, Lowe's ratio test), and a homography is fitted on the
matches by RANSAC. It is then refined by ECC image alignment
(``cv2.findTransformECC``, homography motion) of the registered page on the
template, and accepted only with enough inliers and the same evidence test
as the marks (:func:`ocr.scan._form_evidence`: the boxes are where the
homography puts them).

Reference: E. Rublee et al., "ORB: an efficient alternative to SIFT or SURF",
ICCV 2011; G. Evangelidis and E. Psarakis, "Parametric image alignment using
enhanced correlation coefficient maximization", IEEE TPAMI 2008.
"""

from __future__ import annotations

import unicodedata
from functools import cache

import cv2
import numpy as np
import numpy.typing as npt

from ocr.errors import FormNotFound
from pen.forms.metrics import PT_MM
from pen.forms.model import FormLayout
from pen.forms.render import CircleShape, LineShape, RectShape, TextShape, drawing

Image = npt.NDArray[np.uint8]
Matrix = npt.NDArray[np.float64]
#: Resolution of the rendered form that scans are matched against.
TEMPLATE_PX_PER_MM = 4.0
#: ORB keypoints kept per image.
FEATURES = 6000
#: Lowe's ratio: a match is kept when clearly better than the second best.
RATIO = 0.8
#: Fewest RANSAC inliers for a registration to be believed.
MIN_INLIERS = 40
#: Refinement: resolution, patch side and spacing (mm), least correlation, fewest patches.
REFINE_PX_PER_MM = 8.0
#: The last refinement pass must move the boxes less than this (mm): converged.
CONVERGED_MM = 0.3
#: Refinement passes: (patch side, search +-) in mm, coarse to fine. The first, wide
#: pass takes the feature fit (off by up to about 8 mm at the page's edges) in.
SCHEDULE = ((24.0, 9.0), (16.0, 4.0), (12.0, 2.0), (12.0, 1.0))
#: Most repeats of the finest pass.
FINAL_PASSES = 3
STEP_MM = 10.0
MIN_CORRELATION = 0.6
MIN_PATCHES = 12
#: How much better (correlation) a patch's best match must be than any other place 1 mm away.
UNIQUE = 0.1
_HERSHEY = cv2.FONT_HERSHEY_SIMPLEX
_HERSHEY_CAP = 22.0  # cap height of FONT_HERSHEY_SIMPLEX at scale 1, in pixels


def _gray(colour: str) -> int:
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return round(0.299 * r + 0.587 * g + 0.114 * b)


@cache
def template(
    layout: FormLayout, px_per_mm: float = TEMPLATE_PX_PER_MM, *, text: bool = True
) -> Image:
    """The printed form without its station id, as a grayscale image (255 paper).

    ``text=False`` leaves the text out: its glyph widths depend on the font and
    the printer, so lines of text drift along their length between the
    template and a print; the boxes, rules and marks do not.
    """
    k = px_per_mm
    img = np.full((round(layout.page_height * k), round(layout.page_width * k)), 255, np.uint8)
    for s in drawing(layout):
        if isinstance(s, RectShape):
            p0, p1 = (
                (round(s.x * k), round(s.y * k)),
                (round((s.x + s.width) * k), round((s.y + s.height) * k)),
            )
            if s.fill:
                cv2.rectangle(img, p0, p1, _gray(s.fill), -1)
            if s.stroke:
                cv2.rectangle(img, p0, p1, _gray(s.stroke), max(1, round(s.line_width * k)))
        elif isinstance(s, CircleShape):
            cv2.circle(img, (round(s.cx * k), round(s.cy * k)), round(s.r * k), _gray(s.fill), -1)
        elif isinstance(s, LineShape):
            a, b = (round(s.x1 * k), round(s.y1 * k)), (round(s.x2 * k), round(s.y2 * k))
            cv2.line(img, a, b, _gray(s.colour), max(1, round(s.width * k)))
        elif isinstance(s, TextShape) and text:
            label = unicodedata.normalize("NFKD", s.text.replace("’", "'"))
            label = label.encode("ascii", "ignore").decode()
            scale = s.size_pt * PT_MM * 0.72 * k / _HERSHEY_CAP
            thick = 2 if s.bold else 1
            (tw, _), _ = cv2.getTextSize(label, _HERSHEY, scale, thick)
            x = s.x * k - {"start": 0.0, "middle": tw / 2, "end": float(tw)}[s.anchor]
            cv2.putText(
                img,
                label,
                (round(x), round(s.y * k)),
                _HERSHEY,
                scale,
                _gray(s.colour),
                thick,
                cv2.LINE_AA,
            )
    return img


@cache
def _template_features(layout: FormLayout) -> tuple[Matrix, npt.NDArray[np.uint8]]:
    """Keypoint positions (template pixels) and ORB descriptors of the rendered form."""
    points, desc = _orb(template(layout))
    return points, desc


def _orb(img: Image) -> tuple[Matrix, npt.NDArray[np.uint8]]:
    orb = cv2.ORB.create(nfeatures=FEATURES, scaleFactor=1.2, nlevels=8, fastThreshold=10)
    keypoints, desc = orb.detectAndCompute(img, None)
    if desc is None:
        return np.zeros((0, 2)), np.zeros((0, 32), np.uint8)
    return np.array([k.pt for k in keypoints], np.float64), np.asarray(desc, np.uint8)


def _scale(k: float) -> Matrix:
    return np.diag([k, k, 1.0])


def register_by_features(flat: Image, layout: FormLayout) -> tuple[Matrix, int]:
    """The homography page mm -> image pixels found by ORB matching, and its inlier count.

    ``flat`` is the light-flattened scan (:func:`ocr.scan.flatten_light`).
    Raises :class:`~ocr.errors.FormNotFound` when too few features match.
    """
    # Bring the scan to about the template's scale: the sheet fills most of the scan.
    tpl = template(layout)
    shrink = min(1.0, 1.15 * max(tpl.shape) / max(flat.shape))
    small = np.asarray(
        cv2.resize(flat, None, fx=shrink, fy=shrink, interpolation=cv2.INTER_AREA), np.uint8
    )
    t_pts, t_desc = _template_features(layout)
    s_pts, s_desc = _orb(small)
    if len(s_pts) < MIN_INLIERS or len(t_pts) < MIN_INLIERS:
        raise FormNotFound(
            f"too few features on the page to find form {layout.name} without its marks"
        )
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
    pairs = matcher.knnMatch(t_desc, s_desc, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < RATIO * p[1].distance]
    if len(good) < MIN_INLIERS:
        raise FormNotFound(
            f"only {len(good)} features of form {layout.name} match the page; the marks are "
            "missing and the sheet is another document or too damaged to read"
        )
    src = t_pts[[m.queryIdx for m in good]]
    dst = s_pts[[m.trainIdx for m in good]]
    fitted, inliers = cv2.findHomography(src, dst, cv2.RANSAC, 3.0, maxIters=5000, confidence=0.999)
    n_in = int(inliers.sum()) if inliers is not None else 0
    if fitted is None or n_in < MIN_INLIERS:
        raise FormNotFound(
            f"the features matched do not agree on where form {layout.name} lies ({n_in} "
            "consistent); the marks are missing and the sheet cannot be registered"
        )
    # template px -> small px, as page mm -> image px
    h = _scale(1 / shrink) @ np.asarray(fitted, np.float64) @ _scale(TEMPLATE_PX_PER_MM)
    h = h / h[2, 2]
    n_patches, moved = 0, np.inf
    for patch_mm, search_mm in SCHEDULE:
        h, n_patches = refine(flat, layout, h, search_mm, patch_mm)
    for _ in range(FINAL_PASSES):  # the finest pass again, until it stops moving the page
        before = h
        h, n_patches = refine(flat, layout, h, SCHEDULE[-1][1], SCHEDULE[-1][0])
        moved = _moved_mm(before, h, layout)
        if moved <= CONVERGED_MM / 4:
            break
    if n_patches < MIN_PATCHES or moved > CONVERGED_MM:
        raise FormNotFound(
            f"form {layout.name} was found without its marks but not precisely enough to cut "
            f"its boxes (the last refinement moved it by {moved:.2f} mm, {n_patches} patches "
            "agree); rescan the sheet"
        )
    return h, n_patches


def _moved_mm(a: Matrix, b: Matrix, layout: FormLayout) -> float:
    """Largest distance (mm, at ``b``'s scale) between where ``a`` and ``b`` put a box corner."""
    pts = np.array(
        [(x, y, 1.0) for box in layout.boxes for x in (box.rect.x, box.rect.right)
         for y in (box.rect.y, box.rect.bottom)]
    )  # fmt: skip
    if not len(pts):
        return 0.0
    pa, pb = pts @ a.T, pts @ b.T
    dist = np.hypot(*(pa[:, :2] / pa[:, 2:] - pb[:, :2] / pb[:, 2:]).T)
    px_per_mm = float(np.sqrt(abs(np.linalg.det(b[:2, :2]))))
    return float(dist.max()) / max(px_per_mm, 1e-9)


def _warp(flat: Image, h: Matrix, layout: FormLayout, k: float) -> Image:
    """The scan resampled to the layout's frame at ``k`` px/mm through ``h`` (mm -> px)."""
    size = (round(layout.page_width * k), round(layout.page_height * k))
    out = cv2.warpPerspective(
        flat,
        h @ _scale(1 / k),
        size,
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderValue=255,
    )
    return np.asarray(out, np.uint8)


@cache
def _anchors(layout: FormLayout, k: float, patch_mm: float) -> list[tuple[int, int]]:
    """Centres (template px at ``k``) of the patches used to refine: printed detail, no QR."""
    tpl = template(layout, k, text=False)
    half, step = round(patch_mm / 2 * k), round(STEP_MM * k)
    skip = None
    if layout.station is not None:
        q = layout.station.qr
        skip = (q.x - 2, q.y - 2, layout.page_width, layout.station.text_y + 3)
    out = []
    for cy in range(half + step // 2, tpl.shape[0] - half, step):
        for cx in range(half + step // 2, tpl.shape[1] - half, step):
            if (
                skip
                and skip[0] - patch_mm / 2 <= cx / k <= skip[2] + patch_mm / 2
                and (skip[1] - patch_mm / 2 <= cy / k <= skip[3] + patch_mm / 2)
            ):
                continue
            patch = tpl[cy - half : cy + half + 1, cx - half : cx + half + 1]
            if float(patch.std()) >= 12.0:
                out.append((cx, cy))
    return out


def _peak(res: npt.NDArray[np.float32], guard: int) -> tuple[float, float, float] | None:
    """Position (x, y) of the maximum of ``res`` with a parabolic sub-pixel fit, and its value;
    None when the peak is on the search window's edge or another peak (``guard`` px away or
    more) comes within :data:`UNIQUE` of it: a repeated pattern (a comb of boxes)."""
    _, top, _, (x, y) = cv2.minMaxLoc(res)
    if not (0 < x < res.shape[1] - 1 and 0 < y < res.shape[0] - 1):
        return None
    rest = res.copy()
    rest[max(y - guard, 0) : y + guard + 1, max(x - guard, 0) : x + guard + 1] = -1.0
    if float(rest.max()) > top - UNIQUE:
        return None
    a, b, c = res[y, x - 1], res[y, x], res[y, x + 1]
    dx = float(0.5 * (a - c) / (a - 2 * b + c)) if a - 2 * b + c < 0 else 0.0
    a, b, c = res[y - 1, x], res[y, x], res[y + 1, x]
    dy = float(0.5 * (a - c) / (a - 2 * b + c)) if a - 2 * b + c < 0 else 0.0
    return x + dx, y + dy, float(top)


def refine(
    flat: Image, layout: FormLayout, h: Matrix, search_mm: float, patch_mm: float = 12.0
) -> tuple[Matrix, int]:
    """``h`` corrected by matching patches of the form where ``h`` puts them (+- ``search_mm``).

    Each patch of printed detail (:func:`_anchors`) of the template is looked
    for in the registered page (normalised cross-correlation, sub-pixel peak);
    a homography fitted by RANSAC on the patches found corrects ``h``.
    Returns the corrected homography and the number of patches that agree.
    """
    k = REFINE_PX_PER_MM
    tpl = template(layout, k, text=False)
    page = _warp(flat, h, layout, k)
    half, margin = round(patch_mm / 2 * k), round(search_mm * k)
    src, dst = [], []
    for cx, cy in _anchors(layout, k, patch_mm):
        y0, y1 = cy - half - margin, cy + half + margin + 1
        x0, x1 = cx - half - margin, cx + half + margin + 1
        if y0 < 0 or x0 < 0 or y1 > page.shape[0] or x1 > page.shape[1]:
            continue
        patch = tpl[cy - half : cy + half + 1, cx - half : cx + half + 1]
        res = np.asarray(
            cv2.matchTemplate(page[y0:y1, x0:x1], patch, cv2.TM_CCOEFF_NORMED), np.float32
        )
        peak = _peak(res, round(k))
        if peak is not None and peak[2] >= MIN_CORRELATION:
            px, py, _ = peak
            src.append((cx, cy))
            dst.append((x0 + px + half, y0 + py + half))
    if len(src) < MIN_PATCHES:
        return h, len(src)
    fitted, inliers = cv2.findHomography(
        np.array(src, np.float64), np.array(dst, np.float64), cv2.RANSAC, 1.5
    )
    n_in = int(inliers.sum()) if inliers is not None else 0
    if fitted is None or n_in < MIN_PATCHES:
        return h, n_in
    out = h @ _scale(1 / k) @ np.asarray(fitted, np.float64) @ _scale(k)
    return out / out[2, 2], n_in


def is_turned(h: Matrix, layout: FormLayout) -> bool:
    """Whether ``h`` (page mm -> image px) shows the sheet turned by more than 90 degrees."""
    cx, cy = layout.page_width / 2, layout.page_height / 2
    a = h @ np.array([cx, cy, 1.0])
    b = h @ np.array([cx + 10.0, cy, 1.0])
    return bool(b[0] / b[2] < a[0] / a[2])
