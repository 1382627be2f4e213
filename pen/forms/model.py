"""The form layout model: what is printed where, and the rules a layout must keep.

A *box* is one rectangle that the writer fills in. Its ``kind`` says what one
box holds: ``digit``, ``upper``, ``lower`` or ``email_char`` (one character),
``checkbox`` (a tick), ``signature`` or ``free_text`` (any ink).

A *field* is one answer on the form, made of one box or of a comb of boxes in
writing order. Its ``kind`` is one of the field kinds of the design
(:data:`FIELD_KINDS`) and is what recognition is asked to read. A comb field's
cells have the box kind given by :data:`COMB_CELL_KIND` (a ``phone``,
``postcode`` or ``count`` field is a comb of ``digit`` boxes); ``checkbox``,
``signature`` and ``free_text`` fields are a single box of the same kind.
Box ids are ``"<field>.<index>"`` for comb cells (index from 0) and the field
id itself for single-box fields.

Coordinates are millimetres with the origin at the page's top-left corner and
y pointing down, as for ink. A :class:`FormLayout` checks itself when built:
unique ids, known kinds, every box inside the page, no two boxes overlapping,
no box under a registration mark or the station QR code, printed text inside
the page and off every box, and only characters the PDF fonts can print.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations

from pen.errors import FormError
from pen.forms import metrics

#: Every field kind, as in the design.
FIELD_KINDS = (
    "count",
    "digit",
    "upper",
    "lower",
    "email_char",
    "postcode",
    "phone",
    "checkbox",
    "signature",
    "free_text",
)
#: Every box kind (what one box holds).
BOX_KINDS = ("digit", "upper", "lower", "email_char", "checkbox", "signature", "free_text")
#: Field kinds written in a comb, with the kind of their cells.
COMB_CELL_KIND = {
    "count": "digit",
    "digit": "digit",
    "postcode": "digit",
    "phone": "digit",
    "upper": "upper",
    "lower": "lower",
    "email_char": "email_char",
}
#: Field kinds that are one box of the same kind.
SINGLE_BOX_KINDS = ("checkbox", "signature", "free_text")
ANCHORS = ("start", "middle", "end")
MARK_SHAPES = ("square", "circle")


@dataclass(frozen=True, slots=True)
class Rect:
    """An axis-aligned rectangle in mm: top-left corner, width and height."""

    x: float
    y: float
    width: float
    height: float

    @property
    def right(self) -> float:
        return self.x + self.width

    @property
    def bottom(self) -> float:
        return self.y + self.height

    @property
    def centre(self) -> tuple[float, float]:
        return (self.x + self.width / 2, self.y + self.height / 2)

    def overlaps(self, other: Rect) -> bool:
        """True when the two share some area (touching edges do not count)."""
        return (
            self.x < other.right
            and other.x < self.right
            and self.y < other.bottom
            and other.y < self.bottom
        )

    def within(self, width: float, height: float) -> bool:
        """True when the rectangle lies on a page of that size."""
        return self.x >= 0 and self.y >= 0 and self.right <= width and self.bottom <= height

    def __str__(self) -> str:
        return f"x {self.x:g}..{self.right:g} mm, y {self.y:g}..{self.bottom:g} mm"


@dataclass(frozen=True, slots=True)
class Box:
    """One rectangle to write in."""

    id: str
    kind: str
    """A box kind from :data:`BOX_KINDS`."""
    rect: Rect
    field: str
    """The id of the field this box belongs to."""
    index: int
    """Position of the box in its field's writing order, from 0."""
    label: str | None = None


@dataclass(frozen=True, slots=True)
class Field:
    """One answer: a single box, or a comb of boxes in writing order."""

    id: str
    kind: str
    """A field kind from :data:`FIELD_KINDS`; what recognition reads."""
    label: str
    boxes: tuple[Box, ...]

    @property
    def is_comb(self) -> bool:
        return self.kind in COMB_CELL_KIND

    @property
    def rect(self) -> Rect:
        """The smallest rectangle around all the field's boxes."""
        x0 = min(b.rect.x for b in self.boxes)
        y0 = min(b.rect.y for b in self.boxes)
        x1 = max(b.rect.right for b in self.boxes)
        y1 = max(b.rect.bottom for b in self.boxes)
        return Rect(x0, y0, x1 - x0, y1 - y0)


