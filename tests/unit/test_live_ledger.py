"""The agent's ledger of v2 pen sessions: which live frames to journal, what to answer."""

from __future__ import annotations

from pen.wire import LiveAck, LiveResend
from station_agent.live_acks import LiveLedger, Offer

S, MS = "PEN-1@1000", 1000


def test_a_session_starts_at_its_hello_and_takes_its_frames_in_order() -> None:
    ledger = LiveLedger(lambda session: None, ack_every_s=0)
    assert ledger.offer(S, MS, 7) is Offer.HOLD  # nothing before the hello
    assert ledger.offer(S, MS, 5, hello=True) is Offer.NEW
    assert [ledger.offer(S, MS, seq) for seq in (6, 7, 7, 6, 9)] == [
        Offer.NEW, Offer.NEW, Offer.HAVE, Offer.HAVE, Offer.HOLD,
    ]  # fmt: skip
    assert ledger.answers(0.0) == [LiveAck(MS, 7), LiveResend(MS)]
    assert ledger.offer(S, MS, 8) is Offer.NEW and ledger.offer(S, MS, 9) is Offer.NEW
    assert ledger.answers(0.1) == [LiveAck(MS, 9)]  # cumulative, once per commit
    assert ledger.answers(0.2) == []  # nothing offered since


def test_sequence_numbers_wrap() -> None:
    ledger = LiveLedger(lambda session: 0xFFFE, ack_every_s=0)  # the journal has up to 0xFFFE
    assert [ledger.offer(S, MS, seq) for seq in (0xFFFF, 0, 1, 0xFFF0)] == [
        Offer.NEW, Offer.NEW, Offer.NEW, Offer.HAVE,
    ]  # fmt: skip
    assert ledger.answers(0.0) == [LiveAck(MS, 1)]


def test_a_session_seen_before_carries_on_from_the_journal() -> None:
    asked: list[str] = []

    def last_seq(session: str) -> int | None:
        asked.append(session)
        return 41

    ledger = LiveLedger(last_seq, ack_every_s=0)
    assert ledger.offer(S, MS, 41) is Offer.HAVE and ledger.offer(S, MS, 42) is Offer.NEW
    assert ledger.offer(S, MS, 0, hello=True) is Offer.HAVE  # its hello, sent again
    assert asked == [S]  # the journal is asked once, then the ledger knows
    ledger.forget()  # the write failed: 42 is not on disk, the journal says so
    assert ledger.offer(S, MS, 42) is Offer.NEW and asked == [S, S]


def test_a_hole_is_asked_for_again_only_after_a_while() -> None:
    ledger = LiveLedger(lambda session: 3, resend_after_s=1.0, ack_every_s=0)
    assert ledger.offer(S, MS, 6) is Offer.HOLD
    assert ledger.answers(10.0) == [LiveAck(MS, 3), LiveResend(MS)]
    ledger.offer(S, MS, 7)
    assert ledger.answers(10.5) == [LiveAck(MS, 3)]  # asked 0.5 s ago
    ledger.offer(S, MS, 8)
    assert ledger.answers(11.0) == [LiveAck(MS, 3), LiveResend(MS)]
    assert [ledger.offer(S, MS, seq) for seq in (4, 5, 6)] == [Offer.NEW] * 3
    assert ledger.answers(11.1) == [LiveAck(MS, 6)]


def test_acknowledgements_are_held_back_to_a_few_a_second_but_not_a_resend_request() -> None:
    ledger = LiveLedger(lambda session: 0, ack_every_s=0.25)
    ledger.offer(S, MS, 1)
    assert ledger.answers(10.0) == [LiveAck(MS, 1)]
    ledger.offer(S, MS, 2)
    assert ledger.answers(10.1) == [] and ledger.acks_pending  # held back
    ledger.offer(S, MS, 3)
    assert ledger.answers(10.25) == [LiveAck(MS, 3)] and not ledger.acks_pending
    ledger.offer(S, MS, 5)  # 4 is missing: ask at once, with the ack
    assert ledger.answers(10.3) == [LiveAck(MS, 3), LiveResend(MS)]
