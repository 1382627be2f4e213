"""Hypothesis strategies for every message of the pen wire protocol."""

from __future__ import annotations

from hypothesis import strategies as st

from pen.wire import (
    DOT_DTYPE,
    Ack,
    BatchBegin,
    BatchChunk,
    BatchCommit,
    BatchDeleted,
    BatchEnd,
    DecodeError,
    Dots,
    Hello,
    HelloAck,
    LiveAck,
    LiveResend,
    LostPoints,
    Message,
    Nak,
    Page,
    PenDown,
    PenUp,
    RequestBatches,
    RequestStatus,
    Resent,
    SetTime,
    Shutdown,
    ShutdownReason,
    Status,
    encode_message,
)

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
u64 = st.integers(0, 2**64 - 1)
short_text = st.text(max_size=40).filter(lambda s: len(s.encode()) <= 255)

records = st.integers(1, 255).flatmap(
    lambda n: st.binary(min_size=n * DOT_DTYPE.itemsize, max_size=n * DOT_DTYPE.itemsize)
)
dots = st.builds(Dots, u32, u32, records)

MESSAGES: dict[type[Message], st.SearchStrategy[Message]] = {
    Hello: st.builds(
        Hello,
        u8,
        u64,
        st.integers(1, 0xFFFFFFFF),
        st.integers(1, 0xFFFF),
        st.integers(1, 0xFFFF),
        u16,
        short_text,
        short_text,
        short_text,
    ),
    PenDown: st.builds(PenDown, u64, u32),
    Page: st.builds(Page, u32, u16, u16, u16),
    Dots: dots,
    PenUp: st.builds(PenUp, u64, u32, u32),
    DecodeError: st.builds(DecodeError, u64, u16),
    LostPoints: st.builds(LostPoints, u64, u16),
    Status: st.builds(Status, u8, u8, u32, u32, u16),
    Shutdown: st.builds(Shutdown, st.sampled_from([int(r) for r in ShutdownReason])),
    BatchBegin: st.builds(BatchBegin, u32, u32, u32, u32),
    BatchChunk: st.builds(BatchChunk, u32, u32, st.binary(max_size=2000)),
    BatchEnd: st.builds(BatchEnd, u32),
    BatchDeleted: st.builds(BatchDeleted, u32),
    HelloAck: st.builds(HelloAck, u8, u8, st.none() | u64),
    SetTime: st.builds(SetTime, u64),
    Ack: st.builds(Ack, u32, u32),
    Nak: st.builds(Nak, u32, u32, u8),
    BatchCommit: st.builds(BatchCommit, u32),
    RequestStatus: st.just(RequestStatus()),
    RequestBatches: st.just(RequestBatches()),
    LiveAck: st.builds(LiveAck, u64, u16),
    LiveResend: st.builds(LiveResend, u64),
}

any_message = st.one_of(*MESSAGES.values())

#: A frame as it was on the wire, as a v2 pen keeps it to send it again.
sent_frame = st.builds(encode_message, any_message, u16)
MESSAGES[Resent] = st.builds(Resent, u64, sent_frame)
