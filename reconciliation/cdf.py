"""Results export in the NIST SP 1500-100 v2 Election Results Common Data Format.

:func:`results_cdf` turns per-station results into one ``ElectionReport``
(XML, no namespace, as in the schema shipped under
``shared/data/standards/nist-1500-100``): the election (the primary, round
one), one ``CandidateContest`` with its candidates, the ``GpUnit`` tree
(country, départements, polling stations as precincts) and, per station, the
ballot counts (``SummaryCounts``) and each candidate's votes (``VoteCounts``).

Pure and deterministic: the same inputs give the same bytes (ids derive from
station ids and ballot order; stations and départements are sorted). The
generation time is an input (:attr:`ElectionInfo.generated_at`), never the
clock. Mapping of PV fields (see docs/results-export.md):

- ``ballots`` (bulletins trouvés dans l'urne) -> ``BallotsCast``
- ``spoiled`` (bulletins nuls) -> ``BallotsRejected``
- ``blank`` (bulletins blancs) -> ``Undervotes``
- ``candidate_n`` -> ``VoteCounts`` of selection ``cs_n`` (type ``total``)
- ``signatures`` (émargements) -> ``VotersParticipated`` of the precinct
"""

from __future__ import annotations

import enum
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from reconciliation.arithmetic import PvCounts
from reconciliation.findings import ReconciliationError

XSI = "http://www.w3.org/2001/XMLSchema-instance"
COUNTRY_ID = "ru_fr"
COUNTRY_OCD_ID = "ocd-division/country:fr"
CONTEST_ID = "cc_primary"
ELECTION_ID = "el_primary"

#: The candidates of the 2011 primary, in ballot order (form pv v1 default).
CANDIDATES_2011 = (
    "Martine Aubry",
    "Jean-Michel Baylet",
    "François Hollande",
    "Arnaud Montebourg",
    "Ségolène Royal",
    "Manuel Valls",
)

_NCNAME_BAD = re.compile(r"[^A-Za-z0-9_.-]")


class ReportStatus(enum.StrEnum):
    """Status of a results report; values are the CDF ``ResultsStatus`` ones."""

    UNOFFICIAL_PARTIAL = "unofficial-partial"
    """Some stations are still missing."""
    UNOFFICIAL_COMPLETE = "unofficial-complete"
    """Every station is in, not yet certified."""
    CERTIFIED = "certified"
    CORRECTION = "correction"
    """Replaces a report already published (bump the sequence number)."""


@dataclass(frozen=True, slots=True)
class ElectionInfo:
    """What the report says about the election itself."""

    name: str = "Primaire citoyenne 2011 — premier tour"
    contest_name: str = "Primaire citoyenne 2011 — candidat à l'élection présidentielle"
    election_date: date = date(2011, 10, 9)
    candidates: tuple[str, ...] = CANDIDATES_2011
    """Candidate names, in ballot order (``candidate_1`` first)."""
    generated_at: datetime = datetime(2011, 10, 9, 19, 0, 0)
    """``GeneratedDate`` of the report (an input, for reproducible output)."""
    issuer: str = "Haute autorité de la primaire"
    issuer_abbreviation: str = "HAP"
    sequence: int = 1
    """``SequenceStart``/``SequenceEnd``: bump it for each new report or correction."""
    vendor_application_id: str = "Plume 0.1.0"
    language: str = "fr"
    stable_prefix: str = "fr-primaire-2011-t1"
    """Prefix of every stable id (``ExternalIdentifier`` of type ``stable``)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "candidates", tuple(self.candidates))
        if not self.candidates:
            raise ReconciliationError("an election needs at least one candidate")
        if self.sequence < 1:
            raise ReconciliationError(f"sequence must be >= 1, got {self.sequence}")


@dataclass(frozen=True, slots=True)
class StationResult:
    """One polling station's counted results (every value read)."""

    station_id: str
    departement: str
    commune: str
    ballots: int
    blank: int
    spoiled: int
    votes: tuple[int, ...]
    """Votes per candidate, in ballot order."""
    signatures: int | None = None
    registered: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "votes", tuple(self.votes))
        counts: list[tuple[str, int | None]] = [
            ("ballots", self.ballots),
            ("blank", self.blank),
            ("spoiled", self.spoiled),
            ("signatures", self.signatures),
            ("registered", self.registered),
        ]
        counts += [(f"candidate_{i}", v) for i, v in enumerate(self.votes, start=1)]
        for name, value in counts:
            if value is None and name in ("signatures", "registered"):
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ReconciliationError(
                    f"station {self.station_id}: {name} must be a non-negative int, got {value!r}"
                )

    @classmethod
    def from_counts(
        cls,
        counts: PvCounts,
        *,
        station_id: str,
        departement: str,
        commune: str,
        registered: int | None = None,
    ) -> StationResult:
        """A result from a PV's counts; every exported count must have been read."""
        missing = [
            name
            for name, value in counts.counts()
            if value is None and name not in ("signatures", "valid", "contributions")
        ]
        if missing:
            raise ReconciliationError(f"station {station_id}: unread counts {', '.join(missing)}")
        assert counts.ballots is not None and counts.blank is not None
        assert counts.spoiled is not None
        return cls(
            station_id=station_id,
            departement=departement,
            commune=commune,
            ballots=counts.ballots,
            blank=counts.blank,
            spoiled=counts.spoiled,
            votes=tuple(v for v in counts.candidates if v is not None),
            signatures=counts.signatures,
            registered=registered,
        )


