"""``plume agent enrol|close|run --centre`` against the real ingest on loopback."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from hardware_sim.pty_port import PtyPen
from pen.batches import closing_code, parse_batch
from plume.cli import main
from station_agent.closing import STATION_CLOSED
from station_agent.identity import key_path
from station_agent.journal import Journal
from station_agent.results import READING_MESSAGES, fetch_reading, value_lines
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
    # the 3 events and the StationClosed note wait in the journal
    assert "cannot be reached" in captured.err and "4 event(s)" in captured.err
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
            with Journal.open(db) as j:  # a second reader, as the president's status would be
                # the 4 events and the pen's hello, clock and status: all acknowledged
                while not (j.stats().events > 4 and j.backlog() == 0):
                    assert time.monotonic() < deadline, "not everything uploaded"
                    time.sleep(0.05)
        finally:
            proc.terminate()
            out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert '"event": "Upload"' in out and '"last_ack_seq": 1' in out
    assert centre.stored()


def _summaries(centre: Centre) -> list[dict[str, object]]:
    return [ev.summary or {} for _, body in centre.stored() for ev in parse_batch(body).events]


def test_close_journals_station_closed_before_the_flush_once(
    centre: Centre, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "station" / "journal.sqlite"
    enrol = ["agent", "enrol", "--station", SID, "--centre", centre.base, "--journal", str(db)]
    assert main([*enrol, "--code", centre.code]) == 0
    with Journal.open(db) as j:
        _journal_events(j, 3)
    close = ["agent", "close", "--journal", str(db), "--centre", centre.base, "--station", SID]
    t0 = int(time.time() * 1000)
    assert main(close) == 0
    summaries = _summaries(centre)
    assert len(summaries) == 4
    last = summaries[-1]  # the centre gets the note after every pen event, in the last batch
    assert (last["source"], last["kind"], last["code"]) == ("agent", STATION_CLOSED, "")
    assert isinstance(last["detail"], str)
    closed_at = json.loads(last["detail"])["closed_at_ms"]
    assert t0 <= closed_at <= int(time.time() * 1000)
    out = capsys.readouterr().out
    # no token, no values read: said plainly after the code, and the close succeeds
    said = out[out.index("closing code") :]
    assert "PV values: " in said
    assert any(m in said for m in (READING_MESSAGES["not_yet"], READING_MESSAGES["no_access"]))
    assert main(close) == 0  # again with nothing new: no second note, same chain
    assert len(_summaries(centre)) == 4 and len(centre.stored()) == 1
    with Journal.open(db) as j:
        _journal_events(j, 1, start=3)
    assert main(close) == 0  # a late event: a new note after it
    kinds = [s["kind"] for s in _summaries(centre)]
    assert kinds == ["PenDown"] * 3 + [STATION_CLOSED, "PenDown", STATION_CLOSED]


def test_close_unreachable_then_retried_sends_one_note(
    centre: Centre, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "station" / "journal.sqlite"
    enrol = ["agent", "enrol", "--station", SID, "--centre", centre.base, "--journal", str(db)]
    assert main([*enrol, "--code", centre.code]) == 0
    with Journal.open(db) as j:
        _journal_events(j, 2)
    dead = f"http://127.0.0.1:{free_port()}"
    args = ["agent", "close", "--journal", str(db), "--station", SID, "--centre"]
    assert main([*args, dead]) == 1
    assert main([*args, centre.base]) == 0
    kinds = [s["kind"] for s in _summaries(centre)]
    assert kinds == ["PenDown", "PenDown", STATION_CLOSED]


def test_value_lines_flatten_any_json() -> None:
    data = {"station_id": SID, "fields": {"valid": 412, "candidate_1": 97}, "flags": [None, True]}
    assert value_lines(data) == [
        f"station_id: {SID}",
        "fields.valid: 412",
        "fields.candidate_1: 97",
        "flags[0]: —",
        "flags[1]: True",
    ]


STAND_IN = "http://centre.stand-in"


def test_fetch_reading_sends_the_token_and_says_each_state() -> None:
    seen: list[str | None] = []

    def results_stand_in(request: httpx.Request) -> httpx.Response:
        """STAND-IN for the centre's GET /v1/results/stations/{id}, built on another
        branch: 401 without a token, the values with one."""
        seen.append(request.headers.get("authorization"))
        assert request.url.path == f"/v1/results/stations/{SID}"
        if request.headers.get("authorization") != "Bearer T0K":
            return httpx.Response(401, json={"error": {"code": "AUTH.401", "message": "no"}})
        if len(seen) == 2:
            return httpx.Response(404, json={"error": {"code": "RESULTS.404", "message": "no"}})
        if len(seen) == 3:
            return httpx.Response(200, content=b"<html>proxy page</html>")
        return httpx.Response(200, json={"fields": {"valid": 412}})

    with httpx.Client(transport=httpx.MockTransport(results_stand_in)) as stand_in:
        states = [fetch_reading(stand_in, STAND_IN, SID, t).status for t in (None, "T0K", "T0K")]
        got = fetch_reading(stand_in, STAND_IN, SID, "T0K")
    assert states == ["no_access", "not_yet", "unavailable"]
    assert (got.status, got.lines) == ("read", ("fields.valid: 412",))
    assert seen == [None, "Bearer T0K", "Bearer T0K", "Bearer T0K"]
    with httpx.Client() as real:
        dead = f"http://127.0.0.1:{free_port()}"
        assert fetch_reading(real, dead, SID, None).status == "unavailable"
