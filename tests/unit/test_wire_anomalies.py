"""Each anomaly of the wire decoder is reported as its own typed event."""

from __future__ import annotations

import numpy as np
import pytest

from pen.errors import WireError
from pen.ink import Stroke
from pen.page import PageAddress
from pen.wire import (
    DOT_DTYPE,
    CorruptFrame,
    CorruptReason,
    DeviceUnits,
    Dots,
    DuplicateFrame,
    Frame,
    FrameDecoder,
    FrameEncoder,
    Garbage,
    Hello,
    InkAssembler,
    MalformedMessage,
    OrphanMessage,
    PenDown,
    PenUp,
    Received,
    Resent,
    SequenceGap,
    Shutdown,
    StreamDecoder,
    StrokeIncomplete,
    decode_stream,
    encode_message,
    stroke_messages,
)
from pen.wire.framing import ESC, ETX, HEADER, STX, encode_frame, escape, unescape

HELLO = Hello(1, 1_318_000_000_000, 37_500, 1, 255, 75, "AJX-0001", "ADP-611", "2.1")


def kinds(events: list[object]) -> list[str]:
    return [type(e).__name__ for e in events]


def test_escaping_hides_every_delimiter() -> None:
    body = bytes([STX, ETX, ESC, 0x41, ESC, ESC, STX])
    escaped = escape(body)
    assert STX not in escaped and ETX not in escaped
    assert unescape(escaped) == body


def test_escape_followed_by_ordinary_byte_is_rejected() -> None:
    assert unescape(bytes([0x41, ESC, 0x41])) is None
    assert unescape(bytes([0x41, ESC])) is None


def test_garbage_before_a_frame_is_reported_with_its_bytes() -> None:
    frame = encode_message(PenDown(5, 1), seq=0)
    events = decode_stream(b"\x00noise" + frame)
    assert events == [Garbage(b"\x00noise", 0), Received(0, PenDown(5, 1), 6)]


def test_frame_cut_by_a_new_start_is_truncated() -> None:
    first = encode_message(PenDown(5, 1), seq=0)
    second = encode_message(PenDown(6, 2), seq=1)
    events = decode_stream(first[:7] + second)
    assert isinstance(events[0], CorruptFrame)
    assert events[0].reason == CorruptReason.TRUNCATED
    assert events[0].data == first[:7]
    assert events[1] == Received(1, PenDown(6, 2), 7)


def test_crc_mismatch() -> None:
    frame = bytearray(encode_message(PenDown(5, 1), seq=0))
    frame[8] ^= 0x01
    (event,) = decode_stream(bytes(frame))
    assert isinstance(event, CorruptFrame)
    assert event.reason == CorruptReason.CRC_MISMATCH
    assert event.data == bytes(frame)


def test_length_mismatch_and_too_short() -> None:
    payload = b"\x01\x02"
    body = HEADER.pack(0x10, 0, 5) + payload + b"\x00\x00\x00\x00"
    (event,) = decode_stream(bytes([STX]) + escape(body) + bytes([ETX]))
    assert isinstance(event, CorruptFrame) and event.reason == CorruptReason.LENGTH_MISMATCH
    (event,) = decode_stream(bytes([STX, 0x10, 0x00, ETX]))
    assert isinstance(event, CorruptFrame) and event.reason == CorruptReason.TOO_SHORT


def test_bad_escape() -> None:
    (event,) = decode_stream(bytes([STX, 0x10, ESC, 0x41, 0, 0, 0, 0, 0, 0, ETX]))
    assert isinstance(event, CorruptFrame) and event.reason == CorruptReason.BAD_ESCAPE


def test_endless_frame_is_cut_at_the_longest_possible_frame() -> None:
    decoder = FrameDecoder()
    events: list[object] = []
    events += decoder.feed(bytes([STX]))
    chunk = b"\x41" * 4096
    for _ in range(40):  # 160 KiB with no end byte, fed in pieces
        events += decoder.feed(chunk)
    assert isinstance(events[0], CorruptFrame) and events[0].reason == CorruptReason.TOO_LONG
    # After giving up on the frame, the rest is garbage until the next start byte.
    assert all(isinstance(e, Garbage) for e in events[1:])
    assert sum(len(e.data) for e in events) == 1 + 40 * 4096  # type: ignore[attr-defined]
    assert decoder.pending < 4096 + 1
    frame = encode_frame(0x10, 3, PenDown(1, 1).payload())
    tail = decoder.feed(frame)
    assert isinstance(tail[-1], Frame)
    assert (tail[-1].type, tail[-1].seq, tail[-1].payload) == (0x10, 3, PenDown(1, 1).payload())


