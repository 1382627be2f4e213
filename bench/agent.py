"""CPU and memory of the station agent with one pen writing at 100 Hz, uploading on loopback.

A simulated pen on a real pty (:class:`~hardware_sim.pty_port.PtyPen`, real time)
writes without pause at 100 samples a second (strokes of 1 s, 50 ms apart, 8 dots
a frame) for ``--seconds``; ``plume agent run --events`` reads it as a subprocess,
journals everything (WAL, synchronous=FULL) and uploads to the real ingest served
by uvicorn on 127.0.0.1 (in this process). After ``--warmup`` seconds the agent's
CPU time (utime + stime of all its threads, from ``/proc/PID/stat``) is read
every ``--window`` seconds, and its resident memory (``VmRSS``) every second;
``VmHWM`` is the peak. The table gives the median CPU over the windows (and the
worst window) as a percentage of one core.

    python bench/agent.py [--seconds 60] [--warmup 5] [--window 10] [--json out.json]

Targets: < 2 % of one core, < 80 MB resident.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import structlog

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import print_table, write_json  # noqa: E402
from hardware_sim.device import PenConfig  # noqa: E402
from hardware_sim.pty_port import PtyPen  # noqa: E402
from ingest.stations import create_kits  # noqa: E402
from pen.ink import Ink, Stroke  # noqa: E402
from pen.page import PageAddress  # noqa: E402
from station_agent.identity import enrol, key_path, load_or_create_key  # noqa: E402
from tests.live_ingest import serve_ingest  # noqa: E402

TARGET_CPU_PCT = 2.0
TARGET_RSS_MB = 80.0
RATE_HZ = 100
STROKE_S = 1.0
GAP_MS = 50
SID = "BENCH-0001"
SERIAL = "BENCH-PEN"
TICK = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def continuous_ink(seconds: float, seed: int = 0) -> Ink:
    """Strokes of :data:`STROKE_S` at :data:`RATE_HZ`, one after another, for ``seconds``."""
    rng = np.random.default_rng(seed)
    n = int(STROKE_S * RATE_HZ)
    strokes = []
    t = 0.0
    page = PageAddress(70, 1, 1, 1)
    while t < seconds * 1000:
        times = t + np.arange(n) * (1000 / RATE_HZ)
        strokes.append(
            Stroke.from_arrays(
                40 + np.cumsum(rng.normal(0, 0.2, n)),
                60 + np.cumsum(rng.normal(0, 0.2, n)),
                times,
                rng.uniform(0.2, 1.0, n),
                pen_serial=SERIAL,
                page=page,
            )
        )
        t = float(times[-1]) + GAP_MS
    return Ink.of(strokes)


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def memory_kb(pid: int) -> dict[str, int]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0])
    return out


def count(db: Path, sql: str) -> int:
    con = sqlite3.connect(db)
    try:
        return int(con.execute(sql).fetchone()[0])
    finally:
        con.close()


ENTRIES = {
    "agent": ["-m", "plume.commands.agent"],  # what deploy/plume-agent.service runs
    "plume": ["-m", "plume", "agent"],  # the same verbs through the whole plume CLI
}


def measure(
    seconds: float, warmup: float, window: float, work: Path, entry: str
) -> dict[str, object]:
    journal = work / "station" / "journal.sqlite"
    journal.parent.mkdir(parents=True)
    ink = continuous_ink(seconds + warmup + 5)
    with serve_ingest(work / "ingest.db") as (app, base):
        code = create_kits(app.state.engine, [SID])[SID]
        with httpx.Client(base_url=base, timeout=10) as http:
            enrol(http, SID, code, load_or_create_key(key_path(journal)))
        with PtyPen(PenConfig(serial=SERIAL, sample_rate_hz=RATE_HZ), path=work / "pen") as port:
            cmd = [sys.executable, *ENTRIES[entry], "run", "--port", str(port.path)]
            cmd += ["--journal", str(journal), "--events", "--centre", base, "--station", SID]
            proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL)
            try:
                if not port.wait_for(lambda pen: pen.accepted, timeout=60):
                    raise RuntimeError("the agent did not connect to the pen in 60 s")
                port.write(ink, retime=True)
                time.sleep(warmup)
                windows: list[float] = []
                rss: list[int] = []
                t_prev, c_prev = time.monotonic(), cpu_seconds(proc.pid)
                t_end = t_prev + seconds
                while time.monotonic() < t_end:
                    next_window = min(t_end, t_prev + window)
                    while time.monotonic() < next_window:
                        rss.append(memory_kb(proc.pid)["VmRSS"])
                        time.sleep(min(1.0, max(0.0, next_window - time.monotonic())))
                    t_now, c_now = time.monotonic(), cpu_seconds(proc.pid)
                    windows.append(100 * (c_now - c_prev) / (t_now - t_prev))
                    t_prev, c_prev = t_now, c_now
                hwm = memory_kb(proc.pid)["VmHWM"]
            finally:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=60)
    events = count(journal, "SELECT COUNT(*) FROM events")
    strokes = count(journal, "SELECT COUNT(*) FROM events WHERE kind='PenUp' AND source='live'")
    uploaded = count(journal, "SELECT COALESCE(MAX(upto_event_id), 0) FROM upload_marks")
    return {
        "seconds": seconds,
        "warmup_s": warmup,
        "window_s": window,
        "rate_hz": RATE_HZ,
        "entry": " ".join(ENTRIES[entry]),
        "dots_journaled": strokes * int(STROKE_S * RATE_HZ),
        "journal_events": events,
        "events_uploaded": uploaded,
        "cpu_pct_windows": windows,
        "cpu_pct_median": statistics.median(windows),
        "cpu_pct_max": max(windows),
        "rss_mb_median": statistics.median(rss) / 1024,
        "rss_mb_max": max(rss) / 1024,
        "vm_hwm_mb": hwm / 1024,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="measured time")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds before measuring")
    parser.add_argument("--window", type=float, default=10.0, help="CPU sampling window")
    parser.add_argument("--entry", choices=sorted(ENTRIES), default="agent", help="how to start it")
    parser.add_argument("--json", type=Path, default=None, help="where to write the results")
    args = parser.parse_args(argv)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    with tempfile.TemporaryDirectory(prefix="plume-bench-agent-") as tmp:
        r = measure(args.seconds, args.warmup, args.window, Path(tmp), args.entry)
    cpu, rss = float(r["cpu_pct_median"]), float(r["vm_hwm_mb"])  # type: ignore[arg-type]
    what = f"one pen at {RATE_HZ} Hz for {args.seconds:.0f} s, uploading on loopback"
    print(f"station agent ({r['entry']}), {what}")
    print_table(
        ["measure", "value", "target"],
        [
            ["CPU, % of one core (median of windows)", f"{cpu:.2f}", f"< {TARGET_CPU_PCT}"],
            ["CPU, worst window", f"{r['cpu_pct_max']:.2f}", ""],
            ["VmRSS median, MB", f"{r['rss_mb_median']:.1f}", ""],
            ["VmHWM (peak resident), MB", f"{rss:.1f}", f"< {TARGET_RSS_MB:.0f}"],
            ["dots journaled (whole run)", f"{r['dots_journaled']:,}", ""],
            [
                "journal events / uploaded",
                f"{r['journal_events']:,} / {r['events_uploaded']:,}",
                "",
            ],
        ],
    )
    ok_cpu, ok_rss = cpu < TARGET_CPU_PCT, rss < TARGET_RSS_MB
    verdict = {True: "meets", False: "MISSES"}
    print(f"\nCPU {verdict[ok_cpu]} the target; memory {verdict[ok_rss]} the target")
    payload = {"target_cpu_pct": TARGET_CPU_PCT, "target_rss_mb": TARGET_RSS_MB, **r}
    path = write_json("agent", payload, args.json)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
