"""The pen's data, shared by every part of Plume.

``pen`` owns points, strokes and ink (:mod:`pen.ink`), page addresses
(:mod:`pen.page`), form layouts (:mod:`pen.forms`), InkML (:mod:`pen.inkml`)
and the serial wire protocol (:mod:`pen.wire`). It does no I/O of any kind
beyond reading its own packaged data files.
"""

from pen.errors import PenError
from pen.ink import Ink, Stroke
from pen.page import PageAddress

__all__ = ["Ink", "PageAddress", "PenError", "Stroke"]
