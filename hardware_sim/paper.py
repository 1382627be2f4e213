"""The scanned paper PV: the printed form, the ink on paper, and a scanner's defects.

:func:`render_page` rasterises :func:`pen.forms.render.drawing` with OpenCV
(boxes, rules, registration marks, QR modules and ink exactly; labels in a
Hershey font, accents dropped) as an 8-bit grayscale page. :func:`scan`
then does what a flatbed or sheet-fed scanner does to it, seeded: the sheet
lands rotated (up to 3 degrees), shifted and a little skewed (a projective
warp), the optics blur, the sensor adds noise, the light is uneven, and the
result goes through JPEG. The :class:`Scan` returns the image with the
ground truth: the homography from page millimetres to image pixels, so the
recognition issue can check its registration on the marks. ``stains``
(:class:`Stain`: an ink blot, a coffee ring's dark patch, correction fluid)
damage the sheet before it is scanned, to test reading a damaged PV: a blot
over a registration mark or over the station's QR code.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from hardware_sim.scenarios import StationRun
from pen.forms import load_form
from pen.forms.metrics import PT_MM
from pen.forms.model import FormLayout
from pen.forms.render import (
    CircleShape,
    LineShape,
    PolylineShape,
    RectShape,
    TextShape,
    drawing,
)
from pen.ink import Ink

Image = npt.NDArray[np.uint8]
MM_PER_INCH = 25.4
_SHIFT = 4  # sub-pixel bits for OpenCV drawing
_HERSHEY = cv2.FONT_HERSHEY_SIMPLEX
_HERSHEY_CAP = 22.0  # cap height of FONT_HERSHEY_SIMPLEX at scale 1, in pixels


def _gray(colour: str) -> int:
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return round(0.299 * r + 0.587 * g + 0.114 * b)


def _ascii(text: str) -> str:
    text = text.replace("€", "EUR").replace("’", "'").replace("«", '"').replace("»", '"')
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def render_page(
    layout: FormLayout, *, station_id: str | None = None, ink: Ink | None = None, dpi: float = 200
) -> Image:
    """The printed form (and ink) as a clean grayscale page, ``dpi`` pixels per inch."""
    k = dpi / MM_PER_INCH
    w, h = round(layout.page_width * k), round(layout.page_height * k)
    img = np.full((h, w), 255, np.uint8)
    f = 1 << _SHIFT

    def p(x: float, y: float) -> tuple[int, int]:
        return (round(x * k * f), round(y * k * f))

    def width(mm: float) -> int:
        return max(1, round(mm * k))

    for s in drawing(layout, station_id=station_id, ink=ink):
        if isinstance(s, RectShape):
            a, b = p(s.x, s.y), p(s.x + s.width, s.y + s.height)
            if s.fill:
                # Filled rectangles (marks, QR modules) are exact: integer pixel corners.
                x0, y0 = round(s.x * k), round(s.y * k)
                x1, y1 = round((s.x + s.width) * k), round((s.y + s.height) * k)
                img[y0:y1, x0:x1] = _gray(s.fill)
            if s.stroke:
                cv2.rectangle(img, a, b, _gray(s.stroke), width(s.line_width), cv2.LINE_AA, _SHIFT)
        elif isinstance(s, CircleShape):
            cv2.circle(
                img, p(s.cx, s.cy), round(s.r * k * f), _gray(s.fill), -1, cv2.LINE_AA, _SHIFT
            )
        elif isinstance(s, LineShape):
            cv2.line(
                img,
                p(s.x1, s.y1),
                p(s.x2, s.y2),
                _gray(s.colour),
                width(s.width),
                cv2.LINE_AA,
                _SHIFT,
            )
        elif isinstance(s, PolylineShape):
            pts = np.array([p(x, y) for x, y in s.points], np.int32).reshape(-1, 1, 2)
            # Ballpoint ink on paper is wider than the vector trace.
            cv2.polylines(
                img, [pts], False, _gray(s.colour), width(max(s.width, 0.45)), cv2.LINE_AA, _SHIFT
            )
        elif isinstance(s, TextShape):
            text = _ascii(s.text)
            scale = s.size_pt * PT_MM * 0.72 * k / _HERSHEY_CAP
            thick = 2 if s.bold else 1
            (tw, _), _ = cv2.getTextSize(text, _HERSHEY, scale, thick)
            x = s.x * k - {"start": 0.0, "middle": tw / 2, "end": float(tw)}[s.anchor]
            cv2.putText(
                img,
                text,
                (round(x), round(s.y * k)),
                _HERSHEY,
                scale,
                _gray(s.colour),
                thick,
                cv2.LINE_AA,
            )
    return img


@dataclass(frozen=True, slots=True)
class Stain:
    """A mark on the sheet before it is scanned, with an irregular outline."""

    cx: float
    cy: float
    """Centre, page millimetres."""
    radius: float
    """Mean radius, millimetres (the outline wanders about 25% around it)."""
    gray: int = 25
    """25: an ink blot; 255: correction fluid or paper torn off and left white."""
    seed: int = 0


def stain_page(page: Image, stains: Sequence[Stain], dpi: float) -> Image:
    """``page`` with each stain painted on it (a filled, lobed outline)."""
    out = page.copy()
    k = dpi / MM_PER_INCH
    for st in stains:
        rng = np.random.default_rng(st.seed)
        theta = np.linspace(0, 2 * np.pi, 90, endpoint=False)
        r = np.ones_like(theta)
        for lobe in range(2, 6):
            r += rng.uniform(0.02, 0.1) * np.cos(lobe * theta + rng.uniform(0, 2 * np.pi))
        pts = np.column_stack(
            [st.cx + st.radius * r * np.cos(theta), st.cy + st.radius * r * np.sin(theta)]
        )
        poly = np.round(pts * k * (1 << _SHIFT)).astype(np.int32).reshape(-1, 1, 2)
        cv2.fillPoly(out, [poly], int(st.gray), cv2.LINE_AA, _SHIFT)
    return out


@dataclass(frozen=True, slots=True)
class ScanDefects:
    """How bad the scanner is; each draw is uniform in ``[-max, max]`` or ``[lo, hi]``."""

    max_rotation_deg: float = 3.0
    max_skew: float = 0.01
    """Shear (x shift per unit of y)."""
    max_perspective: float = 2e-5
    """Keystone: projective terms, per pixel."""
    max_shift_mm: float = 4.0
    bed_margin_mm: float = 10.0
    """Scanner bed around the sheet on each side, so a turned sheet keeps its corners."""
    blur_sigma_px: tuple[float, float] = (0.4, 1.0)
    noise_sigma: tuple[float, float] = (2.0, 6.0)
    light_falloff: tuple[float, float] = (0.0, 0.18)
    """Darkening towards one side of the sheet, as a share of the brightness."""
    jpeg_quality: tuple[int, int] = (70, 92)


@dataclass(frozen=True, slots=True)
class Scan:
    """A scanned page and the ground truth of how it was made."""

    image: Image
    """Grayscale, decoded from :attr:`jpeg`."""
    jpeg: bytes
    homography: npt.NDArray[np.float64]
    """3x3: page millimetres (x, y, 1) -> image pixels."""
    rotation_deg: float
    dpi: float

    def to_pixels(self, x_mm: float, y_mm: float) -> tuple[float, float]:
        """Where a point of the page lands in the image."""
        v = self.homography @ np.array([x_mm, y_mm, 1.0])
        return (float(v[0] / v[2]), float(v[1] / v[2]))


def scan(
    layout: FormLayout,
    *,
    station_id: str | None = None,
    ink: Ink | None = None,
    dpi: float = 200,
    seed: int = 0,
    defects: ScanDefects = ScanDefects(),
    stains: Sequence[Stain] = (),
) -> Scan:
    """The paper (form, ``ink`` and ``stains``) as a scanner returns it, seeded."""
    rng = np.random.default_rng(seed)
    page = render_page(layout, station_id=station_id, ink=ink, dpi=dpi)
    if stains:
        page = stain_page(page, stains, dpi)
    h, w = page.shape
    k = dpi / MM_PER_INCH
    d = defects
    angle = float(rng.uniform(-d.max_rotation_deg, d.max_rotation_deg))
    a = np.radians(angle)
    cx, cy = w / 2, h / 2
    centre = np.array([[1, 0, -cx], [0, 1, -cy], [0, 0, 1]], float)
    rot = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    skew = float(rng.uniform(-d.max_skew, d.max_skew))
    shear = np.array([[1, skew, 0], [0, 1, 0], [0, 0, 1]], float)
    px, py = rng.uniform(-d.max_perspective, d.max_perspective, 2)
    persp = np.array([[1, 0, 0], [0, 1, 0], [px, py, 1]], float)
    shift = rng.uniform(-d.max_shift_mm, d.max_shift_mm, 2) * k
    margin = d.bed_margin_mm * k
    back = np.array(
        [[1, 0, cx + margin + shift[0]], [0, 1, cy + margin + shift[1]], [0, 0, 1]], float
    )
    warp = back @ persp @ rot @ shear @ centre
    mm_to_px = np.diag([k, k, 1.0])
    homography = warp @ mm_to_px
    homography /= homography[2, 2]
    h, w = round(h + 2 * margin), round(w + 2 * margin)
    img = cv2.warpPerspective(page, warp, (w, h), flags=cv2.INTER_LINEAR, borderValue=214)
    img = cv2.GaussianBlur(img, (0, 0), float(rng.uniform(*d.blur_sigma_px)))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    theta = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(theta) * xx / w + np.sin(theta) * yy / h + 1) / 2
    light = 1.0 - float(rng.uniform(*d.light_falloff)) * ramp
    out = img.astype(np.float32) * light + rng.normal(0, rng.uniform(*d.noise_sigma), (h, w))
    img = np.clip(out, 0, 255).astype(np.uint8)
    quality = int(rng.integers(d.jpeg_quality[0], d.jpeg_quality[1] + 1))
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - OpenCV always encodes a uint8 image
        raise RuntimeError("OpenCV could not encode the scan as JPEG")
    jpeg = buf.tobytes()
    decoded = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_GRAYSCALE)
    return Scan(np.asarray(decoded, dtype=np.uint8), jpeg, homography, angle, dpi)


def scan_run(
    run: StationRun,
    *,
    dpi: float = 200,
    seed: int = 0,
    defects: ScanDefects = ScanDefects(),
    stains: Sequence[Stain] = (),
) -> Scan:
    """The scan of a station's paper PV (the sheet's printed id, the ink on paper)."""
    return scan(
        load_form("pv"),
        station_id=run.printed_station_id,
        ink=run.paper_ink,
        dpi=dpi,
        seed=seed,
        defects=defects,
        stains=stains,
    )
