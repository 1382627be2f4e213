"""InkML export and import: round trip, other tools' files, and corrupt documents."""

from __future__ import annotations

from xml.etree import ElementTree as ET

import numpy as np
import pytest

from pen.errors import InkError, InkMLError
from pen.ink import ANOTO_UNIT_MM, Ink, Stroke
from pen.inkml import INKML_NS, from_inkml, to_inkml
from pen.page import PageAddress

NS = {"i": INKML_NS}
PAGE = PageAddress.parse("70.12.3.41")
T0 = 1_318_000_000_000.0


def _ink() -> Ink:
    first = Stroke.from_arrays(
        [10.125, 11.5, 12.25],
        [20.0, 21.75, 22.5],
        [T0 + 0.0, T0 + 13.0, T0 + 26.5],
        [0.5, 0.75, 1.0],
        pen_serial='AJX-0001 <&"',
        page=PAGE,
        raw=[[270.0, 533.25], [306.5, 580.0], [326.75, 600.0]],
        unit_mm=ANOTO_UNIT_MM,
    )
    loose = Stroke.from_arrays([1.0], [2.0], [T0 + 100.0], pen_serial='AJX-0001 <&"')
    second = Stroke.from_arrays(
        [5.0, 6.0], [7.0, 8.0], [T0 + 200.0, T0 + 300.0], [0.25, 0.0], pen_serial="B-2", page=PAGE
    )
    return Ink((first, loose, second))


def _doc(body: str, definitions: str = "") -> str:
    return (
        f'<?xml version="1.0"?>\n<ink xmlns="{INKML_NS}">\n'
        f"<definitions>{definitions}</definitions>\n{body}\n</ink>\n"
    )


FORMAT = """
<traceFormat xml:id="f">
  <channel name="X" type="decimal" units="mm"/>
  <channel name="Y" type="decimal" units="mm"/>
  <channel name="T" type="integer" units="ms"/>
  <channel name="F" type="decimal" min="0" max="1"/>
</traceFormat>
<context xml:id="c" traceFormatRef="#f"/>
"""


def _error(text: str) -> str:
    with pytest.raises(InkMLError) as info:
        from_inkml(text)
    return str(info.value)


# --- round trip --------------------------------------------------------------


def test_round_trip_keeps_points_pens_pages_fields_raw_and_metadata() -> None:
    ink = _ink()
    text = to_inkml(
        ink,
        fields={"total & <votes>": [2, 0], "blank": []},
        metadata={"station": '75-012 "Mairie" & co', "form": "pv-2011"},
    )
    doc = from_inkml(text)

    assert len(doc.ink) == 3
    for before, after in zip(ink, doc.ink, strict=True):
        np.testing.assert_allclose(after.points, before.points, rtol=0, atol=1e-9)
        assert after.pen_serial == before.pen_serial
        assert after.page == before.page
        assert after.unit_mm == before.unit_mm
    assert doc.ink[0].raw is not None
    np.testing.assert_array_equal(doc.ink[0].raw, ink[0].raw)
    assert doc.ink[1].raw is None and doc.ink[1].page is None
    assert doc.ink == ink
    assert doc.fields == {"total & <votes>": (0, 2), "blank": ()}
    assert doc.unassigned() == (1,)
    assert doc.field_ink("total & <votes>") == Ink((ink[0], ink[2]))
    assert doc.metadata == {"station": '75-012 "Mairie" & co', "form": "pv-2011"}


