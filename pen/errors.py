"""The error tree of :mod:`pen`: one base class, one subclass per kind of bad input.

Every error carries a stable ``code`` and a message that says what is wrong,
where, and what to do about it. Callers store rejections as typed events;
nothing in ``pen`` drops bad input silently.
"""

from __future__ import annotations


class PenError(Exception):
    """Base of every error raised by :mod:`pen`."""

    code = "PEN.000"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"


class PageAddressError(PenError, ValueError):
    """A page address that is not ``segment.shelf.book.page`` within range."""

    code = "PEN.101"

    def __init__(self, message: str, text: str) -> None:
        super().__init__(message)
        self.text = text


class InkError(PenError, ValueError):
    """Points or strokes that break the ink model's invariants."""

    code = "PEN.201"


class FormError(PenError, ValueError):
    """A form layout that cannot be loaded, or an unknown form or version."""

    code = "PEN.301"


class UnknownFormError(FormError):
    """A form id or version that this build of Plume does not know."""

    code = "PEN.302"


class InkMLError(PenError, ValueError):
    """An InkML document that cannot be read; ``where`` locates the problem."""

    code = "PEN.401"

    def __init__(self, message: str, where: str = "") -> None:
        super().__init__(f"{message} (at {where})" if where else message)
        self.where = where


class WireError(PenError, ValueError):
    """A wire-protocol message that cannot be encoded or decoded."""

    code = "PEN.501"


class BatchError(PenError, ValueError):
    """A station batch (docs/station-protocol.md) that cannot be accepted as it is.

    ``station_id`` and ``seq`` locate the batch when they could be read.
    """

    code = "PEN.600"

    def __init__(self, message: str, station_id: str | None = None, seq: int | None = None) -> None:
        super().__init__(message)
        self.station_id = station_id
        self.seq = seq


class MalformedBatchError(BatchError):
    """Not a batch: bad JSON, a missing or mistyped field, a value out of range."""

    code = "PEN.601"


class UnknownBatchFormatError(BatchError):
    """A ``format_version`` this build of Plume does not know."""

    code = "PEN.602"

    def __init__(
        self,
        message: str,
        format_version: object,
        station_id: str | None = None,
        seq: int | None = None,
    ) -> None:
        super().__init__(message, station_id, seq)
        self.format_version = format_version


class BadSignatureError(BatchError):
    """A batch whose Ed25519 signature does not verify with the station's key (or is missing)."""

    code = "PEN.603"
