"""Page addresses: the unique identity of every printed sheet.

An address is ``segment.shelf.book.page`` (Anoto style), four decimal
integers. Before election day each address is issued to one station and one
form kind, so the address alone tells the centre whose sheet a stroke is on.
The wire protocol carries the segment as a u32 and the other parts as u16,
which bounds each component.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pen.errors import PageAddressError

SEGMENT_MAX = 2**32 - 1
PART_MAX = 2**16 - 1
_PART_NAMES = ("segment", "shelf", "book", "page")
_DIGITS = re.compile(r"[0-9]+")


@dataclass(frozen=True, order=True, slots=True)
class PageAddress:
    """The address of one printed page, e.g. ``PageAddress.parse("70.12.3.41")``."""

    segment: int
    shelf: int
    book: int
    page: int

    def __post_init__(self) -> None:
        for name, value in zip(_PART_NAMES, self.parts, strict=True):
            limit = SEGMENT_MAX if name == "segment" else PART_MAX
            if isinstance(value, bool) or not isinstance(value, int):
                raise PageAddressError(
                    f"page address {name} must be an integer, got {value!r}", str(self.parts)
                )
            if not 0 <= value <= limit:
                raise PageAddressError(
                    f"page address {name} {value} is out of range 0..{limit}", str(self.parts)
                )

    @property
    def parts(self) -> tuple[int, int, int, int]:
        return (self.segment, self.shelf, self.book, self.page)

    @classmethod
    def parse(cls, text: str) -> PageAddress:
        """Parse ``segment.shelf.book.page``; raise :class:`PageAddressError` saying why not."""
        if not isinstance(text, str):
            raise PageAddressError(f"a page address is text, got {type(text).__name__}", repr(text))
        pieces = text.strip().split(".")
        if len(pieces) != 4:
            raise PageAddressError(
                f"page address {text!r} has {len(pieces)} part(s); expected 4 as "
                "segment.shelf.book.page, e.g. 70.12.3.41",
                text,
            )
        values: list[int] = []
        for name, piece in zip(_PART_NAMES, pieces, strict=True):
            if not _DIGITS.fullmatch(piece):
                raise PageAddressError(
                    f"page address {text!r}: {name} {piece!r} is not a decimal number", text
                )
            values.append(int(piece))
        try:
            return cls(*values)
        except PageAddressError as exc:
            raise PageAddressError(f"page address {text!r}: {exc.message}", text) from None

    def __str__(self) -> str:
        return f"{self.segment}.{self.shelf}.{self.book}.{self.page}"
