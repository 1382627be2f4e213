"""Pen against paper (F.301, W.302) on hand-made readings and on simulated altered papers."""

from __future__ import annotations

import re

import pytest

from hardware_sim.scenarios import simulate_station
from hardware_sim.stations import pick_stations
from pen.forms import load_form
from reconciliation import PaperReading, PvCounts, ReconciliationError, check_pv
from reconciliation.results_file import ResultsFileError, parse_results

PV = PvCounts(206, 205, 1, 3, 201, (40, 2, 106, 29, 20, 4), 206, "1900")


def readings(confidence: float = 0.99, **values: str) -> dict[str, PaperReading]:
    return {k: PaperReading(v, confidence, f"crops/{k}.png") for k, v in values.items()}


def test_same_values_raise_nothing() -> None:
    paper = readings(ballots="205", candidate_3="0106", closing_time="1900")
    assert check_pv(PV, station_id="s", paper=paper) == []


def test_confident_mismatch_is_an_error_with_both_values() -> None:
    findings = check_pv(PV, station_id="s", paper=readings(candidate_3="706"))
    (f,) = [f for f in findings if f.code == "F.301"]
    assert f.fields == ("candidate_3",)
    assert "the paper says 706; the pen wrote 106" in f.message
    assert f.evidence["crop"] == "crops/candidate_3.png"


def test_uncertain_mismatch_goes_to_review() -> None:
    findings = check_pv(PV, station_id="s", paper=readings(0.6, ballots="285"))
    assert [f.code for f in findings] == ["W.302"]


def test_unreadable_paper_or_unknown_field() -> None:
    assert check_pv(PV, station_id="s", paper={"ballots": PaperReading(None, 0.0)}) == []
    with pytest.raises(ReconciliationError, match="not a PV value"):
        check_pv(PV, station_id="s", paper=readings(mayor="1"))
    with pytest.raises(ReconciliationError):
        PaperReading("1", 1.5)


def test_simulated_paper_alterations_are_caught_with_the_ink_time() -> None:
    layout = load_form("pv")
    for i, station in enumerate(pick_stations(12, seed=4)):
        run = simulate_station(station, "paper_alteration", seed=i, layout=layout)
        paper = {
            name: PaperReading(str(value), 1.0)
            for name, value in run.pv_counts("paper").counts()
            if value is not None
        }
        findings = check_pv(
            run.pv_counts("written"),
            station_id=station.id,
            timeline=run.timeline(layout),
            paper=paper,
        )
        f301 = [f for f in findings if f.code == "F.301"]
        assert [f.fields for f in f301] == [(str(run.details["field"]),)]
        assert f"the paper says {run.details['paper_value']}" in f301[0].message
        assert "last ink at 2011-10-09" in f301[0].message


@pytest.mark.parametrize(
    ("paper", "message"),
    [
        ({"ballots": {"value": 205, "confidence": 1}}, "paper.ballots.value: expected the text"),
        ({"ballots": {"value": "205", "confidence": "high"}}, "paper.ballots.confidence"),
        ({"ballots": {"value": "205", "confidence": 2}}, "is not in [0, 1]"),
    ],
)
def test_results_file_refuses_bad_paper_readings(paper: object, message: str) -> None:
    counts = {k: getattr(PV, k) for k in ("signatures", "ballots", "blank", "spoiled", "valid")}
    station = {
        "station_id": "75056-0013",
        "departement": "75",
        "counts": {**counts, "candidates": list(PV.candidates), "contributions": 206},
        "paper": paper,
    }
    document = {"format": "plume-results", "version": 1, "stations": [station]}
    with pytest.raises(ResultsFileError, match=re.escape(message)):
        parse_results(document)
    station["paper"] = {"ballots": {"value": "205", "confidence": 1}}
    (entry,) = parse_results(document).stations
    assert entry.paper == {"ballots": PaperReading("205", 1.0)}
