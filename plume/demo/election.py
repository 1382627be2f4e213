"""``plume demo``: a compressed election day, end to end, on this machine.

What runs, all real: ingest (``plume serve`` in its own process, SQLite file,
local recognition workers); N stations (default 20) whose simulated pens are
served on pty serial ports; one ``plume agent`` process per station, enrolled
with its kit's one-time code, reading its pen and uploading signed batches
over loopback HTTP. The stations' day (contact forms all day, then the count
and the PV) is replayed at the speed that fits it in ``--day-seconds``; then
every president closes the station (``plume agent close``) and gets a closing
code; the centre finishes reading the forms and reconciling; the demo prints
the national summary.

A few stations are given a fraud or a slip (a pen correction after the count,
an arithmetic error, ink after closing) so the summary shows findings.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import Engine, func, select

from hardware_sim.day import StationDay, simulate_day
from hardware_sim.device import PenConfig
from hardware_sim.pty_port import PtyPen
from hardware_sim.stations import Station, pick_stations
from ingest.auth import create_user
from ingest.db import (
    FieldInk,
    PipelineCursor,
    ReviewItem,
    StoredBatch,
    make_engine,
    session,
)
from ingest.settings import Settings
from plume.sim_kits import create_sim_kits
from station_agent.clock import RehearsalClock

#: Which stations (by position) get which scenario; the rest are honest.
FRAUDS = {5: "pen_correction", 11: "arithmetic_error", 17: "after_closing"}
PARIS = timezone(timedelta(hours=2))  # October 2011: CEST
#: Seconds between starting the pens and agents and the day's opening (they connect first).
LEAD_S = 8.0


class DemoError(RuntimeError):
    """A part of the demo could not start or finish; the message says which and why."""


@dataclass
class DemoStation:
    station: Station
    day: StationDay
    folder: Path
    code: str = ""
    port: PtyPen | None = None
    agent: subprocess.Popen[bytes] | None = None
    token: str = ""
    closing_code: str | None = None
    close_error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def journal(self) -> Path:
        return self.folder / "journal.db"


def _py(*args: str) -> list[str]:
    return [sys.executable, "-m", "plume", *args]


def _agent(*args: str) -> list[str]:
    """The station laptop's lean entry point (deploy/plume-agent.service)."""
    return [sys.executable, "-m", "plume.commands.agent", *args]


def _paris(ms: float) -> str:
    return datetime.fromtimestamp(ms / 1000, PARIS).strftime("%H:%M")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def centre(out: Path, db: Path, port: int) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``plume serve`` on ``db`` at ``127.0.0.1:port``, ready when yielded; stopped after."""
    env = {
        **os.environ,
        "PLUME_DATABASE_URL": f"sqlite:///{db}",
        "PLUME_FIELD_IDLE_S": "2",
        "PLUME_ENVIRONMENT": "development",
    }
    log = (out / "ingest.log").open("wb")
    proc = subprocess.Popen(
        _py("serve", "--host", "127.0.0.1", "--port", str(port), "--no-access-log"),
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise DemoError(f"ingest stopped at start (exit {proc.returncode}); see {log.name}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise DemoError(f"ingest did not become ready within 60 s; see {log.name}")
            time.sleep(0.2)
        yield base, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()


def issue_kits(engine: Engine, stations: Sequence[DemoStation]) -> str:
    """Register each station's kit (code, PV page, contact pages, both pens) and its
    president's API user; return the token of a high-authority user for the summary."""
    codes = create_sim_kits(engine, [d.station for d in stations])
    for d in stations:
        d.code = codes[d.station.id]
        d.token = create_user(
            engine, f"president-{d.station.id}", "station", station_id=d.station.id, days=1
        )
    return create_user(engine, f"demo-authority-{int(time.time())}", "high_authority", days=1)


def _start_pen(d: DemoStation, clock: RehearsalClock, ports: Path) -> None:
    """Serve the station's first pen on a pty, on the day's clock, with the day's ink queued."""
    port = PtyPen(
        PenConfig(serial=d.day.pen_serial),
        path=ports / f"pen-{d.day.pen_serial}",
        speed=clock.speed,
        start_ms=clock(),
    )
    port.start()
    d.port = port
    port.call(lambda pen, now: pen.write(d.day.pen_ink(), now))


#: How long one ``plume agent close`` of the demo may take.
CLOSE_TIMEOUT_S = 600


def _run(cmd: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)


