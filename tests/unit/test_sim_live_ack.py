"""The simulated pen's protocol v2: live frames retained until acknowledged, re-sent
byte for byte in their own session, v1 hosts and pens still served (no I/O, no threads)."""

from __future__ import annotations

from hardware_sim.device import PenConfig, SimulatedPen
from pen.wire import (
    Hello,
    HelloAck,
    LiveAck,
    LiveResend,
    PenDown,
    Received,
    Resent,
    Shutdown,
    ShutdownReason,
    Status,
    StreamDecoder,
)
from pen.wire.framing import ETX, STX
from tests.pen_host import Host, digits_ink

T0 = 1_700_000_000_000


def frames(stream: bytes) -> list[bytes]:
    """The frames of a clean stream, START to END inclusive."""
    out, start = [], stream.find(STX)
    while start >= 0:
        end = stream.find(ETX, start)
        out.append(stream[start : end + 1])
        start = stream.find(STX, end)
    return out


def connect(pen: SimulatedPen, host: Host, now: int) -> None:
    pen.connect(now)
    host.feed(pen.poll(now))
    pen.feed_host(host.hello_ack(), now)
    host.feed(pen.poll(now))


def write(pen: SimulatedPen, host: Host, text: str, now: int) -> int:
    """Write ``text`` from ``now`` and let it all out; the time it ends."""
    ink = digits_ink(text, pen.clock_ms(now))
    pen.write(ink, now)
    end = int(ink[-1].end_ms) + 1
    host.feed(pen.poll(end))
    return end


def test_ink_waits_for_the_answer_to_the_hello_and_is_held_until_acknowledged() -> None:
    pen, host = SimulatedPen(PenConfig(), T0), Host()
    pen.connect(T0)
    host.feed(pen.poll(T0))
    pen.write(digits_ink("1", pen.clock_ms(T0)), T0)
    host.feed(pen.poll(T0 + 2_000))
    assert [type(m) for m in host.received] == [Hello]  # nothing before the HelloAck
    assert pen.pending_messages > 0 and pen.unacked_frames == 1
    pen.feed_host(host.hello_ack(), T0 + 2_000)
    host.feed(pen.poll(T0 + 4_000))
    assert pen.version == 2 and pen.pending_messages == 0
    sent = len(frames(bytes(host.raw)))
    assert pen.unacked_frames == sent  # the hello, the status and the ink
    held = pen.memory_used
    pen.feed_host(host.live_ack(), T0 + 4_000)
    assert pen.unacked_frames == 0 and pen.memory_used < held


def test_an_ack_frees_up_to_its_frame_and_a_stale_one_changes_nothing() -> None:
    pen, host = SimulatedPen(PenConfig(), T0), Host()
    connect(pen, host, T0)
    write(pen, host, "4", T0)
    n = pen.unacked_frames
    assert host.session_ms is not None
    pen.feed_host(host.encode(LiveAck(host.session_ms, 2)), T0 + 9_000)  # frames 0, 1, 2
    assert pen.unacked_frames == n - 3
    pen.feed_host(host.encode(LiveAck(host.session_ms, 1)), T0 + 9_000)  # already freed
    pen.feed_host(host.encode(LiveAck(host.session_ms + 1, 5)), T0 + 9_000)  # no such session
    assert pen.unacked_frames == n - 3 and pen.host_events == []


def test_frames_not_acknowledged_are_resent_byte_for_byte_in_their_own_session() -> None:
    pen, first = SimulatedPen(PenConfig(), T0), Host()
    connect(pen, first, T0)
    end = write(pen, first, "27", T0)
    session = first.session_ms
    assert session is not None
    pen.feed_host(first.encode(LiveAck(session, 3)), end)  # the host journaled the first four
    on_the_line = frames(bytes(first.raw))
    pen.disconnect(end)  # the cable is pulled (or the agent killed)
    second = Host()
    connect(pen, second, end + 1_000)
    resent = second.of(Resent)
    assert [r.frame for r in resent] == on_the_line[4:]  # the same bytes, in order
    assert {r.session_ms for r in resent} == {session}
    assert second.of(Hello)[0].pen_clock_ms != session  # a new session of its own
    assert [type(m) for m in second.received[:3]] == [Hello, Status, Resent]
    # Unsequenced: the new session's counter did not move, no gap is seen.
    assert second.anomalies == [] and second.last_seq == 1
    (last,) = StreamDecoder().feed(resent[-1].frame)
    assert isinstance(last, Received)
    pen.feed_host(second.encode(LiveAck(session, last.seq)), end + 1_000)
    assert pen.unacked_sessions == (second.session_ms,)


def test_live_resend_sends_again_what_is_held_of_that_session() -> None:
    pen, host = SimulatedPen(PenConfig(), T0), Host()
    connect(pen, host, T0)
    end = write(pen, host, "5", T0)
    assert host.session_ms is not None
    pen.feed_host(host.encode(LiveAck(host.session_ms, 2), LiveResend(host.session_ms)), end)
    before = len(host.received)
    again = host.feed(pen.poll(end))
    assert len(again) == pen.unacked_frames and all(isinstance(m, Resent) for m in again)
    originals = frames(bytes(host.raw))[3:before]
    assert [m.frame for m in again if isinstance(m, Resent)] == originals
    assert pen.resent_frames == len(again)


