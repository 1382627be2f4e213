"""Each fault of hardware_sim.faults shows in what the host decodes, not only in a flag."""

from __future__ import annotations

import numpy as np
import pytest

from hardware_sim.device import PenConfig
from hardware_sim.faults import (
    ClockReset,
    CorruptBytes,
    DecodeErrors,
    Disconnect,
    DropFrames,
    DuplicateFrames,
    FaultPlan,
    FaultSpecError,
    FaultyPen,
    LineFilter,
    LostPoints,
    LowBattery,
    MemoryFull,
    Replug,
    Spikes,
)
from pen.wire import (
    Ack,
    BatchBegin,
    BatchChunk,
    BatchEnd,
    CorruptFrame,
    DuplicateFrame,
    PenDown,
    PenUp,
    RequestBatches,
    SequenceGap,
    Shutdown,
    ShutdownReason,
    Status,
    StrokeIncomplete,
    decode_ink,
)
from pen.wire import DecodeError as DecodeErrorMessage
from pen.wire import LostPoints as LostPointsMessage
from tests.pen_host import Host, assert_same_ink, digits_ink

T0 = 1_700_000_000_000
STEP = 13  # ms between polls, like a driver


def handshake(pen: FaultyPen, host: Host, now: int) -> None:
    pen.connect(now)
    host.feed(pen.poll(now))
    pen.feed_host(host.hello_ack(), now)
    host.feed(pen.poll(now))


def run_live(*faults: object, text: str = "1234", seed: int = 0, **config: int) -> tuple:
    """Connect, write ``text`` at T0 + 100 and poll every STEP ms until it is all out."""
    pen = FaultyPen(PenConfig(serial="F-1", **config), T0, FaultPlan(faults, seed))  # type: ignore[arg-type]
    host = Host()
    handshake(pen, host, T0)
    ink = digits_ink(text, T0 + 100)
    pen.write(ink, T0)
    for now in range(T0, int(ink[-1].end_ms) + 2 * STEP, STEP):
        host.feed(pen.poll(now))
    host.feed(pen.line.flush())
    return pen, host, ink


def test_no_fault_is_a_clean_session() -> None:
    _, host, ink = run_live()
    assert host.anomalies == []
    decoded, anomalies = decode_ink(bytes(host.raw))
    assert anomalies == []
    assert_same_ink(decoded, ink)


def test_corrupt_bytes_cost_the_frame_they_hit() -> None:
    pen, host, _ = run_live(CorruptBytes(frames=(6,)))
    assert [f.where for f in pen.fired] == [6]
    corrupt = [a for a in host.anomalies if isinstance(a, CorruptFrame)]
    assert corrupt
    assert any(isinstance(a, SequenceGap) and a.missing == 1 for a in host.anomalies)


def test_the_same_seed_damages_the_same_bytes() -> None:
    plan = (CorruptBytes(probability=0.1), DropFrames(probability=0.05))
    a = run_live(*plan, seed=7)[1].raw
    b = run_live(*plan, seed=7)[1].raw
    c = run_live(*plan, seed=8)[1].raw
    assert a == b
    assert a != c
    assert any(isinstance(x, CorruptFrame) for x in decode_ink(bytes(a))[1])


def test_a_dropped_frame_is_a_sequence_gap_and_missing_dots() -> None:
    _, host, ink = run_live(DropFrames(frames=(5,)))
    gaps = [a for a in host.anomalies if isinstance(a, SequenceGap)]
    assert [(g.expected, g.missing) for g in gaps] == [(5, 1)]
    decoded, anomalies = decode_ink(bytes(host.raw))
    assert decoded.n_points < ink.n_points
    assert any(isinstance(a, StrokeIncomplete) for a in anomalies)


def test_a_duplicated_frame_is_reported_not_delivered_twice() -> None:
    _, host, ink = run_live(DuplicateFrames(frames=(4,)))
    dups = [a for a in host.anomalies if isinstance(a, DuplicateFrame)]
    assert [d.seq for d in dups] == [4]
    decoded, _ = decode_ink(bytes(host.raw))
    assert_same_ink(decoded, ink)


def test_replug_leaves_a_partial_frame_and_stale_garbage_then_resynchronises() -> None:
    _, host, ink = run_live(Replug(frames=(5,), garbage=20))
    truncated = [a for a in host.anomalies if isinstance(a, CorruptFrame)]
    assert len(truncated) == 1 and truncated[0].reason == "truncated"
    assert len(truncated[0].data) >= 20  # half a frame plus the stale bytes
    assert [(a.expected, a.missing) for a in host.anomalies if isinstance(a, SequenceGap)] == [
        (5, 1)
    ]
    assert len(host.of(PenUp)) == len(ink)  # everything after the re-plug arrives intact


def test_disconnect_mid_stroke_cuts_the_stroke_and_keeps_the_rest_offline() -> None:
    ink0 = digits_ink("1234", T0 + 100)
    mid = int((ink0[0].start_ms + ink0[0].end_ms) / 2) - T0
    pen, host, ink = run_live(Disconnect(at_ms=mid))
    assert host.of(PenDown) and not host.of(PenUp)
    decoded, anomalies = decode_ink(bytes(host.raw))
    assert any(isinstance(a, StrokeIncomplete) for a in anomalies)
    assert decoded.n_points < len(ink[0])
    assert not pen.connected and pen.stored_batches  # the rest went to offline memory


