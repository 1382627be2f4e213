"""Decode throughput of the pen wire protocol, in dots per second.

A synthetic pen session (a hello, then strokes of 5-60 dots at 75 Hz, each
sent as pen-down, page, dots frames, pen-up) is encoded once and decoded
repeatedly, fed in 4 KiB chunks as a serial port or a log file delivers it.
Two stages are timed: bytes to messages (the :class:`StreamDecoder`) and
bytes to ink (decoder plus :class:`InkAssembler`, strokes in millimetres).
Three framings: live pens flushing 8 dots a frame (the default), the worst
case of one dot a frame, and offline batches at 64 dots a frame.

    python bench/wire.py [--strokes 4000] [--repeats 7] [--json out.json]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import median_seconds, print_table, write_json
from pen.ink import Stroke
from pen.page import PageAddress
from pen.wire import (
    FrameEncoder,
    Hello,
    InkAssembler,
    Received,
    StreamDecoder,
    stroke_messages,
)

TARGET_DOTS_PER_S = 1_000_000
CHUNK = 4096


def session(n_strokes: int, dots_per_frame: int, seed: int = 0) -> tuple[bytes, int]:
    rng = np.random.default_rng(seed)
    enc = FrameEncoder()
    parts = [enc.encode(Hello(1, 1_318_000_000_000, 37_500, 1, 255, 75, "AJX-1", "ADP", "2"))]
    t = 1_318_000_000_000
    dots = 0
    page = PageAddress(70, 12, 3, 41)
    for i in range(n_strokes):
        n = int(rng.integers(5, 61))
        times = t + np.arange(n) * 13
        t = int(times[-1]) + int(rng.integers(80, 600))
        stroke = Stroke.from_arrays(
            60 + np.cumsum(rng.normal(0, 0.3, n)),
            90 + np.cumsum(rng.normal(0, 0.3, n)),
            times,
            rng.uniform(0.2, 1.0, n),
            pen_serial="AJX-1",
            page=page,
        )
        parts += [enc.encode(m) for m in stroke_messages(stroke, i, dots_per_frame=dots_per_frame)]
        dots += n
    return b"".join(parts), dots


def to_messages(stream: bytes) -> list[object]:
    decoder = StreamDecoder()
    out: list[object] = []
    for start in range(0, len(stream), CHUNK):
        out += decoder.feed(stream[start : start + CHUNK])
    return out + decoder.flush()


def to_ink(stream: bytes) -> list[object]:
    decoder = StreamDecoder()
    assembler = InkAssembler()
    out: list[object] = []
    for start in range(0, len(stream), CHUNK):
        events = decoder.feed(stream[start : start + CHUNK])
        out += assembler.feed([e.message for e in events if type(e) is Received])
    return out + assembler.finish()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strokes", type=int, default=4000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json", type=Path, default=None, help="where to write the results")
    args = parser.parse_args(argv)

    rows = []
    results = []
    for label, dpf in (("live, 8 dots/frame", 8), ("worst, 1 dot/frame", 1), ("batch, 64", 64)):
        stream, dots = session(args.strokes, dpf)
        assert sum(1 for e in to_ink(stream) if isinstance(e, Stroke)) == args.strokes
        t_msg, _ = median_seconds(lambda s=stream: to_messages(s), args.repeats)
        t_ink, _ = median_seconds(lambda s=stream: to_ink(s), args.repeats)
        res = {
            "framing": label,
            "dots_per_frame": dpf,
            "dots": dots,
            "bytes": len(stream),
            "messages_dots_per_s": dots / t_msg,
            "ink_dots_per_s": dots / t_ink,
            "messages_mb_per_s": len(stream) / t_msg / 1e6,
        }
        results.append(res)
        rows.append(
            [
                label,
                f"{dots:,}",
                f"{len(stream) / 1e6:.1f} MB",
                f"{dots / t_msg:,.0f}",
                f"{dots / t_ink:,.0f}",
            ]
        )
    print(f"pen wire decode, median of {args.repeats} runs, 4 KiB chunks")
    print_table(["framing", "dots", "stream", "bytes->messages dots/s", "bytes->ink dots/s"], rows)
    default = results[0]["messages_dots_per_s"]
    verdict = "meets" if default >= TARGET_DOTS_PER_S else "MISSES"
    print(f"\ndefault framing: {default:,.0f} dots/s {verdict} the target of {TARGET_DOTS_PER_S:,}")
    path = write_json(
        "wire", {"target_dots_per_s": TARGET_DOTS_PER_S, "results": results}, args.json
    )
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
