"""How many simulated pens one core drives in real time.

A national rehearsal runs thousands of simulated pens on one machine, so the
cost that matters is the CPU time one :class:`~hardware_sim.device.SimulatedPen`
takes per simulated second, at 1x, with a realistic load. The load is a
station's real simulated day (:func:`hardware_sim.day.simulate_day`: contact
forms through the day, the PV at closing, at 75 dots/s while writing): each of
K pens is connected (hello accepted) and writes that day's ink, shifted by a
random offset (+-45 min) so that pens do not write in lockstep. A last
window is the worst case: the day's contact forms back to back, so that
every pen writes all the time.

One loop drives all K pens against a simulated clock, as a fleet driver
would: it steps in ticks of 5 ms (like the pty driver's), polls each pen
whose next ink message falls due (a heap of due times), and polls every pen
once per simulated second anyway (battery, timeouts, status). The bytes the
pens send are counted and dropped. CPU time (``time.process_time``) is
measured over windows of the day; pens per core = K x simulated seconds /
CPU seconds. Set-up (handwriting, queueing the ink) is not timed.

    python bench/sim.py [--pens 1000] [--window-s 120] [--json out.json]
"""

from __future__ import annotations

import argparse
import heapq
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import print_table, write_json
from hardware_sim.day import HOUR_MS, simulate_day
from hardware_sim.device import PenConfig, SimulatedPen
from hardware_sim.stations import load_stations
from pen.ink import Ink, Stroke
from pen.wire import FrameEncoder, HelloAck

TARGET_PENS = 1_000
STATION = "01004-0008"  # Ambérieu-en-Bugey: 717 registered voters
TICK_MS = 5
#: (label, hours after opening at 9:00) of the measured windows; the last one is the worst
#: case: the day's contact forms back to back, every pen writing all the time.
WINDOWS = (
    ("morning peak 11:00", 2.0),
    ("afternoon 14:30", 5.5),
    ("count 19:45", 10.75),
    ("worst: always writing", 0.0),
)


def back_to_back(day_ink: list[Ink], start_ms: float) -> Ink:
    """The contact forms one after the other from ``start_ms``, 2 s apart."""
    strokes, t = [], start_ms
    for ink in day_ink:
        shift = t - ink[0].start_ms
        for s in ink:
            pts = s.points.copy()
            pts[:, 2] += shift
            strokes.append(Stroke(pts, s.pen_serial, s.page))
        t = strokes[-1].end_ms + 2000
    return Ink(tuple(strokes))


def make_pens(
    template: Ink, k: int, start_ms: int, window_ms: int, seed: int
) -> tuple[list[SimulatedPen], int]:
    """K connected pens, each with the template's ink falling in the window (offset per pen)."""
    rng = np.random.default_rng(seed)
    hello_ack = FrameEncoder().encode(HelloAck(1, 1))
    pens, dots = [], 0
    for i in range(k):
        # v1 pens: the bench drives pens, not a host acknowledging their live frames
        pen = SimulatedPen(PenConfig(serial=f"BENCH{i:05d}", protocol_version=1), start_ms)
        pen.connect(start_ms)
        pen.feed_host(hello_ack, start_ms)
        pen.poll(start_ms)
        shift = int(rng.uniform(-0.75, 0.75) * HOUR_MS)
        lo, hi = start_ms - shift, start_ms + window_ms - shift
        strokes = []
        for s in template:
            if lo <= s.start_ms and s.end_ms < hi:
                pts = s.points.copy()
                pts[:, 2] += shift
                strokes.append(Stroke(pts, pen.config.serial, s.page))
                dots += len(pts)
        pen.write(Ink(tuple(strokes)), start_ms)
        pens.append(pen)
    return pens, dots


def drive(pens: list[SimulatedPen], start_ms: int, window_ms: int) -> tuple[float, int, int]:
    """Drive the pens through the window; return (CPU seconds, bytes sent, polls)."""
    heap: list[tuple[int, int]] = []
    for i, pen in enumerate(pens):
        due = pen.ink_due_in_ms(start_ms)
        if due is not None:
            heap.append((start_ms + due, i))
    heapq.heapify(heap)
    sent = polls = 0
    next_sweep = start_ms + 1000
    cpu0 = time.process_time()
    for now in range(start_ms + TICK_MS, start_ms + window_ms + 1, TICK_MS):
        while heap and heap[0][0] <= now:
            _, i = heapq.heappop(heap)
            pen = pens[i]
            sent += len(pen.poll(now))
            polls += 1
            due = pen.ink_due_in_ms(now)
            if due is not None:
                heapq.heappush(heap, (now + max(due, 1), i))
        if now >= next_sweep:  # once a simulated second, every pen
            next_sweep += 1000
            for pen in pens:
                sent += len(pen.poll(now))
            polls += len(pens)
    return time.process_time() - cpu0, sent, polls


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pens", type=int, default=1000, help="pens driven at once")
    parser.add_argument("--window-s", type=int, default=120, help="simulated seconds per window")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="where to write the results")
    args = parser.parse_args(argv)

    station = next(s for s in load_stations() if s.id == STATION)
    day = simulate_day(station, seed=args.seed)
    template = day.pen_ink()
    window_ms = args.window_s * 1000
    rows, results = [], []
    for label, hours in WINDOWS:
        start = int(day.opening_ms + hours * HOUR_MS)
        ink = template
        if label.startswith("worst"):
            start = int(day.opening_ms + 2 * HOUR_MS)  # offsets of +-45 min stay in the forms
            ink = back_to_back([c.ink for c in day.contacts] * 4, start - 2 * HOUR_MS)
        pens, dots = make_pens(ink, args.pens, start, window_ms, args.seed)
        cpu, sent, polls = drive(pens, start, window_ms)
        assert all(p.pending_messages == 0 or p.ink_due_in_ms(start + window_ms) for p in pens)
        per_pen_s = cpu / (args.pens * args.window_s)
        pens_per_core = 1.0 / per_pen_s
        dots_s = dots / (args.pens * args.window_s)
        res = {
            "window": label,
            "pens": args.pens,
            "simulated_s": args.window_s,
            "cpu_s": cpu,
            "cpu_s_per_simulated_s": cpu / args.window_s,
            "mean_dots_per_pen_s": dots_s,
            "bytes_sent": sent,
            "polls": polls,
            "pens_per_core": pens_per_core,
        }
        results.append(res)
        rows.append(
            [
                label,
                f"{args.pens:,}",
                f"{dots_s:.1f}",
                f"{sent / 1e6:.1f} MB",
                f"{cpu / args.window_s * 1000:.1f} ms",
                f"{pens_per_core:,.0f}",
            ]
        )
    print(
        f"simulated pens at 1x: {args.pens} pens x {args.window_s} simulated s per window, "
        f"day of station {STATION} ({len(day.contacts)} contact forms, PV), {TICK_MS} ms ticks"
    )
    print_table(
        ["window", "pens", "dots/s/pen", "sent", "CPU per sim s", "pens per core (1x)"], rows
    )
    day_rate = min(r["pens_per_core"] for r in results[:-1])
    worst = results[-1]["pens_per_core"]
    verdict = "meets" if min(day_rate, worst) >= TARGET_PENS else "MISSES"
    print(
        f"\nbusiest window of the day: {day_rate:,.0f} pens per core; always writing: "
        f"{worst:,.0f}; {verdict} the target of {TARGET_PENS:,}"
    )
    print("(CPU time of this process; the machine may be shared, which inflates it)")
    path = write_json(
        "sim",
        {"target_pens_per_core": TARGET_PENS, "station": STATION, "results": results},
        args.json,
    )
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
