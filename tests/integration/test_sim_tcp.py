"""The simulated pen over TCP, read with pyserial's ``socket://`` URL handler."""

from __future__ import annotations

from collections.abc import Callable

import serial

from hardware_sim.device import PenConfig
from hardware_sim.tcp_port import TcpPen
from pen.ink import Ink
from pen.wire import (
    Ack,
    BatchBegin,
    BatchChunk,
    BatchEnd,
    Hello,
    InkAssembler,
    Message,
    PenUp,
    RequestBatches,
    Status,
)
from tests.pen_host import Host, assert_same_ink, digits_ink, pump


def reader(line: serial.SerialBase) -> Callable[[], bytes]:
    return lambda: line.read(max(1, line.in_waiting))


def test_a_live_session_over_socket_url_decodes_to_the_written_ink() -> None:
    with TcpPen(PenConfig(serial="TCP-1"), speed=0) as port:
        assert port.url.startswith("socket://127.0.0.1:")
        host = Host()
        with serial.serial_for_url(port.url, timeout=0.05) as line:
            pump(reader(line), host, lambda h: bool(h.of(Hello)))
            assert host.of(Hello)[0].serial == "TCP-1"
            line.write(host.hello_ack())
            pump(reader(line), host, lambda h: bool(h.of(Status)))
            ink = digits_ink("1789", port.call(lambda pen, now: pen.clock_ms(now)))
            port.write(ink, retime=False)
            pump(reader(line), host, lambda h: len(h.of(PenUp)) == len(ink))
        assert port.wait_for(lambda pen: not pen.connected)
        assert port.error is None and port.connections == 1
    assert host.anomalies == []
    assembler = InkAssembler()
    strokes = assembler.feed(host.received) + assembler.finish()
    assert_same_ink(Ink(tuple(strokes)), ink)  # type: ignore[arg-type]


def test_ink_written_while_no_client_is_stored_and_downloaded_on_reconnect() -> None:
    with TcpPen(PenConfig(serial="TCP-2", chunk_size=256), speed=0) as port:
        ink = digits_ink("42", port.call(lambda pen, now: pen.clock_ms(now)))
        port.write(ink, retime=False)
        assert port.wait_for(lambda pen: pen.pending_messages == 0 and bool(pen.stored_batches))
        host = Host()
        with serial.serial_for_url(port.url, timeout=0.05) as line:
            pump(reader(line), host, lambda h: bool(h.of(Hello)))
            line.write(host.hello_ack())
            pump(reader(line), host, lambda h: bool(h.of(Status)))
            line.write(host.encode(RequestBatches()))

            def answer(msg: Message) -> None:
                if isinstance(msg, BatchChunk):
                    line.write(host.encode(Ack(msg.batch_id, msg.index)))

            pump(reader(line), host, lambda h: bool(h.of(BatchEnd)), on_message=answer)
        assert host.of(BatchBegin)[0].n_chunks > 1
        assert_same_ink(host.batch_ink(host.of(BatchBegin)[0].batch_id), ink)
