"""Reading InkML 1.0 documents into strokes, form fields and metadata.

Owns the interpretation of https://www.w3.org/TR/InkML/ (the safe XML parse
itself is :mod:`pen._inkml_xml`): the resolution of contexts (inline or
referenced ``traceFormat``, ``inkSource``, ``canvas`` and ``timestamp``,
``contextRef`` inheritance, top-level ``<context>`` changing the current
context), channel units, and turning each ``<trace>`` into a
:class:`pen.ink.Stroke`. Every rejection is an :class:`pen.errors.InkMLError`
naming the element path (``ink/traceGroup[field=x]/trace[2]``), the line,
and the point and channel where it applies. :mod:`pen.inkml` is the public
face; this module is private to it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from xml.etree.ElementTree import Element

import numpy as np
import numpy.typing as npt

from pen._inkml_trace import decode_trace
from pen._inkml_xml import parse_with_lines
from pen.errors import InkError, InkMLError, PageAddressError
from pen.ink import Stroke
from pen.page import PageAddress

NS = "{http://www.w3.org/2003/InkML}"
XML_ID = "{http://www.w3.org/XML/1998/namespace}id"
_PAGE_CANVAS = re.compile(r"page-(\d+\.\d+\.\d+\.\d+)")
#: Field ids shown bare in element paths; others are quoted.
_PLAIN_FIELD = re.compile(r"[^\s\[\]'\"/,]+")
#: ``<sourceProperty>`` carrying the exact millimetres per raw device unit.
UNIT_PROPERTY = "plume-unit-mm"
#: Millimetres per unit of the length units Plume reads (``himetric`` is 0.01 mm).
_LENGTH_MM = {
    "mm": 1.0,
    "cm": 10.0,
    "m": 1000.0,
    "um": 0.001,
    "in": 25.4,
    "pt": 25.4 / 72,
    "himetric": 0.01,
}
_TIME_MS = {"ms": 1.0, "s": 1000.0, "us": 0.001}
_UNITLESS = {"", "dev"}


@dataclass(frozen=True)
class _Channel:
    name: str
    units: str
    lo: float | None
    hi: float | None
    respect_to: str | None


@dataclass(frozen=True)
class _Context:
    channels: tuple[_Channel, ...]
    serial: str = ""
    page: PageAddress | None = None
    unit_mm: float | None = None
    time_ms: float | None = None


_DEFAULT = _Context((_Channel("X", "", None, None, None), _Channel("Y", "", None, None, None)))


def _local(element: Element) -> str | None:
    tag = element.tag
    return tag[len(NS) :] if isinstance(tag, str) and tag.startswith(NS) else None


def _field_of(group: Element) -> str | None:
    """The id in a ``<traceGroup>``'s ``<annotation type="field">``, if it has one."""
    for item in group:
        if _local(item) == "annotation" and item.get("type") == "field":
            return item.text or ""
    return None


def read_inkml(
    text: str | bytes, *, supported_version: str
) -> tuple[list[Stroke], dict[str, tuple[int, ...]], dict[str, str]]:
    """Strokes in document order, field id -> stroke indices, and metadata."""
    if not isinstance(text, str | bytes):
        raise InkMLError(f"InkML is text or bytes, got {type(text).__name__}")
    root, lines = parse_with_lines(text)
    if root.tag != f"{NS}ink":
        found = root.tag if isinstance(root.tag, str) else "?"
        raise InkMLError(
            f"root element is <{found}>; an InkML document's root is <ink> in the namespace "
            f'{NS[1:-1]} (add xmlns="{NS[1:-1]}")',
            "line 1",
        )
    return _Reader(root, lines, supported_version).read()


