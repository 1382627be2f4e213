"""Chaos over a compressed polling-station day: the agent is killed, the pen unplugged,
the centre cut off and restarted; at the end the pen's frames are at the centre once.

Everything is real: a :class:`~hardware_sim.pty_port.PtyPen` on a pty, ``plume agent
run`` as a subprocess (killed with SIGKILL >= 20 times and restarted; frozen with
SIGSTOP for a moment before each of the two unplugs, which fall while the pen writes,
so that the cable takes the frames sent meanwhile with it), ``plume serve`` as a
subprocess on loopback over SQLite (stopped for a while, killed and restarted), and
``plume agent close`` at the end. Two subclasses only *record* (they change no
behaviour): :class:`RecordingPtyPen` keeps a copy of every byte the pen put on the
line, per connection, and :class:`RecordingPen` keeps each offline batch as sealed.
That is the ground truth the centre's stored batches are compared with, frame by
frame and byte for byte.

The pen speaks pen protocol v2 (docs/pen-protocol.md, "Live acknowledgement"): it
keeps every frame of a live session until the agent acknowledges it (``LiveAck``, sent
only once the frames are committed to the journal), and sends what is not acknowledged
again, byte for byte, in its own session (``Resent``) after the next handshake. So the
frames a killed agent had read and not journaled, and those in the pty when the cable
was pulled, come again; the agent journals each once (its ledger of each session's next
frame, :mod:`station_agent.live_acks`). The ground truth is every frame the pen put on
the line, in every connection, live or re-sent (a re-sent copy is the same frame, not a
new one). The test requires, and prints the counts of (emitted, received, lost,
duplicated): every such frame at the centre exactly once, byte-identical, in its own
pen session, in the pen's order; every offline batch there whole and once; no frame
from a session the pen never made; every journaled event at the centre exactly once;
the hash chain verifying; and the pen holding nothing unacknowledged at the end.

``PLUME_CHAOS_SEED`` changes the seed (the timeline and the kill moments); the default
is fixed.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from hardware_sim.day import simulate_day
from hardware_sim.device import PenConfig, SimulatedPen
from hardware_sim.pty_port import PtyPen
from hardware_sim.stations import pick_stations
from ingest.db import create_schema, make_engine
from ingest.stations import create_kits
from pen.batches import ChainVerifier, Verdict, closing_code, parse_batch
from pen.ink import Ink, Stroke
from pen.wire import Hello, Received, StreamDecoder
from tests.live_ingest import free_port
from tests.pen_host import in_order, line_sessions

ROOT = Path(__file__).resolve().parents[2]
SEED = int(os.environ.get("PLUME_CHAOS_SEED", "20111009"))
KILLS = 22
WINDOW_S = 110.0
"""Real seconds of chaos (the day's ink is written in this window)."""
CONTACTS = 2
FREEZE_S = 0.8
"""How long the laptop freezes (the agent reads nothing) before each unplug."""
"""Contact forms written before the PV (each about 60 strokes)."""


class RecordingPen(SimulatedPen):
    """Records each offline batch's data when the pen seals it (on the next connect)."""

    def __init__(self, config: PenConfig, now_ms: int) -> None:
        super().__init__(config, now_ms)
        self.sealed: dict[int, bytes] = {}

    def _seal(self) -> None:
        if self._open is not None:
            self.sealed[self._open.batch_id] = bytes(self._open.data)
        super()._seal()


class RecordingPtyPen(PtyPen):
    """A real PtyPen that keeps a copy of what it wrote to the line, per pen connection."""

    def __init__(self, pen: SimulatedPen, path: Path) -> None:
        super().__init__(pen, path=path)
        self.sent: dict[int, bytearray] = {}

    def _write_master(self, data: bytearray) -> int:
        n = super()._write_master(data)
        if n:
            self.sent.setdefault(self.connections, bytearray()).extend(data[:n])
        return n


def compressed_day(serial: str) -> list[tuple[float, Ink]]:
    """(real seconds from the start, ink) episodes: contact forms, then the PV.

    The strokes keep their own timing (75 Hz); the pauses between strokes and
    between voters are compressed so the day fits in :data:`WINDOW_S`.
    """
    station = pick_stations(1, seed=3)[0]
    day = simulate_day(station, seed=1, contact_rate=0.05)
    episodes = [c.ink for c in day.contacts[:CONTACTS]] + [day.pv.ink]
    out: list[tuple[float, Ink]] = []
    at = 2.0
    for ink in episodes:
        strokes: list[Stroke] = []
        t = float(ink[0].start_ms)
        for s in ink.by_time():
            pts = s.points.copy()
            pts[:, 2] += t - pts[0, 2]
            strokes.append(Stroke(pts, serial, s.page, s.raw, s.unit_mm))
            t = float(pts[-1, 2]) + 60.0  # the next stroke 60 ms after this one ends
        out.append((at, Ink.of(strokes)))
        at += (t - float(ink[0].start_ms)) / 1000 + 4.0
    assert at < WINDOW_S, f"the day does not fit in {WINDOW_S} s ({at:.0f} s)"
    return out


@dataclass
class Centre:
    """``plume serve`` as a subprocess on a fixed loopback port over one SQLite file."""

    db: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, log: Path) -> None:
        env = {**os.environ, "PLUME_DATABASE_URL": f"sqlite:///{self.db}"}
        cmd = [sys.executable, "-m", "plume", "serve", "--port", str(self.port)]
        with log.open("ab") as out:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=out)
        deadline = time.monotonic() + 30
        while True:
            assert self.proc.poll() is None, f"plume serve exited; see {log}"
            assert time.monotonic() < deadline, "plume serve did not start in 30 s"
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        self.starts += 1

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=20)
            self.proc = None

    def bodies(self, station_id: str) -> list[tuple[int, bytes]]:
        con = sqlite3.connect(self.db)
        try:
            rows = con.execute(
                "SELECT seq, body FROM batches WHERE station_id=? ORDER BY seq", (station_id,)
            ).fetchall()
        finally:
            con.close()
        return [(int(r[0]), bytes(r[1])) for r in rows]


