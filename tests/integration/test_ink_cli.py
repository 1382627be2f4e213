"""``plume ink show`` and ``plume ink info`` on real files."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np
import pytest

from pen.ink import Ink, Stroke
from pen.inkml import to_inkml
from pen.page import PageAddress
from plume.cli import main

SVG = "{http://www.w3.org/2000/svg}"
PAGE = PageAddress.parse("70.12.3.41")
T0 = 1_318_000_000_000.0


def _write_ink(path: Path) -> Ink:
    strokes = []
    for k in range(4):
        a = np.linspace(0, 2 * np.pi, 12)
        strokes.append(
            Stroke.from_arrays(
                20 + 8 * k + 3 * np.cos(a),
                30 + 5 * np.sin(a),
                T0 + 1000 * k + 10 * np.arange(12),
                0.5 + 0.5 * np.abs(np.sin(a)),
                pen_serial="AJX-0001",
                page=PAGE,
            )
        )
    ink = Ink(tuple(strokes))
    path.write_text(
        to_inkml(ink, fields={"cand<1>": [0, 1], "cand2": [2]}, metadata={"station": "75-1"}),
        encoding="utf-8",
    )
    return ink


@pytest.mark.parametrize("extra", [[], ["--force-width"], ["--colour-by", "time"]])
def test_show_writes_one_svg_element_per_stroke(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str]
) -> None:
    source, out = tmp_path / "pv.inkml", tmp_path / "pv.svg"
    _write_ink(source)

    code = main(["ink", "show", str(source), "--out", str(out), *extra])

    assert code == 0
    root = ET.parse(out).getroot()
    assert root.tag == f"{SVG}svg"
    drawn = [e for e in root.iter() if e.tag in (f"{SVG}polyline", f"{SVG}path")]
    assert len(drawn) == 4
    labels = [e.text for e in root.iter(f"{SVG}text")]
    assert labels == ["cand<1>", "cand2"]
    printed = capsys.readouterr().out
    assert "4 strokes, 48 points, 1 page, 2 fields, 3.1 s" in printed


def test_show_one_page_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source, out = tmp_path / "pv.inkml", tmp_path / "pv.svg"
    _write_ink(source)
    assert main(["ink", "show", str(source), "--out", str(out), "--page", "1.2.3.4"]) == 1
    assert "no strokes on page 1.2.3.4" in capsys.readouterr().err
    assert not out.exists()


def test_info_json_counts_fields_pens_pages_and_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "pv.inkml"
    _write_ink(source)

    assert main(["ink", "info", str(source), "--json"]) == 0

    info = json.loads(capsys.readouterr().out)
    assert info["strokes"] == 4 and info["points"] == 48
    assert info["fields"] == {
        "cand<1>": {"strokes": 2, "points": 24},
        "cand2": {"strokes": 1, "points": 12},
    }
    assert info["unassigned_strokes"] == 1
    assert info["pens"] == {"AJX-0001": 4}
    assert info["pages"] == {"70.12.3.41": 4}
    assert info["time"]["duration_s"] == pytest.approx(3.11)
    assert info["time"]["start"] == "2011-10-07T15:06:40.000+00:00"
    assert info["metadata"] == {"station": "75-1"}


def test_info_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "pv.inkml"
    _write_ink(source)
    assert main(["ink", "info", str(source)]) == 0
    printed = capsys.readouterr().out
    assert "4 strokes, 48 points" in printed and "cand2: 1 stroke, 12 points" in printed


def test_corrupt_file_fails_with_a_located_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, out = tmp_path / "bad.inkml", tmp_path / "bad.svg"
    _write_ink(source)
    text = source.read_text(encoding="utf-8")
    source.write_text(text.replace("0.5, ", "0.5 oops, ", 1), encoding="utf-8")

    assert main(["ink", "show", str(source), "--out", str(out)]) == 1

    captured = capsys.readouterr()
    assert captured.out == ""
    assert "plume ink:" in captured.err and "[PEN.401]" in captured.err
    assert "ink/traceGroup[field=cand<1>]/trace[1]" in captured.err
    assert not out.exists()


@pytest.mark.parametrize("verb", [["show", "--out", "x.svg"], ["info"]])
def test_missing_file_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], verb: list[str]
) -> None:
    missing = tmp_path / "none.inkml"
    assert main(["ink", verb[0], str(missing), *verb[1:]]) == 1
    assert "cannot read" in capsys.readouterr().err