class _Reader:
    def __init__(self, root: Element, lines: dict[Element, int], version: str) -> None:
        self.root = root
        self.lines = lines
        self.version = version
        self.paths: dict[Element, str] = {root: "ink"}
        self.by_id: dict[str, Element] = {}
        self.contexts: dict[Element, _Context] = {}
        self.resolving: set[Element] = set()
        self.strokes: list[Stroke] = []
        self.fields: dict[str, list[int]] = {}
        self.trace_index: dict[Element, int] = {}
        self.views: list[tuple[str, str, Element]] = []
        self._index(root, "ink")

    # --- locations and references ---------------------------------------

    def _index(self, parent: Element, path: str) -> None:
        counts: dict[str, int] = {}
        for child in parent:
            name = _local(child)
            if name is None:
                continue
            counts[name] = counts.get(name, 0) + 1
            ident = child.get(XML_ID) or child.get("id")
            field_id = _field_of(child) if name == "traceGroup" else None
            # Traces by position (their number is what a reader counts), field
            # groups by field id, others by id.
            if field_id is not None:
                shown = field_id if _PLAIN_FIELD.fullmatch(field_id) else repr(field_id)
                step = f"{name}[field={shown}]"
            elif ident and name != "trace":
                step = f"{name}[id={ident}]"
            else:
                step = f"{name}[{counts[name]}]"
            self.paths[child] = f"{path}/{step}"
            if ident:
                if ident in self.by_id:
                    raise InkMLError(f"xml:id {ident!r} is used twice", self.where(child))
                self.by_id[ident] = child
            self._index(child, self.paths[child])

    def where(self, element: Element) -> str:
        line = self.lines.get(element)
        path = self.paths.get(element, "ink")
        return f"{path}, line {line}" if line else path

    def fail(self, message: str, element: Element) -> InkMLError:
        return InkMLError(message, self.where(element))

    def deref(self, element: Element, attribute: str, *kinds: str) -> Element | None:
        value = element.get(attribute)
        if value is None:
            return None
        if "#" in value and not value.startswith("#"):
            raise self.fail(
                f"{attribute}={value!r} points into another document; Plume reads "
                "self-contained InkML only",
                element,
            )
        target = self.by_id.get(value.lstrip("#"))
        if target is None:
            raise self.fail(f"{attribute}={value!r} refers to nothing in this document", element)
        if _local(target) not in kinds:
            raise self.fail(
                f"{attribute}={value!r} refers to a <{_local(target)}>, not a <{kinds[0]}>",
                element,
            )
        return target

    def child(self, element: Element, name: str) -> Element | None:
        return element.find(f"{NS}{name}")

    def part(self, context: Element, name: str) -> Element | None:
        """A context's inline ``<name>`` child, else the one its ``nameRef`` points to."""
        inline = self.child(context, name)
        return inline if inline is not None else self.deref(context, f"{name}Ref", name)

    # --- definitions ------------------------------------------------------

    def context(self, element: Element) -> _Context:
        if element in self.contexts:
            return self.contexts[element]
        if element in self.resolving:
            raise self.fail("contextRef chain loops back on itself", element)
        self.resolving.add(element)
        parent_el = self.deref(element, "contextRef", "context")
        ctx = _DEFAULT if parent_el is None else self.context(parent_el)
        source = self.part(element, "inkSource")
        fmt = self.part(element, "traceFormat")
        canvas = self.part(element, "canvas")
        stamp = self.part(element, "timestamp")
        if source is not None:
            source_fmt = self.child(source, "traceFormat")
            ctx = replace(ctx, serial=source.get("serialNo", ""), unit_mm=self.unit_mm(source))
            if source_fmt is not None and fmt is None:
                fmt = source_fmt
        if fmt is not None:
            ctx = replace(ctx, channels=self.trace_format(fmt))
        if canvas is not None:
            ctx = replace(ctx, page=self.page(canvas))
        if stamp is not None:
            ctx = replace(ctx, time_ms=self.timestamp(stamp))
        self.resolving.discard(element)
        self.contexts[element] = ctx
        return ctx

    def trace_format(self, element: Element) -> tuple[_Channel, ...]:
        channels: list[_Channel] = []
        for item in element:
            name = _local(item)
            if name == "intermittentChannels" and len(item):
                raise self.fail("intermittent channels are not supported by Plume", item)
            if name != "channel":
                continue
            channel_name = item.get("name")
            if not channel_name:
                raise self.fail("<channel> has no name", item)
            if item.get("orientation", "+ve") != "+ve" and channel_name in ("X", "Y"):
                raise self.fail(f"channel {channel_name}: orientation -ve is not supported", item)
            bounds = []
            for attr in ("min", "max"):
                raw = item.get(attr)
                try:
                    bounds.append(None if raw is None else float(raw))
                except ValueError:
                    raise self.fail(
                        f"channel {channel_name}: {attr}={raw!r} is not a number", item
                    ) from None
            respect = item.get("respectTo")
            if respect is not None:
                self.deref(item, "respectTo", "timestamp")
            units = item.get("units", "").strip()
            channels.append(_Channel(channel_name, units, bounds[0], bounds[1], respect))
        names = [c.name for c in channels]
        for required in ("X", "Y"):
            if required not in names:
                raise self.fail(
                    f"trace format {' '.join(names) or '(empty)'} has no {required}", element
                )
        if len(set(names)) != len(names):
            raise self.fail(f"trace format {' '.join(names)} names a channel twice", element)
        return tuple(channels)

    def unit_mm(self, source: Element) -> float | None:
        for prop in source.findall(f"{NS}sourceProperty"):
            if prop.get("name") == UNIT_PROPERTY:
                try:
                    unit = float(prop.get("value", ""))
                except ValueError:
                    unit = 0.0
                if not 0 < unit < float("inf"):
                    raise self.fail(
                        f"{UNIT_PROPERTY} {prop.get('value')!r} is not a positive number", prop
                    )
                return unit
        props = self.child(source, "channelProperties")
        for prop in [] if props is None else list(props):
            if prop.get("channel") == "X" and prop.get("name") == "resolution":
                units = prop.get("units", "1/mm").strip()
                scale = _LENGTH_MM.get(units[2:]) if units.startswith("1/") else None
                try:
                    per_unit = float(prop.get("value", ""))
                except ValueError:
                    per_unit = 0.0
                if scale is None or not per_unit > 0:
                    raise self.fail(
                        f"channel X resolution {prop.get('value')!r} {units!r} is not a "
                        'positive number per length unit (e.g. value="26.67" units="1/mm")',
                        prop,
                    )
                return float(f"{scale / per_unit:.15g}")
        return None

    def page(self, canvas: Element) -> PageAddress | None:
        match = _PAGE_CANVAS.fullmatch(canvas.get(XML_ID) or canvas.get("id") or "")
        if match is None:
            return None
        try:
            return PageAddress.parse(match.group(1))
        except PageAddressError as exc:
            raise self.fail(f"canvas names a bad page address: {exc.message}", canvas) from None

    def timestamp(self, stamp: Element, seen: frozenset[Element] = frozenset()) -> float:
        if stamp in seen:
            raise self.fail("timestampRef chain loops back on itself", stamp)
        try:
            offset = float(stamp.get("timeOffset", "0"))
            if stamp.get("time") is not None:
                base = float(stamp.get("time", ""))
            elif stamp.get("timeString") is not None:
                when = datetime.fromisoformat(stamp.get("timeString", "").replace("Z", "+00:00"))
                base = when.timestamp() * 1000.0
            else:
                ref = self.deref(stamp, "timestampRef", "timestamp")
                if ref is None:
                    raise self.fail("<timestamp> has no time, timeString or timestampRef", stamp)
                base = self.timestamp(ref, seen | {stamp})
        except ValueError as exc:
            raise self.fail(f"<timestamp> has a bad time: {exc}", stamp) from None
        return base + offset

    # --- traces and groups ------------------------------------------------

    def read(self) -> tuple[list[Stroke], dict[str, tuple[int, ...]], dict[str, str]]:
        metadata: dict[str, str] = {}
        current = _DEFAULT
        for element in self.root:
            name = _local(element)
            if name == "context":
                current = self.context(element)
            elif name == "trace":
                self.trace(element, current, None)
            elif name == "traceGroup":
                self.group(element, current, None)
            elif name == "annotation":
                key, value = element.get("type", ""), element.text or ""
                if key == "plume-inkml-version":
                    if value.strip() != self.version:
                        raise self.fail(
                            f"written in Plume InkML format {value.strip()!r}; this build reads "
                            f"format {self.version}: upgrade Plume",
                            element,
                        )
                    continue
                metadata[key] = f"{metadata[key]}\n{value}" if key in metadata else value
        for fid, ref, view in self.views:
            target = self.deref(view, "traceDataRef", "trace", "traceGroup")
            if target not in self.trace_index:
                raise self.fail(
                    f"traceDataRef={ref!r} refers to no trace read from this document "
                    "(references to groups or to traces in <definitions> are not supported)",
                    view,
                )
            self.fields[fid].append(self.trace_index[target])
        fields = {fid: tuple(sorted(set(ix))) for fid, ix in self.fields.items()}
        return self.strokes, fields, metadata

    def group(self, element: Element, ctx: _Context, field_id: str | None) -> None:
        ref = self.deref(element, "contextRef", "context")
        ctx = ctx if ref is None else self.context(ref)
        own_field = _field_of(element)
        if own_field is not None:
            field_id = own_field
            self.fields.setdefault(field_id, [])
        for item in element:
            name = _local(item)
            if name == "trace":
                self.trace(item, ctx, field_id)
            elif name == "traceGroup":
                self.group(item, ctx, field_id)
            elif name == "traceView":
                if item.get("from") or item.get("to"):
                    raise self.fail("traceView from/to ranges are not supported", item)
                ref_value = item.get("traceDataRef")
                if ref_value is None:
                    raise self.fail("<traceView> has no traceDataRef", item)
                if field_id is not None:
                    self.views.append((field_id, ref_value, item))

    def trace(self, element: Element, ctx: _Context, field_id: str | None) -> None:
        ref = self.deref(element, "contextRef", "context")
        ctx = ctx if ref is None else self.context(ref)
        if element.get("type", "penDown") != "penDown":
            raise self.fail(f"trace type {element.get('type')!r} is not supported", element)
        if element.get("continuation") is not None:
            raise self.fail("continued traces are not supported", element)
        names = [c.name for c in ctx.channels]
        where = self.where(element)
        values = decode_trace(element.text or "", names, where, InkMLError)
        stroke = self.stroke(values, ctx, element)
        self.trace_index[element] = len(self.strokes)
        if field_id is not None:
            self.fields[field_id].append(len(self.strokes))
        self.strokes.append(stroke)

    def stroke(self, values: npt.NDArray[np.float64], ctx: _Context, element: Element) -> Stroke:
        col = {c.name: i for i, c in enumerate(ctx.channels)}
        spec = {c.name: c for c in ctx.channels}
        n = values.shape[0]
        xy = []
        for name in ("X", "Y"):
            units = spec[name].units
            scale = 1.0 if units in _UNITLESS else _LENGTH_MM.get(units)
            if scale is None:
                raise self.fail(
                    f"channel {name} has units {units!r}; Plume reads {', '.join(_LENGTH_MM)} "
                    "(no units or 'dev' are taken as mm)",
                    element,
                )
            xy.append(values[:, col[name]] * scale)
        if "T" in col:
            units = spec["T"].units
            scale = 1.0 if units in _UNITLESS else _TIME_MS.get(units)
            if scale is None:
                raise self.fail(f"channel T has units {units!r}; Plume reads ms or s", element)
            base = ctx.time_ms or 0.0
            respect = spec["T"].respect_to
            if respect is not None:
                base = self.timestamp(self.by_id[respect.lstrip("#")])
            t = base + values[:, col["T"]] * scale
            back = np.flatnonzero(np.diff(t) < 0)
            if back.size:
                k = int(back[0]) + 1
                raise self.fail(
                    f"point {k + 1}, channel T: time goes back ({t[k - 1]:.3f} -> {t[k]:.3f} ms)",
                    element,
                )
        else:
            try:
                offset = float(element.get("timeOffset", "0"))
            except ValueError:
                raise self.fail(
                    f"timeOffset={element.get('timeOffset')!r} is not a number", element
                ) from None
            t = np.full(n, (ctx.time_ms or 0.0) + offset)
        force = np.ones(n)
        if "F" in col:
            lo, hi = spec["F"].lo, spec["F"].hi
            lo = 0.0 if lo is None else lo
            hi = 1.0 if hi is None else hi
            raw_f = values[:, col["F"]]
            bad = np.flatnonzero((raw_f < lo) | (raw_f > hi) | ~np.isfinite(raw_f))
            if hi <= lo or bad.size:
                k = int(bad[0]) if bad.size else 0
                raise self.fail(
                    f"point {k + 1}, channel F: force {raw_f[k]:g} is outside {lo:g}..{hi:g}",
                    element,
                )
            force = np.clip((raw_f - lo) / (hi - lo), 0.0, 1.0)
        raw = None
        if "RX" in col and "RY" in col:
            raw = values[:, [col["RX"], col["RY"]]]
        try:
            return Stroke(
                np.column_stack([xy[0], xy[1], t, force]), ctx.serial, ctx.page, raw, ctx.unit_mm
            )
        except InkError as exc:
            raise self.fail(exc.message, element) from None
