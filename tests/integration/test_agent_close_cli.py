"""``plume agent enrol|close|run --centre`` against the real ingest on loopback."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hardware_sim.pty_port import PtyPen
from pen.batches import closing_code
from plume.cli import main
from station_agent.identity import key_path
from station_agent.journal import Journal
from tests.integration.test_agent_upload import SID, Centre, _journal_events
from tests.integration.test_agent_upload import centre as centre
from tests.live_ingest import free_port

ROOT = Path(__file__).resolve().parents[2]


def _code(out: str) -> str:
    m = re.search(r"closing code: ([A-Z2-7]{4}-[A-Z2-7]{4})", out)
    assert m, out
    return m.group(1)


def _head(out: str) -> str:
    m = re.search(r"chain head ([0-9a-f]{64})", out)
    assert m, out
    return m.group(1)


def test_enrol_cli_and_refusals(
    centre: Centre, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "station" / "journal.sqlite"
    base = ["agent", "enrol", "--station", SID, "--centre", centre.base, "--journal", str(db)]
    assert main([*base, "--code", "WRONG"]) == 1
    assert "ENROL.403" in capsys.readouterr().err
    assert main([*base, "--code", centre.code]) == 0
    assert "enrolled" in capsys.readouterr().out
    assert key_path(db).exists()
    assert main([*base, "--code", centre.code]) == 0  # a retry with the same key
    assert "already enrolled" in capsys.readouterr().out
    key_path(db).unlink()  # a new key: the code is single use
    assert main([*base, "--code", centre.code]) == 1
    assert "ENROL.409" in capsys.readouterr().err


def test_close_flushes_and_prints_a_code_bound_to_the_chain_head(
    centre: Centre, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "station" / "journal.sqlite"
    enrol = ["agent", "enrol", "--station", SID, "--centre", centre.base, "--journal", str(db)]
    assert main([*enrol, "--code", centre.code]) == 0
    with Journal.open(db) as j:
        _journal_events(j, 7)
    close = ["agent", "close", "--journal", str(db), "--centre", centre.base, "--station", SID]
    capsys.readouterr()
    assert main(close) == 0
    out = capsys.readouterr().out
    head, code = _head(out), _code(out)
    assert code == closing_code(head)
    stored = centre.stored()
    assert [s for s, _ in stored] == [1]
    with Journal.open(db) as j:
        assert j.backlog() == 0
    assert main(close) == 0  # closing again: same head, same code
    assert _code(capsys.readouterr().out) == code

    with Journal.open(db) as j:
        _journal_events(j, 2, start=7)  # more events: a new head, a new code
    assert main(close) == 0
    out = capsys.readouterr().out
    assert _head(out) != head and _code(out) != code
    assert [s for s, _ in centre.stored()] == [1, 2]


def test_close_with_the_centre_unreachable_fails_and_keeps_everything(
    centre: Centre, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "station" / "journal.sqlite"
    enrol = ["agent", "enrol", "--station", SID, "--centre", centre.base, "--journal", str(db)]
    assert main([*enrol, "--code", centre.code]) == 0
    with Journal.open(db) as j:
        _journal_events(j, 3)
    dead = f"http://127.0.0.1:{free_port()}"
    close = ["agent", "close", "--journal", str(db), "--centre", dead, "--station", SID]
    capsys.readouterr()
    t0 = time.monotonic()
    assert main(close) == 1
    assert time.monotonic() - t0 < 60
    captured = capsys.readouterr()
    assert "cannot be reached" in captured.err and "3 event(s)" in captured.err
    assert "closing code" not in captured.out
    assert centre.stored() == []


def test_close_without_enrolment_says_to_enrol(
    centre: Centre, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "journal.sqlite"
    Journal.open(db).close()
    assert main(["agent", "close", "--journal", str(db), "--centre", centre.base,
                 "--station", SID]) == 1  # fmt: skip
    assert "enrol first" in capsys.readouterr().err


def test_run_with_centre_uploads_in_the_background_and_stops_on_sigterm(
    centre: Centre, tmp_path: Path
) -> None:
    db = tmp_path / "station" / "journal.sqlite"
    enrol = ["agent", "enrol", "--station", SID, "--centre", centre.base, "--journal", str(db)]
    assert main([*enrol, "--code", centre.code]) == 0
    with Journal.open(db) as j:
        _journal_events(j, 4)
    with PtyPen(path=tmp_path / "pen", speed=0) as port:
        cmd = [sys.executable, "-m", "plume", "agent", "run", "--port", str(port.path)]
        cmd += ["--journal", str(db), "--events", "--centre", centre.base, "--station", SID]
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 20
            while not centre.stored():
                assert time.monotonic() < deadline, "nothing uploaded"
                time.sleep(0.05)
        finally:
            proc.terminate()
            out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert '"event": "Upload"' in out and '"last_ack_seq": 1' in out
    with Journal.open(db) as j:
        assert j.backlog() == 0
