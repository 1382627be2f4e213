"""Station kits' pages and pens on real SQLite: issuing, refusing overlaps, the CLI."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, select

from hardware_sim.day import contact_page
from hardware_sim.stations import pick_stations
from ingest.db import KitPage, KitPen, create_schema, make_engine, session
from ingest.kits import KitError, issue_pages, issue_pen, page_owner, pen_owner
from ingest.stations import create_kits
from pen.page import PageAddress
from plume.cli import main


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    e = make_engine(f"sqlite:///{tmp_path / 'kits.db'}")
    create_schema(e)
    create_kits(e, ["01004-0001", "01004-0002"])
    return e


def test_pages_are_issued_once(engine: Engine) -> None:
    issue_pages(engine, "01004-0001", "contact", 71, 3, 9, 1, 100)
    again = issue_pages(engine, "01004-0001", "contact", 71, 3, 9, 1, 100)  # a rerun: no change
    assert (again.first_page, again.last_page) == (1, 100)
    with pytest.raises(KitError) as err:
        issue_pages(engine, "01004-0002", "contact", 71, 3, 9, 100, 120)
    assert err.value.code == "KIT.409" and "01004-0001" in err.value.message
    with pytest.raises(KitError) as err:
        issue_pages(engine, "01004-0001", "pv", 71, 3, 9, 50, 50)  # same station, other form
    assert err.value.code == "KIT.409"
    issue_pages(engine, "01004-0002", "contact", 71, 3, 9, 101, 120)  # adjacent: fine
    with session(engine) as s:
        assert page_owner(s, PageAddress(71, 3, 9, 100)).station_id == "01004-0001"  # type: ignore[union-attr]
        assert page_owner(s, PageAddress(71, 3, 9, 101)).station_id == "01004-0002"  # type: ignore[union-attr]
        assert page_owner(s, PageAddress(71, 3, 9, 121)) is None
        assert page_owner(s, PageAddress(71, 3, 8, 5)) is None


@pytest.mark.parametrize(
    ("station", "form", "first", "last", "code"),
    [
        ("99999-0001", "pv", 1, 1, "KIT.404"),
        ("01004-0001", "ballot", 1, 1, "KIT.422"),
        ("01004-0001", "pv", 5, 4, "KIT.422"),
        ("01004-0001", "pv", 1, 70_000, "KIT.422"),
    ],
)
def test_bad_page_ranges_are_refused_with_a_reason(
    engine: Engine, station: str, form: str, first: int, last: int, code: str
) -> None:
    with pytest.raises(KitError) as err:
        issue_pages(engine, station, form, 70, 1, 1, first, last)
    assert err.value.code == code
    with session(engine) as s:
        assert s.scalars(select(KitPage)).all() == []


def test_a_pen_belongs_to_one_kit(engine: Engine) -> None:
    issue_pen(engine, "01004-0001", "SIM0000001A")
    issue_pen(engine, "01004-0001", "SIM0000001A")
    with pytest.raises(KitError) as err:
        issue_pen(engine, "01004-0002", "SIM0000001A")
    assert err.value.code == "KIT.409"
    with session(engine) as s:
        assert pen_owner(s, "SIM0000001A") == "01004-0001"
        assert pen_owner(s, "nobody's") is None


ranges = st.lists(
    st.tuples(st.sampled_from(["01004-0001", "01004-0002"]), st.integers(0, 60), st.integers(0, 9)),
    max_size=12,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ranges)
def test_issued_ranges_never_overlap_and_every_page_has_its_one_owner(
    engine: Engine, asks: list[tuple[str, int, int]]
) -> None:
    e = engine
    with session(e) as s, s.begin():
        s.execute(delete(KitPage))  # each example starts from no pages issued
    owner: dict[int, str] = {}
    for station, first, length in asks:
        pages = range(first, first + length + 1)
        free = all(p not in owner for p in pages)
        try:
            issue_pages(e, station, "contact", 71, 1, 1, first, first + length)
        except KitError as exc:
            assert exc.code == "KIT.409"
            assert not free
        else:
            assert free or all(owner.get(p) == station for p in pages)
            owner.update(dict.fromkeys(pages, station))
    with session(e) as s:
        for p in range(0, 72):
            found = page_owner(s, PageAddress(71, 1, 1, p))
            assert (found.station_id if found else None) == owner.get(p)


def test_plume_kits_create_issues_pages_and_pens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'kits.db'}"
    monkeypatch.setenv("PLUME_DATABASE_URL", url)
    out = tmp_path / "kits.csv"
    argv = ["kits", "create", "--stations", "3", "--out", str(out), "--pv-start", "70.1.2.1"]
    argv += ["--contact-start", "71.1.0.1", "--contact-pages", "50", "--pens", "2"]
    assert main(argv) == 0
    ids = [r["station_id"] for r in csv.DictReader(out.open(encoding="utf-8"))]
    e = make_engine(url)
    with session(e) as s:
        for k, sid in enumerate(ids):
            pv = page_owner(s, PageAddress(70, 1, 2, 1 + k))
            contact = page_owner(s, PageAddress(71, 1, k, 50))
            assert pv is not None and (pv.station_id, pv.form) == (sid, "pv")
            assert contact is not None and (contact.station_id, contact.form) == (sid, "contact")
            assert page_owner(s, PageAddress(71, 1, k, 51)) is None
            assert pen_owner(s, f"{sid}-P2") == sid
    # The same pages again for other stations: refused, exit 1.
    argv2 = ["kits", "create", "--stations", "1", "--prefix", "X-", "--pv-start", "70.1.2.1"]
    assert main(argv2) == 1


def test_plume_kits_create_sim_gives_simulated_stations_their_own_kits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'kits.db'}"
    monkeypatch.setenv("PLUME_DATABASE_URL", url)
    out = tmp_path / "kits.csv"
    argv = ["kits", "create", "--sim", "--stations", "2", "--seed", "4", "--out", str(out)]
    assert main([*argv, "--contact-pages", "30"]) == 0
    stations = pick_stations(2, seed=4)
    ids = [r["station_id"] for r in csv.DictReader(out.open(encoding="utf-8"))]
    assert ids == [st.id for st in stations]
    e = make_engine(url)
    with session(e) as s:
        for station in stations:
            pv = page_owner(s, station.pv_page)
            assert pv is not None and (pv.station_id, pv.form) == (station.id, "pv")
            last = page_owner(s, contact_page(station, 29))
            assert last is not None and last.station_id == station.id
            assert page_owner(s, contact_page(station, 30)) is None
            pens = s.scalars(select(KitPen.pen_serial).where(KitPen.station_id == station.id))
            assert set(pens) == set(station.pen_serials)