@dataclass(frozen=True, slots=True)
class Label:
    """One line of printed text; ``y`` is its baseline."""

    text: str
    x: float
    y: float
    size_pt: float = 10.0
    bold: bool = False
    muted: bool = False
    """Printed in grey: hints and notes."""
    anchor: str = "start"
    """Which point of the text ``x`` is: ``start``, ``middle`` or ``end``."""

    def extent(self) -> Rect:
        return Rect(
            *metrics.text_extent(self.text, self.x, self.y, self.size_pt, self.bold, self.anchor)
        )


@dataclass(frozen=True, slots=True)
class Paragraph:
    """A paragraph of a text block, with an optional bold lead-in."""

    text: str
    lead: str = ""


@dataclass(frozen=True, slots=True)
class TextBlock:
    """Printed paragraphs wrapped to ``width`` mm, from top-left corner ``(x, y)``."""

    x: float
    y: float
    width: float
    paragraphs: tuple[Paragraph, ...]
    size_pt: float = 8.0
    paragraph_gap: float = 1.2
    """Extra space between paragraphs, in mm."""

    def lines(self) -> tuple[metrics.Line, ...]:
        pairs = [(p.lead, p.text) for p in self.paragraphs]
        return metrics.wrap_paragraphs(pairs, self.width, self.size_pt, self.paragraph_gap)

    def extent(self) -> Rect:
        lines = self.lines()
        widest = max(
            (
                ln.runs[-1].dx
                + metrics.text_width_mm(ln.runs[-1].text, self.size_pt, ln.runs[-1].bold)
                for ln in lines
            ),
            default=0.0,
        )
        return Rect(self.x, self.y, widest, metrics.block_height(lines, self.size_pt))


@dataclass(frozen=True, slots=True)
class Rule:
    """A printed straight line (section separators)."""

    x1: float
    y1: float
    x2: float
    y2: float
    width: float = 0.3


@dataclass(frozen=True, slots=True)
class RegistrationMark:
    """A solid mark that a scan reader finds to register the page; centred on (cx, cy)."""

    id: str
    cx: float
    cy: float
    size: float
    """Side of the square, or diameter of the circle, in mm."""
    shape: str = "square"

    @property
    def rect(self) -> Rect:
        half = self.size / 2
        return Rect(self.cx - half, self.cy - half, self.size, self.size)


@dataclass(frozen=True, slots=True)
class StationRegion:
    """Where the station identifier is printed: as a QR code in ``qr``, as text at (x, y)."""

    qr: Rect
    text_x: float
    text_y: float
    text_size_pt: float = 12.0


@dataclass(frozen=True, slots=True)
class FormLayout:
    """One version of one printed form; validated when built (raises :class:`FormError`)."""

    form_id: str
    version: int
    title: str
    page_width: float
    page_height: float
    fields: tuple[Field, ...]
    labels: tuple[Label, ...] = ()
    text_blocks: tuple[TextBlock, ...] = ()
    rules: tuple[Rule, ...] = ()
    marks: tuple[RegistrationMark, ...] = ()
    station: StationRegion | None = None
    candidates: tuple[str, ...] = ()
    """Candidate names, in ballot order, for forms that count votes."""
    boxes: tuple[Box, ...] = field(init=False, repr=False)
    """Every box of every field, in field order."""
    _boxes_by_id: dict[str, Box] = field(init=False, repr=False, compare=False, hash=False)
    _fields_by_id: dict[str, Field] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        boxes = tuple(b for f in self.fields for b in f.boxes)
        object.__setattr__(self, "boxes", boxes)
        object.__setattr__(self, "_boxes_by_id", {b.id: b for b in boxes})
        object.__setattr__(self, "_fields_by_id", {f.id: f for f in self.fields})
        _validate(self)

    @property
    def name(self) -> str:
        """``"<form_id> v<version>"``, for messages."""
        return f"{self.form_id} v{self.version}"

    def box(self, box_id: str) -> Box:
        try:
            return self._boxes_by_id[box_id]
        except KeyError:
            raise FormError(f"form {self.name} has no box {box_id!r}") from None

    def field(self, field_id: str) -> Field:
        try:
            return self._fields_by_id[field_id]
        except KeyError:
            known = ", ".join(f.id for f in self.fields)
            raise FormError(
                f"form {self.name} has no field {field_id!r}; its fields are: {known}"
            ) from None


