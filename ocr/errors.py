"""The error tree of :mod:`ocr`: one base class, one subclass per kind of failure.

Every error carries a stable ``code`` and a message that says what is wrong and
what to do about it.
"""

from __future__ import annotations


class OcrError(Exception):
    """Base of every error raised by :mod:`ocr`."""

    code = "OCR.000"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"


class UnsupportedKind(OcrError, ValueError):
    """A field kind the recogniser does not read (yet), or an unknown kind."""

    code = "OCR.101"

    def __init__(self, kind: str, supported: tuple[str, ...]) -> None:
        super().__init__(
            f"field kind {kind!r} is not supported yet by the online recogniser; it reads "
            f"{', '.join(supported)}. Send such fields to manual review."
        )
        self.kind = kind


class UnknownEngine(OcrError, ValueError):
    """An engine name other than those :func:`ocr.read` offers."""

    code = "OCR.102"

    def __init__(self, engine: str, engines: tuple[str, ...]) -> None:
        super().__init__(f"unknown recognition engine {engine!r}; use one of {', '.join(engines)}")
        self.engine = engine


class BadInk(OcrError, ValueError):
    """Strokes that are not a list of (N, 3) finite float arrays."""

    code = "OCR.201"


class BadBoxes(OcrError, ValueError):
    """Box rectangles that are not (x, y, width, height) with finite values and sizes > 0."""

    code = "OCR.202"


class ModelFileError(OcrError):
    """The shipped model file is missing, unreadable or of an unknown version."""

    code = "OCR.301"


class EngineUnavailable(OcrError):
    """An external engine (Tesseract) is not installed or failed to run."""

    code = "OCR.302"


class ScanError(OcrError, ValueError):
    """A scanned page that cannot be read as the expected form."""

    code = "OCR.400"


class BadScan(ScanError):
    """Input that is not a grayscale or colour image."""

    code = "OCR.401"


class FormNotFound(ScanError):
    """The form is not found on the page: blank, another document, marks missing, cut off."""

    code = "OCR.402"


class StationIdUnreadable(ScanError):
    """The station identifier printed on a scanned sheet (QR code and text) cannot be read."""

    code = "OCR.403"


class StationIdMismatch(ScanError):
    """The station identifier printed on a scanned sheet is not the station expected."""

    code = "OCR.404"

    def __init__(self, read: str, expected: str, method: str, confidence: float) -> None:
        how = "its QR code" if method == "qr" else f"its printed text ({confidence:.0%} sure)"
        super().__init__(
            f"this sheet is printed for station {read!r} ({how}), not {expected!r}: a sheet "
            "swapped between stations or a scan filed under the wrong station; check the "
            "sheet and the station it came from before its counts are used"
        )
        self.read = read
        self.expected = expected
        self.method = method
        self.confidence = confidence