def test_sequence_gap_reports_the_missing_count_and_delivers() -> None:
    enc = FrameEncoder()
    frames = [enc.encode(PenDown(i, i)) for i in range(5)]
    events = decode_stream(frames[0] + frames[3] + frames[4])
    assert kinds(events) == ["Received", "SequenceGap", "Received", "Received"]
    gap = events[1]
    assert isinstance(gap, SequenceGap) and (gap.expected, gap.received, gap.missing) == (1, 3, 2)


def test_sequence_wraps_around_without_a_gap() -> None:
    enc = FrameEncoder(start_seq=0xFFFE)
    stream = b"".join(enc.encode(PenDown(i, i)) for i in range(4))
    events = decode_stream(stream)
    assert [e.seq for e in events if isinstance(e, Received)] == [0xFFFE, 0xFFFF, 0, 1]
    assert all(isinstance(e, Received) for e in events)


def test_duplicate_frame_is_reported_and_not_delivered_twice() -> None:
    enc = FrameEncoder()
    a, b, c = (enc.encode(PenDown(i, i)) for i in range(3))
    events = decode_stream(a + b + b + c)
    assert kinds(events) == ["Received", "Received", "DuplicateFrame", "Received"]
    dup = events[2]
    assert isinstance(dup, DuplicateFrame) and dup.seq == 1


def test_hello_restarts_the_sequence() -> None:
    first = FrameEncoder(start_seq=100)
    again = FrameEncoder(start_seq=0)
    stream = first.encode(HELLO) + first.encode(PenDown(1, 1)) + again.encode(HELLO)
    assert all(isinstance(e, Received) for e in decode_stream(stream))


def test_a_resent_frame_is_unsequenced_and_carries_the_original_bytes() -> None:
    enc = FrameEncoder()
    a, b, c = (enc.encode(PenDown(i, i)) for i in range(3))
    copy = FrameEncoder.encode_unsequenced(Resent(1234, b))  # seq 0, the counter stays
    events = decode_stream(a + b + copy + copy + c)
    assert kinds(events) == ["Received"] * 5  # no gap, no duplicate
    resent = events[2]
    assert isinstance(resent, Received) and resent.message == Resent(1234, b)
    (inner,) = decode_stream(resent.message.frame)
    assert isinstance(inner, Received) and (inner.seq, inner.message) == (1, PenDown(1, 1))
    bad = encode_frame(Resent.TYPE, 0, b"\x01" * 8 + b"not a frame")
    assert kinds(decode_stream(bad)) == ["MalformedMessage"]


def test_unknown_type_and_bad_payload_are_malformed_messages() -> None:
    events = decode_stream(encode_frame(0x7F, 0, b"abc") + encode_frame(Shutdown.TYPE, 1, b"\x09"))
    assert kinds(events) == ["MalformedMessage", "MalformedMessage"]
    unknown, bad = events
    assert isinstance(unknown, MalformedMessage) and "unknown frame type 0x7f" in unknown.reason
    assert isinstance(bad, MalformedMessage) and "Shutdown reason 9" in bad.reason


def test_malformed_hello_strings() -> None:
    payload = HELLO.payload()
    with pytest.raises(WireError, match="runs past the payload end"):
        Hello.from_payload(payload[:-2])
    with pytest.raises(WireError, match="trailing bytes"):
        Hello.from_payload(payload + b"x")


def test_flush_reports_a_frame_cut_by_the_end_of_the_stream() -> None:
    decoder = StreamDecoder()
    frame = encode_message(PenDown(1, 1), seq=0)
    assert decoder.feed(frame[:-3]) == []
    assert decoder.pending == len(frame) - 3
    (event,) = decoder.flush()
    assert isinstance(event, CorruptFrame) and event.reason == CorruptReason.TRUNCATED


def test_dots_encoding_rejects_bad_sizes() -> None:
    with pytest.raises(WireError):
        Dots(0, 0, b"")
    with pytest.raises(WireError):
        Dots(0, 0, b"\x00" * 11)
    with pytest.raises(WireError):
        Dots.of(np.zeros(256, dtype=DOT_DTYPE))


def _stroke(n: int = 20, t0: int = 1_318_000_000_000) -> Stroke:
    rng = np.random.default_rng(n)
    return Stroke.from_arrays(
        40 + np.cumsum(rng.normal(0, 0.4, n)),
        60 + np.cumsum(rng.normal(0, 0.4, n)),
        t0 + 13 * np.arange(n),
        rng.uniform(0, 1, n),
        pen_serial="AJX-0001",
        page=PageAddress(70, 12, 3, 41),
    )


