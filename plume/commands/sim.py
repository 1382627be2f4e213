"""``plume sim``: simulated pens on serial ports, and recording and replaying pen sessions.

- ``plume sim pen --serial S [--speed N] [--text FIELD=VALUE ...] [--faults SCRIPT]``
  serves a simulated pen at ``/tmp/plume-pen-S`` that fills PVs in a real
  writer's hand until Ctrl-C.
- ``plume sim record --port PATH_OR_URL --out session.plumerec [--seconds N]``
  records what a serial port (a path or a pyserial URL such as ``pensim://``)
  sends, answering the pen's hello, and writes the InkML beside it.
- ``plume sim replay session.plumerec [--speed N] [--port PATH_OR_URL]``
  replays a recording onto a pty (printing its path) or a pyserial URL.
- ``plume sim station --station-id ID [--scenario S] [--speed N]`` serves a
  station's whole simulated day (contact forms, then the PV) with its first
  pen on a pty, once a host opens it, printing progress.
- ``plume sim fleet --stations N [--speed N]`` serves N stations' days at
  once, one pen per pty, printing the paths and a progress line.

Exit codes: 0 done (Ctrl-C is the normal end of ``pen``), 1 a port or file
that cannot be opened, read or written, 2 a bad command line.
"""

from __future__ import annotations

import argparse
import sys
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import serial

from hardware_sim.day import StationDay
from hardware_sim.device import PenConfig, SimulatedPen
from hardware_sim.faults import FaultPlan, FaultSpecError, FaultyPen
from hardware_sim.pacing import SimClock
from hardware_sim.pty_port import PtyPen, default_path
from hardware_sim.record import Recorder, Recording, RecordingError, ReplayPty, record_port, replay
from hardware_sim.url_handler import register as register_pensim
from pen.ink import Ink, Stroke
from plume.exit_codes import EXIT_FAILED, EXIT_OK, EXIT_USAGE


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "sim", help="simulated pens on serial ports; record and replay pen sessions"
    )

    def usage(args: argparse.Namespace) -> int:
        p.print_help(sys.stderr)
        return EXIT_USAGE

    p.set_defaults(handler=usage)
    verbs = p.add_subparsers(dest="sim_command", metavar="VERB")

    pen = verbs.add_parser("pen", help="serve a simulated pen filling PVs on a pty, until Ctrl-C")
    pen.add_argument("--serial", default="SIM-0001", help="pen serial (default SIM-0001)")
    pen.add_argument("--path", type=Path, help="pty link (default /tmp/plume-pen-SERIAL)")
    pen.add_argument("--speed", type=float, default=1.0, help="x real time; 0: flat out")
    pen.add_argument(
        "--text",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="write VALUE in the PV field FIELD instead of the simulated count (repeatable)",
    )
    pen.add_argument("--faults", default="", help='fault script, e.g. "drop:p=0.01; spikes:p=0.1"')
    pen.add_argument("--seed", type=int, default=0, help="seed of the writer, count and faults")
    pen.set_defaults(handler=_pen)

    rec = verbs.add_parser("record", help="record a pen session from a serial port")
    rec.add_argument("--port", required=True, help="device path or pyserial URL (pensim://...)")
    rec.add_argument("--out", type=Path, required=True, help="recording to write (.plumerec)")
    rec.add_argument("--seconds", type=float, help="stop after this long (default: Ctrl-C)")
    rec.add_argument("--baud", type=int, default=115200, help="baud rate (default 115200)")
    rec.set_defaults(handler=_record)

    rep = verbs.add_parser("replay", help="replay a recording onto a pty or a pyserial URL")
    rep.add_argument("recording", type=Path, help="a .plumerec file")
    rep.add_argument("--speed", type=float, default=1.0, help="x recorded pace; 0: flat out")
    rep.add_argument(
        "--port", help="pty link to create, or pyserial URL (default /tmp/plume-replay-NAME)"
    )
    rep.set_defaults(handler=_replay)

    from hardware_sim.scenarios import SCENARIOS

    st = verbs.add_parser("station", help="serve a station's whole simulated day on a pty")
    st.add_argument("--station-id", required=True, help="a station of the sample, e.g. 01016-0001")
    st.add_argument("--scenario", default="honest", choices=SCENARIOS, help="PV scenario")
    st.add_argument(
        "--speed", type=float, default=60.0, help="x real time (default 60); 0: flat out"
    )
    st.add_argument("--seed", type=int, default=0, help="seed of the day")
    st.add_argument("--path", type=Path, help="pty link (default /tmp/plume-pen-SERIAL)")
    st.set_defaults(handler=_station)

    fl = verbs.add_parser("fleet", help="serve N stations' simulated days, one pen per pty")
    fl.add_argument("--stations", type=int, required=True, help="how many stations")
    fl.add_argument(
        "--speed", type=float, default=60.0, help="x real time (default 60); 0: flat out"
    )
    fl.add_argument("--seed", type=int, default=0, help="seed of the station draw and the days")
    fl.add_argument("--seconds", type=float, help="stop after this long (default: Ctrl-C)")
    fl.set_defaults(handler=_fleet)


