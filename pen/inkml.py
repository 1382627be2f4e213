"""W3C InkML import and export of ink, with form fields and metadata.

Plume writes InkML 1.0 (https://www.w3.org/TR/InkML/, namespace
``http://www.w3.org/2003/InkML``) and reads what it writes plus the plain
InkML that other tools produce. The shape it writes (docs/inkml.md has the
full description):

- ``<definitions>`` holds one ``<timestamp xml:id="t0" time=...>`` (ms since
  the epoch), one ``<inkSource>`` per pen serial and raw-coordinate kind
  (``serialNo`` is the pen serial; its ``<traceFormat>`` has channels X, Y in
  mm, T in ms relative to ``#t0``, F force 0..1, and RX, RY raw device units
  when the strokes carry them; a ``resolution`` channel property on X and Y
  gives the device units per mm, and a ``plume-unit-mm`` ``<sourceProperty>``
  the exact mm per device unit), one ``<canvas xml:id="page-S.S.B.P">`` per
  page address, and one ``<context>`` per (ink source, page).
- One ``<trace contextRef=...>`` per stroke, in ink order: x, y with 3
  decimals, t relative to ``t0`` with up to 3 decimals, force with 3 decimals.
- Strokes of a form field sit in ``<traceGroup>`` elements annotated
  ``<annotation type="field">field id</annotation>``; a field whose strokes are
  not consecutive in the ink gets one group per run, so document order stays
  ink order. Strokes in no field are top-level traces. A field with no strokes
  is an empty group.
- Metadata are top-level ``<annotation type="key">value</annotation>``; the
  reserved ``plume-inkml-version`` annotation carries the format version.

Pure: functions take and return text; no file I/O.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from pen._inkml_reader import UNIT_PROPERTY, read_inkml
from pen.errors import InkError
from pen.ink import Ink, Stroke
from pen.page import PageAddress

INKML_NS = "http://www.w3.org/2003/InkML"
#: Version of the shape Plume writes; readers reject a newer one.
FORMAT_VERSION = "1"
VERSION_ANNOTATION = "plume-inkml-version"
#: ``<annotation type=...>`` that names the form field of a ``<traceGroup>``.
FIELD_ANNOTATION = "field"

__all__ = ["FORMAT_VERSION", "INKML_NS", "InkDocument", "from_inkml", "to_inkml"]


@dataclass(frozen=True)
class InkDocument:
    """What an InkML document holds: ink, its form fields and metadata."""

    ink: Ink
    fields: dict[str, tuple[int, ...]] = field(default_factory=dict)
    """Field id -> indices into ``ink`` of the field's strokes, ascending."""
    metadata: dict[str, str] = field(default_factory=dict)
    """Top-level ``<annotation type=key>`` texts (repeated keys joined by newlines)."""

    def field_ink(self, field_id: str) -> Ink:
        """The strokes of one field, in ink order."""
        return Ink(tuple(self.ink[i] for i in self.fields[field_id]))

    def unassigned(self) -> tuple[int, ...]:
        """Indices of the strokes that belong to no field."""
        taken = {i for indices in self.fields.values() for i in indices}
        return tuple(i for i in range(len(self.ink)) if i not in taken)


def from_inkml(text: str | bytes) -> InkDocument:
    """Read an InkML document; raise :class:`pen.errors.InkMLError` saying what and where."""
    strokes, fields, metadata = read_inkml(text, supported_version=FORMAT_VERSION)
    return InkDocument(Ink(tuple(strokes)), fields, metadata)


# --- writing -----------------------------------------------------------------

_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_SAFE_ID = re.compile(r"[A-Za-z0-9._-]+")


def _escape(text: str, what: str, *, attribute: bool = False) -> str:
    bad = _XML_FORBIDDEN.search(text)
    if bad:
        raise InkError(
            f"{what} {text!r} contains U+{ord(bad.group()):04X}, which XML 1.0 cannot carry; "
            "remove control characters before exporting"
        )
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = text.replace("\r", "&#13;")
    if attribute:
        text = text.replace('"', "&quot;").replace("\t", "&#9;").replace("\n", "&#10;")
    return text


