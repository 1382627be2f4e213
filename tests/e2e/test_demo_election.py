"""``plume demo`` as a user runs it: ingest, pens on ptys, real agents, real HTTP.

Six stations: the sixth (index 5) is given a pen correction, so the summary
must show findings for it and none for the honest ones.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_a_compressed_day_end_to_end(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "plume", "demo", "--stations", "6", "--day-seconds", "30",
         "--out", str(tmp_path), "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout)
    assert out["stations"] == out["stations_reporting"] == out["stations_closed"] == 6
    assert all(re.fullmatch(r"[A-Z2-7]{4}-[A-Z2-7]{4}", c) for c in out["closing_codes"].values())
    assert out["close_errors"] == {}
    assert out["pv_complete"] >= 3  # the others wait in the review queue
    assert sum(c["votes"] for c in out["candidates"]) == out["totals"]["valid"] > 0
    scenarios = out["scenarios"]
    flagged = set(out["findings_by_station"])
    cheat = [sid for sid, label in scenarios.items() if label == "pen_correction"]
    assert len(cheat) == 1 and cheat[0] in flagged
    honest_flagged = {
        sid: codes
        for sid, codes in out["findings_by_station"].items()
        if scenarios.get(sid) == "honest" and any(c.startswith("F.") for c in codes)
    }
    assert honest_flagged == {}
    assert json.loads((tmp_path / "summary.json").read_text()) == out
    assert out["api_docs"].endswith("/docs")
