"""The sample reports the golden-file and browser tests share: two départements (seed 21)
with an arithmetic slip and a stuffed station, and one simulated station whose count was
written after closing and whose paper was altered."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from hardware_sim.scenarios import simulate_station
from hardware_sim.stations import load_stations
from pen.forms import load_form
from reconciliation import Finding, PaperReading, StationTally, check_across, check_pv
from reconciliation.cdf import CANDIDATES_2011
from reconciliation.report_html import departement_html, national_html
from reconciliation.report_station import station_html
from tests.tallies import honest_tallies, stuffed

WHEN = datetime(2011, 10, 9, 22, 0, 0)
TITLE = "Primaire citoyenne 2011 — premier tour"


def sample() -> tuple[list[StationTally], list[Finding]]:
    """Two départements, seed 21, with an arithmetic slip and a heavily stuffed station in 75."""
    tallies = honest_tallies(21, ("01", "75"))
    i = next(i for i, t in enumerate(tallies) if t.departement == "75")
    slip = tallies[i]
    tallies[i] = dataclasses.replace(
        slip, counts=dataclasses.replace(slip.counts, valid=(slip.counts.valid or 0) - 7)
    )
    tallies[i + 1] = stuffed(tallies[i + 1], 2, int(0.3 * (tallies[i + 1].registered or 0)))
    findings = check_across(tallies)
    for t in tallies:
        findings += check_pv(t.counts, station_id=t.station_id)
    return tallies, sorted(findings, key=Finding.sort_key)


def area_pages() -> dict[str, str]:
    tallies, findings = sample()
    common = {"generated_at": WHEN, "status": "unofficial-partial"}
    return {
        "report_national.html": national_html(
            TITLE,
            CANDIDATES_2011,
            tallies,
            findings,
            expected_stations={"01": 43, "75": 94},
            **common,
        ),
        "report_departement_75.html": departement_html(
            TITLE, CANDIDATES_2011, tallies, findings, "75", expected_stations=94, **common
        ),
    }


def station_page() -> str:
    """A simulated station whose count was written after closing and whose paper was altered."""
    layout = load_form("pv")
    station = next(s for s in load_stations() if s.id == "75056-0013")
    run = simulate_station(station, "after_closing", seed=2, layout=layout)
    counts = run.pv_counts("written")
    paper = {name: PaperReading(str(v), 0.97) for name, v in counts.counts() if v is not None}
    paper["ballots"] = PaperReading(str((counts.ballots or 0) + 10), 0.95, "crops/ballots.png")
    timeline = run.timeline(layout)
    findings = check_pv(counts, station_id=station.id, timeline=timeline, paper=paper)
    crop = {"ballots": "data:image/png;base64,iVBORw0KGgo="}
    return station_html(
        TITLE,
        station.id,
        counts,
        findings,
        generated_at=WHEN,
        status="unofficial-partial",
        timeline=timeline,
        paper=paper,
        crops=crop,
    )
