"""``plume results check|report|export-cdf`` run as a subprocess on plume-results files."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from hardware_sim.scenarios import simulate_station
from hardware_sim.stations import load_stations
from pen.forms import assign, load_form
from pen.inkml import to_inkml
from tests.tallies import honest_tallies, results_document

ROOT = Path(__file__).resolve().parents[2]
DEPTS = ("75", "13", "01")


def plume(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "plume", "results", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _write(path: Path, document: dict[str, Any]) -> Path:
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """An honest file, and one with an arithmetic slip and ink written after closing."""
    folder = tmp_path_factory.mktemp("results")
    tallies = honest_tallies(4, DEPTS)
    honest = _write(folder / "honest.json", results_document(tallies))
    slip = tallies[3]
    tallies[3] = dataclasses.replace(
        slip, counts=dataclasses.replace(slip.counts, valid=(slip.counts.valid or 0) + 5)
    )
    document = results_document(tallies, expected_stations={"75": 100, "13": 100, "01": 20})
    before = results_document(honest_tallies(4, DEPTS))  # round one: as honest as round two
    document["previous_round"] = {"candidates": ["A"] * 6, "stations": before["stations"]}
    # One station's PV with its ink, simulated written after the count had to close.
    late = tallies[10]
    station = next(s for s in load_stations() if s.id == late.station_id)
    layout = load_form("pv")
    run = simulate_station(station, "after_closing", seed=3, layout=layout)
    cv2.imwrite(str(folder / "b.png"), np.full((20, 60), 255, dtype=np.uint8))
    (folder / "late.inkml").write_text(
        to_inkml(run.ink, fields=assign(run.ink, layout).indices), encoding="utf-8"
    )
    entry = document["stations"][10]  # type: ignore[index]
    written = run.written_counts
    entry["counts"] = {  # the PV as written, matching its ink
        "signatures": written.signatures,
        "ballots": written.ballots,
        "blank": written.blank,
        "spoiled": written.spoiled,
        "valid": written.valid,
        "candidates": list(written.candidates),
        "contributions": written.contributions,
        "closing_time": written.closing_time,
    }
    entry["ink"] = "late.inkml"
    entry["paper"] = {  # the paper says 100 more ballots
        "ballots": {"value": str(written.ballots + 100), "confidence": 0.97, "crop": "b.png"},
        "blank": {"value": None, "confidence": 0.0},
    }
    entry["context"] = {
        "pen_serials": list(run.pen_serials),
        "closing": datetime.fromtimestamp(run.closing_ms / 1000, UTC).isoformat(),
        "pages": [str(station.pv_page)],
    }
    return {
        "honest": honest,
        "faulty": _write(folder / "faulty.json", document),
        "folder": folder,
        "slip": Path(slip.station_id),
        "late": Path(late.station_id),
    }


def test_check_honest_file_passes(files: dict[str, Path]) -> None:
    proc = plume("check", files["honest"], "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["stations"] == len(honest_tallies(4, DEPTS))
    assert all(f["severity"] != "error" for f in out["findings"])


def test_check_finds_the_slip_and_the_late_ink(files: dict[str, Path]) -> None:
    proc = plume("check", files["faulty"], "--json")
    assert proc.returncode == 1, proc.stderr
    found = {(f["code"], f["station_id"]) for f in json.loads(proc.stdout)["findings"]}
    assert ("F.202", str(files["slip"])) in found
    assert ("F.503", str(files["late"])) in found
    assert ("F.301", str(files["late"])) in found
    assert ("W.608", str(files["late"])) in found  # its counts alone changed since round one
    text = plume("check", files["faulty"])
    assert text.returncode == 1 and "F.202" in text.stdout and "error" in text.stdout


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"version": 2}, "[REC.100] version: this Plume reads version 1"),
        ({"format": "csv"}, "[REC.100] format"),
        ({"stations": "none"}, "[REC.100] stations: expected a list"),
        (
            {"stations": [{"station_id": "x", "departement": "75", "counts": {}, "paper": 3}]},
            "[REC.100] stations[0].counts.candidates: expected a list of 6 counts",
        ),
    ],
)
def test_bad_files_are_refused_with_the_place(
    files: dict[str, Path], change: dict[str, Any], message: str
) -> None:
    document = json.loads(files["honest"].read_text(encoding="utf-8")) | change
    proc = plume("check", _write(files["folder"] / "bad.json", document))
    assert proc.returncode == 1
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_bad_count_names_its_field(files: dict[str, Path]) -> None:
    document = json.loads(files["honest"].read_text(encoding="utf-8"))
    document["stations"][2]["counts"]["ballots"] = "187"
    proc = plume("check", _write(files["folder"] / "bad.json", document))
    assert proc.returncode == 1
    assert "stations[2].counts.ballots: expected a whole number or null, got '187'" in proc.stderr
    missing = plume("check", files["folder"] / "absent.json")
    assert missing.returncode == 1 and "cannot read" in missing.stderr


def test_report_writes_self_contained_pages(files: dict[str, Path]) -> None:
    out = files["folder"] / "reports"
    proc = plume("report", files["faulty"], "--out", out, "--pdf", "--status", "certified")
    assert proc.returncode == 0, proc.stderr
    names = {p.name for p in out.iterdir()}
    assert {"national.html", "national.pdf"} <= names
    assert {f"departement-{d}.html" for d in DEPTS} <= names
    national = (out / "national.html").read_text(encoding="utf-8")
    assert "<script" not in national and "src=" not in national and "href=" not in national
    assert national.count("<svg") == 2  # results bars and the fingerprint
    assert "Status certified" in national and "F.202" in national and "of 220" in national
    assert (out / "national.pdf").read_bytes().startswith(b"%PDF")
    assert "station-75056-0013.html" not in names  # pages per station only when asked


def test_station_pages_show_ink_and_paper(files: dict[str, Path]) -> None:
    out = files["folder"] / "stations"
    proc = plume("report", files["faulty"], "--out", out, "--stations", "--pdf")
    assert proc.returncode == 0, proc.stderr
    pdf = (out / f"station-{files['late']}.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and b"(F.503) Tj" in pdf and b"(F.301) Tj" in pdf
    assert b"/Subtype /Image" in pdf and b".690196 0 .12549 RG" in pdf  # crop; late ink red
    late = (out / f"station-{files['late']}.html").read_text(encoding="utf-8")
    assert late.count("<polyline") > 20 and 'stroke="#b00020"' in late  # late ink in red
    assert "F.503" in late and "F.301" in late
    assert 'src="data:image/png;base64,' in late
    assert "<script" not in late and "href=" not in late
    slip = (out / f"station-{files['slip']}.html").read_text(encoding="utf-8")
    assert "F.202" in slip and "<polyline" not in slip  # counts only, no ink in the file


def test_export_cdf(files: dict[str, Path]) -> None:
    target = files["folder"] / "results.xml"
    proc = plume("export-cdf", files["honest"], "--out", target, "--status", "unofficial-complete")
    assert proc.returncode == 0, proc.stderr
    root = ET.fromstring(target.read_text(encoding="utf-8"))
    assert root.findtext("Status") == "unofficial-complete"
    precincts = [u for u in root.iter("GpUnit") if u.findtext("Type") == "precinct"]
    assert len(precincts) == len(honest_tallies(4, DEPTS))
    document = json.loads(files["honest"].read_text(encoding="utf-8"))
    document["stations"][0]["counts"]["ballots"] = None
    unread = plume(
        "export-cdf",
        _write(files["folder"] / "unread.json", document),
        "--out",
        target,
        "--status",
        "certified",
    )
    assert unread.returncode == 1 and "unread counts ballots" in unread.stderr
