"""Batch intake of ingest under load: N station agents over loopback HTTP, points/s stored.

The server is the real ``plume serve`` (uvicorn) in its own process(es), on a
fresh SQLite file or a fresh PostgreSQL schema; the client is one asyncio
process in which every simulated station holds its own keep-alive HTTP/1.1
connection, its own Ed25519 key (enrolled over HTTP with its kit code) and its
own hash chain, and sends one batch at a time, in order, as the agent does.

What a station sends. Strokes written by :class:`hardware_sim.handwriting.Writer`
(real glyphs) on PV count fields are cut into pen wire frames (pen-down, page,
dots of 8, pen-up); each frame becomes a batch event with the agent's own
summary (:mod:`station_agent.records`, :mod:`station_agent.uploader`). Each
station starts at another place in that pool of writing. Two modes:

- ``steady``: the pen writes without pause at 100 Hz (the top of a pen's
  75-100 points/s while the nib is down; people pause, so a real station
  averages far less) and the agent uploads as its upload policy says
  (:class:`station_agent.closing.UploadLoop`): a batch that is not full is
  followed by the next :data:`~station_agent.closing.UPLOAD_INTERVAL_S` after it
  started, so each batch carries one interval of writing (2 s: ~200 points in
  ~40 frames) and a station starts one batch per interval (``--interval`` S
  models another linger, e.g. 1 for the former 1-second model). Stations are
  spread evenly over the interval. A station that falls behind sends its next
  batch as soon as the last is acknowledged (it never has two in flight); the
  agent would then send fewer, bigger batches, so the bench is pessimistic there.
- ``catchup``: stations come back after an outage with a backlog and send it
  back to back in full batches of :data:`~station_agent.uploader.BATCH_EVENTS`
  events (~2,500 points each), as the policy sends full batches; measures the
  most the server can store.

The server runs intake only (``PLUME_PIPELINE_ENABLED=false``: the pipeline
loop that assembles and reads the stored batches is measured by
bench/pipeline.py); ``--pipeline`` runs it in the server too.

Every batch is built and signed before the clock starts (in 2 processes), and
every station enrols and sends its first batch of the day (which the server
decides on the station's row, once a day) before it too. At the end the stored
batches are read back from the database: a batch counts only if its stored hash
is the one sent (every one must be); points/s = points of the timed batches /
time from the first send to the last acknowledgement. Latency is from writing
the request to reading the whole answer. CPU seconds of the client, of the
server process tree and (PostgreSQL) of the postgres processes serving it are
read from /proc over the same window.

    python bench/ingest.py [--db sqlite|postgres|both] [--stations 100,1000]
        [--seconds 20] [--interval S] [--mode steady|catchup|both] [--workers 1]
        [--pipeline] [--quick] [--pg-url URL] [--json out.json] [--profile PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import dataclasses
import importlib.util
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import create_engine, make_url, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import print_table, write_json
from hardware_sim.glyphs import GlyphBank
from hardware_sim.handwriting import Writer
from ingest.db import Base, StoredBatch, create_schema, make_engine, session
from ingest.stations import create_kits
from pen.batches import (
    GENESIS_HASH,
    BatchEvent,
    batch_hash,
    encode_batch,
    make_batch,
    public_key_bytes,
    sign_batch,
)
from pen.forms import load_form
from pen.page import PageAddress
from pen.wire import Dots, Received, stroke_messages
from station_agent.closing import UPLOAD_INTERVAL_S
from station_agent.journal import Entry, EventRecord
from station_agent.records import PenContext, message_record
from station_agent.uploader import BATCH_EVENTS
from station_agent.uploader import _summary as agent_summary

ROOT = Path(__file__).resolve().parent.parent
TARGET_POINTS_PER_S = 100_000
TARGET_P99_MS = 250.0
PEN_HZ = 100.0
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/plume_benchingest"
POOL_POINTS = 50_000
"""Most points of handwriting the stations share, each starting elsewhere in it."""
PEN = PenContext("AJX-1", "1800000000000")


# --- what the stations send ----------------------------------------------------------------


def writing_pool(points: int, seed: int = 0) -> list[tuple[EventRecord, int]]:
    """At least ``points`` points of handwriting as the agent's event records, with dots."""
    counts = [f for f in load_form("pv").fields if f.kind == "count"]
    rng = np.random.default_rng(seed)
    page = PageAddress(70, 12, 3, 41)
    out: list[tuple[EventRecord, int]] = []
    bank = GlyphBank.load()
    total, stroke_no, t, writer_seed = 0, 0, 1_800_000_000_000.0, seed
    while total < points:
        writer = Writer(seed=writer_seed, rate_hz=PEN_HZ, bank=bank)
        writer_seed += 1
        for f in counts:
            value = str(int(rng.integers(0, 10 ** len(f.boxes))))
            for stroke in writer.write_field(value, f, t, pen_serial="AJX-1", page=page):
                for msg in stroke_messages(stroke, stroke_no):
                    n = len(msg.dots) if isinstance(msg, Dots) else 0
                    rec = message_record(Received(len(out) % 65536, msg, 0), PEN, "")
                    out.append((rec, n))
                    total += n
                stroke_no += 1
                t = stroke.end_ms + 200
    return out