def _enrol(d: DemoStation, base: str) -> None:
    done = _run(
        _agent(
            "enrol", "--station", d.station.id, "--code", d.code,
            "--centre", base, "--journal", str(d.journal),
        ),
        timeout=60,
    )  # fmt: skip
    if done.returncode != 0:
        raise DemoError(f"station {d.station.id} could not enrol: {done.stderr.strip()}")


def _clock_arg(clock: RehearsalClock) -> str:
    return f"{clock.t0_ms},{clock.wall0_s!r},{clock.speed!r}"


def _start_agent(d: DemoStation, base: str, clock: RehearsalClock) -> None:
    assert d.port is not None
    kit = [arg for serial in d.station.pen_serials for arg in ("--kit", serial)]
    cmd = _agent(
        "run", "--port", str(d.port.path), "--journal", str(d.journal),
        "--centre", base, "--station", d.station.id, "--events", *kit,
        "--rehearsal-clock", _clock_arg(clock),
    )  # fmt: skip
    log = (d.folder / "agent.log").open("wb")
    d.agent = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    log.close()


def _close(d: DemoStation, base: str, clock: RehearsalClock) -> None:
    if d.agent is not None and d.agent.poll() is None:
        d.agent.send_signal(signal.SIGTERM)
        try:
            d.agent.wait(timeout=30)
        except subprocess.TimeoutExpired:
            d.agent.kill()
            d.agent.wait()
    for _attempt in range(3):
        try:
            # the close uploads what the agent had not sent: a station stopped with a long
            # backlog (the compressed day writes fast, the centre is reading) takes minutes
            done = _run(
                _agent(
                    "close", "--journal", str(d.journal), "--centre", base,
                    "--station", d.station.id, "--token", d.token,
                    "--rehearsal-clock", _clock_arg(clock),
                ),
                timeout=CLOSE_TIMEOUT_S,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            d.close_error = f"'plume agent close' did not finish in {CLOSE_TIMEOUT_S} s"
            continue  # the journal keeps what is unsent: the next close goes on from there
        m = re.search(r"closing code: (\S+)", done.stdout)
        if done.returncode == 0 and m:
            d.closing_code = m.group(1)
            d.close_error = None
            return
        d.close_error = (done.stderr or done.stdout).strip()[-300:]
        time.sleep(1)


def _pending(d: DemoStation) -> int:
    assert d.port is not None
    n: int = d.port.call(lambda pen, now: pen.pending_messages)
    return n


def _pen_time(d: DemoStation) -> float:
    assert d.port is not None
    return float(d.port.call(lambda pen, now: pen.clock_ms(now)))


@dataclass(frozen=True)
class CentreState:
    batches: int
    fields: int
    fields_read: int
    caught_up: bool


def centre_state(engine: Engine) -> CentreState:
    with session(engine) as s:
        batches = s.scalar(select(func.count()).select_from(StoredBatch)) or 0
        last_batch = s.scalar(select(func.max(StoredBatch.id))) or 0
        cursor = s.scalar(select(func.min(PipelineCursor.last_id))) or 0
        n_fields = s.scalar(select(func.count()).select_from(FieldInk)) or 0
        read = (
            s.scalar(select(func.count()).select_from(FieldInk).where(FieldInk.state == "read"))
            or 0
        )
    return CentreState(batches, n_fields, read, cursor >= last_batch and read == n_fields)


def summary(
    engine: Engine, stations: Sequence[DemoStation], base: str, token: str
) -> dict[str, Any]:
    """The national picture, asked of the centre's API as the high authority would."""
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=auth, timeout=60) as http:
        national = http.get("/v1/results/national")
        national.raise_for_status()
        found = http.get("/v1/findings", params={"limit": 1000})
        found.raise_for_status()
    results = national.json()
    findings = found.json()["items"]
    with session(engine) as s:
        review = Counter(s.scalars(select(ReviewItem.state)))
        batches = s.scalar(select(func.count()).select_from(StoredBatch)) or 0
        reporting = set(s.scalars(select(StoredBatch.station_id).distinct()))
    names = dict(
        zip(
            (f"candidate_{i}" for i in range(1, 20)),
            Settings().pv_candidates,
            strict=False,
        )
    )
    by_station: dict[str, set[str]] = {}
    for f in findings:
        by_station.setdefault(f["station_id"], set()).add(f["code"])
    return {
        "stations": len(stations),
        "stations_reporting": len(reporting),
        "stations_closed": sum(1 for d in stations if d.closing_code),
        "pv_complete": results["stations_reporting"],
        "batches": batches,
        "totals": results["totals"],
        "candidates": [
            {"name": names.get(c["field"], c["field"]), "votes": c["votes"], "share": c["share"]}
            for c in results["candidates"]
        ],
        "findings": dict(Counter(f["code"] for f in findings)),
        "findings_by_station": {sid: sorted(codes) for sid, codes in by_station.items()},
        "scenarios": {d.station.id: d.day.scenario for d in stations},
        "review_queue": dict(review),
        "closing_codes": {d.station.id: d.closing_code for d in stations},
        "close_errors": {d.station.id: d.close_error for d in stations if d.close_error},
        "api_docs": f"{base}/docs",
    }


