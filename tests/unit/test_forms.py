"""Form layouts: loading, validation errors, hit-testing and rendering."""

from __future__ import annotations

import copy
import xml.etree.ElementTree as ET
from typing import Any

import numpy as np
import pytest

from pen.errors import FormError, UnknownFormError
from pen.forms import assign, hit_test, load_form, parse_form, render_pdf, render_svg
from pen.forms.catalog import form_data
from pen.forms.render import BOX_COLOUR, TEXT_COLOUR, qr_modules
from pen.ink import Ink, Stroke

SVG = "{http://www.w3.org/2000/svg}"


def stroke_at(points: list[tuple[float, float]]) -> Stroke:
    xy = np.array(points, dtype=float)
    return Stroke.from_arrays(xy[:, 0], xy[:, 1], np.arange(len(xy)) * 13.0, pen_serial="P")


def pv_data() -> dict[str, Any]:
    return copy.deepcopy(form_data("pv", 1))


def test_pv_has_the_minutes_fields() -> None:
    pv = load_form("pv")
    ids = [f.id for f in pv.fields]
    for fid in ("signatures", "ballots", "blank", "spoiled", "valid", "contributions"):
        assert pv.field(fid).kind == "count"
        assert len(pv.field(fid).boxes) >= 5
    assert [f"candidate_{i}" for i in range(1, 7)] == [i for i in ids if i.startswith("cand")]
    assert pv.field("candidate_3").label == "François Hollande"
    assert len(pv.field("closing_time").boxes) == 4
    kinds = {pv.field(f).kind for f in ("president_signature", "assessor_signature")}
    assert kinds == {"signature"} and pv.field("remarks").kind == "free_text"
    assert len(pv.marks) == 4 and pv.station is not None
    assert all(b.kind == "digit" for b in pv.field("ballots").boxes)


def test_contact_form_fields_and_notice() -> None:
    contact = load_form("contact")
    kinds = {f.id: f.kind for f in contact.fields}
    assert kinds == {
        "last_name": "upper",
        "first_name": "upper",
        "email": "email_char",
        "phone": "phone",
        "postcode": "postcode",
        "consent_email": "checkbox",
        "consent_sms": "checkbox",
    }
    assert len(contact.field("phone").boxes) == 10 and len(contact.field("postcode").boxes) == 5
    notice = " ".join(p.text for b in contact.text_blocks for p in b.paragraphs)
    for must in ("opinions politiques", "consentement", "CNIL", "Trois ans", "effacer"):
        assert must in notice


@pytest.mark.parametrize("n", [2, 8])
def test_candidate_list_is_configurable(n: int) -> None:
    names = [f"Candidat {i}" for i in range(n)]
    pv = load_form("pv", candidates=names)
    assert pv.candidates == tuple(names)
    assert pv.field(f"candidate_{n}").label == names[-1]


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["Seul"], "2 to 8 candidates; got 1"),
        ([f"C{i}" for i in range(9)], "2 to 8 candidates; got 9"),
        (["A", "A"], "listed twice"),
        (["A", "B\u2212C"], "cannot print"),
    ],
)
def test_bad_candidate_lists(names: list[str], message: str) -> None:
    with pytest.raises(FormError, match=message):
        load_form("pv", candidates=names)


def test_unknown_form_and_version_name_what_exists() -> None:
    with pytest.raises(UnknownFormError, match=r"unknown form 'pvx'; known forms: contact"):
        load_form("pvx")
    with pytest.raises(UnknownFormError, match="no version 9; known versions: 1"):
        load_form("pv", 9)


def _mutated(change: Any) -> dict[str, Any]:
    data = pv_data()
    change(data)
    return data


def _field(data: dict[str, Any], fid: str) -> dict[str, Any]:
    return next(f for f in data["fields"] if f.get("id") == fid)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: _field(d, "blank").update(kind="digits"), "unknown kind 'digits'"),
        (lambda d: _field(d, "blank")["comb"].update(y=55), "overlaps box"),
        (lambda d: _field(d, "blank")["comb"].update(x=190), "outside the 210 x 297 mm page"),
        (lambda d: _field(d, "blank").update(id="ballots"), "used twice"),
        (lambda d: d.pop("format"), "missing key 'format'"),
        (lambda d: d.update(format=2), "layout format 2 is not supported"),
        (lambda d: _field(d, "blank")["comb"].update(cell=3), "unknown key 'cell'"),
        (lambda d: _field(d, "blank")["comb"].update(cells="5"), "must be an integer"),
        (lambda d: d["labels"].append({"text": "x", "x": 150, "y": 60}), "overlaps box"),
    ],
)
def test_malformed_layouts_say_what_is_wrong(change: Any, message: str) -> None:
    with pytest.raises(FormError, match=message) as info:
        parse_form(_mutated(change))
    assert "form pv v1" in str(info.value)


def test_stroke_inside_one_cell() -> None:
    pv = load_form("pv")
    box = pv.field("ballots").boxes[2]
    cx, cy = box.rect.centre
    hit = hit_test(stroke_at([(cx - 1, cy - 2), (cx + 1, cy + 2)]), pv)
    assert (hit.box_id, hit.field_id, hit.share, hit.outside) == (box.id, "ballots", 1.0, False)
    assert hit.straddles == ()