def _err(message: str) -> None:
    print(f"plume sim: {message}", file=sys.stderr)


def _pen(args: argparse.Namespace) -> int:
    from hardware_sim.electorate import honest_count
    from hardware_sim.handwriting import Writer
    from pen.forms import load_form
    from pen.ink import Ink
    from pen.page import PageAddress

    if args.speed < 0:
        _err("--speed must be >= 0")
        return EXIT_USAGE
    try:
        plan = FaultPlan.parse(args.faults, args.seed)
        overrides = dict(item.split("=", 1) for item in args.text)
    except FaultSpecError as exc:
        _err(f"--faults: {exc}")
        return EXIT_USAGE
    except ValueError:
        _err(f"--text takes FIELD=VALUE, got {args.text}")
        return EXIT_USAGE
    pv = load_form("pv")
    unknown = sorted(set(overrides) - {f.id for f in pv.fields})
    if unknown:
        _err(f"--text: no PV field {unknown}; fields: {', '.join(f.id for f in pv.fields)}")
        return EXIT_USAGE
    rng = np.random.default_rng(args.seed)
    writer = Writer(seed=args.seed)
    clock = SimClock(args.speed)
    device = FaultyPen(PenConfig(serial=args.serial), clock.now_ms(), plan)
    path = args.path or default_path(args.serial)
    try:
        port = PtyPen(device, path=path, speed=args.speed).start()
    except OSError as exc:
        _err(f"cannot create {path}: {exc.strerror}")
        return EXIT_FAILED
    print(f"pen {args.serial} at {port.path} (Ctrl-C to stop)", flush=True)
    try:
        for n in range(1, sys.maxsize):
            text = {**honest_count(rng).fields(), **overrides}
            t, strokes = float(port.call(lambda p, now: p.clock_ms(now))), []
            for field_id, value in text.items():
                written = writer.write_field(
                    value,
                    pv.field(field_id),
                    t,
                    pen_serial=args.serial,
                    page=PageAddress(70, 12, 3, n),
                )
                strokes += written
                t = (written[-1].end_ms if written else t) + 2_000
            ink = Ink(tuple(strokes))
            port.write(ink, retime=False)
            print(f"PV {n}: writing {len(ink)} strokes, {ink.n_points:,} dots", flush=True)
            while not port.wait_for(lambda p: p.pending_messages == 0, timeout=1.0):
                if port.error is not None:
                    _err(f"the pen stopped: {port.error!r}")
                    return EXIT_FAILED
            print(f"PV {n} written; host connections so far: {port.connections}", flush=True)
    except KeyboardInterrupt:
        print("stopped", flush=True)
    finally:
        port.stop()
    return EXIT_OK


