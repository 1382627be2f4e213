"""Kits for simulated stations: the pages and pens ``hardware_sim`` gives each station.

ingest never imports ``hardware_sim``; this is where the two meet. A simulated
station writes its PV on :attr:`~hardware_sim.stations.Station.pv_page`, its
contact forms on :func:`hardware_sim.day.contact_page` sheets (same segment,
shelf and book; page = sheet + 1) and uses the two pens of
:attr:`~hardware_sim.stations.Station.pen_serials`.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Engine

from hardware_sim.day import contact_page
from hardware_sim.stations import Station
from ingest.kits import issue_pages, issue_pen
from ingest.stations import create_kits

#: Contact sheets issued to each simulated station (a day uses about a fifth of its voters).
CONTACT_SHEETS = 400


def issue_sim_kit(engine: Engine, station: Station, contact_sheets: int = CONTACT_SHEETS) -> None:
    """Issue a registered station its PV page, ``contact_sheets`` contact pages and its pens."""
    pv = station.pv_page
    issue_pages(engine, station.id, "pv", pv.segment, pv.shelf, pv.book, pv.page, pv.page)
    if contact_sheets > 0:
        first, last = contact_page(station, 0), contact_page(station, contact_sheets - 1)
        issue_pages(
            engine, station.id, "contact", first.segment, first.shelf, first.book,
            first.page, last.page,
        )  # fmt: skip
    for serial in station.pen_serials:
        issue_pen(engine, station.id, serial)


def create_sim_kits(
    engine: Engine, stations: Iterable[Station], contact_sheets: int = CONTACT_SHEETS
) -> dict[str, str]:
    """Register simulated stations with their pages and pens; returns their enrolment codes."""
    chosen = list(stations)
    codes = create_kits(engine, [st.id for st in chosen])
    for st in chosen:
        issue_sim_kit(engine, st, contact_sheets)
    return codes
