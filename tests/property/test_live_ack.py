"""Property tests of pen protocol v2's live acknowledgement: whatever the kill points, the
unplugs, the bytes lost on the line and the answers lost on the way back, the journal
ends with every frame the pen put on the line, each once, in its own session, in order.

Pure and fast: the real :class:`~hardware_sim.device.SimulatedPen` and the agent's real
:class:`~station_agent.live_acks.LiveLedger`, wired by :class:`Agent`, a model of
:class:`~station_agent.pen_link.PenLink`'s v2 rules over a journal held in a dict (the
pty, SQLite and the kill -9 themselves are the chaos test's, tests/chaos/).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from hardware_sim.device import PenConfig, SimulatedPen
from pen.wire import (
    DuplicateFrame,
    FrameEncoder,
    Hello,
    HelloAck,
    Message,
    Received,
    Resent,
    StreamDecoder,
    decode_stream,
    encode_message,
)
from station_agent.live_acks import LiveLedger, Offer
from tests.pen_host import digits_ink, in_order, line_sessions

T0 = 1_700_000_000_000
SERIAL = "PROP-1"

Journal = dict[str, list[tuple[int, bytes]]]
"""Pen session -> its journaled frames (seq, bytes), in journal order."""


@dataclass
class Agent:
    """One life of the agent: frames read are decided at once, journaled at the commit,
    answered after it. A kill loses what is read and not committed, and the ledger."""

    journal: Journal
    resumed_v2: bool
    """The journal's last pen session is v2: leftovers on the line are not journaled."""
    decoder: StreamDecoder = field(default_factory=StreamDecoder)
    encoder: FrameEncoder = field(default_factory=FrameEncoder)
    pending: list[tuple[str, int, bytes]] = field(default_factory=list)
    replies: list[Message] = field(default_factory=list)
    live: tuple[str, int] | None = None
    hello_ack: HelloAck | None = None
    ledger: LiveLedger = field(init=False)

    def __post_init__(self) -> None:
        def last_seq(session: str) -> int | None:
            frames = self.journal.get(session)
            return frames[-1][0] if frames else None

        self.ledger = LiveLedger(last_seq)

    def read(self, data: bytes) -> None:
        for event in self.decoder.feed(data):
            if isinstance(event, DuplicateFrame) and event.type == Hello.TYPE and self.hello_ack:
                self.replies.append(self.hello_ack)  # the pen did not hear the answer
            if not isinstance(event, Received):
                continue  # line damage: journaled as evidence by the agent, not a frame
            msg = event.message
            if isinstance(msg, Resent):
                inner = decode_stream(msg.frame)
                assert len(inner) == 1 and isinstance(inner[0], Received)
                got = inner[0]
                session = f"{SERIAL}@{msg.session_ms}"
                is_hello = isinstance(got.message, Hello)
                if self.resumed_v2 and self.live is None:
                    continue
                offer = self.ledger.offer(session, msg.session_ms, got.seq, hello=is_hello)
                if offer is Offer.NEW:
                    self.pending.append((session, got.seq, msg.frame))
                continue
            frame = encode_message(msg, event.seq)
            if isinstance(msg, Hello):
                session = f"{SERIAL}@{msg.pen_clock_ms}"
                self.live = (session, msg.pen_clock_ms)
                offer = self.ledger.offer(session, msg.pen_clock_ms, event.seq, hello=True)
                if offer is Offer.NEW:
                    self.pending.append((session, event.seq, frame))
                self.hello_ack = HelloAck(msg.protocol_version, 1, msg.pen_clock_ms)
                self.replies.append(self.hello_ack)
            elif self.live is not None:
                session, session_ms = self.live
                if self.ledger.offer(session, session_ms, event.seq) is Offer.NEW:
                    self.pending.append((session, event.seq, frame))
            else:
                assert self.resumed_v2, "a frame before any hello"

    def commit(self, now_ms: int) -> bytes:
        """Journal what was decided; the answers to send now that it is durable."""
        for session, seq, frame in self.pending:
            self.journal.setdefault(session, []).append((seq, frame))
        self.pending.clear()
        out = [*self.replies, *self.ledger.answers(now_ms / 1000)]
        self.replies.clear()
        return b"".join(self.encoder.encode(m) for m in out)


