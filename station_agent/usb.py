"""Finding the pen among the laptop's serial ports by its USB vendor and product ids.

``plume agent run --port auto`` (the default) looks for exactly one serial port
whose USB VID:PID is one of the known pen ids (``--usb-id VID:PID``, repeatable,
or ``PLUME_PEN_USB_IDS="VID:PID,VID:PID"``), and looks again at every
reconnection: a re-plugged pen may come back under another device name
(``/dev/ttyACM0`` then ``/dev/ttyACM1``). None found, or several, is an
:class:`AutoDetectError` with a stable code, which the pen link reports like a
disconnection (the screen says what to do) while it keeps looking.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

import serial
from serial.tools import list_ports

T = TypeVar("T")

ENV_IDS = "PLUME_PEN_USB_IDS"
NO_IDS = "AGENT.111"
NOT_FOUND = "AGENT.112"
SEVERAL = "AGENT.113"


class PortInfo(Protocol):
    """What :func:`serial.tools.list_ports.comports` gives for each port."""

    device: str
    vid: int | None
    pid: int | None
    serial_number: str | None


@dataclass(frozen=True, slots=True, order=True)
class UsbId:
    vid: int
    pid: int

    def __str__(self) -> str:
        return f"{self.vid:04x}:{self.pid:04x}"


class AutoDetectError(serial.SerialException):  # type: ignore[misc]  # pyserial: untyped
    """No pen, or more than one, among the serial ports; ``code`` is stable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code

    def __str__(self) -> str:
        return f"[{self.code}] {self.args[0]}"


def parse_usb_id(text: str) -> UsbId:
    """``"1d50:6018"`` (hexadecimal, as ``lsusb`` prints it) to a :class:`UsbId`."""
    vid, sep, pid = text.strip().partition(":")
    try:
        if not sep or not vid or not pid:
            raise ValueError
        out = UsbId(int(vid, 16), int(pid, 16))
    except ValueError:
        raise ValueError(
            f"{text!r} is not a USB id VID:PID in hexadecimal, e.g. 1d50:6018"
        ) from None
    if not (0 <= out.vid <= 0xFFFF and 0 <= out.pid <= 0xFFFF):
        raise ValueError(f"{text!r}: VID and PID are 4 hexadecimal digits each")
    return out


def configured_ids(cli: Sequence[str] | None, env: str | None = None) -> tuple[UsbId, ...]:
    """The ids from ``--usb-id`` if any, else from :data:`ENV_IDS`."""
    env = os.environ.get(ENV_IDS, "") if env is None else env
    texts = list(cli or []) or [t for t in env.split(",") if t.strip()]
    return tuple(sorted({parse_usb_id(t) for t in texts}))


def select_port(ports: Iterable[PortInfo], ids: Sequence[UsbId]) -> str:
    """The device of the one port whose VID:PID is in ``ids``; :class:`AutoDetectError` if not."""
    if not ids:
        raise AutoDetectError(
            NO_IDS,
            "no pen USB id is configured: give --usb-id VID:PID (lsusb shows it) or --port PATH",
        )
    wanted = set(ids)
    found = sorted(
        p.device
        for p in ports
        if p.vid is not None and p.pid is not None and UsbId(p.vid, p.pid) in wanted
    )
    if not found:
        shown = ", ".join(str(i) for i in ids)
        raise AutoDetectError(NOT_FOUND, f"no pen plugged in (USB ids {shown}); plug the pen in")
    if len(found) > 1:
        raise AutoDetectError(
            SEVERAL, f"{len(found)} pens plugged in ({', '.join(found)}); leave only one plugged in"
        )
    return found[0]


def usb_opener(
    ids: Sequence[UsbId],
    open_url: Callable[[str], T],
    comports: Callable[[], Iterable[PortInfo]] = list_ports.comports,
) -> Callable[[], T]:
    """An opener that finds the pen again at every call, then opens it with ``open_url``."""

    def open_port() -> T:
        return open_url(select_port(comports(), ids))

    return open_port