@dataclass(frozen=True, slots=True)
class Plan:
    mode: str
    batches: int
    """Batches per station."""
    interval_s: float = UPLOAD_INTERVAL_S
    """Seconds of writing in a steady batch, and between a station's steady batches."""

    @property
    def steady_points(self) -> int:
        return round(PEN_HZ * self.interval_s)


@dataclass(frozen=True, slots=True)
class Outgoing:
    seq: int
    body: bytes
    hash: str
    points: int


_POOL: list[tuple[EventRecord, int]] = []


def _init_pool(points: int) -> None:
    _POOL[:] = writing_pool(points)


def build_station(job: tuple[str, bytes, int, Plan]) -> list[Outgoing]:
    """One station's signed, chained batches (run in a worker process)."""
    sid, private, start, plan = job
    key = Ed25519PrivateKey.from_private_bytes(private)
    out: list[Outgoing] = []
    prev, i, entry_id = GENESIS_HASH, start, 1
    want = plan.steady_points if plan.mode == "steady" else None
    for seq in range(1, plan.batches + 2):  # and the first of the day, sent before the clock
        events: list[BatchEvent] = []
        points = 0
        while (len(events) < BATCH_EVENTS) if want is None else (points < want):
            rec, n = _POOL[i % len(_POOL)]
            rec = dataclasses.replace(rec, key=f"live:{entry_id}")
            entry = Entry(entry_id, 1, 1_800_000_000_000 + entry_id * 10, rec)
            events.append(BatchEvent(rec.frame, agent_summary(entry)))
            points += n
            i += 1
            entry_id += 1
        batch = sign_batch(make_batch(sid, seq, prev, events, 1_800_000_000_000 + seq), key)
        prev = batch_hash(batch)
        out.append(Outgoing(seq, encode_batch(batch), prev, points))
    return out


# --- the server ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


_PROFILED = """import cProfile, sys, time
from plume.cli import main
prof = cProfile.Profile(time.thread_time)
prof.enable()
try:
    main(sys.argv[1:])
finally:
    prof.disable()
    prof.dump_stats({path!r})
"""


@dataclass(frozen=True, slots=True)
class Server:
    """How ``plume serve`` runs."""

    workers: int = 1
    pipeline: bool = False
    """Run the pipeline loop in the service too (off: intake only)."""
    profile: Path | None = None
    """cProfile the main thread into this file (1 worker)."""


def start_server(url: str, port: int, server: Server, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PLUME_DATABASE_URL": url}
    env["PLUME_PIPELINE_ENABLED"] = "true" if server.pipeline else "false"
    cmd = [sys.executable, "-m", "plume"]
    if server.profile:  # the main thread's CPU time (not wall time: the machine is shared)
        cmd[1:] = ["-c", _PROFILED.format(path=str(server.profile))]
    cmd += ["serve", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--no-access-log"]  # the app still logs every accepted batch (structlog)
    if server.workers > 1:
        cmd += ["--workers", str(server.workers)]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"GET /ready HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n")
                if s.recv(64).startswith(b"HTTP/1.1 200"):
                    return proc
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"plume serve did not start; see {log}:\n{log.read_text()[-2000:]}")
        time.sleep(0.2)


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


