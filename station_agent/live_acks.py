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
one cumulative ``LiveAck`` per session touched, and a ``LiveResend`` for a session with
a hole (again only if the hole stays ``resend_after_s``).

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


class Offer(enum.Enum):
    NEW = "new"
    HAVE = "have"
    HOLD = "hold"


@dataclass(slots=True)
class _Session:
    session_ms: int
    next_seq: int | None
    """The seq of the next frame to journal; None: the session's hello is not journaled."""
    touched: bool = False
    hole: bool = False
    asked: tuple[int | None, float] | None = None
    """(next_seq, when) of the last LiveResend sent."""


class LiveLedger:
    """Per pen link: the next frame expected in each v2 pen session. Not thread-safe."""

    def __init__(
        self, last_seq: Callable[[str], int | None], resend_after_s: float = RESEND_AFTER_S
    ) -> None:
        """``last_seq(session)``: the seq of the last frame of ``session`` journaled."""
        self._last_seq = last_seq
        self._resend_after_s = resend_after_s
        self._sessions: dict[str, _Session] = {}

    def offer(self, session: str, session_ms: int, seq: int, *, hello: bool = False) -> Offer:
        """What to do with frame ``seq`` of ``session`` (``hello``: the frame is a Hello,
        which opens a session not seen before)."""
        s = self._sessions.get(session)
        if s is None:
            last = self._last_seq(session)
            s = _Session(session_ms, None if last is None else (last + 1) % SEQ_MODULUS)
            self._sessions[session] = s
        s.touched = True
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
        """What to send the pen now that the journal holds what was offered (call after
        the commit): a ``LiveAck`` per session touched, a ``LiveResend`` per hole."""
        out: list[Message] = []
        for s in self._sessions.values():
            if not s.touched:
                continue
            if s.next_seq is not None:
                out.append(LiveAck(s.session_ms, (s.next_seq - 1) % SEQ_MODULUS))
            if s.hole:
                last = s.asked
                if last is None or last[0] != s.next_seq or now_s - last[1] >= self._resend_after_s:
                    out.append(LiveResend(s.session_ms))
                    s.asked = (s.next_seq, now_s)
            s.touched = s.hole = False
        return out

    def forget(self) -> None:
        """Drop what is known (the journal write failed): ask the journal again next time."""
        self._sessions.clear()
