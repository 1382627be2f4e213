"""``plume forms`` through the real command-line entry point, writing real files."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from plume.cli import main


@pytest.mark.parametrize("suffix", [".pdf", ".svg"])
def test_render_pv(tmp_path: Path, suffix: str, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / f"pv{suffix}"
    assert main(["forms", "render", "pv", "--out", str(out), "--station-id", "75056-0042"]) == 0
    data = out.read_bytes()
    if suffix == ".pdf":
        assert data.startswith(b"%PDF")
    else:
        ET.fromstring(data)
    assert "wrote" in capsys.readouterr().out


def test_render_with_candidates(tmp_path: Path) -> None:
    out = tmp_path / "pv.svg"
    assert (
        main(["forms", "render", "pv", "--out", str(out), "--candidates", "Aubry, Hollande"]) == 0
    )
    text = out.read_text()
    assert "Aubry" in text and "Valls" not in text


def test_unknown_form_fails_with_a_helpful_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["forms", "render", "minutes", "--out", str(tmp_path / "x.pdf")]) == 1
    err = capsys.readouterr().err
    assert "unknown form 'minutes'" in err and "pv" in err
    assert not (tmp_path / "x.pdf").exists()


def test_unknown_output_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["forms", "render", "pv", "--out", str(tmp_path / "pv.png")]) == 1
    assert "name it .pdf or .svg" in capsys.readouterr().err


def test_list_and_show_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["forms", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"contact": [1], "pv": [1]}
    assert main(["forms", "show", "contact", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert {f["id"] for f in shown["fields"]} >= {"email", "phone", "postcode"}


def test_station_id_on_a_form_without_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "contact.pdf"
    assert main(["forms", "render", "contact", "--out", str(out), "--station-id", "1"]) == 1
    assert "no place for a station identifier" in capsys.readouterr().err
    assert not out.exists()


def test_bad_version_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["forms", "render", "pv", "--version", "one", "--out", str(tmp_path / "pv.pdf")])
    assert exc.value.code == 2
