"""Tesseract behind :func:`ocr.read` (``engine="tesseract"``): the named baseline.

The ink is rendered as a black-on-white image (about 48 px per digit height,
a 6 px pen) and handed to the ``tesseract`` binary under every configuration
of :data:`CONFIGS`: page-segmentation modes 7 (one line), 8 (one word), 10
(one character) and 13 (raw line), each with and without a digit whitelist,
as the baseline figure of issue 6 was taken. The reading kept is the most
confident one that is a reading of the field (one digit for ``digit``, 1 to
5 digits for ``count``); the other configurations' distinct readings are its
alternatives. Tesseract's own word confidence is reported as is: it is *not*
calibrated. One private module per external program; no Python binding
needed. :func:`read_many` runs one process per configuration over many
images (an image list), for the bench.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ocr.errors import EngineUnavailable
from ocr.features import FloatArray
from ocr.reading import Reading

_HEIGHT_PX = 48
_PAD_PX = 16
#: Pen radius in pixels (a 6 px line at 48 px per digit: bolder than the 3 px first
#: tried, which read 4 points worse on a 120-digit sample).
_PEN_PX = 3.0
#: (page-segmentation mode, digit whitelist) pairs tried on every image.
CONFIGS: tuple[tuple[int, bool], ...] = tuple(
    (psm, whitelist) for psm in (7, 8, 10, 13) for whitelist in (True, False)
)
_WHITELIST = "tessedit_char_whitelist=0123456789"
_FIELD = {"digit": re.compile(r"[0-9]"), "count": re.compile(r"[0-9]{1,5}")}

Words = list[tuple[str, float]]


def render(strokes: Sequence[FloatArray]) -> npt.NDArray[np.uint8]:
    """The ink as an 8-bit grey image, ink black on white."""
    pts = np.concatenate([s[:, :2] for s in strokes])
    lo = pts.min(axis=0)
    scale = _HEIGHT_PX / max(float(np.ptp(pts[:, 1])), float(np.ptp(pts[:, 0])) / 4, 1e-6)
    w = int(np.ptp(pts[:, 0]) * scale) + 2 * _PAD_PX + 1
    h = int(np.ptp(pts[:, 1]) * scale) + 2 * _PAD_PX + 1
    img = np.full((h, w), 255, dtype=np.uint8)
    yy, xx = np.mgrid[0:h, 0:w]
    r = int(np.ceil(_PEN_PX))
    for s in strokes:
        p = (s[:, :2] - lo) * scale + _PAD_PX
        if len(p) > 1:
            seg = np.hypot(*np.diff(p, axis=0).T)
            n = np.maximum(np.ceil(seg).astype(int), 1)
            p = np.vstack(
                [np.linspace(a, b, k, endpoint=False) for a, b, k in zip(p, p[1:], n, strict=False)]
                + [p[-1:]]
            )
        for x, y in p:
            x0, x1 = max(int(x) - r, 0), min(int(x) + r + 2, w)
            y0, y1 = max(int(y) - r, 0), min(int(y) + r + 2, h)
            d = (xx[y0:y1, x0:x1] - x) ** 2 + (yy[y0:y1, x0:x1] - y) ** 2
            img[y0:y1, x0:x1][d <= _PEN_PX**2] = 0
    return img


def _exe() -> str:
    exe = shutil.which("tesseract")
    if exe is None:
        raise EngineUnavailable("the tesseract program is not installed; install tesseract-ocr")
    return exe


def run_images(
    images: Sequence[npt.NDArray[np.uint8]], psm: int, whitelist: bool, *, chars: str = ""
) -> list[Words]:
    """The words (text, confidence 0-1) Tesseract finds in each image, one process for all.

    ``chars`` overrides the digit whitelist (used for the printed station id).
    """
    exe = _exe()
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, img in enumerate(images):
            path = Path(tmp) / f"{i:05d}.pgm"
            path.write_bytes(f"P5 {img.shape[1]} {img.shape[0]} 255\n".encode() + img.tobytes())
            paths.append(str(path))
        listing = Path(tmp) / "images.txt"
        listing.write_text("\n".join(paths) + "\n", encoding="ascii")
        cmd = [exe, str(listing), "stdout", "--psm", str(psm)]
        if chars:
            cmd += ["-c", f"tessedit_char_whitelist={chars}"]
        elif whitelist:
            cmd += ["-c", _WHITELIST]
        done = subprocess.run(
            [*cmd, "tsv"], capture_output=True, text=True, timeout=30 + 2 * len(paths)
        )
    if done.returncode != 0:
        raise EngineUnavailable(f"tesseract failed ({done.returncode}): {done.stderr.strip()}")
    out: list[Words] = [[] for _ in images]
    for line in done.stdout.splitlines()[1:]:
        cols = line.split("\t")
        if len(cols) == 12 and cols[11].strip() and float(cols[10]) >= 0:
            page = int(cols[1]) - 1  # tsv pages count from 1
            if 0 <= page < len(out):
                out[page].append((cols[11].strip(), float(cols[10]) / 100.0))
    return out


def as_reading(words: Words) -> tuple[str, float]:
    """One configuration's text (words joined) and confidence (its least sure word)."""
    if not words:
        return "", 0.0
    text = "".join(w for w, _ in words)
    return text, float(min(max(min(c for _, c in words), 0.0), 1.0))


def combine(per_config: Sequence[tuple[str, float]], kind: str) -> Reading:
    """The most confident reading of the field among the configurations' readings."""
    best: dict[str, float] = {}
    for text, conf in per_config:
        if _FIELD[kind].fullmatch(text):
            best[text] = max(best.get(text, 0.0), conf)
    if not best:
        return Reading("", 0.0, (("", 0.0),))
    alts = tuple(sorted(best.items(), key=lambda a: (-a[1], a[0])))
    return Reading(alts[0][0], alts[0][1], alts)


def read_many(inks: Sequence[Sequence[FloatArray]], kind: str) -> list[list[tuple[str, float]]]:
    """Every configuration's reading (text, confidence) of each ink, in :data:`CONFIGS` order."""
    images = [render(ink) for ink in inks]
    by_config = [run_images(images, psm, wl) for psm, wl in CONFIGS]
    return [[as_reading(words[i]) for words in by_config] for i in range(len(images))]


def read(strokes: Sequence[FloatArray], kind: str) -> Reading:
    """Read rendered ink with Tesseract, best of :data:`CONFIGS` by Tesseract's confidence."""
    return combine(read_many([strokes], kind)[0], kind)
