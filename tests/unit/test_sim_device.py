"""The simulated pen's state machine, driven with an injected clock (no I/O, no threads)."""

from __future__ import annotations

import zlib

from hardware_sim.device import PenConfig, SimulatedPen
from pen.wire import (
    PROTOCOL_VERSION,
    Ack,
    BatchBegin,
    BatchChunk,
    BatchCommit,
    BatchDeleted,
    BatchEnd,
    Dots,
    Hello,
    HelloAck,
    Nak,
    NakReason,
    PenDown,
    PenUp,
    RequestBatches,
    RequestStatus,
    SetTime,
    Shutdown,
    ShutdownReason,
    Status,
)
from tests.pen_host import Host, assert_same_ink, digits_ink

T0 = 1_700_000_000_000  # true time at the start of each test


def handshake(pen: SimulatedPen, host: Host, now: int) -> None:
    pen.connect(now)
    host.feed(pen.poll(now))
    pen.feed_host(host.hello_ack(), now)
    host.feed(pen.poll(now))


def test_hello_declares_the_pen_and_its_drifting_clock() -> None:
    pen = SimulatedPen(PenConfig(serial="SIM-9", clock_offset_ms=-2_000, drift_ppm=100), T0)
    host = Host()
    pen.connect(T0 + 10_000_000)  # 10,000 s later: 100 ppm is 1 s fast
    (hello,) = host.feed(pen.poll(T0 + 10_000_000))
    assert isinstance(hello, Hello)
    assert (hello.serial, hello.protocol_version) == ("SIM-9", PROTOCOL_VERSION)
    assert hello.pen_clock_ms == T0 + 10_000_000 - 2_000 + 1_000


def test_set_time_sets_the_clock_and_status_answers_request() -> None:
    pen = SimulatedPen(PenConfig(clock_offset_ms=5_000, drift_ppm=50), T0)
    host = Host()
    handshake(pen, host, T0)
    assert host.of(Status)  # a status follows an accepted hello
    pen.feed_host(host.encode(SetTime(T0), RequestStatus()), T0)
    assert pen.clock_ms(T0) == T0
    assert pen.clock_ms(T0 + 1_000_000) == T0 + 1_000_050  # still drifting
    assert [type(m) for m in host.feed(pen.poll(T0))] == [Status]


def test_a_rejected_hello_gets_no_status() -> None:
    pen = SimulatedPen(PenConfig(), T0)
    host = Host()
    pen.connect(T0)
    host.feed(pen.poll(T0))
    pen.feed_host(host.encode(HelloAck(PROTOCOL_VERSION + 1, 0)), T0)
    assert host.feed(pen.poll(T0)) == []
    assert not pen.accepted


def test_live_ink_is_paced_by_its_timestamps() -> None:
    pen = SimulatedPen(PenConfig(), T0)
    host = Host()
    handshake(pen, host, T0)
    ink = digits_ink("7", T0 + 1_000)
    pen.write(ink, T0)
    assert host.feed(pen.poll(T0 + 999)) == []  # nothing before the first dot's time
    first = host.feed(pen.poll(T0 + 1_000))
    assert isinstance(first[0], PenDown)
    assert not any(isinstance(m, PenUp) for m in first)
    host.feed(pen.poll(int(ink[-1].end_ms)))
    assert pen.pending_messages == 0
    dots = host.of(Dots)
    assert max(len(d) for d in dots) == 8
    assert len(host.of(PenUp)) == len(ink)


def test_battery_drains_with_use_to_a_low_battery_shutdown() -> None:
    config = PenConfig(battery_pct=10, drain_pct_per_hour=6, low_battery_pct=5)
    pen = SimulatedPen(config, T0)
    host = Host()
    handshake(pen, host, T0)
    host.feed(pen.poll(T0 + 30 * 60_000))  # half an hour: 10 % -> 7 %
    assert abs(pen.battery_pct - 7) < 1e-6 and pen.is_on
    host.feed(pen.poll(T0 + 51 * 60_000))
    assert not pen.is_on and pen.shutdown_reason == ShutdownReason.LOW_BATTERY
    assert [type(m) for m in host.received[-2:]] == [Status, Shutdown]
    assert host.received[-1] == Shutdown(ShutdownReason.LOW_BATTERY)
    assert host.received[-2].battery_pct == 5
    pen.write(digits_ink("1", T0 + 52 * 60_000), T0 + 52 * 60_000)
    assert host.feed(pen.poll(T0 + 60 * 60_000)) == []  # off: ink is lost, counted
    assert pen.lost_dots > 0


def test_offline_ink_fills_memory_to_a_memory_full_shutdown() -> None:
    # v1: a v2 pen's status also counts the live frames it retains (tests/unit/test_sim_live_ack.py)
    pen = SimulatedPen(PenConfig(memory_total=600, protocol_version=1), T0)
    ink = digits_ink("80", T0)
    pen.write(ink, T0)
    pen.poll(int(ink[-1].end_ms))
    assert not pen.is_on and pen.shutdown_reason == ShutdownReason.MEMORY_FULL
    assert 0 < pen.memory_used <= 600 and pen.lost_dots > 0
    assert pen.stored_batches == (1,)  # what fitted is kept
    now = int(ink[-1].end_ms) + 1_000
    pen.power_on(now)
    host = Host()
    handshake(pen, host, now)
    (status,) = host.of(Status)
    assert (status.memory_used, status.memory_total, status.offline_batches) == (
        pen.memory_used,
        600,
        1,
    )