def test_disconnect_mid_download_keeps_the_batch_and_offers_it_again() -> None:
    t1 = T0 + 5_000
    pen = FaultyPen(
        PenConfig(serial="F-2", chunk_size=64), T0, FaultPlan((Disconnect(at_ms=5_000 + 25),))
    )
    ink = digits_ink("12", T0 + 100)
    pen.write(ink, T0)
    pen.poll(T0 + 3_000)  # written offline
    host = Host()
    handshake(pen, host, t1)
    pen.feed_host(host.encode(RequestBatches()), t1)
    for now in range(t1, t1 + 100, 10):
        for chunk in host.feed(pen.poll(now)):
            if isinstance(chunk, BatchChunk):
                pen.feed_host(host.encode(Ack(chunk.batch_id, chunk.index)), now + 5)
    begin = host.of(BatchBegin)[0]
    assert 0 < len(host.of(BatchChunk)) < begin.n_chunks and not host.of(BatchEnd)
    assert pen.stored_batches == (begin.batch_id,)
    again = Host()
    handshake(pen, again, t1 + 1_000)
    pen.feed_host(again.encode(RequestBatches()), t1 + 1_000)
    for now in range(t1 + 1_000, t1 + 3_000, 10):
        for chunk in again.feed(pen.poll(now)):
            if isinstance(chunk, BatchChunk):
                pen.feed_host(again.encode(Ack(chunk.batch_id, chunk.index)), now)
        if again.of(BatchEnd):
            break
    assert again.of(BatchBegin)[0] == begin  # same id, size and CRC
    assert_same_ink(again.batch_ink(begin.batch_id), ink)


def test_low_battery_sends_status_then_shutdown_and_the_ink_stops() -> None:
    pen, host, ink = run_live(LowBattery(at_ms=900))
    statuses = host.of(Status)
    assert statuses[-1].battery_pct < 3
    assert host.of(Shutdown) == [Shutdown(ShutdownReason.LOW_BATTERY)]
    decoded, _ = decode_ink(bytes(host.raw))
    assert 0 < decoded.n_points < ink.n_points
    assert max(s.end_ms for s in decoded) <= T0 + 900
    assert pen.lost_dots > 0


def test_clock_reset_stamps_later_ink_in_1970() -> None:
    ink0 = digits_ink("1234", T0 + 100)
    between = int(ink0[1].end_ms + ink0[2].start_ms) // 2 - T0
    _, host, _ = run_live(ClockReset(at_ms=between))
    decoded, _ = decode_ink(bytes(host.raw))
    assert len(decoded) == len(ink0)
    assert all(s.start_ms > 1.6e12 for s in decoded[:2])
    late = decoded[2:]
    assert all(0 <= s.start_ms < 60_000 for s in late)  # the first minute of 1970
    assert late[0].start_ms == pytest.approx(ink0[2].start_ms - T0 - between, abs=2)


def test_decode_errors_and_lost_points_are_messages_on_the_wire() -> None:
    _, host, _ = run_live(DecodeErrors(at_ms=400, count=3), LostPoints(at_ms=700, count=5))
    assert host.of(DecodeErrorMessage) == [DecodeErrorMessage(T0 + 400, 3)]
    assert host.of(LostPointsMessage) == [LostPointsMessage(T0 + 700, 5)]


def test_a_spike_is_a_dot_far_off_its_stroke() -> None:
    _, host, ink = run_live(Spikes(strokes=(1,), distance_mm=30))
    decoded, _ = decode_ink(bytes(host.raw))

    def biggest_jump(stroke_xy: np.ndarray) -> float:
        return float(np.hypot(*np.diff(stroke_xy, axis=0).T).max())

    jumps = [biggest_jump(s.points[:, :2]) for s in decoded]
    assert jumps[1] > 25
    assert all(j < 5 for i, j in enumerate(jumps) if i != 1)
    assert len(decoded[1]) == len(ink[1])


def test_memory_full_reports_and_shuts_down() -> None:
    _, host, ink = run_live(MemoryFull(at_ms=900))
    status = host.of(Status)[-1]
    assert status.memory_used == status.memory_total
    assert host.of(Shutdown) == [Shutdown(ShutdownReason.MEMORY_FULL)]
    decoded, _ = decode_ink(bytes(host.raw))
    assert decoded.n_points < ink.n_points


def test_line_filter_holds_a_partial_frame_until_its_end() -> None:
    data = run_live()[1].raw
    f = LineFilter((DuplicateFrames(frames=(2,)),), np.random.default_rng(0))
    out = b"".join(f.apply(bytes(data[i : i + 7])) for i in range(0, len(data), 7)) + f.flush()
    anomalies = decode_ink(out)[1]
    assert [type(a) for a in anomalies] == [DuplicateFrame]


def test_a_plan_is_scriptable() -> None:
    plan = FaultPlan.parse("drop:p=0.05; corrupt:frames=3,7; replug:frames=9 garbage=4", seed=3)
    assert plan == FaultPlan(
        (DropFrames(0.05), CorruptBytes(frames=(3, 7)), Replug(frames=(9,), garbage=4)), 3
    )
    assert FaultPlan.parse("disconnect:at_ms=2500").faults == (Disconnect(2500),)
    with pytest.raises(FaultSpecError, match="unknown fault 'melt'"):
        FaultPlan.parse("melt:p=1")
    with pytest.raises(FaultSpecError, match="not a number"):
        FaultPlan.parse("drop:p=often")
    with pytest.raises(FaultSpecError, match="disconnect"):
        FaultPlan.parse("disconnect:frames=1")