def _open(port: str, baud: int = 115200) -> serial.SerialBase:
    register_pensim()
    return serial.serial_for_url(port, baudrate=baud, timeout=0.05)


def _record(args: argparse.Namespace) -> int:
    if args.seconds is not None and args.seconds <= 0:
        _err("--seconds must be > 0")
        return EXIT_USAGE
    try:
        port = _open(args.port, args.baud)
    except (serial.SerialException, ValueError) as exc:
        _err(f"cannot open {args.port}: {exc}; is the pen plugged in (or `plume sim pen` running)?")
        return EXIT_FAILED
    recorder = Recorder(args.port)
    until = f"for {args.seconds:g} s" if args.seconds else "until Ctrl-C"
    print(f"recording {args.port} -> {args.out} {until}", flush=True)
    try:
        with port:
            record_port(port, recorder, seconds=args.seconds)
    except KeyboardInterrupt:
        pass
    except serial.SerialException as exc:
        _err(f"{args.port} failed while recording: {exc}; keeping what came")
    rec = recorder.recording()
    try:
        path, inkml = rec.save(args.out)
    except OSError as exc:
        _err(f"cannot write {args.out}: {exc.strerror}")
        return EXIT_FAILED
    ink, anomalies = rec.decode_ink()
    print(
        f"recorded {len(rec.pen_bytes()):,} bytes: {len(ink)} strokes, {ink.n_points:,} dots, "
        f"{len(anomalies)} anomalies; wrote {path} and {inkml}",
        flush=True,
    )
    return EXIT_OK


def _replay(args: argparse.Namespace) -> int:
    if args.speed < 0:
        _err("--speed must be >= 0")
        return EXIT_USAGE
    try:
        rec = Recording.load(args.recording)
    except RecordingError as exc:
        _err(f"{exc} [{exc.code}]")
        return EXIT_FAILED
    n = len(rec.pen_bytes())
    target = args.port or f"/tmp/plume-replay-{args.recording.stem}"
    if "://" in target:
        try:
            with _open(target) as port:
                sent = replay(rec, port.write, speed=args.speed)
        except (serial.SerialException, ValueError) as exc:
            _err(f"cannot replay onto {target}: {exc}")
            return EXIT_FAILED
        print(f"replayed {sent:,} bytes onto {target}", flush=True)
        return EXIT_OK
    try:
        pty = ReplayPty(rec, target, speed=args.speed).start()
    except OSError as exc:
        _err(f"cannot create {target}: {exc.strerror}")
        return EXIT_FAILED
    print(f"replaying {n:,} bytes at {target} when a host opens it (Ctrl-C to stop)", flush=True)
    try:
        while not pty.done.wait(0.2):
            if pty.error is not None:
                _err(f"replay failed: {pty.error!r}")
                return EXIT_FAILED
        print(f"replayed {n:,} bytes; waiting for the host to close {target}", flush=True)
        stop = threading.Event()
        while not pty.host_closed() and not stop.wait(0.05):
            pass
    except KeyboardInterrupt:
        print("stopped", flush=True)
    finally:
        pty.stop()
    return EXIT_OK


_PARIS = timezone(timedelta(hours=2), "CEST")  # 9 October 2011


def _paris(ms: float) -> str:
    return datetime.fromtimestamp(ms / 1000, _PARIS).strftime("%H:%M")


def _start_day(port: PtyPen, day: StationDay) -> int:
    """The pen starts the day's ink now: the day's opening is now on the pen clock.

    Returns the shift (pen clock minus the day's time).
    """

    def start(pen: SimulatedPen, now: int) -> int:
        shift = pen.clock_ms(now) - int(day.opening_ms)
        strokes = []
        for s in day.pen_ink():
            pts = s.points.copy()
            pts[:, 2] += shift
            strokes.append(Stroke(pts, s.pen_serial, s.page))
        pen.write(Ink(tuple(strokes)), now)
        return shift

    return port.call(start)


def _day_time(port: PtyPen, shift: int) -> float:
    return float(port.call(lambda pen, now: pen.clock_ms(now)) - shift)


