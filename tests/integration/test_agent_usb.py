"""``--port auto``: the pen found among the serial ports by its USB VID:PID.

No real pen can be plugged into this machine, so the USB enumeration is the one
fake here: ``list_ports`` entries built as data (:func:`fake_port`). The ports they
name are real: a :class:`~hardware_sim.pty_port.PtyPen` on a pty, opened by pyserial.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from serial.tools.list_ports_common import ListPortInfo

from hardware_sim.device import PenConfig
from hardware_sim.pty_port import PtyPen
from hardware_sim.tcp_port import TcpPen
from station_agent.journal import Journal
from station_agent.pen_link import Connected, Disconnected, PenLink, serial_opener
from station_agent.usb import (
    NO_IDS,
    NOT_FOUND,
    SEVERAL,
    AutoDetectError,
    UsbId,
    configured_ids,
    parse_usb_id,
    select_port,
    usb_opener,
)
from tests.integration.test_station_agent import drive, of

ROOT = Path(__file__).resolve().parents[2]
PEN = UsbId(0x1D50, 0x6018)


def fake_port(device: str, vid: int | None = None, pid: int | None = None) -> ListPortInfo:
    """FAKE USB enumeration entry: what list_ports.comports() would say for ``device``."""
    info = ListPortInfo(device, skip_link_detection=True)
    info.vid, info.pid = vid, pid
    return info


def test_usb_ids_parse_like_lsusb_prints_them() -> None:
    assert parse_usb_id(" 1d50:6018 ") == PEN and str(PEN) == "1d50:6018"
    for bad in ("1d50", "1d50:", "xyz:6018", "1d50:6018:1", "10000:1"):
        with pytest.raises(ValueError, match="VID"):
            parse_usb_id(bad)
    assert configured_ids(["1d50:6018", "1D50:6018"], env="") == (PEN,)
    assert configured_ids(None, env="0403:6001, 1d50:6018") == (UsbId(0x0403, 0x6001), PEN)
    assert configured_ids(["1d50:6018"], env="0403:6001") == (PEN,)  # the command line wins
    assert configured_ids(None, env="") == ()


def test_selection_finds_exactly_one_pen_or_says_why() -> None:
    ports = [
        fake_port("/dev/ttyS0"),  # a built-in serial port: no USB id
        fake_port("/dev/ttyUSB0", 0x0403, 0x6001),  # a USB-serial cable, not a pen
        fake_port("/dev/ttyACM1", PEN.vid, PEN.pid),
    ]
    assert select_port(ports, [PEN]) == "/dev/ttyACM1"
    with pytest.raises(AutoDetectError) as none:
        select_port(ports[:2], [PEN])
    assert none.value.code == NOT_FOUND and "plug the pen in" in str(none.value)
    with pytest.raises(AutoDetectError) as several:
        select_port([*ports, fake_port("/dev/ttyACM0", PEN.vid, PEN.pid)], [PEN])
    assert several.value.code == SEVERAL
    assert "/dev/ttyACM0, /dev/ttyACM1" in str(several.value)
    with pytest.raises(AutoDetectError) as no_ids:
        select_port(ports, [])
    assert no_ids.value.code == NO_IDS


def test_auto_link_follows_the_pen_and_reports_why_it_cannot(tmp_path: Path) -> None:
    enumeration: list[list[ListPortInfo]] = []
    with (
        Journal.open(tmp_path / "journal.db") as journal,
        PtyPen(PenConfig(serial="USB-1"), path=tmp_path / "ttyACM0", speed=0) as port,
    ):
        pen = fake_port(str(port.path), PEN.vid, PEN.pid)
        enumeration.append([pen])
        opener = usb_opener([PEN], lambda dev: serial_opener(dev)(), lambda: enumeration[-1])
        link = PenLink(journal, opener, port_name="auto")
        assert (
            of(drive(link, lambda ev: bool(of(ev, Connected))), Connected)[0].pen_serial == "USB-1"
        )
        link.close()
        enumeration.append([])  # unplugged
        gone = drive(link, lambda ev: bool(of(ev, Disconnected)))
        assert [d.code for d in of(gone, Disconnected)] == [NOT_FOUND]
        enumeration.append([pen, fake_port("/dev/ttyACM9", PEN.vid, PEN.pid)])
        two = drive(link, lambda ev: bool(of(ev, Disconnected)))  # a new cause: said again
        assert [d.code for d in of(two, Disconnected)] == [SEVERAL]
        enumeration.append([pen])
        back = drive(link, lambda ev: bool(of(ev, Connected)))
        link.close()
    assert of(back, Connected) and journal_path_connections(tmp_path) == 2


def journal_path_connections(tmp_path: Path) -> int:
    with Journal.open(tmp_path / "journal.db") as journal:
        return journal.stats().connections


def test_a_socket_url_still_works(tmp_path: Path) -> None:
    with (
        Journal.open(tmp_path / "journal.db") as journal,
        TcpPen(PenConfig(serial="TCP-1"), speed=0) as port,
    ):
        link = PenLink(journal, serial_opener(port.url), port_name=port.url)
        events = drive(link, lambda ev: bool(of(ev, Connected)))
        link.close()
    assert of(events, Connected)[0].pen_serial == "TCP-1"


def test_run_auto_without_usb_ids_or_with_a_bad_one_is_a_usage_error(tmp_path: Path) -> None:
    base = [sys.executable, "-m", "plume", "agent", "run", "--journal", str(tmp_path / "j.db")]
    env = {k: v for k, v in os.environ.items() if k != "PLUME_PEN_USB_IDS"}
    none = subprocess.run(base, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert none.returncode == 2 and "--usb-id VID:PID" in none.stderr
    bad = subprocess.run(
        [*base, "--usb-id", "pen"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert bad.returncode == 2 and "not a USB id" in bad.stderr
