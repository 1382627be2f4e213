"""Which characters each one-character field kind reads, where its training data
is, and where its model file lives.

The UNIPEN files of ../shared/data/handwriting hold digits (``1a``), capitals
(``1b``), lower-case letters (``1c``) and symbols (``1d``, ``@ . - _ +``
among them). ``-`` and ``_`` are the same stroke once a glyph is normalised
(only their height in the box differs), so ``email_char`` has one class
``-`` for both; :mod:`ocr.chars` tells them apart by position when the box is
known and otherwise reports both with half the probability each. Addresses
are written in capitals as often as not (the contact form asks for capitals),
and case does not matter in them, so ``email_char`` learns each capital as
its lower-case letter and reads lower case.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path

from ocr.model import DIGIT_MODEL

MODELS = DIGIT_MODEL.parent


@dataclass(frozen=True, slots=True)
class Charset:
    """One character kind: its classes, the UNIPEN files it learns from, its model file."""

    kind: str
    classes: tuple[str, ...]
    files: tuple[str, ...]
    """UNIPEN file stems (``unipen-1a`` ...) whose samples of ``classes`` are used."""
    model: Path
    merge: tuple[tuple[str, str], ...] = ()
    """Labels read as another class (label, class) when training."""

    def label_class(self, label: str) -> str | None:
        """The class a UNIPEN label trains, or None when this kind does not read it."""
        label = dict(self.merge).get(label, label)
        return label if label in self.classes else None


DIGITS = tuple(string.digits)
EMAIL_SYMBOLS = (".", "-", "@", "+")

CHARSETS = {
    "digit": Charset("digit", DIGITS, ("unipen-1a",), DIGIT_MODEL),
    "upper": Charset("upper", tuple(string.ascii_uppercase), ("unipen-1b",), MODELS / "upper.npz"),
    "lower": Charset("lower", tuple(string.ascii_lowercase), ("unipen-1c",), MODELS / "lower.npz"),
    "email_char": Charset(
        "email_char",
        (*string.ascii_lowercase, *DIGITS, *EMAIL_SYMBOLS),
        ("unipen-1c", "unipen-1b", "unipen-1a", "unipen-1d"),
        MODELS / "email_char.npz",
        merge=(("_", "-"), *zip(string.ascii_uppercase, string.ascii_lowercase, strict=True)),
    ),
}
