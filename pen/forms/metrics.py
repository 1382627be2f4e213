"""Text metrics of the printed forms: widths, extents and paragraph wrapping.

Forms are printed in Helvetica (regular and bold), one of the PDF standard
fonts, so every viewer and printer has it and no font file ships with Plume.
Its encoding is WinAnsi (Windows-1252): French accents, the typographic
apostrophe, the en dash and "€" print; characters outside it (such as the
minus sign U+2212) do not, and layouts are refused when they use them. Widths
come from reportlab's Adobe font metrics, so the SVG and PDF renderings wrap
text the same way. Sizes are in points, positions in millimetres.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reportlab.pdfbase.pdfmetrics import stringWidth

#: Millimetres per typographic point.
PT_MM = 25.4 / 72.0
#: Helvetica's ascender and descender, as fractions of the font size.
ASCENT = 0.718
DESCENT = 0.207
#: Baseline-to-baseline distance, as a multiple of the font size.
LEADING = 1.22

FONT_REGULAR = "Helvetica"
FONT_BOLD = "Helvetica-Bold"


def font_name(bold: bool) -> str:
    return FONT_BOLD if bold else FONT_REGULAR


def printable(text: str) -> bool:
    """True when the standard PDF fonts can print ``text`` (Windows-1252, no control codes)."""
    if any(ord(c) < 32 for c in text):
        return False
    try:
        text.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


def unprintable_chars(text: str) -> str:
    """The characters of ``text`` that the standard PDF fonts cannot print."""
    return "".join(sorted({c for c in text if not printable(c)}))


def text_width_mm(text: str, size_pt: float, bold: bool = False) -> float:
    return float(stringWidth(text, font_name(bold), size_pt)) * PT_MM


def text_extent(
    text: str, x: float, y: float, size_pt: float, bold: bool, anchor: str
) -> tuple[float, float, float, float]:
    """The (x, y, width, height) in mm that a line of text covers; ``y`` is its baseline."""
    width = text_width_mm(text, size_pt, bold)
    left = {"start": x, "middle": x - width / 2, "end": x - width}[anchor]
    size_mm = size_pt * PT_MM
    return (left, y - ASCENT * size_mm, width, (ASCENT + DESCENT) * size_mm)


@dataclass(frozen=True, slots=True)
class Run:
    """A piece of one line of text in one font, starting ``dx`` mm from the line's left edge."""

    text: str
    bold: bool
    dx: float


@dataclass(frozen=True, slots=True)
class Line:
    """One wrapped line: its baseline ``dy`` mm below the block's top, and its runs."""

    dy: float
    runs: tuple[Run, ...]


def wrap_paragraphs(
    paragraphs: Sequence[tuple[str, str]],
    width_mm: float,
    size_pt: float,
    paragraph_gap_mm: float,
) -> tuple[Line, ...]:
    """Wrap paragraphs of (bold lead, regular text) greedily into lines ``width_mm`` wide.

    A word longer than the line stays whole on a line of its own (it overflows;
    layout validation then refuses the block).
    """
    size_mm = size_pt * PT_MM
    step = LEADING * size_mm
    space = text_width_mm(" ", size_pt)
    lines: list[Line] = []
    dy = ASCENT * size_mm
    for p, (lead, text) in enumerate(paragraphs):
        if p:
            dy += paragraph_gap_mm
        words = [(w, True) for w in lead.split()] + [(w, False) for w in text.split()]
        current: list[tuple[str, bool]] = []
        used = 0.0
        for word, bold in words:
            w = text_width_mm(word, size_pt, bold)
            if current and used + space + w > width_mm:
                lines.append(Line(dy, _runs(current, size_pt, space)))
                dy += step
                current, used = [], 0.0
            used += (space if current else 0.0) + w
            current.append((word, bold))
        if current:
            lines.append(Line(dy, _runs(current, size_pt, space)))
            dy += step
    return tuple(lines)


def _runs(words: list[tuple[str, bool]], size_pt: float, space: float) -> tuple[Run, ...]:
    runs: list[Run] = []
    x = 0.0
    i = 0
    while i < len(words):
        bold = words[i][1]
        j = i
        while j < len(words) and words[j][1] == bold:
            j += 1
        text = " ".join(w for w, _ in words[i:j])
        runs.append(Run(text, bold, x))
        x += text_width_mm(text, size_pt, bold) + space
        i = j
    return tuple(runs)


def block_height(lines: Sequence[Line], size_pt: float) -> float:
    """Height in mm from a block's top to the bottom of its last line's descenders."""
    if not lines:
        return 0.0
    return lines[-1].dy + DESCENT * size_pt * PT_MM
