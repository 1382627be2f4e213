"""Tesseract behind :func:`ocr.read` (``engine="tesseract"``): the named baseline.

The ink is rendered as a black-on-white image (about 48 px per digit height,
3 px pen) and handed to the ``tesseract`` binary (single character or single
line mode, digit whitelist). Tesseract's own word confidence is reported as
is: it is *not* calibrated. One private module per external program; no
Python binding needed.
"""

from __future__ import annotations

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
_PEN_PX = 1.5


def render(strokes: Sequence[FloatArray]) -> npt.NDArray[np.uint8]:
    """The ink as an 8-bit grey image, ink black on white."""
    pts = np.concatenate([s[:, :2] for s in strokes])
    lo = pts.min(axis=0)
    scale = _HEIGHT_PX / max(float(np.ptp(pts[:, 1])), float(np.ptp(pts[:, 0])) / 4, 1e-6)
    w = int(np.ptp(pts[:, 0]) * scale) + 2 * _PAD_PX + 1
    h = int(np.ptp(pts[:, 1]) * scale) + 2 * _PAD_PX + 1
    img = np.full((h, w), 255, dtype=np.uint8)
    yy, xx = np.mgrid[0:h, 0:w]
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
            x0, x1 = max(int(x - 3), 0), min(int(x + 4), w)
            y0, y1 = max(int(y - 3), 0), min(int(y + 4), h)
            d = (xx[y0:y1, x0:x1] - x) ** 2 + (yy[y0:y1, x0:x1] - y) ** 2
            img[y0:y1, x0:x1][d <= _PEN_PX**2] = 0
    return img


def read(strokes: Sequence[FloatArray], kind: str) -> Reading:
    """Read rendered ink with Tesseract: psm 10 (one character) or 7 (one line)."""
    exe = shutil.which("tesseract")
    if exe is None:
        raise EngineUnavailable("the tesseract program is not installed; install tesseract-ocr")
    img = render(strokes)
    psm = "10" if kind == "digit" else "7"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ink.pgm"
        path.write_bytes(f"P5 {img.shape[1]} {img.shape[0]} 255\n".encode() + img.tobytes())
        cmd = [exe, str(path), "stdout", "--psm", psm, "-c", "tessedit_char_whitelist=0123456789"]
        done = subprocess.run([*cmd, "tsv"], capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        raise EngineUnavailable(f"tesseract failed ({done.returncode}): {done.stderr.strip()}")
    words = []
    for line in done.stdout.splitlines()[1:]:
        cols = line.split("\t")
        if len(cols) == 12 and cols[11].strip() and float(cols[10]) >= 0:
            words.append((cols[11].strip(), float(cols[10]) / 100.0))
    if not words:
        return Reading("", 0.0, (("", 0.0),))
    text = "".join(w for w, _ in words)
    conf = float(min(max(min(c for _, c in words), 0.0), 1.0))
    return Reading(text, conf, ((text, conf),))
