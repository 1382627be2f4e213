"""Registers the ``pensim://`` pyserial URL handler (:mod:`hardware_sim.protocol_pensim`).

pyserial finds a handler for ``NAME://`` as module ``protocol_NAME`` in one
of the packages listed in ``serial.protocol_handler_packages``; this module
adds ``hardware_sim`` to that list (once; nothing happens at import) and
offers :func:`open_pen` as a shortcut.
"""

from __future__ import annotations

from typing import Any

import serial

from hardware_sim.protocol_pensim import Serial as PensimSerial

PACKAGE = "hardware_sim"


def register() -> None:
    """Let ``serial.serial_for_url`` open ``pensim://`` URLs (idempotent)."""
    if PACKAGE not in serial.protocol_handler_packages:
        serial.protocol_handler_packages.append(PACKAGE)


def open_pen(url: str, **kwargs: Any) -> PensimSerial:
    """``serial.serial_for_url(url, **kwargs)`` for a ``pensim://`` URL, registered first."""
    register()
    port = serial.serial_for_url(url, **kwargs)
    assert isinstance(port, PensimSerial)
    return port
