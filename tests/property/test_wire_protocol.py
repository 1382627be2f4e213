"""Property tests of the pen wire protocol: round trips, chunking, and damage."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pen.wire import (
    CorruptFrame,
    FrameDecoder,
    FrameEncoder,
    Garbage,
    Message,
    Received,
    StreamDecoder,
    decode_message,
    decode_stream,
    encode_message,
)
from pen.wire.messages import MESSAGE_TYPES
from tests.property.wire_strategies import MESSAGES, any_message


def test_every_message_type_has_a_strategy() -> None:
    assert set(MESSAGES) == set(MESSAGE_TYPES.values())


@pytest.mark.parametrize("cls", sorted(MESSAGES, key=lambda c: c.TYPE), ids=lambda c: c.__name__)
@given(data=st.data(), seq=st.integers(0, 0xFFFF))
def test_round_trip_every_frame_type(cls: type[Message], data: st.DataObject, seq: int) -> None:
    message = data.draw(MESSAGES[cls])
    assert decode_message(cls.TYPE, message.payload()) == message
    events = decode_stream(encode_message(message, seq))
    assert events == [Received(seq, message, 0)]


def _session(messages: list[Message]) -> tuple[bytes, list[tuple[int, int, int]]]:
    """Encode messages; return the stream and each frame's (start, end inclusive, seq)."""
    enc = FrameEncoder(start_seq=7)
    parts: list[bytes] = []
    spans: list[tuple[int, int, int]] = []
    pos = 0
    for m in messages:
        seq = enc.next_seq
        frame = enc.encode(m)
        spans.append((pos, pos + len(frame) - 1, seq))
        parts.append(frame)
        pos += len(frame)
    return b"".join(parts), spans


def _feed_in_chunks(stream: bytes, cuts: list[int]) -> list[object]:
    decoder = StreamDecoder()
    events: list[object] = []
    last = 0
    for cut in [*sorted(set(cuts)), len(stream)]:
        events += decoder.feed(stream[last:cut])
        last = cut
    return events + decoder.flush()


@given(
    messages=st.lists(any_message, min_size=1, max_size=30),
    cuts=st.lists(st.integers(0, 10_000), max_size=40),
)
def test_chunked_stream_decodes_as_whole(messages: list[Message], cuts: list[int]) -> None:
    stream, _ = _session(messages)
    whole = decode_stream(stream)
    assert [e.message for e in whole if isinstance(e, Received)] == messages
    assert _feed_in_chunks(stream, [c % (len(stream) + 1) for c in cuts]) == whole


damage = st.tuples(
    st.sampled_from(["flip", "insert", "delete"]), st.integers(0, 10**9), st.integers(0, 255)
)


@settings(max_examples=300)
@given(
    messages=st.lists(any_message, min_size=1, max_size=25),
    damages=st.lists(damage, min_size=1, max_size=6),
    cuts=st.lists(st.integers(0, 10**9), max_size=10),
)
def test_damage_is_contained(
    messages: list[Message], damages: list[tuple[str, int, int]], cuts: list[int]
) -> None:
    stream, spans = _session(messages)
    # Apply damages in original-stream coordinates, from the end so indices stay valid.
    data = bytearray(stream)
    hit: set[int] = set()  # original positions damaged (insertions: the byte after)
    by_position = {where % len(stream): (kind, value) for kind, where, value in damages}
    for p, (kind, value) in sorted(by_position.items(), reverse=True):
        if kind == "flip":
            if value == 0:
                value = 1
            data[p] ^= value
            hit.add(p)
        elif kind == "insert":
            data[p:p] = bytes([value])
            hit.add(p)
            # An insertion at a frame's first byte lies between frames: harmless there.
        else:
            del data[p]
            hit.add(p)
    damaged = bytes(data)
    events = _feed_in_chunks(damaged, [c % (len(damaged) + 1) for c in cuts])

    sent = {(seq, m.TYPE, m.payload()) for m, (_, _, seq) in zip(messages, spans, strict=True)}
    got = [(e.seq, e.message.TYPE, e.message.payload()) for e in events if isinstance(e, Received)]
    # Never a frame that was not sent.
    assert set(got) <= sent
    # Every frame outside the damaged region is recovered.
    inserted_at = {p for p, (kind, _) in by_position.items() if kind == "insert"}
    for m, (start, end, seq) in zip(messages, spans, strict=True):
        touched = any(start <= p <= end for p in hit if p not in inserted_at) or any(
            start < p <= end for p in inserted_at
        )
        if not touched:
            assert (seq, m.TYPE, m.payload()) in got, f"frame seq {seq} lost though undamaged"


@given(noise=st.binary(max_size=3000), cuts=st.lists(st.integers(0, 3000), max_size=20))
def test_random_bytes_never_crash_and_are_all_accounted_for(noise: bytes, cuts: list[int]) -> None:
    decoder = FrameDecoder()
    events: list[object] = []
    last = 0
    for cut in [*sorted({c % (len(noise) + 1) for c in cuts}), len(noise)]:
        events += decoder.feed(noise[last:cut])
        last = cut
    events += decoder.flush()
    # Every byte fed is in exactly one event, in order, with nothing left over.
    covered = 0
    for e in events:
        assert isinstance(e, Garbage | CorruptFrame)  # a valid CRC by chance is ~2**-32
        assert e.offset == covered
        assert noise[e.offset : e.offset + len(e.data)] == e.data
        covered += len(e.data)
    assert covered == len(noise)
    assert decoder.pending == 0