def _validate(layout: FormLayout) -> None:
    where = f"form {layout.name}"

    def fail(message: str) -> FormError:
        return FormError(f"{where}: {message}")

    if layout.page_width <= 0 or layout.page_height <= 0:
        raise fail(f"page size {layout.page_width:g} x {layout.page_height:g} mm is not positive")
    if not layout.fields:
        raise fail("a form has at least one field")
    field_ids: set[str] = set()
    for f in layout.fields:
        if f.id in field_ids:
            raise fail(f"field id {f.id!r} is used twice")
        field_ids.add(f.id)
        _validate_field(f, where)
    seen: set[str] = set()
    for b in layout.boxes:
        if b.id in seen:
            raise fail(f"box id {b.id!r} is used twice")
        seen.add(b.id)
        if b.rect.width <= 0 or b.rect.height <= 0:
            raise fail(f"box {b.id!r} has a size of {b.rect.width:g} x {b.rect.height:g} mm")
        if not b.rect.within(layout.page_width, layout.page_height):
            raise fail(
                f"box {b.id!r} ({b.rect}) is outside the "
                f"{layout.page_width:g} x {layout.page_height:g} mm page"
            )
    for a, b in combinations(layout.boxes, 2):
        if a.rect.overlaps(b.rect):
            raise fail(f"box {a.id!r} ({a.rect}) overlaps box {b.id!r} ({b.rect})")
    printed: list[tuple[str, Rect]] = [
        (f"registration mark {m.id!r}", m.rect) for m in layout.marks
    ]
    if layout.station is not None:
        printed.append(("the station QR code", layout.station.qr))
    for what, rect in printed:
        if not rect.within(layout.page_width, layout.page_height):
            raise fail(f"{what} ({rect}) is outside the page")
        for b in layout.boxes:
            if rect.overlaps(b.rect):
                raise fail(f"{what} ({rect}) overlaps box {b.id!r} ({b.rect})")
    for m in layout.marks:
        if m.shape not in MARK_SHAPES or m.size <= 0:
            raise fail(f"registration mark {m.id!r} must be a square or circle of positive size")
    texts: list[tuple[str, str, Rect]] = []
    for lab in layout.labels:
        if lab.anchor not in ANCHORS:
            raise fail(f"label {lab.text!r} has anchor {lab.anchor!r}; use one of {ANCHORS}")
        texts.append((f"label {lab.text!r}", lab.text, lab.extent()))
    for i, block in enumerate(layout.text_blocks):
        whole = " ".join(f"{p.lead} {p.text}" for p in block.paragraphs)
        texts.append((f"text block {i}", whole, block.extent()))
    for what, text, rect in texts:
        bad = metrics.unprintable_chars(text)
        if bad:
            raise fail(f"{what} uses {bad!r}, which the PDF fonts cannot print")
        if not rect.within(layout.page_width, layout.page_height):
            raise fail(f"{what} ({rect}) runs off the page")
        for b in layout.boxes:
            if rect.overlaps(b.rect):
                raise fail(f"{what} ({rect}) overlaps box {b.id!r} ({b.rect})")
    for what, text in [("title", layout.title), *(("candidate", c) for c in layout.candidates)]:
        if not metrics.printable(text):
            raise fail(f"{what} {text!r} uses {metrics.unprintable_chars(text)!r}, not printable")


def _validate_field(f: Field, where: str) -> None:
    def error(message: str) -> FormError:
        return FormError(f"{where}: {message}")

    if f.kind not in FIELD_KINDS:
        raise error(f"field {f.id!r} has unknown kind {f.kind!r}; known kinds: {FIELD_KINDS}")
    if not f.boxes:
        raise error(f"field {f.id!r} has no box")
    if f.kind in SINGLE_BOX_KINDS:
        if len(f.boxes) != 1:
            raise error(f"field {f.id!r} of kind {f.kind!r} is one box, not {len(f.boxes)}")
        expected = f.kind
    else:
        expected = COMB_CELL_KIND[f.kind]
    for i, b in enumerate(f.boxes):
        if b.kind not in BOX_KINDS:
            raise error(f"box {b.id!r} has unknown kind {b.kind!r}; known box kinds: {BOX_KINDS}")
        if b.kind != expected:
            raise error(
                f"box {b.id!r} of {f.kind!r} field {f.id!r} has kind {b.kind!r}; "
                f"expected {expected!r}"
            )
        if b.field != f.id or b.index != i:
            raise error(
                f"box {b.id!r} says it is cell {b.index} of {b.field!r}; it is cell {i} of {f.id!r}"
            )
