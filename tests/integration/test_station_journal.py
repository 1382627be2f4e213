"""The station journal on real SQLite files, including a writer killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from station_agent.journal import ChunkRecord, EventRecord, Journal, JournalError

N_RECORDS = 600

# Writes records k0..k{N-1} (three events each, plus a raw chunk), printing the index of
# each one once its transaction has returned: those are acknowledged and must survive.
WRITER = """
import sys
from station_agent.journal import EventRecord, Journal
journal = Journal.open(sys.argv[1])
cid = journal.begin_connection("test", 0)
for i in range(int(sys.argv[2])):
    events = [EventRecord(f"k{i}:{j}", "live", "PenDown", "SIM-1", "s", seq=i,
                          frame=bytes([i % 256]) * 40) for j in range(3)]
    journal.record(cid, i, events, raw=(i * 40, b"x" * 40))
    print(i, flush=True)
"""


def writer(path: Path, n: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), str(n)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )


def test_a_writer_killed_with_sigkill_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    proc = writer(path, N_RECORDS)
    acked = -1
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 20
        while acked < 50 and time.monotonic() < deadline:
            acked = int(proc.stdout.readline())
        os.kill(proc.pid, signal.SIGKILL)
        for line in proc.stdout:  # acknowledgements already in the pipe count too
            acked = int(line)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert 50 <= acked < N_RECORDS - 1, "the kill must land mid-run"
    with Journal.open(path) as journal:
        assert journal.integrity_check() == "ok"
        keys = [e.event.key for e in journal.entries()]
    assert len(keys) == len(set(keys))
    present = {k for k in keys}
    assert all(f"k{i}:{j}" in present for i in range(acked + 1) for j in range(3))
    # Each record is all or nothing: never one event of a record without the others.
    records = {k.split(":")[0] for k in keys}
    assert len(keys) == 3 * len(records)

    # The restarted writer re-delivers everything from the start: nothing is doubled.
    again = writer(path, N_RECORDS)
    again.communicate(timeout=60)
    assert again.returncode == 0
    with Journal.open(path) as journal:
        keys = [e.event.key for e in journal.entries()]
        assert journal.integrity_check() == "ok"
    assert sorted(keys) == sorted(f"k{i}:{j}" for i in range(N_RECORDS) for j in range(3))


def test_redelivery_is_ignored_and_tables_are_append_only(tmp_path: Path) -> None:
    with Journal.open(tmp_path / "j.db") as journal:
        cid = journal.begin_connection("test", 1)
        ev = EventRecord("a", "live", "PenDown", "SIM-1", "s", frame=b"\xc0\xc1")
        chunk = ChunkRecord("SIM-1", 1, 0xABC, 0, b"data")
        assert journal.record(cid, 1, [ev], raw=(0, b"\xc0\xc1"), chunks=[chunk]) == 1
        assert journal.record(cid, 2, [ev], raw=(0, b"\xc0\xc1"), chunks=[chunk]) == 0
        assert journal.batch_data(cid, "SIM-1", 1, 0xABC, 1) == b"data"
        assert journal.batch_data(cid, "SIM-1", 1, 0xABC, 2) is None
        assert journal.raw_bytes(cid) == b"\xc0\xc1"
    db = sqlite3.connect(tmp_path / "j.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    for sql in ("UPDATE events SET kind='x'", "DELETE FROM events", "DELETE FROM raw_chunks"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            db.execute(sql)
    db.close()


def test_pending_events_until_the_centre_acknowledges(tmp_path: Path) -> None:
    with Journal.open(tmp_path / "j.db") as journal:
        events = [EventRecord(f"k{i}", "live", "Dots", "SIM-1", "s") for i in range(5)]
        journal.record(None, 0, events)
        first = journal.pending(limit=3)
        assert [e.event.key for e in first] == ["k0", "k1", "k2"]
        journal.mark_uploaded(first[-1].id, "batch 1", 10)
        assert [e.event.key for e in journal.pending()] == ["k3", "k4"]
        assert journal.backlog() == 2
        assert journal.stats().backlog == 2


def test_a_journal_of_another_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version=99")
    db.close()
    with pytest.raises(JournalError, match="schema version 99"):
        Journal.open(path)
