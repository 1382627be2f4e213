"""Reading one field for the pipeline: counts whole, combs one box at a time, failures as data."""

from __future__ import annotations

import ocr
from hardware_sim.glyphs import GlyphBank
from hardware_sim.handwriting import Writer
from ingest.digitise import read_field
from pen.forms import load_form
from pen.page import PageAddress

PAGE = PageAddress(71, 1, 1, 1)


def test_a_count_is_read_whole_like_ocr_reads_it() -> None:
    layout = load_form("pv")
    field = layout.field("ballots")
    strokes = Writer(seed=3, bank=GlyphBank.load()).write_field(
        "482", field, 1_318_183_200_000.0, pen_serial="P", page=PAGE
    )
    got = read_field(field, layout, strokes)
    want = ocr.read([s.xyt() for s in strokes], "count")
    assert (got.text, got.confidence, got.error) == (want.text, want.confidence, "")


def test_a_digit_comb_is_read_one_box_at_a_time() -> None:
    layout = load_form("contact")
    field = layout.field("postcode")
    strokes = Writer(seed=8, bank=GlyphBank.load()).write_field(
        "75011", field, 1_318_183_200_000.0, align="left", pen_serial="P", page=PAGE
    )
    got = read_field(field, layout, strokes)
    assert got.error == "" and len(got.text) == 5 and got.text.isdigit()
    ranked = [p for _, p in got.alternatives]
    assert got.alternatives[0] == (got.text, got.confidence)
    assert ranked == sorted(ranked, reverse=True) and all(0 <= p <= 1 for p in ranked)


def test_a_kind_recognition_cannot_read_is_a_reading_of_confidence_zero() -> None:
    layout = load_form("pv")
    field = layout.field("president_signature")
    strokes = Writer(seed=1, bank=GlyphBank.load()).write_field(
        "12", layout.field("ballots"), 1_318_183_200_000.0, pen_serial="P", page=PAGE
    )
    got = read_field(field, layout, strokes)
    assert (got.text, got.confidence, got.alternatives) == ("", 0.0, ())
    assert got.error == "UnsupportedKind"


def test_an_address_is_read_with_the_names_of_its_form() -> None:
    # a surname the decoder does not know: told it is the voter's, it weighs more
    layout = load_form("contact")
    field = layout.field("email")
    truth = "kervella@free.fr"
    strokes = Writer(seed=5, bank=GlyphBank.load()).write_field(
        truth, field, 1_318_183_200_000.0, align="left", pen_serial="P", page=PAGE
    )
    alone = dict(read_field(field, layout, strokes).alternatives)
    told = read_field(field, layout, strokes, words=("KERVELLA", "JEAN"))
    assert told.error == ""
    assert dict(told.alternatives).get(truth, 0.0) > alone.get(truth, 0.0)
    assert told.text == truth


def test_a_contact_forms_capitals_are_read_as_names() -> None:
    layout = load_form("contact")
    field = layout.field("last_name")
    strokes = Writer(seed=4, bank=GlyphBank.load()).write_field(
        "MARTIN", field, 1_318_183_200_000.0, align="left", pen_serial="P", page=PAGE
    )
    got = read_field(field, layout, strokes)
    boxes = [(b.rect.x, b.rect.y, b.rect.width, b.rect.height) for b in field.boxes]
    xyt = [s.xyt() for s in strokes]
    want = ocr.read(xyt, "name", boxes=boxes)
    assert (got.text, got.confidence) == (want.text, want.confidence)
    assert got.alternatives == tuple(want.alternatives)