def _station(args: argparse.Namespace) -> int:
    from hardware_sim.day import simulate_day
    from hardware_sim.stations import load_stations

    if args.speed < 0:
        _err("--speed must be >= 0")
        return EXIT_USAGE
    station = next((s for s in load_stations() if s.id == args.station_id), None)
    if station is None:
        _err(
            f"no station {args.station_id!r} in the sample (hardware_sim/data/stations-sample.csv)"
        )
        return EXIT_USAGE
    day = simulate_day(station, args.scenario, args.seed)
    ink = day.pen_ink()
    path = args.path or default_path(day.pen_serial)
    try:
        port = PtyPen(PenConfig(serial=day.pen_serial), path=path, speed=args.speed).start()
    except OSError as exc:
        _err(f"cannot create {path}: {exc.strerror}")
        return EXIT_FAILED
    print(
        f"station {station.id} ({station.commune}), {day.voters} voters, "
        f"{len(day.contacts)} contact forms, PV {day.scenario}: pen {day.pen_serial} at "
        f"{port.path}; {len(ink)} strokes, {ink.n_points:,} dots",
        flush=True,
    )
    print(f"waiting for a host to open {port.path} (Ctrl-C to stop)", flush=True)
    try:
        port.wait_for(lambda p: p.connected, timeout=None)  # type: ignore[arg-type]
        shift = _start_day(port, day)
        starts = [c.ink[0].start_ms for c in day.contacts]
        while not port.wait_for(lambda p: p.pending_messages == 0, timeout=1.0):
            if port.error is not None:
                _err(f"the pen stopped: {port.error!r}")
                return EXIT_FAILED
            t = _day_time(port, shift)
            done = sum(1 for s in starts if s <= t)
            print(f"{_paris(t)} contact forms {done}/{len(starts)}", flush=True)
        print(f"day over: {len(ink)} strokes written; waiting for the host to close", flush=True)
        port.wait_for(lambda p: not p.connected, timeout=None)  # type: ignore[arg-type]
    except KeyboardInterrupt:
        print("stopped", flush=True)
    finally:
        port.stop()
    return EXIT_OK


def _fleet(args: argparse.Namespace) -> int:
    import time

    from hardware_sim.day import simulate_day
    from hardware_sim.stations import pick_stations

    if args.speed < 0 or args.stations < 1:
        _err("--speed must be >= 0 and --stations >= 1")
        return EXIT_USAGE
    ports: list[tuple[PtyPen, StationDay, int]] = []
    deadline: float | None = None
    try:
        for station in pick_stations(args.stations, args.seed):
            day = simulate_day(station, seed=args.seed)
            port = PtyPen(PenConfig(serial=day.pen_serial), speed=args.speed).start()
            ports.append((port, day, _start_day(port, day)))
            print(f"{station.id} {port.path}", flush=True)
        if args.seconds is not None:
            deadline = time.monotonic() + args.seconds
        while True:
            if any(p.error is not None for p, _, _ in ports):
                _err("a pen stopped: " + repr(next(p.error for p, _, _ in ports if p.error)))
                return EXIT_FAILED
            t = _day_time(ports[0][0], ports[0][2])
            hosts = sum(p.pen.connected for p, _, _ in ports)
            left = sum(p.call(lambda pen, now: pen.pending_messages) for p, _, _ in ports)
            print(
                f"{_paris(t)} {hosts}/{len(ports)} hosts connected, {left:,} messages to write",
                flush=True,
            )
            if deadline is not None and time.monotonic() >= deadline:
                break
            time.sleep(1.0 if deadline is None else min(1.0, max(0.0, deadline - time.monotonic())))
    except KeyboardInterrupt:
        print("stopped", flush=True)
    except OSError as exc:
        _err(f"cannot create a pty: {exc.strerror}")
        return EXIT_FAILED
    finally:
        for port, _, _ in ports:
            port.stop()
    return EXIT_OK