def station_gpunit_id(station_id: str) -> str:
    """The ``GpUnit`` objectId of a station (an XML NCName)."""
    return "ru_st_" + _NCNAME_BAD.sub("_", station_id)


def departement_gpunit_id(departement: str) -> str:
    return "ru_dep_" + _NCNAME_BAD.sub("_", departement)


def candidate_id(n: int) -> str:
    """The ``Candidate`` objectId of candidate ``n`` (1-based ballot order)."""
    return f"can_{n}"


def person_id(n: int) -> str:
    return f"per_{n}"


def selection_id(n: int) -> str:
    return f"cs_{n}"


def _sub(parent: ET.Element, tag: str, text: str | int | None = None) -> ET.Element:
    el = ET.SubElement(parent, tag)
    if text is not None:
        el.text = str(text)
    return el


def _intl(parent: ET.Element, tag: str, text: str, language: str) -> ET.Element:
    el = _sub(parent, tag)
    _sub(el, "Text", text).set("language", language)
    return el


def _external_ids(parent: ET.Element, stable: str, *others: tuple[str, str, str | None]) -> None:
    """``ExternalIdentifiers``: the stable id first, then (type, value, other-type)."""
    ids = _sub(parent, "ExternalIdentifiers")
    for kind, value, other in (("other", stable, "stable"), *others):
        ext = _sub(ids, "ExternalIdentifier")
        _sub(ext, "Type", kind)
        if other is not None:
            _sub(ext, "OtherType", other)
        _sub(ext, "Value", value)


def _check(election: ElectionInfo, stations: Sequence[StationResult]) -> list[StationResult]:
    seen: dict[str, StationResult] = {}
    gpunits: set[str] = set()
    for s in stations:
        if len(s.votes) != len(election.candidates):
            raise ReconciliationError(
                f"station {s.station_id}: {len(s.votes)} candidate counts, "
                f"election has {len(election.candidates)} candidates"
            )
        if s.station_id in seen:
            raise ReconciliationError(f"station {s.station_id} appears twice")
        gid = station_gpunit_id(s.station_id)
        if gid in gpunits:
            raise ReconciliationError(f"station {s.station_id}: id {gid} collides")
        gpunits.add(gid)
        seen[s.station_id] = s
    return [seen[k] for k in sorted(seen)]