def _fixed(value: float, decimals: int = 3) -> str:
    text = f"{value:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _exact(value: float) -> str:
    return np.format_float_positional(value, trim="-")


def _field_owners(n: int, fields: Mapping[str, Sequence[int]]) -> list[str | None]:
    owner: list[str | None] = [None] * n
    for fid, indices in fields.items():
        if not isinstance(fid, str):
            raise InkError(f"field ids are text; got {fid!r}")
        for i in indices:
            if isinstance(i, bool) or not isinstance(i, int | np.integer):
                raise InkError(f"field {fid!r}: stroke index {i!r} is not an integer")
            if not 0 <= i < n:
                raise InkError(f"field {fid!r}: stroke index {i} is outside the ink (0..{n - 1})")
            previous = owner[i]
            if previous is not None:
                raise InkError(
                    f"stroke {i} is in field {previous!r} and field {fid!r}; "
                    "a stroke belongs to at most one field"
                )
            owner[int(i)] = fid
    return owner


class _Ids:
    """Hands out unique ``xml:id`` values."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def take(self, wanted: str) -> str:
        candidate, n = wanted, 1
        while candidate in self.used:
            n += 1
            candidate = f"{wanted}.{n}"
        self.used.add(candidate)
        return candidate


def _source_xml(source_id: str, serial: str, has_raw: bool, unit_mm: float | None) -> list[str]:
    serial_attr = _escape(serial, "pen serial", attribute=True)
    lines = [
        f'    <inkSource xml:id="{source_id}" serialNo="{serial_attr}">',
        f'      <traceFormat xml:id="{source_id}-format">',
        '        <channel name="X" type="decimal" units="mm"/>',
        '        <channel name="Y" type="decimal" units="mm"/>',
        '        <channel name="T" type="decimal" units="ms" respectTo="#t0"/>',
        '        <channel name="F" type="decimal" min="0" max="1"/>',
    ]
    if has_raw:
        lines.append('        <channel name="RX" type="decimal" units="dev"/>')
        lines.append('        <channel name="RY" type="decimal" units="dev"/>')
    lines.append("      </traceFormat>")
    if unit_mm is not None:
        unit = float(unit_mm)
        if not 0 < unit < math.inf:
            raise InkError(f"pen {serial!r}: device unit {unit_mm!r} mm is not a positive number")
        # The standard resolution property for other tools, and the exact unit for Plume.
        per_mm = repr(1.0 / unit)
        lines.append(f'      <sourceProperty name="{UNIT_PROPERTY}" value="{unit!r}" units="mm"/>')
        lines.append("      <channelProperties>")
        for channel in ("X", "Y"):
            lines.append(
                f'        <channelProperty channel="{channel}" name="resolution" '
                f'value="{per_mm}" units="1/mm"/>'
            )
        lines.append("      </channelProperties>")
    lines.append("    </inkSource>")
    return lines


def _trace_text(stroke: Stroke, t0: int) -> str:
    pts = stroke.points
    rel_t = pts[:, 2] - float(t0)
    rows = []
    for i in range(pts.shape[0]):
        row = f"{_fixed(pts[i, 0])} {_fixed(pts[i, 1])} {_fixed(rel_t[i])} {_fixed(pts[i, 3])}"
        if stroke.raw is not None:
            row += f" {_exact(stroke.raw[i, 0])} {_exact(stroke.raw[i, 1])}"
        rows.append(row)
    return ", ".join(rows)


def to_inkml(
    ink: Ink,
    *,
    fields: Mapping[str, Sequence[int]] | None = None,
    metadata: Mapping[str, str] | None = None,
) -> str:
    """Write ``ink`` as an InkML document (text, UTF-8 declared).

    ``fields`` maps a field id to the indices of its strokes in ``ink`` (a
    stroke in at most one field); ``metadata`` becomes top-level annotations.
    Raise :class:`pen.errors.InkError` for a bad field mapping or text that
    XML cannot carry.
    """
    fields = dict(fields or {})
    metadata = dict(metadata or {})
    if VERSION_ANNOTATION in metadata:
        raise InkError(f"metadata key {VERSION_ANNOTATION!r} is reserved for the format version")
    owner = _field_owners(len(ink), fields)
    ids = _Ids()
    ids.used.update({"t0", "canvas-format"})

    t0 = 0
    if len(ink):
        t0 = max(0, math.floor(min(float(s.points[:, 2].min()) for s in ink)))

    sources: dict[tuple[str, bool, float | None], str] = {}
    source_xml: list[str] = []
    pages: dict[PageAddress, str] = {}
    contexts: dict[tuple[str, PageAddress | None], str] = {}
    context_xml: list[str] = []
    stroke_context: list[str] = []
    for stroke in ink:
        key = (stroke.pen_serial, stroke.raw is not None, stroke.unit_mm)
        if key not in sources:
            sources[key] = ids.take(f"pen{len(sources) + 1}")
            ids.used.add(f"{sources[key]}-format")
            source_xml += _source_xml(sources[key], *key)
        if stroke.page is not None and stroke.page not in pages:
            pages[stroke.page] = ids.take(f"page-{stroke.page}")
        ckey = (sources[key], stroke.page)
        if ckey not in contexts:
            contexts[ckey] = ids.take(f"ctx{len(contexts) + 1}")
            canvas = "" if stroke.page is None else f' canvasRef="#{pages[stroke.page]}"'
            context_xml.append(
                f'    <context xml:id="{contexts[ckey]}" inkSourceRef="#{ckey[0]}" '
                f'traceFormatRef="#{ckey[0]}-format"{canvas} timestampRef="#t0"/>'
            )
        stroke_context.append(contexts[ckey])

    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<ink xmlns="{INKML_NS}">',
        f'  <annotation type="{VERSION_ANNOTATION}">{FORMAT_VERSION}</annotation>',
    ]
    for name, value in metadata.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise InkError(f"metadata keys and values are text; got {name!r}: {value!r}")
        out.append(
            f'  <annotation type="{_escape(name, "metadata key", attribute=True)}">'
            f"{_escape(value, 'metadata value')}</annotation>"
        )
    out += ["  <definitions>", f'    <timestamp xml:id="t0" time="{t0}"/>']
    if pages:
        out += [
            '    <traceFormat xml:id="canvas-format">',
            '      <channel name="X" type="decimal" units="mm"/>',
            '      <channel name="Y" type="decimal" units="mm"/>',
            "    </traceFormat>",
        ]
        out += [
            f'    <canvas xml:id="{pid}" traceFormatRef="#canvas-format"/>'
            for pid in pages.values()
        ]
    out += source_xml + context_xml + ["  </definitions>"]

    def group_open(fid: str) -> list[str]:
        wanted = (
            f"field-{fid}" if _SAFE_ID.fullmatch(fid) else f"field{list(fields).index(fid) + 1}"
        )
        return [
            f'  <traceGroup xml:id="{ids.take(wanted)}">',
            f'    <annotation type="{FIELD_ANNOTATION}">{_escape(fid, "field id")}</annotation>',
        ]

    current: str | None = None
    for i, stroke in enumerate(ink):
        if owner[i] != current:
            if current is not None:
                out.append("  </traceGroup>")
            current = owner[i]
            if current is not None:
                out += group_open(current)
        indent = "  " if current is None else "    "
        out.append(
            f'{indent}<trace xml:id="{ids.take(f"s{i}")}" contextRef="#{stroke_context[i]}">'
            f"{_trace_text(stroke, t0)}</trace>"
        )
    if current is not None:
        out.append("  </traceGroup>")
    written = {o for o in owner if o is not None}
    for fid in fields:
        if fid not in written:
            out += [*group_open(fid), "  </traceGroup>"]
    out.append("</ink>")
    return "\n".join(out) + "\n"
