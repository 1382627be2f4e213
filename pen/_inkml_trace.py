"""Decoding the text of one InkML ``<trace>`` into a table of channel values.

Owns the trace-data grammar of InkML 1.0 section 3.2.1
(https://www.w3.org/TR/InkML/#traceData): points separated by commas, values
by white space or by the sign or prefix of the next value, the difference
encodings (``!`` explicit value, ``'`` first difference, ``"`` second
difference; a prefix holds for its channel until the next prefix) and the
boolean values ``T`` / ``F``. The ``?`` (unknown) and ``*`` (unchanged)
markers and hexadecimal values are not supported and are rejected clearly.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from pen.errors import InkMLError

_SPACE = re.compile(r"\s*")
_VALUE = re.compile(r"""([!'"]?)\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[TF](?![A-Za-z]))""")
_UNSUPPORTED = {
    "?": "'?' (value unknown)",
    "*": "'*' (value unchanged)",
    "#": "hexadecimal values",
}
_MODE_NAMES = {"'": "a first difference (')", '"': 'a second difference (")'}


def decode_trace(
    text: str, channels: Sequence[str], where: str, fail: Callable[[str, str], InkMLError]
) -> npt.NDArray[np.float64]:
    """The (N, len(channels)) values of a trace; ``fail(message, where)`` builds the error."""
    n_ch = len(channels)
    if not text.strip():
        raise fail("empty trace: it has no points", where)
    mode = ["!"] * n_ch
    prev: list[float | None] = [None] * n_ch
    velocity: list[float | None] = [None] * n_ch
    rows: list[list[float]] = []
    for p, chunk in enumerate(text.split(","), start=1):
        tokens = _tokens(chunk, p, channels, where, fail)
        if len(tokens) != n_ch:
            raise fail(
                f"point {p} has {len(tokens)} value(s) but the trace format "
                f"{' '.join(channels)} needs {n_ch}",
                where,
            )
        row: list[float] = []
        for c, (prefix, token) in enumerate(tokens):
            number = 1.0 if token == "T" else 0.0 if token == "F" else float(token)
            if prefix:
                mode[c] = prefix
            last, speed = prev[c], velocity[c]
            if mode[c] == "!":
                value = number
            elif last is None or (mode[c] == '"' and speed is None):
                raise fail(
                    f"point {p}, channel {channels[c]}: {_MODE_NAMES[mode[c]]} needs "
                    f"{'a previous point' if last is None else 'two previous points'}",
                    where,
                )
            elif mode[c] == "'":
                value = last + number
            else:
                assert speed is not None
                value = last + speed + number
            velocity[c] = None if last is None else value - last
            prev[c] = value
            row.append(value)
        rows.append(row)
    return np.array(rows, dtype=np.float64).reshape(len(rows), n_ch)


def _tokens(
    chunk: str,
    p: int,
    channels: Sequence[str],
    where: str,
    fail: Callable[[str, str], InkMLError],
) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = _SPACE.match(chunk, 0).end()  # type: ignore[union-attr]
    if pos == len(chunk):
        raise fail(f"point {p} is empty (two commas in a row, or a trailing comma)", where)
    while pos < len(chunk):
        m = _VALUE.match(chunk, pos)
        if len(tokens) < len(channels):
            channel = f"channel {channels[len(tokens)]}"
        else:
            channel = f"value {len(tokens) + 1} (the format has {len(channels)} channels)"
        if m is None:
            bad = chunk[pos:].split()[0][:20]
            what = _UNSUPPORTED.get(bad.lstrip("!'\"")[:1])
            if what:
                raise fail(f"point {p}, {channel}: {what} is not supported by Plume", where)
            raise fail(f"point {p}, {channel}: {bad!r} is not a number", where)
        tokens.append((m.group(1), m.group(2)))
        pos = _SPACE.match(chunk, m.end()).end()  # type: ignore[union-attr]
    return tokens