def test_an_older_host_gets_a_v1_hello_and_nothing_is_retained() -> None:
    pen, host = SimulatedPen(PenConfig(), T0), Host()
    connect(pen, Host(), T0 - 10_000)  # a v2 host, then the cable is pulled: the hello
    pen.disconnect(T0 - 10_000)  # and the status wait for a v2 host
    pen.connect(T0)
    (hello,) = host.feed(pen.poll(T0))
    assert isinstance(hello, Hello) and hello.protocol_version == 2
    pen.feed_host(host.encode(HelloAck(1, 0)), T0)  # what a v1 agent answers a v2 hello
    (again,) = host.feed(pen.poll(T0))
    assert isinstance(again, Hello) and again.protocol_version == 1
    pen.feed_host(host.encode(HelloAck(1, 1)), T0)
    end = write(pen, host, "3", T0)
    host.feed(pen.poll(end + 120_000))
    assert pen.version == 1 and host.of(PenDown)
    assert not host.of(Resent) and host.anomalies == []  # a v1 host gets v1 only
    assert pen.unacked_frames == 2  # the earlier session's, kept for a v2 host


def test_a_v1_pen_speaks_v1_and_retains_nothing() -> None:
    pen, host = SimulatedPen(PenConfig(protocol_version=1), T0), Host()
    connect(pen, host, T0)
    write(pen, host, "8", T0)
    assert host.of(Hello)[0].protocol_version == 1 and pen.version == 1
    assert host.of(PenDown) and pen.unacked_frames == 0


def test_a_host_that_never_acknowledges_fills_the_memory_to_a_typed_shutdown() -> None:
    pen, host = SimulatedPen(PenConfig(memory_total=2_000), T0), Host()
    connect(pen, host, T0)
    write(pen, host, "888", T0)
    assert not pen.is_on and pen.shutdown_reason == ShutdownReason.MEMORY_FULL
    assert pen.lost_dots > 0  # counted on the pen, and said on the line:
    assert [type(m) for m in host.received[-2:]] == [Status, Shutdown]
    status = host.received[-2]
    assert isinstance(status, Status) and status.memory_used > 0.9 * status.memory_total
    # What it holds is not lost: the next host gets it all again.
    held = pen.unacked_frames
    pen.disconnect(T0 + 60_000)
    pen.power_on(T0 + 60_000)
    second = Host()
    connect(pen, second, T0 + 60_000)
    resent = second.of(Resent)
    assert len(resent) == held and [r.frame for r in resent] == frames(bytes(host.raw))


def test_each_session_has_a_new_name_even_within_one_millisecond() -> None:
    pen, host = SimulatedPen(PenConfig(), T0), Host()
    names = []
    for _ in range(3):
        pen.connect(T0)
        events = StreamDecoder().feed(pen.poll(T0))
        assert isinstance(events[0], Received) and isinstance(events[0].message, Hello)
        names.append(events[0].message.pen_clock_ms)
        pen.disconnect(T0)
    assert len(set(names)) == 3 and host.received == []


def test_an_unanswered_hello_goes_again_unchanged_and_an_answer_to_another_is_ignored() -> None:
    pen, host = SimulatedPen(PenConfig(hello_timeout_ms=1_000), T0), Host()
    pen.connect(T0)
    first = pen.poll(T0)
    assert pen.poll(T0 + 999) == b"" and pen.poll(T0 + 1_000) == first  # same frame, session
    assert pen.poll(T0 + 2_999) == b"" and pen.poll(T0 + 3_000) == first  # backing off
    (hello,) = host.feed(first)
    assert isinstance(hello, Hello)
    stale = HelloAck(2, 1, hello.pen_clock_ms - 1)  # the answer to a hello left on the line
    pen.feed_host(host.encode(stale), T0 + 3_000)
    assert not pen.accepted and pen.host_events == [stale]
    pen.feed_host(host.hello_ack(), T0 + 3_000)
    assert pen.accepted


def test_frames_with_no_ack_in_time_go_again_less_and_less_often() -> None:
    pen, host = SimulatedPen(PenConfig(resend_timeout_ms=1_000), T0), Host()
    connect(pen, host, T0)  # the hello and the status are held; the clock starts
    assert pen.poll(T0) == b"" and pen.poll(T0 + 999) == b""
    assert [type(m) for m in host.feed(pen.poll(T0 + 1_000))] == [Resent, Resent]
    assert pen.poll(T0 + 1_999) == b"" and len(host.feed(pen.poll(T0 + 2_000))) == 2
    assert pen.poll(T0 + 3_999) == b"" and len(host.feed(pen.poll(T0 + 4_000))) == 2
    pen.feed_host(host.live_ack(), T0 + 4_000)
    assert pen.unacked_frames == 0 and pen.poll(T0 + 60_000) == b""


def test_a_pen_run_faster_than_life_waits_for_the_host_in_the_host_s_time() -> None:
    pen = SimulatedPen(PenConfig(hello_timeout_ms=1_000), T0)
    pen.timer_scale = 100  # a driver at 100x: one host second is 100 pen seconds
    pen.connect(T0)
    first = pen.poll(T0)
    assert pen.poll(T0 + 99_999) == b"" and pen.poll(T0 + 100_000) == first