def test_written_document_follows_the_inkml_shape() -> None:
    text = to_inkml(_ink(), fields={"total": [0]})
    root = ET.fromstring(text)
    assert root.tag == f"{{{INKML_NS}}}ink"
    channels = root.findall("i:definitions/i:inkSource/i:traceFormat/i:channel", NS)
    by_name = {c.get("name"): c for c in channels}
    assert by_name["X"].get("units") == "mm" and by_name["T"].get("units") == "ms"
    assert (by_name["F"].get("min"), by_name["F"].get("max")) == ("0", "1")
    assert root.find("i:definitions/i:timestamp", NS).get("time") == "1318000000000"  # type: ignore[union-attr]
    traces = root.findall(".//i:trace", NS)
    assert len(traces) == 3
    context_ids = {
        c.get("{http://www.w3.org/XML/1998/namespace}id")
        for c in root.findall("i:definitions/i:context", NS)
    }
    assert all(t.get("contextRef", "").lstrip("#") in context_ids for t in traces)
    group = root.find("i:traceGroup", NS)
    assert group is not None
    assert group.get("{http://www.w3.org/XML/1998/namespace}id") == "field-total"
    annotation = group.find("i:annotation", NS)
    assert annotation is not None and annotation.get("type") == "field"
    assert annotation.text == "total"
    # T is written relative to the timestamp, short and exact to the millisecond.
    assert traces[0].text is not None and traces[0].text.startswith("10.125 20 0 0.5 270 533.25")


def test_non_consecutive_field_strokes_keep_ink_order() -> None:
    ink = _ink()
    doc = from_inkml(to_inkml(ink, fields={"a": [0, 2], "b": [1]}))
    assert doc.ink == ink
    assert doc.fields == {"a": (0, 2), "b": (1,)}


def test_export_rejects_bad_field_mappings_and_unwritable_text() -> None:
    ink = _ink()
    with pytest.raises(InkError, match="at most one field"):
        to_inkml(ink, fields={"a": [0], "b": [0]})
    with pytest.raises(InkError, match="outside the ink"):
        to_inkml(ink, fields={"a": [3]})
    with pytest.raises(InkError, match=r"XML 1\.0 cannot carry"):
        to_inkml(Ink((Stroke.from_arrays([0], [0], [0], pen_serial="pen\x01"),)))
    with pytest.raises(InkError, match="reserved"):
        to_inkml(ink, metadata={"plume-inkml-version": "9"})


def test_device_unit_round_trips_exactly() -> None:
    units = [np.float64(ANOTO_UNIT_MM), 0.012345678901234568, 2.371]
    ink = Ink(
        tuple(
            Stroke.from_arrays([1.0], [2.0], [T0], pen_serial="p", raw=[[3.0, 4.0]], unit_mm=u)
            for u in units
        )
    )
    text = to_inkml(ink)
    assert "np.float64" not in text
    assert [s.unit_mm for s in from_inkml(text).ink] == units
    with pytest.raises(InkError, match="not a positive number"):
        to_inkml(Ink((Stroke.from_arrays([1.0], [2.0], [T0], unit_mm=0.0),)))


def test_reads_device_unit_from_resolution_alone() -> None:
    text = _doc(
        '<trace contextRef="#c">1 2</trace>',
        '<inkSource xml:id="s"><traceFormat><channel name="X"/><channel name="Y"/></traceFormat>'
        '<channelProperties><channelProperty channel="X" name="resolution"'
        ' value="26.666666666666668" units="1/mm"/></channelProperties></inkSource>'
        '<context xml:id="c" inkSourceRef="#s"/>',
    )
    assert from_inkml(text).ink[0].unit_mm == ANOTO_UNIT_MM


def test_field_ids_with_spaces_are_quoted_in_locations() -> None:
    text = to_inkml(_ink(), fields={"bulletin blanc": [1]}).replace(">1 2 100 1<", ">1 x 100 1<")
    message = _error(text)
    assert "ink/traceGroup[field='bulletin blanc']/trace[1]" in message
    assert "point 1, channel Y: 'x' is not a number" in message


def test_empty_ink_round_trips() -> None:
    doc = from_inkml(to_inkml(Ink(), fields={"x": []}))
    assert len(doc.ink) == 0 and doc.fields == {"x": ()}


# --- InkML from other tools --------------------------------------------------