def _assemble(messages: list[object]) -> list[object]:
    enc = FrameEncoder()
    stream = enc.encode(HELLO) + b"".join(enc.encode(m) for m in messages)  # type: ignore[arg-type]
    received = [e.message for e in decode_stream(stream) if isinstance(e, Received)]
    asm = InkAssembler()
    return asm.feed(received) + asm.finish()


def test_stroke_survives_the_wire_within_half_a_device_unit() -> None:
    stroke = _stroke()
    (back,) = _assemble(stroke_messages(stroke, 7))
    assert isinstance(back, Stroke)
    assert back.pen_serial == "AJX-0001" and back.page == stroke.page
    assert np.abs(back.points[:, :2] - stroke.points[:, :2]).max() <= 0.0375 / 2 + 1e-9
    assert np.array_equal(back.t, stroke.t)
    assert np.abs(back.force - stroke.force).max() <= 0.5 / 255 + 1e-9
    assert back.raw is not None and back.unit_mm == pytest.approx(0.0375)


@pytest.mark.parametrize("lost", [0, 1, 2])
def test_missing_dots_are_flagged_and_the_rest_keep_their_times(lost: int) -> None:
    original = _stroke(24)
    msgs = stroke_messages(original, 3, dots_per_frame=8)
    dots_frames = [i for i, m in enumerate(msgs) if isinstance(m, Dots)]
    del msgs[dots_frames[lost]]
    out = _assemble(msgs)
    stroke, incomplete = out
    assert isinstance(stroke, Stroke) and len(stroke) == 16
    kept = np.delete(np.arange(24), np.arange(8 * lost, 8 * lost + 8))
    assert np.array_equal(stroke.t, original.t[kept])
    assert isinstance(incomplete, StrokeIncomplete)
    assert (incomplete.expected_dots, incomplete.received_dots) == (24, 16)


def test_frames_going_back_in_time_are_clamped_and_reported() -> None:
    msgs = stroke_messages(_stroke(24), 3, dots_per_frame=8)
    frames = {m.first_index: i for i, m in enumerate(msgs) if isinstance(m, Dots)}
    last = msgs[frames[16]]
    assert isinstance(last, Dots)
    msgs[frames[16]] = Dots(last.first_index, 0, last.records)  # claims to start at pen-down
    del msgs[frames[8]]  # a lost frame makes the host re-anchor on the offsets
    out = _assemble(msgs)
    stroke = out[0]
    assert isinstance(stroke, Stroke) and np.all(np.diff(stroke.t) >= 0)
    reasons = [o.reason for o in out[1:] if isinstance(o, StrokeIncomplete)]
    assert any("backwards" in r for r in reasons) and any("announced 24" in r for r in reasons)


def test_disconnect_mid_stroke_keeps_the_partial_stroke() -> None:
    msgs = stroke_messages(_stroke(24), 3, dots_per_frame=8)
    cut = [m for m in msgs if not isinstance(m, PenUp)]
    out = _assemble([*cut, HELLO])
    assert kinds(out) == ["Stroke", "StrokeIncomplete"]
    assert len(out[0]) == 24  # type: ignore[arg-type]


def test_dots_without_a_pen_down_are_orphans() -> None:
    msgs = stroke_messages(_stroke(10), 3)
    out = _assemble(msgs[2:])  # pen-down and page lost
    assert kinds(out) == ["OrphanMessage", "OrphanMessage", "OrphanMessage"]
    assert all(isinstance(o, OrphanMessage) for o in out)


def test_stroke_outside_device_range_cannot_be_encoded() -> None:
    big = Stroke.from_arrays([0.0, 3000.0], [0.0, 0.0], [0, 10], pen_serial="x")
    with pytest.raises(WireError, match="device coordinate range"):
        stroke_messages(big, 1)


def test_strokes_keep_their_own_pen_when_a_new_pen_says_hello_in_the_same_feed() -> None:
    ncode = Hello(1, 0, 2_371_000, 100, 1023, 100, "NCODE-7", "N2", "1.0")
    first, second = _stroke(10), _stroke(12, t0=1_318_000_100_000)
    messages = [HELLO, *stroke_messages(first, 1), ncode]
    messages += stroke_messages(second, 1, DeviceUnits.of(ncode))
    asm = InkAssembler()
    out = asm.feed(messages)
    assert [s.pen_serial for s in out if isinstance(s, Stroke)] == ["AJX-0001", "NCODE-7"]
    a, b = out
    assert isinstance(a, Stroke) and isinstance(b, Stroke)
    assert a.unit_mm == pytest.approx(0.0375) and b.unit_mm == pytest.approx(2.371)
    assert np.abs(b.points[:, :2] - second.points[:, :2]).max() <= 2.371 / 200 + 1e-9
    assert np.array_equal(b.t, second.t)
