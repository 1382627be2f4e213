"""Live acknowledgements (pen protocol v2): which live frames to journal, what to answer.

A v2 pen keeps every frame of a live session until the host acknowledges it, and sends
those frames again, byte for byte, in ``Resent`` frames after the next handshake or
when asked (docs/pen-protocol.md, "Live acknowledgement"). :class:`LiveLedger` is the
agent's side of it, pure bookkeeping with no I/O: for each pen session it knows the
sequence number of the next frame expected, so that the journal holds every session as
an unbroken run of the pen's frames from its hello, each once and in the pen's order.
Each frame offered to it is

- ``NEW``: the next frame of its session: journal it;
- ``HAVE``: a copy of a frame journaled already (the pen re-sent it): journal nothing;
- ``HOLD``: a frame after one still missing: journal nothing (the pen holds it and
  sends it again, after the missing one).

After the journal commit (never before), :meth:`LiveLedger.answers` gives what to send:
one cumulative ``LiveAck`` per session touched, at most every ``ack_every_s`` (a write
to the pen costs the agent more than the rest of the acknowledgement: the benchmark's
100 Hz pen is read some 13 times a second), and a ``LiveResend`` for a session with a
hole, at once (and again if the hole stays ``resend_after_s``), with its ``LiveAck``.
An acknowledgement held back goes with the next answers, or when the line is quiet
(:attr:`LiveLedger.acks_pending`).

What the ledger believes of a session it has not seen since it started comes from the
journal (``last_seq``), so a restarted agent carries on where the journal stops.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from pen.wire import LiveAck, LiveResend, Message
from pen.wire.stream import SEQ_MODULUS

RESEND_AFTER_S = 1.0
"""Ask again for a missing frame when none came this long after the last request."""
ACK_EVERY_S = 0.25
"""Acknowledge at most this often (the pen holds that much more, a few frames)."""


class Offer(enum.Enum):
    NEW = "new"
    HAVE = "have"
    HOLD = "hold"


@dataclass(slots=True)
class _Session:
    session_ms: int
    next_seq: int | None
    """The seq of the next frame to journal; None: the session's hello is not journaled."""
    ack_due: bool = False
    hole: bool = False
    asked: tuple[int | None, float] | None = None
    """(next_seq, when) of the last LiveResend sent."""


class LiveLedger:
    """Per pen link: the next frame expected in each v2 pen session. Not thread-safe."""

    def __init__(
        self,
        last_seq: Callable[[str], int | None],
        resend_after_s: float = RESEND_AFTER_S,
        ack_every_s: float = ACK_EVERY_S,
    ) -> None:
        """``last_seq(session)``: the seq of the last frame of ``session`` journaled."""
        self._last_seq = last_seq
        self._resend_after_s = resend_after_s
        self._ack_every_s = ack_every_s
        self._acked_at = float("-inf")
        self._sessions: dict[str, _Session] = {}

    @property
    def acks_pending(self) -> bool:
        """An acknowledgement is held back (see :data:`ACK_EVERY_S`)."""
        return any(s.ack_due for s in self._sessions.values())

    def offer(self, session: str, session_ms: int, seq: int, *, hello: bool = False) -> Offer:
        """What to do with frame ``seq`` of ``session`` (``hello``: the frame is a Hello,
        which opens a session not seen before)."""
        s = self._sessions.get(session)
        if s is None:
            last = self._last_seq(session)
            s = _Session(session_ms, None if last is None else (last + 1) % SEQ_MODULUS)
            self._sessions[session] = s
        s.ack_due = True
        if s.next_seq is None:
            if hello:  # a session's frames start at its hello
                s.next_seq = (seq + 1) % SEQ_MODULUS
                return Offer.NEW
            s.hole = True
            return Offer.HOLD
        ahead = (seq - s.next_seq) % SEQ_MODULUS
        if ahead == 0:
            s.next_seq = (seq + 1) % SEQ_MODULUS
            return Offer.NEW
        if ahead >= SEQ_MODULUS // 2:  # behind: the pen holds a copy, the ack is due again
            return Offer.HAVE
        s.hole = True
        return Offer.HOLD

    def answers(self, now_s: float) -> list[Message]:
        """What to send the pen now that the journal holds what was offered (never call
        it between an offer and the commit): ``LiveAck`` per session touched (held back
        while the last went less than ``ack_every_s`` ago), ``LiveResend`` per hole."""
        out: list[Message] = []
        acks = now_s - self._acked_at >= self._ack_every_s
        for s in self._sessions.values():
            ask = False
            if s.hole:
                last = s.asked
                stale = last is not None and now_s - last[1] >= self._resend_after_s
                ask = last is None or last[0] != s.next_seq or stale
                s.hole = False
            if s.ack_due and (acks or ask) and s.next_seq is not None:
                out.append(LiveAck(s.session_ms, (s.next_seq - 1) % SEQ_MODULUS))
                s.ack_due = False
            elif s.next_seq is None:
                s.ack_due = False  # nothing to acknowledge yet
            if ask:
                out.append(LiveResend(s.session_ms))
                s.asked = (s.next_seq, now_s)
        if any(isinstance(m, LiveAck) for m in out):
            self._acked_at = now_s
        return out

    def forget(self) -> None:
        """Drop what is known (the journal write failed): ask the journal again next time."""
        self._sessions.clear()
