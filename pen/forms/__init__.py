"""Printed forms as versioned data: layouts, hit-testing, and rendering for print.

- :mod:`pen.forms.model`: the layout model and its validation.
- :mod:`pen.forms.parse`, :mod:`pen.forms.catalog`: layouts from the packaged JSON.
- :mod:`pen.forms.hit`: which box and field a stroke was written in.
- :mod:`pen.forms.render`, ``render_svg``, ``render_pdf``: the form on paper.

The format is described in docs/forms.md.
"""

from pen.forms.catalog import known_forms, load_form
from pen.forms.hit import Assignment, Hit, assign, hit_test
from pen.forms.model import BOX_KINDS, FIELD_KINDS, Box, Field, FormLayout, Rect
from pen.forms.parse import parse_form
from pen.forms.render_pdf import render_pdf
from pen.forms.render_svg import render_svg

__all__ = [
    "BOX_KINDS",
    "FIELD_KINDS",
    "Assignment",
    "Box",
    "Field",
    "FormLayout",
    "Hit",
    "Rect",
    "assign",
    "hit_test",
    "known_forms",
    "load_form",
    "parse_form",
    "render_pdf",
    "render_svg",
]
