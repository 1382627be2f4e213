"""The results file (``plume-results`` version 1): stations' counts, optional ink, as JSON.

What the high authority runs the rules, reports and exports on offline
(``plume results ...``); the format is written up in docs/reports.md.
:func:`parse_results` turns the decoded JSON into typed values and refuses
anything else with a :class:`ResultsFileError` naming the place
(``stations[3].counts.ballots``) and what was expected. Ink is read through
the ``read_ink`` callback (the command line resolves paths next to the file),
so parsing itself does no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pen.errors import PenError
from pen.forms import load_form
from pen.inkml import from_inkml
from pen.page import PageAddress
from reconciliation.arithmetic import PvCounts
from reconciliation.cdf import ElectionInfo
from reconciliation.findings import ReconciliationError
from reconciliation.paper import PaperReading
from reconciliation.tallies import StationTally
from reconciliation.timeline import PvTimeline, StationContext

FORMAT = "plume-results"
VERSION = 1
_COUNTS = ("signatures", "ballots", "blank", "spoiled", "valid", "contributions")


class ResultsFileError(ReconciliationError):
    """The results file is not a ``plume-results`` v1 document; the message says where."""

    code = "REC.100"


@dataclass(frozen=True, slots=True)
class StationEntry:
    """One station of the file."""

    tally: StationTally
    commune: str
    timeline: PvTimeline | None = None
    paper: Mapping[str, PaperReading] | None = None
    """The fields as read from the scanned paper PV, if it has come."""


@dataclass(frozen=True, slots=True)
class ResultsFile:
    election: ElectionInfo
    stations: tuple[StationEntry, ...]
    expected_stations: Mapping[str, int]
    """Stations each département has (for "reporting n of m"); may be empty."""
    previous: tuple[StationTally, ...] | None = None
    """The previous round's tallies, for the between-rounds rule (W.608)."""

    @property
    def tallies(self) -> list[StationTally]:
        return [s.tally for s in self.stations]


def _fail(where: str, message: str) -> ResultsFileError:
    return ResultsFileError(f"{where}: {message}")