@dataclass
class World:
    """The pen, the line between them (bytes in flight) and the agent."""

    pen: SimulatedPen
    journal: Journal = field(default_factory=dict)
    line: bytearray = field(default_factory=bytearray)
    now: int = T0
    agent: Agent | None = None
    emitted: list[bytearray] = field(default_factory=list)
    """Everything the pen put on the line, per connection."""

    def start_agent(self) -> None:
        self.agent = Agent(self.journal, resumed_v2=bool(self.journal))
        self.pen.connect(self.now)
        self.emitted.append(bytearray())

    def run(self, ms: int) -> None:
        self.now += ms
        out = self.pen.poll(self.now)
        self.emitted[-1] += out
        self.line += out

    def read(self, fraction: float) -> None:
        assert self.agent is not None
        n = max(1, int(len(self.line) * fraction))
        data, self.line[:] = bytes(self.line[:n]), self.line[n:]
        self.agent.read(data)

    def commit(self, lose_answers: bool = False) -> None:
        assert self.agent is not None
        answers = self.agent.commit(self.now)
        if not lose_answers:
            self.pen.feed_host(answers, self.now)

    def kill(self, after_commit: bool) -> None:
        """kill -9: uncommitted reads lost; the line keeps what was not read (a pty)."""
        if after_commit:
            self.commit(lose_answers=True)
        self.pen.disconnect(self.now)
        self.start_agent()

    def unplug(self) -> None:
        """The cable: the agent commits what it read, the bytes in flight are gone."""
        self.commit(lose_answers=True)
        self.pen.disconnect(self.now)
        self.line.clear()
        self.start_agent()

    def noise(self, at: float, size: int) -> None:
        """Bytes lost on the line within a connection (the agent asks for them again)."""
        if self.line:
            i = int(len(self.line) * at)
            del self.line[i : i + size]


FAULTS = ("write", "kill", "kill after commit", "unplug", "noise", "answers lost")


@dataclass(frozen=True)
class Step:
    """Time passes, something may happen, the agent reads part of the line, may commit."""

    ms: int
    fault: str | None
    read: float
    commit: bool
    where: float
    size: int


steps = st.lists(
    st.builds(
        Step,
        st.integers(1, 800),
        st.none() | st.sampled_from(FAULTS),
        st.floats(0.0, 1.0),
        st.booleans(),
        st.floats(0.0, 1.0),
        st.integers(1, 40),
    ),
    min_size=5,
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(day=st.lists(st.sampled_from("0123456789"), min_size=1, max_size=4), steps=steps)
def test_every_frame_on_the_line_ends_in_the_journal_once_and_in_order(
    day: list[str], steps: list[Step]
) -> None:
    world = World(SimulatedPen(PenConfig(serial=SERIAL), T0))
    world.start_agent()
    world.pen.write(digits_ink("".join(day), world.pen.clock_ms(T0) + 500), T0)
    for step in steps:
        world.run(step.ms)
        if step.fault == "write":
            world.pen.write(digits_ink(day[0], world.pen.clock_ms(world.now)), world.now)
        elif step.fault in ("kill", "kill after commit"):
            world.kill(after_commit=step.fault == "kill after commit")
        elif step.fault == "unplug":
            world.unplug()
        elif step.fault == "noise":
            world.noise(step.where, step.size)
        if world.line:
            world.read(step.read)
        if step.commit:
            world.commit(lose_answers=step.fault == "answers lost")
    # The day goes on without faults until the pen holds nothing more.
    for _ in range(200):
        world.run(1_000)
        if world.line:
            world.read(1.0)
        world.commit()
        pen = world.pen
        if not (world.line or pen.pending_messages or pen.unacked_frames):
            break
    assert world.pen.unacked_frames == 0 and world.pen.pending_messages == 0
    expected = line_sessions([bytes(e) for e in world.emitted], SERIAL)
    assert set(world.journal) == set(expected)
    for session, frames in world.journal.items():
        assert [f for _, f in frames] == in_order(expected[session]), (
            f"{session}: lost, doubled or moved"
        )