@dataclass
class Agent:
    """``plume agent run`` as a subprocess, killed and restarted at will."""

    cmd: list[str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    kills: int = 0

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(self.cmd, cwd=ROOT, stdout=out, stderr=out)

    def kill(self) -> None:
        assert self.proc is not None and self.proc.poll() is None, f"agent died; see {self.log}"
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        self.proc = None
        self.kills += 1

    def freeze(self) -> subprocess.Popen[bytes] | None:
        """SIGSTOP the agent (a frozen laptop); None if none is running."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return None
        os.kill(proc.pid, signal.SIGSTOP)
        return proc

    def thaw(self, proc: subprocess.Popen[bytes] | None) -> None:
        if proc is not None:
            with contextlib.suppress(ProcessLookupError):  # killed meanwhile
                os.kill(proc.pid, signal.SIGCONT)

    def terminate(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=60)
        self.proc = None
        return code


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"not in {timeout} s: {what}"
        time.sleep(0.1)


def journal_keys(db: Path) -> list[str]:
    con = sqlite3.connect(db)
    try:
        return [r[0] for r in con.execute("SELECT key FROM events ORDER BY id")]
    finally:
        con.close()


@pytest.mark.slow
def test_a_day_of_chaos_loses_and_doubles_nothing_the_pen_emitted(tmp_path: Path) -> None:
    t_start = time.monotonic()
    rng = random.Random(SEED)
    serial, sid = "SIM-CHAOS-A", "01004-0008"
    centre = Centre(tmp_path / "ingest.db")
    engine = make_engine(f"sqlite:///{centre.db}")
    create_schema(engine)
    code = create_kits(engine, [sid])[sid]
    engine.dispose()
    centre.start(tmp_path / "centre.log")
    journal = tmp_path / "station" / "journal.sqlite"
    enrol = [sys.executable, "-m", "plume", "agent", "enrol", "--station", sid, "--code", code]
    enrol += ["--centre", centre.url, "--journal", str(journal)]
    subprocess.run(enrol, cwd=ROOT, check=True, capture_output=True)

    pen = RecordingPen(PenConfig(serial=serial, chunk_size=256), time.time_ns() // 1_000_000)
    port = RecordingPtyPen(pen, tmp_path / "pen")
    run = [sys.executable, "-m", "plume", "agent", "run", "--port", str(port.path), "--events"]
    run += ["--journal", str(journal), "--centre", centre.url, "--station", sid, "--kit", serial]
    agent = Agent(run, tmp_path / "agent.log")

    # The timeline: ink episodes, two unplugs, a network cut, a centre crash; and, in
    # a thread, >= KILLS kills, each at a random moment after the pen connected.
    day = compressed_day(serial)
    actions: list[tuple[float, str, object]] = [(t, "write", ink) for t, ink in day]
    for _ in range(2):  # each while the pen writes
        at, ink = rng.choice(day)
        writing = (ink[-1].end_ms - ink[0].start_ms) / 1000
        actions += [(at + rng.uniform(0.5, writing - 1.5), "unplug", rng.uniform(1.0, 4.0))]
    cut_at = rng.uniform(20, WINDOW_S - 45)
    actions += [(cut_at, "cut", None), (cut_at + rng.uniform(15, 25), "uncut", None)]
    actions += [(rng.uniform(cut_at + 30, WINDOW_S - 2), "crash_centre", None)]
    actions.sort(key=lambda a: a[0])
    killer_rng = random.Random(SEED + 1)
    killer_error: list[BaseException] = []
    done = threading.Event()
    restarted_at = [0]  # the pen's connection count when the agent last started

    def killer() -> None:
        try:
            while agent.kills < KILLS and not done.is_set():
                seen = port.connections

                def up(seen: int = seen) -> bool:
                    return port.connections > seen or done.is_set()

                wait_until(up, 30, "the agent to connect")
                time.sleep(killer_rng.uniform(0.0, 2.5))
                agent.kill()
                time.sleep(killer_rng.uniform(0.05, 1.0))
                restarted_at.append(port.connections)
                agent.start()
        except BaseException as exc:  # reported by the main thread
            killer_error.append(exc)

    port.start()
    agent.start()
    unplugged = 0
    kills = threading.Thread(target=killer, name="killer")
    kills.start()
    try:
        t0 = time.monotonic()
        for at, what, arg in actions:
            time.sleep(max(0.0, t0 + at - time.monotonic()))
            if what == "write":
                assert isinstance(arg, Ink)
                port.write(arg, retime=True)
            elif what == "unplug":
                # The laptop freezes while the pen writes (the agent reads nothing), then
                # the cable is pulled: what the pen sent meanwhile dies with the pty.
                frozen = agent.freeze()
                time.sleep(FREEZE_S)
                port.stop()  # the pty and its path disappear
                agent.thaw(frozen)
                unplugged += 1
                assert isinstance(arg, float)
                time.sleep(arg)
                port.start()
            elif what == "cut":
                centre.stop()
            elif what == "uncut":
                centre.start(tmp_path / "centre.log")
            elif what == "crash_centre":
                centre.stop(signal.SIGKILL)
                centre.start(tmp_path / "centre.log")
        kills.join(timeout=180)
        assert not kills.is_alive() and not killer_error, killer_error
        assert agent.kills >= KILLS
        # The day is over: every stroke written, every offline batch committed.
        wait_until(lambda: port.connections > restarted_at[-1], 30, "the last agent to connect")
        wait_until(lambda: pen.pending_messages == 0, 120, "the pen to write all its ink")
        wait_until(lambda: not pen.stored_batches, 60, "the offline batches to be committed")
        unacked = lambda: port.call(lambda p, now: p.unacked_frames)  # noqa: E731
        wait_until(lambda: unacked() == 0, 60, "the agent to acknowledge every frame")
        assert agent.terminate() == 0
    finally:
        done.set()  # stops the killer if the test failed early
        kills.join(timeout=60)
        if agent.proc is not None:
            agent.proc.kill()
        port.stop()
    assert port.error is None, port.error

    close = [sys.executable, "-m", "plume", "agent", "close", "--journal", str(journal)]
    close += ["--centre", centre.url, "--station", sid]
    closed = subprocess.run(close, cwd=ROOT, capture_output=True, text=True, timeout=120)
    centre.stop()
    assert closed.returncode == 0, closed.stderr

    # --- what the centre holds -------------------------------------------------------
    stored = centre.bodies(sid)
    verifier = ChainVerifier(sid)
    live: dict[str, list[bytes]] = {}
    batch: dict[str, list[bytes]] = {}
    keys: list[str] = []
    for _, body in stored:
        parsed = parse_batch(body)
        assert verifier.accept(parsed).verdict is Verdict.ACCEPTED
        for ev in parsed.events:
            s = ev.summary or {}
            keys.append(str(s["key"]))
            if s["code"] == "" and s["source"] in ("live", "batch") and ev.raw:
                group = live if s["source"] == "live" else batch
                group.setdefault(str(s["pen_session"]), []).append(ev.raw)
    assert verifier.head is not None
    m = re.search(r"closing code: (\S+)", closed.stdout)
    assert m and m.group(1) == closing_code(verifier.head.hash)

    # --- compare with what the pen emitted -------------------------------------------
    emitted_by_session = line_sessions([bytes(port.sent[n]) for n in sorted(port.sent)], serial)
    emitted = received = lost = duplicated_frames = 0
    misplaced: list[str] = []
    for session, by_seq in sorted(emitted_by_session.items()):
        want = in_order(by_seq)
        got = live.pop(session, [])
        emitted += len(want)
        received += len(got)
        counts = Counter(got)
        lost += sum(1 for f in want if f not in counts)
        duplicated_frames += sum(c - 1 for c in counts.values())
        if got != want:
            misplaced.append(session)
    invented = sum(len(frames) for frames in live.values())  # sessions the pen never made
    batch_frames = 0
    for batch_id, data in sorted(pen.sealed.items()):
        sent = in_order(line_sessions([data], serial)[f"{serial}@{_batch_hello(data)}"])
        got = batch.pop(f"{serial}#batch{batch_id}", [])
        assert got == sent, f"offline batch {batch_id} differs at the centre"
        batch_frames += len(sent)
    assert not batch, f"batches the pen never made: {list(batch)}"
    duplicated = sum(c - 1 for c in Counter(keys).values())
    journaled = journal_keys(journal)

    elapsed = time.monotonic() - t_start
    print(
        f"\nchaos (seed {SEED}): {agent.kills} agent kills, {unplugged} unplugs, 1 network cut, "
        f"{centre.starts - 1} centre restarts, {len(port.sent)} pen connections, "
        f"{len(emitted_by_session)} live pen sessions, {len(pen.sealed)} offline batches, "
        f"{len(stored)} batches at the centre\n"
        f"emitted {emitted + batch_frames} frames ({emitted} live, {batch_frames} offline); "
        f"received {received + batch_frames}; lost {lost}; duplicated {duplicated_frames} "
        f"(frames), {duplicated} (journal keys); {pen.resent_frames} frames re-sent by the pen; "
        f"journal events {len(journaled)} = at the centre {len(keys)}; {elapsed:.0f} s"
    )
    assert lost == 0 and duplicated_frames == 0 and invented == 0, (lost, duplicated_frames)
    assert not misplaced, f"frames out of the pen's order in {misplaced}"
    assert duplicated == 0
    assert sorted(keys) == sorted(journaled), "journal and centre differ"
    assert len([k for k in keys if k.startswith("agent:closed:")]) == 1


def _batch_hello(data: bytes) -> int:
    """The pen clock in the hello an offline batch's data starts with."""
    (first, *_) = StreamDecoder().feed(data)
    assert isinstance(first, Received) and isinstance(first.message, Hello)
    return first.message.pen_clock_ms
