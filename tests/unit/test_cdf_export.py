"""Results export in NIST SP 1500-100 v2 CDF (issue 7 item 4).

The golden file tests/golden/cdf_small.xml is the export of :func:`_small`;
after an intended change to the export, regenerate it with

    PLUME_REGEN_GOLDEN=1 pytest tests/unit/test_cdf_export.py -k golden

and review the diff.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from hardware_sim.stations import load_stations
from reconciliation import PvCounts, ReconciliationError
from reconciliation.cdf import (
    ElectionInfo,
    ReportStatus,
    StationResult,
    results_cdf,
    station_gpunit_id,
)

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden" / "cdf_small.xml"
STANDARD = ROOT.parent / "shared" / "data" / "standards" / "nist-1500-100"
XSD = STANDARD / "civics_cdf_spec.xsd"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"

needs_xsd = pytest.mark.skipif(
    not XSD.is_file(), reason=f"NIST 1500-100 schema not found at {XSD} (../shared absent)"
)


def _sample(n: int, seed: int = 7) -> list[StationResult]:
    """``n`` honest station results from the simulator's station sample."""
    rng = np.random.default_rng(seed)
    every = sorted(load_stations(), key=lambda s: s.id)
    stations = every[:: max(1, len(every) // n)][:n]  # spread over départements
    out = []
    for st in stations:
        c = st.count(rng)
        out.append(
            StationResult(
                station_id=st.id,
                departement=st.departement,
                commune=st.commune,
                ballots=c.ballots,
                blank=c.blank,
                spoiled=c.spoiled,
                votes=c.candidates,
                signatures=c.signatures,
                registered=st.electorate,
            )
        )
    return out


def _small() -> str:
    return results_cdf(ElectionInfo(), _sample(3), ReportStatus.UNOFFICIAL_PARTIAL)


def test_golden_small_export() -> None:
    text = _small()
    if os.environ.get("PLUME_REGEN_GOLDEN"):
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(text, encoding="utf-8")
    assert text == GOLDEN.read_text(encoding="utf-8")


def test_deterministic_and_order_independent() -> None:
    stations = _sample(5)
    a = results_cdf(ElectionInfo(), stations, ReportStatus.CERTIFIED)
    b = results_cdf(ElectionInfo(), list(reversed(stations)), ReportStatus.CERTIFIED)
    assert a == b


@pytest.mark.parametrize("status", list(ReportStatus))
def test_status_maps_to_results_status(status: ReportStatus) -> None:
    root = ET.fromstring(results_cdf(ElectionInfo(), _sample(2), status))
    assert root.findtext("Status") == status.value


def test_totals_equal_inputs() -> None:
    stations = _sample(6)
    root = ET.fromstring(results_cdf(ElectionInfo(), stations, ReportStatus.UNOFFICIAL_COMPLETE))
    contest = root.find("Election/ContestCollection/Contest")
    assert contest is not None and contest.get(XSI_TYPE) == "CandidateContest"
    by_id = {station_gpunit_id(s.station_id): s for s in stations}
    selections = contest.findall("BallotSelection")
    assert len(selections) == len(ElectionInfo().candidates)
    for n, sel in enumerate(selections, start=1):
        seen = {}
        for vc in sel.findall("VoteCountsCollection/VoteCounts"):
            seen[vc.findtext("GpUnitId")] = int(vc.findtext("Count") or "")
        assert seen == {gid: s.votes[n - 1] for gid, s in by_id.items()}
        assert sum(seen.values()) == sum(s.votes[n - 1] for s in stations)
    summary = {sc.findtext("GpUnitId"): sc for sc in contest.findall("SummaryCounts")}
    assert set(summary) == set(by_id)
    for gid, s in by_id.items():
        sc = summary[gid]
        assert int(sc.findtext("BallotsCast") or "") == s.ballots
        assert int(sc.findtext("BallotsRejected") or "") == s.spoiled
        assert int(sc.findtext("Undervotes") or "") == s.blank
    units = {u.get("objectId"): u for u in root.findall("GpUnitCollection/GpUnit")}
    assert units["ru_fr"].findtext("Type") == "country"
    for gid in by_id:
        assert units[gid].findtext("Type") == "precinct"
    composing = (units["ru_fr"].findtext("ComposingGpUnitIds") or "").split()
    assert sorted(composing) == sorted({f"ru_dep_{s.departement}" for s in stations})


def test_from_counts_and_rejects_bad_input() -> None:
    counts = PvCounts(101, 100, 3, 2, 95, (10, 5, 40, 20, 10, 10), 90, "1930")
    r = StationResult.from_counts(
        counts, station_id="75056-0001", departement="75", commune="Paris"
    )
    assert r.votes == (10, 5, 40, 20, 10, 10) and r.signatures == 101
    unread = PvCounts(101, None, 3, 2, 95, (10, 5, 40, 20, 10, 10), 90, "1930")
    with pytest.raises(ReconciliationError, match="ballots"):
        StationResult.from_counts(unread, station_id="x", departement="75", commune="Paris")
    with pytest.raises(ReconciliationError, match="candidate counts"):
        results_cdf(ElectionInfo(), [dataclasses.replace(r, votes=(1, 2))], ReportStatus.CERTIFIED)
    with pytest.raises(ReconciliationError, match="twice"):
        results_cdf(ElectionInfo(), [r, r], ReportStatus.CERTIFIED)
    with pytest.raises(ReconciliationError):
        StationResult("x", "75", "Paris", -1, 0, 0, (0,))


@needs_xsd
def test_validates_against_shipped_xsd(tmp_path: Path) -> None:
    lxml_etree = pytest.importorskip("lxml.etree", reason="lxml not installed (dev extra)")
    schema = lxml_etree.XMLSchema(lxml_etree.parse(str(XSD)))
    for status in ReportStatus:
        doc = lxml_etree.fromstring(results_cdf(ElectionInfo(), _sample(4), status).encode("utf-8"))
        assert schema.validate(doc), schema.error_log


@needs_xsd
def test_civics_cdf_validator_reports_no_errors(tmp_path: Path) -> None:
    # The script sits beside this interpreter in the venv, which need not be on PATH.
    beside = Path(sys.executable).parent / "civics_cdf_validator"
    exe = str(beside) if beside.exists() else shutil.which("civics_cdf_validator")
    if exe is None:
        pytest.skip("civics-cdf-validator not installed (pip install civics-cdf-validator)")
    feed = tmp_path / "results.xml"
    feed.write_text(results_cdf(ElectionInfo(), _sample(5), ReportStatus.UNOFFICIAL_PARTIAL))
    divisions = tmp_path / "divisions.csv"
    divisions.write_text("id,name\nocd-division/country:fr,France\n", encoding="utf-8")
    cmd = [exe, "validate", str(feed), "--xsd", str(XSD), "--rule_set", "election_results"]
    cmd += ["--ocdid_file", str(divisions), "--severity", "error"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    out = proc.stdout + proc.stderr
    assert "0 Fatal message found" in out, out
    assert "0 Error message found" in out, out
