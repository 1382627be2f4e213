"""What is in a station's kit besides its code: the page addresses issued to it, and its pens.

A page address is issued to exactly one station and one form kind before
election day, so the address alone tells the centre whose sheet a stroke is on
(docs/ingest-pipeline.md). Ranges never overlap: issuing a page twice is
refused with :class:`KitError` (``KIT.409``), naming the station that holds it.
Issuing exactly what a station already holds again changes nothing, so a kit
script can be run twice.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from ingest.db import KitPage, KitPen, Station, session
from pen.forms import known_forms
from pen.page import PageAddress

_U16 = 0xFFFF
_U32 = 0xFFFF_FFFF


class KitError(ValueError):
    """A kit cannot be issued as asked; ``code`` is stable, the message says what to do."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"[{code}] {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class PageOwner:
    """Who a page address was issued to, and for which form."""

    station_id: str
    form: str


def _station(s: Session, station_id: str) -> None:
    if s.get(Station, station_id) is None:
        raise KitError("KIT.404", f"station {station_id} is not registered; create its kit first")


def issue_pages(
    engine: Engine,
    station_id: str,
    form: str,
    segment: int,
    shelf: int,
    book: int,
    first_page: int,
    last_page: int,
) -> KitPage:
    """Issue pages ``segment.shelf.book.first_page`` .. ``last_page`` to a station for ``form``."""
    if form not in known_forms():
        known = ", ".join(sorted(known_forms()))
        raise KitError("KIT.422", f"form {form!r} is unknown; issue one of: {known}")
    for name, value, top in (
        ("segment", segment, _U32),
        ("shelf", shelf, _U16),
        ("book", book, _U16),
        ("first page", first_page, _U16),
        ("last page", last_page, _U16),
    ):
        if not 0 <= value <= top:
            raise KitError("KIT.422", f"{name} {value} is outside 0..{top}")
    if first_page > last_page:
        raise KitError("KIT.422", f"first page {first_page} comes after last page {last_page}")
    with session(engine) as s, s.begin():
        _station(s, station_id)
        clash = s.scalars(
            select(KitPage).where(
                KitPage.segment == segment,
                KitPage.shelf == shelf,
                KitPage.book == book,
                KitPage.first_page <= last_page,
                KitPage.last_page >= first_page,
            )
        ).first()
        if clash is not None:
            same = (clash.station_id, clash.form, clash.first_page, clash.last_page) == (
                station_id,
                form,
                first_page,
                last_page,
            )
            if same:
                return clash
            raise KitError(
                "KIT.409",
                f"pages {segment}.{shelf}.{book}.{first_page}-{last_page} overlap pages "
                f"{clash.first_page}-{clash.last_page} of that book, already issued to "
                f"station {clash.station_id} ({clash.form}); issue other pages",
            )
        row = KitPage(
            station_id=station_id,
            form=form,
            segment=segment,
            shelf=shelf,
            book=book,
            first_page=first_page,
            last_page=last_page,
        )
        s.add(row)
    return row


def issue_pen(engine: Engine, station_id: str, pen_serial: str) -> KitPen:
    """Issue a pen to a station; a pen already in another station's kit is refused."""
    serial = pen_serial.strip()
    if not 1 <= len(serial) <= 64:
        raise KitError("KIT.422", "a pen serial is 1 to 64 characters")
    with session(engine) as s, s.begin():
        _station(s, station_id)
        held = s.get(KitPen, serial)
        if held is not None:
            if held.station_id == station_id:
                return held
            raise KitError(
                "KIT.409",
                f"pen {serial} is already in station {held.station_id}'s kit; "
                "take it back from that kit first",
            )
        row = KitPen(pen_serial=serial, station_id=station_id)
        s.add(row)
    return row


def page_owner(s: Session, page: PageAddress) -> PageOwner | None:
    """The station and form a page was issued to, or ``None`` if it was issued to nobody."""
    row = s.scalars(
        select(KitPage).where(
            KitPage.segment == page.segment,
            KitPage.shelf == page.shelf,
            KitPage.book == page.book,
            KitPage.first_page <= page.page,
            KitPage.last_page >= page.page,
        )
    ).first()
    return None if row is None else PageOwner(row.station_id, row.form)


def pen_owner(s: Session, pen_serial: str) -> str | None:
    """The station whose kit holds the pen, or ``None``."""
    return s.scalar(select(KitPen.station_id).where(KitPen.pen_serial == pen_serial))


def station_pens(s: Session, station_id: str) -> frozenset[str]:
    return frozenset(s.scalars(select(KitPen.pen_serial).where(KitPen.station_id == station_id)))


def station_pages(
    s: Session, station_id: str, form: str, limit: int = 4096
) -> frozenset[PageAddress]:
    """Every page issued to a station for ``form`` (ranges expanded, at most ``limit`` pages)."""
    out: set[PageAddress] = set()
    rows = s.scalars(select(KitPage).where(KitPage.station_id == station_id, KitPage.form == form))
    for r in rows:
        for p in range(r.first_page, min(r.last_page, r.first_page + limit - len(out) - 1) + 1):
            out.add(PageAddress(r.segment, r.shelf, r.book, p))
    return frozenset(out)
