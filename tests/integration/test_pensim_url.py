"""``serial.serial_for_url("pensim://...")``: an in-process simulated pen behind pyserial."""

from __future__ import annotations

import pytest
import serial

from hardware_sim.protocol_pensim import Serial as PensimSerial
from hardware_sim.protocol_pensim import parse_url
from hardware_sim.url_handler import register
from pen.wire import (
    Ack,
    BatchBegin,
    BatchChunk,
    BatchCommit,
    BatchDeleted,
    Hello,
    InkAssembler,
    Message,
    PenUp,
    RequestBatches,
    Status,
)
from tests.pen_host import Host, assert_same_ink, digits_ink, pump


def test_round_trip_through_serial_for_url() -> None:
    register()
    port = serial.serial_for_url("pensim://URL-7?speed=0&drift_ppm=25&battery=64", timeout=0.05)
    assert isinstance(port, PensimSerial) and port.pen is not None
    host = Host()
    with port:
        pump(lambda: port.read(4096), host, lambda h: bool(h.of(Hello)))
        assert host.of(Hello)[0].serial == "URL-7"
        assert port.pen.config.drift_ppm == 25
        port.write(host.hello_ack())
        pump(lambda: port.read(4096), host, lambda h: bool(h.of(Status)))
        assert host.of(Status)[0].battery_pct == 64
        ink = digits_ink("59", port.pen.clock_ms(port.clock.now_ms()))
        port.write_ink(ink, retime=False)
        pump(lambda: port.read(4096), host, lambda h: len(h.of(PenUp)) == len(ink))
    assert host.anomalies == []
    assembler = InkAssembler()
    assert_same_ink(assembler.feed(host.received), ink)  # type: ignore[arg-type]


def test_closing_the_port_takes_the_pen_offline_and_reopening_downloads() -> None:
    register()
    port = serial.serial_for_url("pensim://URL-8?chunk=128", timeout=0.05, do_not_open=True)
    assert isinstance(port, PensimSerial)
    port.open()
    port.close()
    pen = port.pen
    assert pen is not None and not pen.connected
    ink = digits_ink("6", pen.clock_ms(port.clock.now_ms()))
    port.write_ink(ink, retime=False)
    port.open()
    host = Host()

    def answer(msg: Message) -> None:
        if isinstance(msg, BatchChunk):
            port.write(host.encode(Ack(msg.batch_id, msg.index)))

    pump(lambda: port.read(4096), host, lambda h: bool(h.of(Hello)))
    port.write(host.hello_ack() + host.encode(RequestBatches()))
    pump(lambda: port.read(4096), host, lambda h: h.ended(1), on_message=answer)
    assert host.of(BatchBegin)[0].n_chunks > 1
    port.write(host.encode(BatchCommit(1)))
    pump(lambda: port.read(4096), host, lambda h: BatchDeleted(1) in h.received)
    port.close()
    assert_same_ink(host.batch_ink(1), ink)


def test_url_parameters_and_their_errors() -> None:
    config, speed = parse_url(
        "pensim://P-1?speed=4&offset_ms=-500&memory=1000&ack_timeout_ms=20&auto_batches=1"
    )
    assert (config.serial, speed, config.clock_offset_ms) == ("P-1", 4.0, -500)
    assert (config.memory_total, config.ack_timeout_ms, config.auto_send_batches) == (
        1000,
        20,
        True,
    )
    with pytest.raises(serial.SerialException, match="unknown parameter 'colour'"):
        parse_url("pensim://P-1?colour=blue")
    with pytest.raises(serial.SerialException, match="not a number"):
        parse_url("pensim://P-1?speed=fast")