def _obj(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail(where, f"expected an object, got {type(value).__name__}")
    return value


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(where, f"expected a non-empty text, got {value!r}")
    return value


def _count(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(where, f"expected a whole number or null, got {value!r}")
    return value


def _when(value: Any, where: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(_text(value, where))
    except ValueError:
        raise _fail(where, f"expected an ISO 8601 date and time, got {value!r}") from None
    return parsed


def _epoch_ms(value: Any, where: str) -> float | None:
    if value is None:
        return None
    when = _when(value, where)
    if when.tzinfo is None:
        raise _fail(where, f"{value!r} has no UTC offset; write e.g. 2011-10-09T19:00:00+02:00")
    return when.timestamp() * 1000


def _election(raw: Any) -> ElectionInfo:
    data = _obj(raw, "election")
    known = {"name", "contest_name", "candidates", "date", "generated_at", "sequence"}
    extra = sorted(set(data) - known)
    if extra:
        raise _fail("election", f"unknown key(s) {', '.join(extra)}; known: {sorted(known)}")
    kwargs: dict[str, Any] = {}
    for key in ("name", "contest_name"):
        if key in data:
            kwargs[key] = _text(data[key], f"election.{key}")
    if "candidates" in data:
        names = data["candidates"]
        if not isinstance(names, list) or not names:
            raise _fail("election.candidates", "expected a non-empty list of names")
        kwargs["candidates"] = tuple(
            _text(n, f"election.candidates[{i}]") for i, n in enumerate(names)
        )
    if "date" in data:
        try:
            kwargs["election_date"] = date.fromisoformat(_text(data["date"], "election.date"))
        except ValueError:
            raise _fail("election.date", f"expected YYYY-MM-DD, got {data['date']!r}") from None
    if "generated_at" in data:
        kwargs["generated_at"] = _when(data["generated_at"], "election.generated_at")
    if "sequence" in data:
        sequence = _count(data["sequence"], "election.sequence")
        if sequence is None or sequence < 1:
            raise _fail("election.sequence", "expected a whole number >= 1")
        kwargs["sequence"] = sequence
    return ElectionInfo(**kwargs)


def _counts(raw: Any, where: str, n_candidates: int) -> PvCounts:
    data = _obj(raw, where)
    votes = data.get("candidates")
    if not isinstance(votes, list) or len(votes) != n_candidates:
        raise _fail(f"{where}.candidates", f"expected a list of {n_candidates} counts (or nulls)")
    closing = data.get("closing_time")
    if closing is not None and not isinstance(closing, str):
        raise _fail(f"{where}.closing_time", f"expected text HHMM or null, got {closing!r}")
    values = {k: _count(data.get(k), f"{where}.{k}") for k in _COUNTS}
    return PvCounts(
        values["signatures"],
        values["ballots"],
        values["blank"],
        values["spoiled"],
        values["valid"],
        tuple(_count(v, f"{where}.candidates[{i}]") for i, v in enumerate(votes)),
        values["contributions"],
        closing,
    )


def _context(raw: Any, where: str) -> StationContext:
    data = _obj(raw, where)
    serials = data.get("pen_serials", [])
    pages = data.get("pages", [])
    if not isinstance(serials, list) or not isinstance(pages, list):
        raise _fail(where, "pen_serials and pages must be lists")
    try:
        addresses = frozenset(PageAddress.parse(p) for p in pages)
    except PenError as exc:
        raise _fail(f"{where}.pages", exc.message) from None
    return StationContext(
        pen_serials=frozenset(_text(s, f"{where}.pen_serials") for s in serials),
        closing_ms=_epoch_ms(data.get("closing"), f"{where}.closing"),
        signed_ms=_epoch_ms(data.get("signed"), f"{where}.signed"),
        received_ms=_epoch_ms(data.get("received"), f"{where}.received"),
        pages=addresses,
    )


def _timeline(data: Mapping[str, Any], where: str, read_ink: Callable[[str], str]) -> PvTimeline:
    path = _text(data["ink"], f"{where}.ink")
    try:
        doc = from_inkml(read_ink(path))
    except OSError as exc:
        raise _fail(f"{where}.ink", f"cannot read {path}: {exc.strerror or exc}") from None
    except PenError as exc:
        raise _fail(f"{where}.ink", f"{path} is not Plume InkML: {exc.message}") from None
    if not doc.fields:
        raise _fail(f"{where}.ink", f"{path} assigns no stroke to a PV field")
    context = _context(data.get("context", {}), f"{where}.context")
    fields = {name: doc.field_ink(name) for name in doc.fields}
    return PvTimeline(fields, context, load_form("pv"))


def _paper(raw: Any, where: str) -> dict[str, PaperReading]:
    out = {}
    for name, item in _obj(raw, where).items():
        here = f"{where}.{name}"
        data = _obj(item, here)
        value, confidence, crop = data.get("value"), data.get("confidence"), data.get("crop")
        if value is not None and not isinstance(value, str):
            raise _fail(f"{here}.value", f"expected the text read, or null; got {value!r}")
        if isinstance(confidence, bool) or not isinstance(confidence, int | float):
            raise _fail(f"{here}.confidence", f"expected a number from 0 to 1, got {confidence!r}")
        if crop is not None and not isinstance(crop, str):
            raise _fail(f"{here}.crop", f"expected a path or id, or null; got {crop!r}")
        try:
            out[str(name)] = PaperReading(value, float(confidence), crop)
        except ReconciliationError as exc:
            raise _fail(here, exc.message) from None
    return out


def _station(
    raw: Any, where: str, n_candidates: int, read_ink: Callable[[str], str] | None
) -> StationEntry:
    data = _obj(raw, where)
    registered = _count(data.get("registered"), f"{where}.registered")
    try:
        tally = StationTally(
            _text(data.get("station_id"), f"{where}.station_id"),
            _text(data.get("departement"), f"{where}.departement"),
            registered,
            _counts(data.get("counts"), f"{where}.counts", n_candidates),
        )
    except ResultsFileError:
        raise
    except ReconciliationError as exc:
        raise _fail(where, exc.message) from None
    timeline = None
    if data.get("ink") is not None:
        if read_ink is None:
            raise _fail(f"{where}.ink", "ink given but no way to read it")
        timeline = _timeline(data, where, read_ink)
    commune = data.get("commune") or tally.station_id
    paper = None if data.get("paper") is None else _paper(data["paper"], f"{where}.paper")
    return StationEntry(tally, _text(commune, f"{where}.commune"), timeline, paper)


def parse_results(document: Any, read_ink: Callable[[str], str] | None = None) -> ResultsFile:
    """A decoded ``plume-results`` v1 JSON document as typed values."""
    data = _obj(document, "document")
    if data.get("format") != FORMAT:
        raise _fail("format", f"expected {FORMAT!r}, got {data.get('format')!r}")
    if data.get("version") != VERSION:
        raise _fail("version", f"this Plume reads version {VERSION}, got {data.get('version')!r}")
    election = _election(data.get("election", {}))
    stations_raw = data.get("stations")
    if not isinstance(stations_raw, Sequence) or isinstance(stations_raw, str):
        raise _fail("stations", "expected a list of stations")
    n = len(election.candidates)
    stations = tuple(_station(s, f"stations[{i}]", n, read_ink) for i, s in enumerate(stations_raw))
    seen: set[str] = set()
    for i, s in enumerate(stations):
        if s.tally.station_id in seen:
            raise _fail(f"stations[{i}].station_id", f"{s.tally.station_id} appears twice")
        seen.add(s.tally.station_id)
    expected_raw = _obj(data.get("expected_stations", {}), "expected_stations")
    expected = {}
    for dept, value in expected_raw.items():
        count = _count(value, f"expected_stations.{dept}")
        if count is None or count < 0:
            raise _fail(f"expected_stations.{dept}", "expected a whole number >= 0")
        expected[str(dept)] = count
    return ResultsFile(election, stations, expected, _previous(data.get("previous_round")))


def _previous(raw: Any) -> tuple[StationTally, ...] | None:
    """``previous_round``: its candidates (a count or names) and its stations' counts."""
    if raw is None:
        return None
    data = _obj(raw, "previous_round")
    names = data.get("candidates")
    if not isinstance(names, list) or not names:
        raise _fail("previous_round.candidates", "expected the round's candidates, a list")
    stations = data.get("stations")
    if not isinstance(stations, list):
        raise _fail("previous_round.stations", "expected a list of stations")
    return tuple(
        _station(s, f"previous_round.stations[{i}]", len(names), None).tally
        for i, s in enumerate(stations)
    )