def test_stroke_straddling_two_cells_goes_to_the_larger_share() -> None:
    pv = load_form("pv")
    a, b = pv.field("ballots").boxes[1:3]
    pts = [a.rect.centre] * 3 + [b.rect.centre]
    hit = hit_test(stroke_at(pts), pv)
    assert hit.box_id == a.id and hit.share == 0.75
    assert set(hit.straddles) == {a.id, b.id}
    assert hit.shares == ((a.id, 0.75), (b.id, 0.25))


def test_stroke_across_a_whole_comb_stays_in_its_field() -> None:
    pv = load_form("pv")
    cells = pv.field("blank").boxes[:3]
    hit = hit_test(stroke_at([c.rect.centre for c in cells]), pv)
    assert (hit.field_id, hit.box_id, hit.outside) == ("blank", cells[0].id, False)
    assert hit.straddles == tuple(c.id for c in cells) and hit.share == pytest.approx(1 / 3)


def test_a_point_in_the_gap_between_cells_counts_for_the_nearer_cell() -> None:
    pv = load_form("pv")
    a, b = pv.field("valid").boxes[:2]
    gap = b.rect.x - a.rect.right
    y = a.rect.centre[1]
    # Within 1 mm of both cells, but nearer to b.
    hit = hit_test(stroke_at([(a.rect.right + 0.7 * gap, y)]), pv)
    assert hit.box_id == b.id and hit.straddles == ()


def test_stroke_mostly_outside_is_outside() -> None:
    pv = load_form("pv")
    cx, cy = pv.field("ballots").boxes[0].rect.centre
    hit = hit_test(stroke_at([(cx, cy)] * 2 + [(100.0, 10.0)] * 3), pv)
    assert hit.outside and hit.box_id is None and hit.share == pytest.approx(0.4)
    assert hit.shares == ((pv.field("ballots").boxes[0].id, pytest.approx(0.4)),)


def test_negative_margin_is_refused() -> None:
    pv = load_form("pv")
    with pytest.raises(ValueError, match="margin_mm"):
        hit_test(stroke_at([(0.0, 0.0)]), pv, margin_mm=-1.0)


def test_stroke_outside_every_box() -> None:
    pv = load_form("pv")
    hit = hit_test(stroke_at([(100, 10), (101, 11)]), pv)
    assert hit.outside and hit.box_id is None and hit.field_id is None


def test_margin_tolerates_overshoot() -> None:
    pv = load_form("pv")
    r = pv.field("remarks").boxes[0].rect
    just_below = stroke_at([(r.x + 5, r.bottom + 0.5), (r.x + 6, r.bottom + 0.6)])
    assert hit_test(just_below, pv, margin_mm=1.0).field_id == "remarks"
    assert hit_test(just_below, pv, margin_mm=0.0).outside


def test_assign_splits_ink_by_field_and_keeps_outside_strokes() -> None:
    pv = load_form("pv")
    inside = [stroke_at([pv.field(f).boxes[0].rect.centre] * 2) for f in ("blank", "valid")]
    ink = Ink((inside[0], stroke_at([(100.0, 5.0)]), inside[1]))
    result = assign(ink, pv)
    assert result.indices == {"blank": (0,), "valid": (2,)}
    assert result.outside == (1,)
    assert result.fields["valid"][0] is inside[1]


def test_svg_has_every_box_and_the_station_qr_code() -> None:
    pv = load_form("pv")
    root = ET.fromstring(render_svg(pv, station_id="75056-0042"))
    assert root.get("width") == "210mm" and root.get("viewBox") == "0 0 210 297"
    rects = root.findall(f"{SVG}rect")
    boxes = [r for r in rects if r.get("stroke") == BOX_COLOUR]
    assert len(boxes) == len(pv.boxes)
    solid = [r for r in rects if r.get("fill") == TEXT_COLOUR and r.get("stroke") is None]
    dark = sum(v for row in qr_modules("75056-0042") for v in row)
    assert len(solid) == dark + len(pv.marks)
    texts = "".join(t.text or "" for t in root.iter(f"{SVG}text"))
    assert "Bureau 75056-0042" in texts and "Ségolène Royal" in texts


def test_svg_overlays_ink_as_polylines() -> None:
    contact = load_form("contact")
    ink = Ink((stroke_at([(30, 50), (32, 54)]), stroke_at([(40, 50), (41, 55)])))
    root = ET.fromstring(render_svg(contact, ink=ink))
    assert len(root.findall(f"{SVG}polyline")) == 2


def test_pdf_is_a_one_page_pdf() -> None:
    pdf = render_pdf(load_form("pv"), station_id="75056-0042")
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    assert b"/Count 1" in pdf  # one page
    # Deterministic output: the same form renders to the same bytes.
    assert render_pdf(load_form("pv"), station_id="75056-0042") == pdf


@pytest.mark.parametrize(
    ("form", "station_id", "message"),
    [
        ("pv", "7" * 33, "1 to 32 characters"),
        ("pv", " ", "1 to 32 characters"),
        ("pv", "75056\u22120042", "cannot print"),
        ("contact", "75056-0042", "no place for a station identifier"),
    ],
)
def test_station_ids_that_cannot_be_printed(form: str, station_id: str, message: str) -> None:
    layout = load_form(form)
    for render in (render_svg, render_pdf):
        with pytest.raises(FormError, match=message):
            render(layout, station_id=station_id)