def _print_summary(console: Console, out: dict[str, Any]) -> None:
    console.print(
        f"[bold]Stations[/]: {out['stations_reporting']}/{out['stations']} reporting, "
        f"{out['stations_closed']} closed with a closing code, "
        f"{out['pv_complete']} PVs read in full; {out['batches']:,} batches received"
    )
    table = Table(title=f"National results ({out['pv_complete']} complete PVs)")
    table.add_column("candidate")
    table.add_column("votes", justify="right")
    table.add_column("share", justify="right")
    for c in out["candidates"]:
        table.add_row(c["name"], f"{c['votes']:,}", f"{100 * c['share']:.1f}%")
    console.print(table)
    console.print(
        "  "
        + ", ".join(
            f"{k} {v:,}" for k, v in out["totals"].items() if not k.startswith("candidate_")
        )
    )
    if out["findings"]:
        lines = ", ".join(f"{code} x{n}" for code, n in sorted(out["findings"].items()))
        console.print(f"[bold]Findings[/]: {lines}")
        for sid, codes in sorted(out["findings_by_station"].items()):
            console.print(f"  {sid} ({out['scenarios'].get(sid, '?')}): {', '.join(codes)}")
    else:
        console.print("[bold]Findings[/]: none")
    queue = out["review_queue"]
    console.print(
        "[bold]Review queue[/]: "
        + (", ".join(f"{n} {state}" for state, n in sorted(queue.items())) or "empty")
    )
    for sid, err in out["close_errors"].items():
        console.print(f"[red]station {sid} not closed[/]: {err}")
    console.print(f"[bold]API docs[/]: {out['api_docs']}")


