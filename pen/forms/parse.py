"""Reading a form layout from its JSON description (layout format 1).

:func:`parse_form` turns the decoded JSON of one form version into a
validated :class:`~pen.forms.model.FormLayout`. The JSON names fields, not
boxes: a field has either one ``box`` or a ``comb`` that is expanded into its
cells here. A form that counts votes has a ``candidates`` template that is
laid out once per candidate, in place of the ``{"template": "candidates"}``
entry of its field list. Every problem raises :class:`FormError` naming the
key path (``fields[3].comb.cells``) or the box at fault; unknown keys are
refused, so that a typo never silently drops part of a form. The format is
written up in docs/forms.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pen.errors import FormError
from pen.forms import metrics
from pen.forms.model import (
    COMB_CELL_KIND,
    FIELD_KINDS,
    SINGLE_BOX_KINDS,
    Box,
    Field,
    FormLayout,
    Label,
    Paragraph,
    Rect,
    RegistrationMark,
    Rule,
    StationRegion,
    TextBlock,
)

#: The layout format versions this build reads.
SUPPORTED_FORMATS = (1,)
#: Longest candidate name printed on a PV.
MAX_CANDIDATE_NAME = 40

_TOP_KEYS = {
    "format",
    "form_id",
    "version",
    "title",
    "page",
    "registration_marks",
    "station",
    "labels",
    "text_blocks",
    "rules",
    "fields",
    "candidates",
    "notes",
}


class _Obj:
    """A JSON object being read, with its key path for error messages."""

    def __init__(self, data: object, path: str, where: str, known: set[str]) -> None:
        self.where = where
        self.path = path
        if not isinstance(data, Mapping):
            raise self.error(f"{path or 'the layout'} must be a JSON object, got {_kind(data)}")
        self.data: Mapping[str, Any] = data
        unknown = sorted(set(data) - known)
        if unknown:
            raise self.error(
                f"unknown key {unknown[0]!r} in {path or 'the layout'}; "
                f"known keys: {', '.join(sorted(known))}"
            )

    def error(self, message: str) -> FormError:
        return FormError(f"{self.where}: {message}")

    def at(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def has(self, key: str) -> bool:
        return key in self.data

    def raw(self, key: str) -> Any:
        if key not in self.data:
            raise self.error(f"missing key {self.at(key)!r}")
        return self.data[key]

    def number(self, key: str, default: float | None = None, *, positive: bool = False) -> float:
        if key not in self.data and default is not None:
            return default
        value = self.raw(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(f"{self.at(key)} must be a number (mm or pt), got {value!r}")
        if positive and value <= 0:
            raise self.error(f"{self.at(key)} must be positive, got {value!r}")
        return float(value)

    def integer(self, key: str, default: int | None = None, *, minimum: int = 0) -> int:
        if key not in self.data and default is not None:
            return default
        value = self.raw(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.error(f"{self.at(key)} must be an integer >= {minimum}, got {value!r}")
        return value

    def text(self, key: str, default: str | None = None) -> str:
        if key not in self.data and default is not None:
            return default
        value = self.raw(key)
        if not isinstance(value, str) or not value.strip():
            raise self.error(f"{self.at(key)} must be non-empty text, got {value!r}")
        return value

    def flag(self, key: str, default: bool = False) -> bool:
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            raise self.error(f"{self.at(key)} must be true or false, got {value!r}")
        return value

    def obj(self, key: str, known: set[str]) -> _Obj:
        return _Obj(self.raw(key), self.at(key), self.where, known)

    def items(self, key: str, known: set[str]) -> list[_Obj]:
        return [_Obj(v, f"{self.at(key)}[{i}]", self.where, known) for i, v in self._list(key)]

    def _list(self, key: str) -> list[tuple[int, Any]]:
        if key not in self.data:
            return []
        value = self.data[key]
        if not isinstance(value, list):
            raise self.error(f"{self.at(key)} must be a JSON list, got {_kind(value)}")
        return list(enumerate(value))


def _kind(value: object) -> str:
    names: dict[type, str] = {dict: "an object", list: "a list", str: "text"}
    return names.get(type(value), repr(value))


def parse_form(data: Mapping[str, Any], *, candidates: Sequence[str] | None = None) -> FormLayout:
    """Build a validated layout from decoded JSON; ``candidates`` replaces the default list.

    Raises :class:`FormError` saying which key or box is wrong.
    """
    where = "form layout"
    if isinstance(data, Mapping):
        fid, ver = data.get("form_id"), data.get("version")
        where = f"form {fid} v{ver}" if isinstance(fid, str) else where
    top = _Obj(data, "", where, _TOP_KEYS)
    fmt = top.raw("format")
    if fmt not in SUPPORTED_FORMATS or isinstance(fmt, bool):
        raise top.error(
            f"layout format {fmt!r} is not supported; this build of Plume reads format "
            f"{', '.join(map(str, SUPPORTED_FORMATS))}"
        )
    form_id = top.text("form_id")
    version = top.integer("version", minimum=1)
    page = top.obj("page", {"width", "height"})
    labels: list[Label] = [_label(o) for o in top.items("labels", _LABEL_KEYS)]
    fields: list[Field] = []
    names: tuple[str, ...] = ()
    for i, entry in top._list("fields"):
        if isinstance(entry, Mapping) and "template" in entry:
            spec = _Obj(entry, f"fields[{i}]", where, {"template"})
            if spec.raw("template") != "candidates" or not top.has("candidates"):
                raise spec.error(
                    f"fields[{i}] asks for template {entry['template']!r}; the only template "
                    "is 'candidates', defined by the top-level 'candidates' key"
                )
            names, rows = _candidate_fields(top.obj("candidates", _CANDIDATE_KEYS), candidates)
            for row in rows:
                fields.append(_field(row, labels))
        else:
            fields.append(_field(_Obj(entry, f"fields[{i}]", where, _FIELD_KEYS), labels))
    if not fields:
        raise top.error("missing key 'fields' (a form has at least one field)")
    if candidates is not None and not names:
        raise top.error("this form has no candidate list; do not pass candidates")
    station = None
    if top.has("station"):
        st = top.obj("station", {"qr", "text"})
        text = st.obj("text", {"x", "y", "size_pt"})
        station = StationRegion(
            _rect(st.obj("qr", _RECT_KEYS)),
            text.number("x"),
            text.number("y"),
            text.number("size_pt", 12.0, positive=True),
        )
    return FormLayout(
        form_id=form_id,
        version=version,
        title=top.text("title"),
        page_width=page.number("width", positive=True),
        page_height=page.number("height", positive=True),
        fields=tuple(fields),
        labels=tuple(labels),
        text_blocks=tuple(_text_block(o) for o in top.items("text_blocks", _BLOCK_KEYS)),
        rules=tuple(
            Rule(
                o.number("x1"),
                o.number("y1"),
                o.number("x2"),
                o.number("y2"),
                o.number("width", 0.3),
            )
            for o in top.items("rules", {"x1", "y1", "x2", "y2", "width"})
        ),
        marks=tuple(
            RegistrationMark(
                o.text("id"),
                o.number("cx"),
                o.number("cy"),
                o.number("size", positive=True),
                o.text("shape", "square"),
            )
            for o in top.items("registration_marks", {"id", "cx", "cy", "size", "shape"})
        ),
        station=station,
        candidates=names,
    )


_RECT_KEYS = {"x", "y", "width", "height"}
_LABEL_KEYS = {"text", "x", "y", "size_pt", "bold", "muted", "anchor"}
_BLOCK_KEYS = {"x", "y", "width", "size_pt", "paragraph_gap", "paragraphs"}
_FIELD_KEYS = {"id", "kind", "label", "caption", "box", "comb"}
_CAPTION_KEYS = {"text", "x", "y", "size_pt", "bold", "note"}
_COMB_KEYS = {
    "x",
    "y",
    "cells",
    "cell_width",
    "cell_height",
    "gap",
    "per_row",
    "row_gap",
    "groups",
    "group_gap",
}
_CANDIDATE_KEYS = {"min", "max", "default", "first_row_y", "row_pitch", "field"}


def _rect(o: _Obj) -> Rect:
    return Rect(
        o.number("x"),
        o.number("y"),
        o.number("width", positive=True),
        o.number("height", positive=True),
    )


def _label(o: _Obj) -> Label:
    return Label(
        o.text("text"),
        o.number("x"),
        o.number("y"),
        o.number("size_pt", 10.0, positive=True),
        o.flag("bold"),
        o.flag("muted"),
        o.text("anchor", "start"),
    )


def _text_block(o: _Obj) -> TextBlock:
    paragraphs: list[Paragraph] = []
    for i, p in o._list("paragraphs"):
        if isinstance(p, str):
            paragraphs.append(Paragraph(p))
        else:
            po = _Obj(p, f"{o.at('paragraphs')}[{i}]", o.where, {"lead", "text"})
            paragraphs.append(Paragraph(po.text("text"), po.text("lead", "")))
    if not paragraphs:
        raise o.error(f"{o.at('paragraphs')} must list at least one paragraph")
    return TextBlock(
        o.number("x"),
        o.number("y"),
        o.number("width", positive=True),
        tuple(paragraphs),
        o.number("size_pt", 8.0, positive=True),
        o.number("paragraph_gap", 1.2),
    )


def _field(o: _Obj, labels: list[Label]) -> Field:
    fid = o.text("id")
    kind = o.text("kind")
    label = o.text("label")
    if kind not in FIELD_KINDS:
        raise o.error(
            f"{o.at('kind')}: field {fid!r} has unknown kind {kind!r}; "
            f"known kinds: {', '.join(FIELD_KINDS)}"
        )
    if kind in SINGLE_BOX_KINDS:
        if not o.has("box") or o.has("comb"):
            raise o.error(f"field {fid!r} of kind {kind!r} needs one 'box' (and no 'comb')")
        boxes: tuple[Box, ...] = (Box(fid, kind, _rect(o.obj("box", _RECT_KEYS)), fid, 0, label),)
    else:
        if not o.has("comb") or o.has("box"):
            raise o.error(f"field {fid!r} of kind {kind!r} needs a 'comb' of cells (and no 'box')")
        boxes = _comb(o.obj("comb", _COMB_KEYS), fid, COMB_CELL_KIND[kind], label)
    if o.has("caption"):
        cap = o.obj("caption", _CAPTION_KEYS)
        size = cap.number("size_pt", 10.0, positive=True)
        caption = Label(
            cap.text("text", label), cap.number("x"), cap.number("y"), size, cap.flag("bold")
        )
        labels.append(caption)
        if cap.has("note"):
            ext = caption.extent()
            labels.append(Label(cap.text("note"), ext.right + 1.5, caption.y, size - 2, muted=True))
    return Field(fid, kind, label, boxes)


def _comb(o: _Obj, fid: str, cell_kind: str, label: str) -> tuple[Box, ...]:
    cells = o.integer("cells", minimum=1)
    per_row = o.integer("per_row", cells, minimum=1)
    width = o.number("cell_width", positive=True)
    height = o.number("cell_height", positive=True)
    gap = o.number("gap", 0.0)
    row_gap = o.number("row_gap", 0.0)
    group_gap = o.number("group_gap", 0.0)
    groups = [per_row]
    if o.has("groups"):
        raw = o.raw("groups")
        if (
            not isinstance(raw, list)
            or not all(isinstance(g, int) and not isinstance(g, bool) and g > 0 for g in raw)
            or sum(raw) != per_row
        ):
            raise o.error(
                f"{o.at('groups')} must be positive cell counts adding up to {per_row}, got {raw!r}"
            )
        groups = raw
    # x offset of each column within a row, with the extra gap between groups.
    offsets: list[float] = []
    x = 0.0
    for g, size in enumerate(groups):
        if g:
            x += group_gap
        for _ in range(size):
            offsets.append(x)
            x += width + gap
    x0, y0 = o.number("x"), o.number("y")
    return tuple(
        Box(
            f"{fid}.{i}",
            cell_kind,
            Rect(
                x0 + offsets[i % per_row], y0 + (i // per_row) * (height + row_gap), width, height
            ),
            fid,
            i,
            label,
        )
        for i in range(cells)
    )


def _candidate_fields(
    tpl: _Obj, override: Sequence[str] | None
) -> tuple[tuple[str, ...], list[_Obj]]:
    low = tpl.integer("min", minimum=1)
    high = tpl.integer("max", minimum=low)
    if override is None:
        default = tpl.raw("default")
        if not isinstance(default, list) or not all(isinstance(n, str) for n in default):
            raise tpl.error(f"{tpl.at('default')} must be a list of candidate names")
        override = default
    if isinstance(override, str):
        raise tpl.error("candidates must be a list of names, not one string")
    names = tuple(" ".join(str(n).split()) for n in override)
    if not low <= len(names) <= high:
        raise tpl.error(f"this form takes {low} to {high} candidates; got {len(names)}")
    for n in names:
        if not n:
            raise tpl.error("a candidate name is empty")
        if len(n) > MAX_CANDIDATE_NAME:
            raise tpl.error(
                f"candidate name {n!r} is too long to print ({len(n)} characters; "
                f"at most {MAX_CANDIDATE_NAME})"
            )
        if not metrics.printable(n):
            raise tpl.error(
                f"candidate name {n!r} uses {metrics.unprintable_chars(n)!r}, "
                "which the PDF fonts cannot print"
            )
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise tpl.error(f"candidate {dupes[0]!r} is listed twice")
    first = tpl.number("first_row_y")
    pitch = tpl.number("row_pitch", positive=True)
    template = tpl.raw("field")
    rows: list[_Obj] = []
    for number, name in enumerate(names, start=1):
        subs = {"{n}": str(number), "{name}": name}
        row = _fill(template, subs, first + (number - 1) * pitch)
        rows.append(_Obj(row, f"{tpl.at('field')} (candidate {number})", tpl.where, _FIELD_KEYS))
    return names, rows


def _fill(template: Any, subs: dict[str, str], row_y: float) -> Any:
    """A copy of the candidate field template for one row: names filled in, y made absolute."""
    if not isinstance(template, Mapping):
        return template
    out: dict[str, Any] = {}
    for key, value in template.items():
        if isinstance(value, str):
            for old, new in subs.items():
                value = value.replace(old, new)
            out[key] = value
        elif isinstance(value, Mapping):
            inner = dict(value)
            if isinstance(inner.get("y"), int | float) and not isinstance(inner["y"], bool):
                inner["y"] = inner["y"] + row_y
            out[key] = _fill(inner, subs, row_y)
        else:
            out[key] = value
    return out
