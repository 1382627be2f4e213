"""The glyph bank and the real-glyph writer: shape in the box, timing, force, seeds."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from hardware_sim.glyphs import DEFAULT_BANK, GlyphBank, MissingGlyph, UnknownWriter
from hardware_sim.handwriting import Writer
from pen.forms import load_form
from pen.forms.model import Rect
from pen.page import PageAddress

ROOT = Path(__file__).resolve().parents[2]
UNIPEN = ROOT.parent / "shared" / "data" / "handwriting"
PAGE = PageAddress(70, 12, 3, 41)
BOX = Rect(100.0, 50.0, 7.0, 9.0)
T0 = 1_318_179_900_000.0
DIGITS = "0123456789"


@pytest.fixture(scope="module")
def bank() -> GlyphBank:
    return GlyphBank.load()


def _share_inside(strokes: list, rect: Rect) -> float:
    pts = np.vstack([s.points[:, :2] for s in strokes])
    inside = (
        (pts[:, 0] >= rect.x)
        & (pts[:, 0] <= rect.right)
        & (pts[:, 1] >= rect.y)
        & (pts[:, 1] <= rect.bottom)
    )
    return float(inside.mean())


def test_bank_ships_small_with_many_complete_writers(bank: GlyphBank) -> None:
    assert DEFAULT_BANK.stat().st_size < 4_000_000
    writers = bank.writers()
    assert len(writers) >= 20
    for w in writers:
        assert set(DIGITS) <= bank.chars(w), w
        for d in DIGITS:
            got = bank.glyphs(w, d)
            assert not got.borrowed and got.samples
    assert len({bank.contributor(w) for w in writers}) >= 3


def test_every_writer_writes_every_digit_inside_its_box(bank: GlyphBank) -> None:
    worst = 1.0
    for i, w in enumerate(bank.writers()):
        writer = Writer(w, seed=i, bank=bank)
        for d in DIGITS:
            strokes = writer.write_in_box(d, BOX, T0, pen_serial="P", page=PAGE)
            assert strokes and strokes[0].start_ms == T0
            assert all(s.page == PAGE and s.pen_serial == "P" for s in strokes)
            worst = min(worst, _share_inside(strokes, BOX))
    assert worst >= 0.9


def test_field_times_increase_and_force_rises_and_falls() -> None:
    pv = load_form("pv", candidates=("A", "B"))
    field = pv.field("ballots")
    for seed in range(8):
        strokes = Writer(seed=seed).write_field("4805", field, T0, pen_serial="P", page=PAGE)
        t = np.concatenate([s.t for s in strokes])
        assert (np.diff(t) > 0).all()
        for s in strokes:
            assert len(s) >= 3
            assert s.force[0] < 0.15 and s.force[-1] < 0.15
            assert s.force.max() > 0.3
        # Right-aligned: the first cell stays empty, each character in its own cell.
        assert min(s.bbox()[0] for s in strokes) > field.boxes[1].rect.x - 0.5
        # At 75 Hz points come about every 13 ms within a stroke.
        dt = np.diff(strokes[0].t)
        assert 12 <= dt.min() and dt.max() <= 15


def test_same_seed_same_ink_and_writers_differ(bank: GlyphBank) -> None:
    a, b = bank.writers()[:2]

    def ink(writer: Writer) -> list[np.ndarray]:
        return [s.points for s in writer.write_in_box("7", BOX, T0, pen_serial="P", page=None)]

    one, two = ink(Writer(a, seed=3, bank=bank)), ink(Writer(a, seed=3, bank=bank))
    assert len(one) == len(two) and all(np.array_equal(x, y) for x, y in zip(one, two, strict=True))
    other = ink(Writer(b, seed=3, bank=bank))
    assert len(one) != len(other) or not all(
        x.shape == y.shape and np.allclose(x, y) for x, y in zip(one, other, strict=True)
    )
    assert (
        Writer(seed=1).writer_id != Writer(seed=2).writer_id
        or Writer(seed=1).style != Writer(seed=2).style
    )


def test_missing_character_is_borrowed_or_refused_clearly(bank: GlyphBank) -> None:
    writer_id = bank.writers("apa")[0]
    writer = Writer(writer_id, seed=0, bank=bank)
    lacking = next(ch for ch in "@_+-." if ch not in bank.chars(writer_id))
    got = bank.glyphs(writer_id, lacking)
    assert got.borrowed and bank.contributor(got.source) == "apa"
    writer.write_in_box(lacking, BOX, T0, pen_serial="P", page=None)
    assert writer.borrowed == {lacking: got.source}
    with pytest.raises(MissingGlyph, match="no 'é'") as err:
        writer.write_in_box("é", BOX, T0, pen_serial="P", page=None)
    assert err.value.code == "G.003" and err.value.char == "é"
    with pytest.raises(UnknownWriter):
        Writer("nobody/at/all", bank=bank)


def _build_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "build_glyph_bank", ROOT / "scripts" / "build_glyph_bank.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(not UNIPEN.is_dir(), reason="the UNIPEN corpus is not on this machine")
def test_build_script_is_reproducible(tmp_path: Path) -> None:
    build = _build_script()
    one, two = tmp_path / "one.npz", tmp_path / "two.npz"
    assert build.main(["--source", str(UNIPEN), "--out", str(one), "--writers", "5"]) == 0
    assert build.main(["--source", str(UNIPEN), "--out", str(two), "--writers", "5"]) == 0
    assert one.read_bytes() == two.read_bytes()
    small = GlyphBank.load(one)
    assert len(small.writers()) == 5
    w = small.writers()[0]
    strokes = Writer(w, seed=0, bank=small).write_in_box("3", BOX, T0, pen_serial="P", page=None)
    assert _share_inside(strokes, BOX) >= 0.9
