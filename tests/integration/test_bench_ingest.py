"""bench/ingest.py --quick: every batch the simulated stations sent is stored exactly once.

Correctness only (a CI-sized run of the real benchmark: ``plume serve --workers 2``
in its own processes, agents over loopback HTTP, so a station's reconnection may
land on the worker whose hint of its head is stale); speed is the benchmark's
business, never a test's.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_quick_benchmark_stores_every_batch_sent_exactly_once(tmp_path: Path) -> None:
    out = tmp_path / "ingest.json"
    cmd = [sys.executable, "bench/ingest.py", "--quick", "--db", "sqlite", "--workers", "2"]
    cmd += ["--json", str(out)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    results = json.loads(out.read_text())["results"]
    assert {r["mode"] for r in results} == {"steady", "catchup"}
    for r in results:
        assert r["error_count"] == 0, r["errors"]
        assert r["sent"] == r["acked"] == r["stored"] == r["stored_as_sent"] > 0, r
        assert r["acked_not_stored"] == 0
        assert r["points_stored"] > 0


def test_plume_serve_refuses_zero_workers() -> None:
    from plume.cli import main
    from plume.exit_codes import EXIT_USAGE

    assert main(["serve", "--workers", "0"]) == EXIT_USAGE