def test_reads_bare_x_y_traces_with_the_default_format() -> None:
    text = f'<ink xmlns="{INKML_NS}"><trace>10 0, 9 14, 8 28.5</trace><trace>1 2</trace></ink>'
    doc = from_inkml(text.encode("utf-8"))
    assert len(doc.ink) == 2
    np.testing.assert_allclose(doc.ink[0].x, [10, 9, 8])
    np.testing.assert_allclose(doc.ink[0].y, [0, 14, 28.5])
    assert (doc.ink[0].t == 0).all() and (doc.ink[0].force == 1).all()
    assert doc.ink[0].pen_serial == "" and doc.ink[0].page is None
    assert doc.fields == {} and doc.metadata == {}


def test_reads_first_and_second_differences_and_explicit_resets() -> None:
    # InkML 1.0 section 3.2.1: ' first difference, " second difference, ! explicit;
    # a prefix holds for its channel until the next one.
    text = _doc("""<trace>10 20, '1 '2, 1 2, "1 "0, !50 !60, 51 61</trace>""")
    stroke = from_inkml(text).ink[0]
    np.testing.assert_allclose(stroke.x, [10, 11, 12, 14, 50, 51])
    np.testing.assert_allclose(stroke.y, [20, 22, 24, 26, 60, 61])


def test_reads_values_separated_by_signs_and_prefixes() -> None:
    stroke = from_inkml(_doc("<trace>10 20,'1'-2,3-4</trace>")).ink[0]
    np.testing.assert_allclose(stroke.x, [10, 11, 14])
    np.testing.assert_allclose(stroke.y, [20, 18, 14])


def test_reads_units_timestamps_force_ranges_and_top_level_contexts() -> None:
    text = _doc(
        """
        <context contextRef="#c2"/>
        <trace>1 2 0 512, 1.5 2 0.25 1023</trace>
        <annotation type="writer">w-17</annotation>
        """,
        """
        <timestamp xml:id="ts" timeString="2011-10-09T08:00:00Z"/>
        <inkSource xml:id="src" serialNo="PEN-9" manufacturer="x">
          <traceFormat>
            <channel name="X" type="decimal" units="cm"/>
            <channel name="Y" type="decimal" units="cm"/>
            <channel name="T" type="decimal" units="s" respectTo="#ts"/>
            <channel name="F" type="integer" max="1023"/>
          </traceFormat>
        </inkSource>
        <context xml:id="c2" inkSourceRef="#src"/>
        """,
    )
    doc = from_inkml(text)
    stroke = doc.ink[0]
    np.testing.assert_allclose(stroke.x, [10, 15])
    np.testing.assert_allclose(stroke.y, [20, 20])
    np.testing.assert_allclose(stroke.t, [1318147200000.0, 1318147200250.0])
    np.testing.assert_allclose(stroke.force, [512 / 1023, 1.0])
    assert stroke.pen_serial == "PEN-9"
    assert doc.metadata == {"writer": "w-17"}


def test_field_groups_may_reference_traces_through_trace_views() -> None:
    text = _doc(
        """
        <trace xml:id="a">1 2</trace>
        <trace xml:id="b">3 4</trace>
        <traceGroup xml:id="g"><annotation type="field">sig</annotation>
          <traceView traceDataRef="#b"/></traceGroup>
        """
    )
    assert from_inkml(text).fields == {"sig": (1,)}


# --- corrupt documents: what is wrong, and where ---------------------------


def test_not_well_formed_xml_names_the_line() -> None:
    message = _error(f'<ink xmlns="{INKML_NS}">\n<trace>1 2</trace>\n<trace>3 4</ink>')
    assert "not well-formed" in message and "line 3" in message
    assert message.startswith("[PEN.401]")


def test_wrong_root_element_or_namespace() -> None:
    assert "root element is <svg>" in _error("<svg>1</svg>")
    message = _error("<ink><trace>1 2</trace></ink>")
    assert "root element is <ink>" in message and INKML_NS in message


def test_wrong_number_of_values_names_the_trace_and_point() -> None:
    message = _error(
        _doc(
            '<trace contextRef="#c">1 2 3 0.5</trace>\n'
            '<trace contextRef="#c">1 2 3 0.5, 4 5 6</trace>',
            FORMAT,
        )
    )
    assert "ink/trace[2], line 13" in message  # the line of the second <trace>
    assert "point 2 has 3 value(s)" in message and "X Y T F needs 4" in message


