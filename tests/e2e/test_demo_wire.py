"""``plume demo --wire-only`` as a user runs it: a real process, real files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from pen.inkml import from_inkml


def run_demo(out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "plume", "demo", "--wire-only", "--out", str(out), "--json", *extra],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_clean_line_delivers_every_stroke_to_its_field(tmp_path: Path) -> None:
    done = run_demo(tmp_path, "--noise", "0")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["anomalies"] == {}
    assert summary["strokes_decoded"] == summary["strokes_written"]
    assert all(f["received"] == f["sent"] > 0 for f in summary["fields"])
    assert summary["outside_strokes"] == 0
    doc = from_inkml((tmp_path / "pv.inkml").read_bytes())
    assert len(doc.ink) == summary["strokes_written"]
    assert {f["field"] for f in summary["fields"]} <= set(doc.fields)
    for name in ("pv.pdf", "contact.pdf"):
        assert (tmp_path / name).read_bytes().startswith(b"%PDF")
    assert "<svg" in (tmp_path / "pv-with-ink.svg").read_text()


def test_line_noise_is_reported_not_hidden(tmp_path: Path) -> None:
    done = run_demo(tmp_path, "--noise", "6", "--seed", "7")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["bytes_damaged"] == 6
    assert sum(summary["anomalies"].values()) >= 1
    lost = summary["strokes_written"] - summary["strokes_decoded"]
    assert lost == sum(f["sent"] - f["received"] for f in summary["fields"])
    assert (tmp_path / "pen-session.bin").stat().st_size > 0