def run_election(
    out: Path,
    n_stations: int,
    seed: int,
    day_seconds: float,
    console: Console,
    serve_after: bool = False,
) -> dict[str, Any]:
    """Run the compressed day; return the summary (raise :class:`DemoError` on failure)."""
    started = time.monotonic()
    out.mkdir(parents=True, exist_ok=True)
    db = out / "ingest.db"
    for stale in (db, db.with_name("ingest.db-wal"), db.with_name("ingest.db-shm")):
        stale.unlink(missing_ok=True)
    ports = out / "ports"
    ports.mkdir(exist_ok=True)

    chosen = pick_stations(n_stations, seed)
    stations: list[DemoStation] = []
    with console.status(f"Simulating {len(chosen)} stations' days") as status:
        for i, st in enumerate(chosen):
            status.update(f"Simulating station {i + 1}/{len(chosen)}: {st.id} ({st.commune})")
            day = simulate_day(st, FRAUDS.get(i, "honest"), seed)
            folder = out / "stations" / st.id
            folder.mkdir(parents=True, exist_ok=True)
            for stale in folder.glob("journal*"):
                stale.unlink()
            stations.append(DemoStation(st, day, folder))
    voters = sum(d.day.voters for d in stations)
    forms = sum(len(d.day.contacts) for d in stations)
    console.print(
        f"[bold]1. Day simulated[/]: {len(stations)} stations, {voters:,} voters, "
        f"{forms:,} contact forms; not honest: "
        + (
            ", ".join(
                f"{d.station.id} {d.day.scenario}" for d in stations if d.day.scenario != "honest"
            )
            or "none"
        )
    )

    port = _free_port()
    engine = make_engine(f"sqlite:///{db}")
    with centre(out, db, port) as (base, server):
        token = issue_kits(engine, stations)
        console.print(f"[bold]2. Centre[/] ready at {base} (SQLite {db}); kits issued")
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda d: _enrol(d, base), stations))
        opening = min(d.day.opening_ms for d in stations)
        end = max(
            max(max(e.t_ms for e in d.day.events), max(st.end_ms for st in d.day.pen_ink()))
            for d in stations
        )
        speed = (end - opening) / 1000 / day_seconds
        # Pens, agents and the centre share the day's clock: 08:00 comes LEAD_S from now.
        clock = RehearsalClock(int(opening), time.time() + LEAD_S, speed)
        try:
            for d in stations:
                _start_pen(d, clock, ports)
                _start_agent(d, base, clock)
            console.print(
                f"[bold]3. Stations[/] enrolled; {len(stations)} pens on pty ports, "
                f"one agent each; the day runs {speed:,.0f}x faster than life"
            )
            _watch_day(console, stations, engine, opening, end, server)
            with (
                console.status("Closing the stations (plume agent close)"),
                ThreadPoolExecutor(max_workers=4) as pool,
            ):
                list(pool.map(lambda d: _close(d, base, clock), stations))
        finally:
            for d in stations:
                if d.agent is not None and d.agent.poll() is None:
                    d.agent.kill()
                    d.agent.wait()
                if d.port is not None:
                    d.port.stop()
        closed = sum(1 for d in stations if d.closing_code)
        console.print(f"[bold]4. Closed[/]: {closed}/{len(stations)} stations have a closing code")
        _settle(console, engine, server)
        result = summary(engine, stations, base, token)
        result["seconds"] = round(time.monotonic() - started, 1)
        _print_summary(console, result)
        console.print(f"Done in {result['seconds']:.0f} s. Files in {out}.")
        (out / "summary.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
        if serve_after:
            console.print(
                f"The centre keeps serving at {base}; Ctrl-C ends. Try:\n"
                f"  curl -H 'Authorization: Bearer {token}' {base}/v1/results/national"
            )
            with contextlib.suppress(KeyboardInterrupt):
                server.wait()
    engine.dispose()
    return result


def _watch_day(
    console: Console,
    stations: Sequence[DemoStation],
    engine: Engine,
    opening: float,
    end: float,
    server: subprocess.Popen[bytes],
) -> None:
    """Show the day's progress until every pen has written everything and been read."""
    span = end - opening
    live = console.is_terminal
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        console=console,
        disable=not live,
    )
    task = progress.add_task("Day", total=span, detail="")
    last_line = 0.0
    stalled_since: float | None = None
    last_pending = -1
    with progress:
        while True:
            if server.poll() is not None:
                raise DemoError(f"ingest stopped during the day (exit {server.returncode})")
            dead = [d.station.id for d in stations if d.agent and d.agent.poll() is not None]
            if dead:
                raise DemoError(f"agent(s) stopped during the day: {', '.join(dead)}")
            now = _pen_time(stations[0])
            pending = sum(_pending(d) for d in stations)
            connected = sum(1 for d in stations if d.port and d.port.pen.connected)
            state = centre_state(engine)
            detail = (
                f"{_paris(now)} pens {connected}/{len(stations)}, {pending:,} msgs to send; "
                f"centre {state.batches:,} batches, {state.fields_read}/{state.fields} fields read"
            )
            progress.update(task, completed=min(span, max(0.0, now - opening)), detail=detail)
            if not live and time.monotonic() - last_line >= 10:
                console.print(f"   {detail}")
                last_line = time.monotonic()
            if pending == 0:
                break
            if now >= end + 60_000 and pending == last_pending:
                stalled_since = stalled_since or time.monotonic()
                if time.monotonic() - stalled_since > 20:
                    stuck = [d.station.id for d in stations if _pending(d)]
                    console.print(
                        f"[yellow]pens of {', '.join(stuck)} still hold {pending} message(s) "
                        "after the day's end; closing anyway[/]"
                    )
                    break
            else:
                stalled_since = None
            last_pending = pending
            time.sleep(0.5)


def _settle(console: Console, engine: Engine, server: subprocess.Popen[bytes]) -> None:
    """Wait (bounded) for the centre to read every field and reconcile."""
    deadline = time.monotonic() + 90
    with console.status("The centre finishes reading the forms") as status:
        while time.monotonic() < deadline and server.poll() is None:
            state = centre_state(engine)
            status.update(
                f"The centre finishes reading the forms: {state.fields_read}/{state.fields}"
            )
            if state.caught_up:
                return
            time.sleep(0.5)
    console.print("[yellow]The centre had not read every field after 90 s; partial summary.[/]")