def results_cdf(
    election: ElectionInfo, stations: Sequence[StationResult], status: ReportStatus
) -> str:
    """The ``ElectionReport`` XML document (UTF-8 text, with declaration)."""
    ordered = _check(election, stations)
    lang = election.language
    pre = election.stable_prefix
    ET.register_namespace("xsi", XSI)
    xsi_type = f"{{{XSI}}}type"
    root = ET.Element("ElectionReport")

    # Election
    el = _sub(root, "Election")
    el.set("objectId", ELECTION_ID)
    cands = _sub(el, "CandidateCollection")
    for n, name in enumerate(election.candidates, start=1):
        cand = _sub(cands, "Candidate")
        cand.set("objectId", candidate_id(n))
        _intl(cand, "BallotName", name, lang)
        _external_ids(cand, f"{pre}-{candidate_id(n)}")
        _sub(cand, "PersonId", person_id(n))
    contests = _sub(el, "ContestCollection")
    contest = _sub(contests, "Contest")
    contest.set("objectId", CONTEST_ID)
    contest.set(xsi_type, "CandidateContest")
    for n in range(1, len(election.candidates) + 1):
        sel = _sub(contest, "BallotSelection")
        sel.set("objectId", selection_id(n))
        sel.set(xsi_type, "CandidateSelection")
        _sub(sel, "SequenceOrder", n)
        if ordered:
            vcs = _sub(sel, "VoteCountsCollection")
            for s in ordered:
                vc = _sub(vcs, "VoteCounts")
                _sub(vc, "GpUnitId", station_gpunit_id(s.station_id))
                _sub(vc, "Type", "total")
                _sub(vc, "Count", s.votes[n - 1])
        _sub(sel, "CandidateIds", candidate_id(n))
    _intl(contest, "BallotTitle", election.contest_name, lang)
    _sub(contest, "ElectoralDistrictId", COUNTRY_ID)
    _external_ids(contest, f"{pre}-{CONTEST_ID}")
    _sub(contest, "Name", election.contest_name)
    _sub(contest, "SubUnitsReported", len(ordered))
    for s in ordered:
        sc = _sub(contest, "SummaryCounts")
        _sub(sc, "GpUnitId", station_gpunit_id(s.station_id))
        _sub(sc, "Type", "total")
        _sub(sc, "BallotsCast", s.ballots)
        _sub(sc, "BallotsRejected", s.spoiled)
        _sub(sc, "Undervotes", s.blank)
    _sub(contest, "Type", "primary")
    _sub(contest, "VotesAllowed", 1)
    _sub(el, "ElectionScopeId", COUNTRY_ID)
    _external_ids(el, f"{pre}-{ELECTION_ID}")
    _intl(el, "Name", election.name, lang)
    _sub(el, "StartDate", election.election_date.isoformat())
    _sub(el, "EndDate", election.election_date.isoformat())
    _sub(el, "Type", "primary")

    _sub(root, "Format", "precinct-level")
    _sub(root, "GeneratedDate", election.generated_at.replace(microsecond=0).isoformat())

    # GpUnits: country, départements, stations.
    units = _sub(root, "GpUnitCollection")
    depts = sorted({s.departement for s in ordered})
    country = _sub(units, "GpUnit")
    country.set("objectId", COUNTRY_ID)
    country.set(xsi_type, "ReportingUnit")
    if depts:
        _sub(country, "ComposingGpUnitIds", " ".join(departement_gpunit_id(d) for d in depts))
    _external_ids(country, f"{pre}-{COUNTRY_ID}", ("ocd-id", COUNTRY_OCD_ID, None))
    _sub(country, "Name", "France")
    _sub(country, "Type", "country")
    for d in depts:
        members = [s for s in ordered if s.departement == d]
        unit = _sub(units, "GpUnit")
        unit.set("objectId", departement_gpunit_id(d))
        unit.set(xsi_type, "ReportingUnit")
        _sub(unit, "ComposingGpUnitIds", " ".join(station_gpunit_id(s.station_id) for s in members))
        _external_ids(unit, f"{pre}-{departement_gpunit_id(d)}", ("other", d, "code-departement"))
        _sub(unit, "Name", f"Département {d}")
        _sub(unit, "Type", "other")
        _sub(unit, "OtherType", "departement")
    for s in ordered:
        unit = _sub(units, "GpUnit")
        unit.set("objectId", station_gpunit_id(s.station_id))
        unit.set(xsi_type, "ReportingUnit")
        _external_ids(
            unit,
            f"{pre}-{station_gpunit_id(s.station_id)}",
            ("other", s.station_id, "bureau-de-vote"),
        )
        _sub(unit, "Name", f"{s.commune} — bureau {s.station_id}")
        _sub(unit, "Type", "precinct")
        if s.signatures is not None:
            _sub(unit, "VotersParticipated", s.signatures)
        if s.registered is not None:
            _sub(unit, "VotersRegistered", s.registered)

    _sub(root, "Issuer", election.issuer)
    _sub(root, "IssuerAbbreviation", election.issuer_abbreviation)
    people = _sub(root, "PersonCollection")
    for n, name in enumerate(election.candidates, start=1):
        person = _sub(people, "Person")
        person.set("objectId", person_id(n))
        _external_ids(person, f"{pre}-{person_id(n)}")
        _intl(person, "FullName", name, lang)
    _sub(root, "SequenceStart", election.sequence)
    _sub(root, "SequenceEnd", election.sequence)
    _sub(root, "Status", status.value)
    _sub(root, "VendorApplicationId", election.vendor_application_id)

    ET.indent(root, space="  ")
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"