_TICK = os.sysconf("SC_CLK_TCK")


def _cpu_s(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


def _tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        with contextlib.suppress(OSError):
            todo += [int(c) for c in Path(f"/proc/{p}/task/{p}/children").read_text().split()]
    return pids


def ensure_database(url: str) -> None:
    """Create the bench's PostgreSQL database (``--pg-url``) if the server lacks it."""
    u = make_url(url)
    admin = create_engine(u.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            q = text("SELECT 1 FROM pg_database WHERE datname = :d")
            if conn.scalar(q, {"d": u.database}) is None:
                conn.execute(text(f'CREATE DATABASE "{u.database}"'))
    finally:
        admin.dispose()


def _pg_pids(engine: Any) -> list[int]:
    q = text(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
        "OR backend_type IN ('walwriter', 'checkpointer', 'background writer')"
    )
    with engine.connect() as conn:
        return [int(p) for p in conn.scalars(q)]


# --- the stations --------------------------------------------------------------------------


class Http:
    """A minimal keep-alive HTTP/1.1 client (cheap, so that the server is what is measured).

    Like any agent's client it opens a new connection when the server has closed the
    idle one (uvicorn closes keep-alive connections after 5 s idle) and sends again:
    intake is idempotent, so a batch sent twice is stored once.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.reconnects = 0

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode("ascii")
        return await self._send(head, body)

    async def get(self, path: str) -> tuple[int, bytes]:
        return await self._send(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode(), b"")

    async def _send(self, head: bytes, body: bytes) -> tuple[int, bytes]:
        for attempt in range(2):
            if self.writer is None or self.writer.is_closing():
                self.reader, self.writer = await asyncio.open_connection(
                    "127.0.0.1", self.port, limit=1 << 20
                )
            assert self.reader is not None
            self.writer.writelines((head, body))
            try:
                answer = await self.reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                self.close()
                if attempt:
                    raise
                self.reconnects += 1
                continue
            status = int(answer[9:12])
            length = 0
            for line in answer.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            return status, await self.reader.readexactly(length)
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.writer = None


@dataclass
class Tally:
    latencies: list[float]
    lags: list[float]
    sends: list[float]
    """When each timed batch was sent, in seconds from the start (with ``latencies``)."""
    acked: dict[tuple[str, int], str]
    errors: list[str]
    reconnects: int = 0
    first_send: float = float("inf")
    last_ack: float = 0.0


KEEP_ALIVE_S = 3.0
"""While they wait for the start, stations ask ``GET /health`` this often, so that
uvicorn (which closes a connection idle for 5 s) keeps their connections, as an
agent uploading every 2 s keeps its own; else the first timed batches would all
meet a closed connection and reconnect at once."""


@dataclass
class Run:
    """What every station of one run shares: the port, the start line and the pace."""

    port: int
    stations: int
    interval_s: float | None
    """Seconds between a station's batches (steady), None to send back to back (catch-up)."""
    start: float = 0.0
    waiting: int = 0
    ready: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    """Every station has enrolled and sent its first batch."""
    go: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)

    async def wait_for_start(self, http: Http) -> None:
        self.waiting += 1
        if self.waiting == self.stations:
            self.ready.set()
        while not self.go.is_set():
            try:
                await asyncio.wait_for(self.go.wait(), KEEP_ALIVE_S)
            except TimeoutError:
                await http.get("/health")


async def station(
    sid: str,
    code: str,
    private: bytes,
    batches: list[Outgoing],
    phase: float,
    run: Run,
    tally: Tally,
) -> None:
    """One agent: enrol, send its first batch of the day, wait for the start, then send
    the others in order, one at a time."""
    port, interval_s = run.port, run.interval_s
    offset_s = phase * interval_s if interval_s else 0.0
    http = Http(port)
    pub = base64.b64encode(public_key_bytes(Ed25519PrivateKey.from_private_bytes(private)))
    enrol = b'{"code":"%s","public_key":"%s"}' % (code.encode(), pub)
    status, answer = await http.post(f"/v1/stations/{sid}/enrol", enrol)
    if status != 201:
        tally.errors.append(f"{sid} enrol {status} {answer[:200]!r}")
    path = f"/v1/stations/{sid}/batches"
    first, batches = batches[0], batches[1:]
    status, answer = await http.post(path, first.body)  # once a day: before the clock
    if status == 201:
        tally.acked[(sid, first.seq)] = first.hash
    else:
        tally.errors.append(f"{sid} seq {first.seq}: {status} {answer[:200]!r}")
    await run.wait_for_start(http)
    loop = asyncio.get_running_loop()
    for k, b in enumerate(batches):
        due = run.start + offset_s + k * (interval_s or 0.0)
        now = loop.time()
        if now < due:
            await asyncio.sleep(due - now)
        sent = loop.time()
        tally.first_send = min(tally.first_send, sent)
        try:
            status, answer = await http.post(path, b.body)
        except (OSError, asyncio.IncompleteReadError) as exc:
            tally.errors.append(f"{sid} seq {b.seq}: {exc!r}")
            break
        done = loop.time()
        if status not in (200, 201):
            tally.errors.append(f"{sid} seq {b.seq}: {status} {answer[:200]!r}")
            break
        tally.latencies.append(done - sent)
        tally.sends.append(sent - run.start)
        tally.lags.append(max(0.0, sent - due))
        tally.acked[(sid, b.seq)] = b.hash
        tally.last_ack = max(tally.last_ack, done)
    http.close()
    tally.reconnects += http.reconnects


async def drive(
    kits: dict[str, str],
    keys: dict[str, bytes],
    plans: dict[str, list[Outgoing]],
    port: int,
    plan: Plan,
    on_start: Any,
) -> Tally:
    tally = Tally([], [], [], {}, [])
    n = len(kits)
    run = Run(port, n, plan.interval_s if plan.mode == "steady" else None)
    tasks = [
        asyncio.create_task(station(sid, code, keys[sid], plans[sid], i / n, run, tally))
        for i, (sid, code) in enumerate(kits.items())
    ]
    await run.ready.wait()
    on_start()
    run.start = asyncio.get_running_loop().time()
    run.go.set()
    await asyncio.gather(*tasks)
    return tally


# --- one configuration ---------------------------------------------------------------------


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return float(np.percentile(np.array(values), q))


def run_config(db: str, stations: int, plan: Plan, server: Server, pg_url: str) -> dict[str, Any]:
    """Build, serve, drive and count one configuration; the result row."""
    with tempfile.TemporaryDirectory(prefix="plume-bench-ingest-") as tmp:
        url = f"sqlite:///{tmp}/ingest.db" if db == "sqlite" else pg_url
        if db == "postgres":
            ensure_database(url)
        engine = make_engine(url)
        if db == "postgres":
            Base.metadata.drop_all(engine)
        create_schema(engine)
        sids = [f"B{i:05d}" for i in range(stations)]
        kits = create_kits(engine, sids)
        rng = np.random.default_rng(stations)
        keys = {sid: rng.bytes(32) for sid in sids}
        mode, batches = plan.mode, plan.batches
        t0 = time.perf_counter()
        per_batch = plan.steady_points if mode == "steady" else BATCH_EVENTS * 6
        pool = min(POOL_POINTS, max(5_000, 2 * batches * per_batch))
        with ProcessPoolExecutor(2, initializer=_init_pool, initargs=(pool,)) as ex:
            jobs = [(sid, keys[sid], i * 7919, plan) for i, sid in enumerate(sids)]
            built = dict(zip(sids, ex.map(build_station, jobs, chunksize=8), strict=True))
        build_s = time.perf_counter() - t0
        sent_points = {(sid, b.seq): (b.hash, b.points) for sid in sids for b in built[sid]}
        body_bytes = [len(b.body) for sid in sids for b in built[sid]]

        port = free_port()
        proc = start_server(url, port, server, Path(tmp) / "serve.log")
        pg_pids: list[int] = []
        cpu0: dict[str, float] = {}

        def on_start() -> None:
            cpu0["client"] = time.process_time()
            cpu0["server"] = sum(_cpu_s(p) for p in _tree(proc.pid))
            if db == "postgres":
                pg_pids[:] = _pg_pids(engine)
                cpu0["pg"] = sum(_cpu_s(p) for p in pg_pids)

        load = os.getloadavg()[0]
        try:
            tally = asyncio.run(drive(kits, keys, built, port, plan, on_start))
            client_cpu = time.process_time() - cpu0["client"]
            server_cpu = sum(_cpu_s(p) for p in _tree(proc.pid)) - cpu0["server"]
            pg_cpu = 0.0
            if db == "postgres":
                pids = set(pg_pids) | set(_pg_pids(engine))
                pg_cpu = sum(_cpu_s(p) for p in pids) - cpu0["pg"]
        finally:
            stop_server(proc)
        with session(engine) as s:
            rows = s.execute(select(StoredBatch.station_id, StoredBatch.seq, StoredBatch.hash))
            stored = {(sid, seq): h for sid, seq, h in rows}
        engine.dispose()

    good = [k for k, h in stored.items() if k in sent_points and sent_points[k][0] == h]
    timed = [k for k in good if k[1] > 1]  # the first batch of the day went before the clock
    points = sum(sent_points[k][1] for k in timed)
    wall = max(tally.last_ack - tally.first_send, 1e-9)
    lat = tally.latencies
    return {
        "db": db,
        "mode": mode,
        "stations": stations,
        "workers": server.workers,
        "pipeline": server.pipeline,
        "interval_s": plan.interval_s if mode == "steady" else None,
        "batches_per_station": batches,
        "points_per_batch": statistics.mean(p for _, p in sent_points.values()),
        "body_bytes_mean": statistics.mean(body_bytes),
        "build_s": build_s,
        "sent": len(sent_points),
        "acked": len(tally.acked),
        "stored": len(stored),
        "stored_as_sent": len(good),
        "acked_not_stored": sum(1 for k, h in tally.acked.items() if stored.get(k) != h),
        "errors": tally.errors[:10],
        "error_count": len(tally.errors),
        "reconnects": tally.reconnects,
        "wall_s": wall,
        "points_stored": points,
        "points_per_s": points / wall,
        "batches_per_s": len(timed) / wall,
        "p50_ms": _pct(lat, 50) * 1000,
        "p99_ms": _pct(lat, 99) * 1000,
        "max_ms": max(lat) * 1000 if lat else float("nan"),
        "lag_p99_ms": _pct(tally.lags, 99) * 1000,
        "timeline": timeline(tally),
        "cpu_s": {"client": client_cpu, "server": server_cpu, "postgres": pg_cpu},
        "server_cpu_ms_per_batch": 1000 * (server_cpu + pg_cpu) / max(1, len(timed)),
        "server_cpu_us_per_point": 1e6 * (server_cpu + pg_cpu) / max(1, points),
        "cpu_pct_of_2_cores": {
            k: 100 * v / wall / 2
            for k, v in (("client", client_cpu), ("server", server_cpu), ("postgres", pg_cpu))
        },
        "load_avg_1m_before": load,
    }


def server_extra() -> dict[str, bool]:
    """Whether uvicorn finds the ``server`` extra (it uses httptools and uvloop when there)."""
    return {m: importlib.util.find_spec(m) is not None for m in ("httptools", "uvloop")}


def timeline(tally: Tally) -> list[dict[str, float]]:
    """Latency second by second of the run (by send time): whether a tail is a stall or a queue."""
    by_s: dict[int, list[float]] = {}
    for sent, lat in zip(tally.sends, tally.latencies, strict=True):
        by_s.setdefault(int(sent), []).append(lat)
    return [
        {
            "second": s,
            "batches": len(v),
            "p50_ms": _pct(v, 50) * 1000,
            "p99_ms": _pct(v, 99) * 1000,
            "max_ms": max(v) * 1000,
        }
        for s, v in sorted(by_s.items())
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--stations", default="100,1000", help="comma-separated station counts")
    parser.add_argument("--seconds", type=int, default=20, help="steady run length")
    parser.add_argument(
        "--interval",
        type=float,
        default=UPLOAD_INTERVAL_S,
        help=f"steady: seconds of writing per batch and between batches "
        f"(default {UPLOAD_INTERVAL_S:g}, the agent's upload policy)",
    )
    parser.add_argument("--catchup-batches", type=int, default=600, help="big batches in all")
    parser.add_argument("--mode", choices=["steady", "catchup", "both"], default="both")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument(
        "--pipeline", action="store_true", help="run the pipeline loop in the server too"
    )
    parser.add_argument("--quick", action="store_true", help="CI size: 20 stations, 3 s")
    parser.add_argument("--pg-url", default=os.environ.get("PLUME_BENCH_PG_URL", DEFAULT_PG_URL))
    parser.add_argument("--json", type=Path, default=None, help="where to write the results")
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="cProfile the server's main thread (1 worker) into PATH-<db>-<mode>-<stations>.prof",
    )
    args = parser.parse_args(argv)
    if args.profile and args.workers != 1:
        parser.error("--profile profiles one server process: use --workers 1")
    if args.quick:
        args.stations, args.seconds, args.catchup_batches = "20", 3, 20
    dbs = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    modes = ["steady", "catchup"] if args.mode == "both" else [args.mode]
    counts = [int(c) for c in args.stations.split(",")]

    results = []
    for db in dbs:
        for mode in modes:
            for n in counts:
                if mode == "steady":
                    per = max(1, round(args.seconds / args.interval))
                else:
                    per = max(1, args.catchup_batches // n)
                prof = args.profile and Path(f"{args.profile}-{db}-{mode}-{n}.prof").resolve()
                server = Server(args.workers, args.pipeline, prof or None)
                r = run_config(db, n, Plan(mode, per, args.interval), server, args.pg_url)
                results.append(r)
                print(
                    f"{db} {mode} {n}: {r['points_per_s']:,.0f} points/s, "
                    f"p99 {r['p99_ms']:.0f} ms, {r['error_count']} errors",
                    flush=True,
                )
    rows = [
        [
            r["db"],
            r["mode"],
            f"{r['stations']:,}",
            f"{r['interval_s']:g}" if r["interval_s"] else "-",
            f"{r['points_per_batch']:,.0f}",
            f"{r['stored_as_sent']:,}/{r['sent']:,}",
            f"{r['points_per_s']:,.0f}",
            f"{r['batches_per_s']:,.0f}",
            f"{r['p50_ms']:.0f}",
            f"{r['p99_ms']:.0f}",
            "/".join(f"{r['cpu_pct_of_2_cores'][k]:.0f}" for k in ("client", "server", "postgres")),
            f"{r['server_cpu_ms_per_batch']:.2f}",
            f"{r['server_cpu_us_per_point']:.1f}",
            f"{r['load_avg_1m_before']:.1f}",
        ]
        for r in results
    ]
    what = "intake and pipeline" if args.pipeline else "intake only"
    extra = "installed" if all(server_extra().values()) else "not installed"
    print(
        f"\ningest {what}, {args.workers} uvicorn worker(s), {os.cpu_count()} CPUs, "
        f"server extra (httptools, uvloop): {extra}"
    )
    headers = ["db", "mode", "stations", "every s", "pts/batch", "stored/sent", "points/s"]
    headers += ["batches/s", "p50 ms", "p99 ms", "cpu% cli/srv/pg", "srv ms/batch"]
    headers += ["srv us/point", "load"]
    print_table(headers, rows)
    for r in results:
        if r["mode"] == "steady" and r["stations"] >= 1000:
            ok = r["points_per_s"] >= TARGET_POINTS_PER_S and r["p99_ms"] < TARGET_P99_MS
            verdict = "meets" if ok else "MISSES"
            print(
                f"{r['db']} at {r['stations']:,} stations: {r['points_per_s']:,.0f} points/s, "
                f"p99 {r['p99_ms']:.0f} ms {verdict} the target "
                f"(>= {TARGET_POINTS_PER_S:,} points/s, p99 < {TARGET_P99_MS:.0f} ms)"
            )
    target = {"points_per_s": TARGET_POINTS_PER_S, "p99_ms": TARGET_P99_MS, "stations": 1000}
    path = write_json(
        "ingest",
        {
            "target": target,
            "server_extra": server_extra(),
            "args": vars(args) | {"json": None, "profile": None},
            "results": results,
        },
        args.json,
    )
    print(f"wrote {path}")
    bad = [r for r in results if r["stored_as_sent"] != r["sent"] or r["acked_not_stored"]]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