def test_non_numeric_value_names_the_channel() -> None:
    message = _error(_doc('<trace contextRef="#c">1 2 3 0.5, 4 abc 6 0.5</trace>', FORMAT))
    assert "ink/trace[1]" in message and "point 2, channel Y" in message
    assert "'abc' is not a number" in message


def test_unknown_context_reference() -> None:
    message = _error(_doc('<trace contextRef="#nope">1 2</trace>'))
    assert "contextRef='#nope' refers to nothing" in message and "ink/trace[1]" in message


def test_unknown_trace_format_reference_names_the_context() -> None:
    message = _error(
        _doc('<trace contextRef="#c">1 2</trace>', '<context xml:id="c" traceFormatRef="#gone"/>')
    )
    assert "traceFormatRef='#gone' refers to nothing" in message
    assert "ink/definitions[1]/context[id=c]" in message


def test_reference_to_the_wrong_kind_of_element() -> None:
    message = _error(_doc('<trace contextRef="#f">1 2</trace>', FORMAT))
    assert "refers to a <traceFormat>, not a <context>" in message


def test_trace_group_referencing_nothing() -> None:
    message = _error(
        _doc(
            '<traceGroup xml:id="field-x"><annotation type="field">x</annotation>'
            '<traceView traceDataRef="#missing"/></traceGroup>'
        )
    )
    assert "traceGroup[field=x]/traceView[1]" in message
    assert "'#missing' refers to nothing" in message


def test_force_out_of_range_names_point_and_channel() -> None:
    message = _error(_doc('<trace contextRef="#c">1 2 3 0.5, 1 2 4 1.5</trace>', FORMAT))
    assert "point 2, channel F: force 1.5 is outside 0..1" in message


def test_time_going_backwards_inside_a_field_group() -> None:
    message = _error(
        _doc(
            '<traceGroup xml:id="field-x" contextRef="#c">'
            '<annotation type="field">x</annotation>'
            "<trace>1 2 3 0.5</trace>\n<trace>1 2 10 1, 2 3 9 1</trace></traceGroup>",
            FORMAT,
        )
    )
    assert "ink/traceGroup[field=x]/trace[2]" in message
    assert "point 2, channel T: time goes back" in message


def test_empty_trace() -> None:
    message = _error(_doc("<trace>1 2</trace><trace>  </trace>"))
    assert "empty trace" in message and "ink/trace[2]" in message


def test_empty_point_and_difference_without_a_previous_point() -> None:
    assert "point 2 is empty" in _error(_doc("<trace>1 2,,3 4</trace>"))
    message = _error(_doc("<trace>'1 2</trace>"))
    assert "point 1, channel X: a first difference (') needs a previous point" in message


def test_unsupported_features_are_named() -> None:
    assert "'?' (value unknown) is not supported" in _error(_doc("<trace>1 2, ? 3</trace>"))
    assert "trace type 'penUp' is not supported" in _error(_doc('<trace type="penUp">1 2</trace>'))
    message = _error(
        _doc(
            "<trace>1 2</trace>",
            '<traceFormat xml:id="g"><channel name="X"/></traceFormat>'
            '<context xml:id="c" traceFormatRef="#g"/>',
        ).replace("<trace>", '<trace contextRef="#c">')
    )
    assert "has no Y" in message


def test_entities_are_refused() -> None:
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE ink [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;">]>'
        f'<ink xmlns="{INKML_NS}"><trace>&b;</trace></ink>'
    )
    assert "forbidden XML construct" in _error(bomb)


def test_newer_format_version_is_refused() -> None:
    text = to_inkml(_ink()).replace(">1</annotation>", ">2</annotation>", 1)
    assert "format '2'" in _error(text) and "upgrade Plume" in _error(text)


def test_duplicate_ids_are_refused() -> None:
    message = _error(_doc('<trace xml:id="a">1 2</trace><trace xml:id="a">3 4</trace>'))
    assert "xml:id 'a' is used twice (at ink/trace[2], line 4)" in message