def download(pen: SimulatedPen, host: Host, now: int, nak_first: bool = False) -> None:
    """Ask for batches and ack every chunk (nak each chunk's first copy if asked)."""
    pen.feed_host(host.encode(RequestBatches()), now)
    naked: set[tuple[int, int]] = set()
    for _ in range(1_000):
        new = host.feed(pen.poll(now))
        if not new:
            return
        for msg in new:
            if isinstance(msg, BatchChunk):
                key = (msg.batch_id, msg.index)
                if nak_first and key not in naked:
                    naked.add(key)
                    reply = host.encode(Nak(*key, NakReason.CRC))
                else:
                    reply = host.encode(Ack(*key))
                pen.feed_host(reply, now)
    raise AssertionError("the transfer does not end")


def offline_pen(config: PenConfig) -> tuple[SimulatedPen, int]:
    pen = SimulatedPen(config, T0)
    ink = digits_ink("42", T0)
    pen.write(ink, T0)
    end = int(ink[-1].end_ms)
    pen.poll(end)
    return pen, end


def test_offline_batch_download_commit_and_delete() -> None:
    pen, now = offline_pen(PenConfig(chunk_size=200))
    host = Host()
    handshake(pen, host, now)
    download(pen, host, now)
    (begin,) = host.of(BatchBegin)
    data = host.batch_data(begin.batch_id)
    assert zlib.crc32(data) == begin.crc32 and begin.n_chunks == -(-len(data) // 200)
    assert_same_ink(host.batch_ink(begin.batch_id), digits_ink("42", T0))
    assert pen.stored_batches == (begin.batch_id,)  # not deleted before the commit
    pen.feed_host(host.encode(BatchCommit(begin.batch_id)), now)
    assert host.feed(pen.poll(now)) == [BatchDeleted(begin.batch_id)]
    assert pen.stored_batches == ()
    pen.feed_host(host.live_ack(), now)  # v2: the frames sent are held until acknowledged
    assert pen.memory_used == 0


def test_nak_makes_the_pen_send_the_chunk_again() -> None:
    pen, now = offline_pen(PenConfig(chunk_size=300))
    host = Host()
    handshake(pen, host, now)
    download(pen, host, now, nak_first=True)
    chunks = host.of(BatchChunk)
    (begin,) = host.of(BatchBegin)
    assert len(chunks) == 2 * begin.n_chunks == 2 * pen.resent_chunks
    assert [c.index for c in chunks[:2]] == [0, 0] and chunks[0] == chunks[1]
    assert_same_ink(host.batch_ink(begin.batch_id), digits_ink("42", T0))


def test_a_chunk_without_ack_is_sent_again_after_the_timeout() -> None:
    pen, now = offline_pen(PenConfig(ack_timeout_ms=500))
    host = Host()
    handshake(pen, host, now)
    pen.feed_host(host.encode(RequestBatches()), now)
    host.feed(pen.poll(now))
    assert len(host.of(BatchChunk)) == 1
    host.feed(pen.poll(now + 499))
    assert len(host.of(BatchChunk)) == 1
    host.feed(pen.poll(now + 500))
    assert len(host.of(BatchChunk)) == 2 and host.of(BatchChunk)[1].index == 0


def test_disconnect_mid_download_keeps_the_batch_for_next_time() -> None:
    pen, now = offline_pen(PenConfig(chunk_size=100))
    host = Host()
    handshake(pen, host, now)
    pen.feed_host(host.encode(RequestBatches()), now)
    host.feed(pen.poll(now))
    (chunk,) = host.of(BatchChunk)
    pen.feed_host(host.encode(Ack(chunk.batch_id, 0)), now)
    pen.disconnect(now)
    assert pen.stored_batches == (chunk.batch_id,)
    host2 = Host()
    handshake(pen, host2, now + 1)
    download(pen, host2, now + 1)
    assert host2.ended(chunk.batch_id)
    assert_same_ink(host2.batch_ink(chunk.batch_id), digits_ink("42", T0))


def test_commit_of_a_batch_not_fully_sent_deletes_nothing() -> None:
    pen, now = offline_pen(PenConfig())
    host = Host()
    handshake(pen, host, now)
    pen.feed_host(host.encode(BatchCommit(1)), now)
    assert host.feed(pen.poll(now)) == []
    assert pen.stored_batches == (1,)
    assert BatchCommit(1) in pen.host_events


def test_auto_send_batches_after_the_handshake() -> None:
    pen, now = offline_pen(PenConfig(auto_send_batches=True))
    host = Host()
    handshake(pen, host, now)
    assert host.of(BatchBegin) and host.of(BatchChunk)
    assert not host.of(BatchEnd)
