"""A polling station's whole day: opening, contact forms through the day, the PV at closing.

:func:`simulate_day` opens the station at 9:00 (Paris), lets its voters
arrive along a day-shaped curve (:func:`arrival_times`: a morning peak around
11:00, a late-afternoon one around 17:30, over a steady trickle, all between
opening and closing at 19:00), and has about one voter in five
(:data:`CONTACT_RATE`) stop at the contact desk after voting and fill the
``contact`` form with the station's first pen, each in their own hand (a
:class:`~hardware_sim.handwriting.Writer` with its own seed) on a fresh sheet
issued to the station (:func:`contact_page`): name and first name in
capitals, an e-mail in lower case, a French mobile number, a postcode of the
station's commune, and ticks in the consent boxes they agree to. Voters queue
for the desk: one form at a time. At closing the PV is written by
:func:`hardware_sim.scenarios.simulate_station` (any scenario), with the same
number of voters, then signed.

The :class:`StationDay` holds the whole timeline (ink in time order, labelled
events), the ground truth (each contact's values, the PV's counts) and what
each pen sends (:func:`hardware_sim.session.session_bytes`).
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from hardware_sim.glyphs import GlyphBank, MissingGlyph
from hardware_sim.handwriting import Writer
from hardware_sim.scenarios import CLOSING_MS, MINUTE_MS, StationRun, simulate_station
from hardware_sim.session import PenIdentity, session_bytes
from hardware_sim.stations import Station
from pen.forms import FormLayout, load_form
from pen.forms.model import Rect
from pen.ink import Ink, Stroke
from pen.page import PageAddress

HOUR_MS = 60 * MINUTE_MS
#: 2011-10-09 09:00 Paris (07:00 UTC): the polls open.
OPENING_MS = CLOSING_MS - 10 * HOUR_MS
CONTACT_RATE = 0.2
"""Share of voters who fill a contact form."""
#: Arrival curve: a steady share, then (hours after opening, spread in hours, share) peaks.
BASE_SHARE = 0.3
PEAKS = ((2.0, 1.0, 0.38), (8.5, 0.9, 0.32))
#: Page-address segment of the simulated election's contact sheets.
CONTACT_SEGMENT = 71
#: Mobile ranges allocated in France (ARCEP plan, as libphonenumber's metadata has
#: them): a simulated voter's number is one a real voter could have.
MOBILE_PREFIXES = (
    *("060", "061", "062", "064", "065", "066", "067", "068"),
    *("073", "074", "075", "076", "077", "078", "079"),
)
CONTACT_FIELDS = ("last_name", "first_name", "email", "phone", "postcode")

FIRST_NAMES = (
    "MARIE", "JEAN", "NATHALIE", "PIERRE", "ISABELLE", "MICHEL", "SYLVIE", "PHILIPPE",
    "CATHERINE", "ALAIN", "FRANCOISE", "NICOLAS", "CHRISTINE", "PATRICK", "SANDRINE",
    "CHRISTOPHE", "VALERIE", "STEPHANE", "CELINE", "LAURENT", "AURELIE", "JULIEN", "CAMILLE",
    "THOMAS", "SOPHIE", "DAVID", "CHANTAL", "OLIVIER", "MONIQUE", "BERNARD", "ANNE",
    "JEAN-PIERRE", "MARIE-CLAIRE", "ERIC", "EMILIE", "GERARD", "HELENE", "YVES", "LUCIE",
    "KARIM", "FATIMA", "MEHDI", "LEA", "HUGO", "MANON", "ANTOINE", "JULIE", "PAUL",
)  # fmt: skip
LAST_NAMES = (
    "MARTIN", "BERNARD", "DUBOIS", "THOMAS", "ROBERT", "RICHARD", "PETIT", "DURAND",
    "LEROY", "MOREAU", "SIMON", "LAURENT", "LEFEBVRE", "MICHEL", "GARCIA", "DAVID",
    "BERTRAND", "ROUX", "VINCENT", "FOURNIER", "MOREL", "GIRARD", "ANDRE", "MERCIER",
    "DUPONT", "LAMBERT", "BONNET", "FRANCOIS", "MARTINEZ", "LEGRAND", "GARNIER", "FAURE",
    "ROUSSEAU", "BLANC", "GUERIN", "MULLER", "HENRY", "ROUSSEL", "NICOLAS", "PERRIN",
    "MORIN", "MATHIEU", "CLEMENT", "GAUTHIER", "DUMONT", "LOPEZ", "FONTAINE", "CHEVALIER",
    "BENALI", "NGUYEN", "LE GALL", "KERVELLA", "ETCHEVERRY", "DA SILVA",
)  # fmt: skip
DOMAINS = (
    ("orange.fr", 0.22), ("gmail.com", 0.3), ("free.fr", 0.12), ("wanadoo.fr", 0.1),
    ("laposte.net", 0.07), ("sfr.fr", 0.07), ("hotmail.fr", 0.08), ("yahoo.fr", 0.04),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Contact:
    """One filled contact form: the ground truth and the ink."""

    last_name: str
    first_name: str
    email: str
    phone: str
    postcode: str
    consent_email: bool
    consent_sms: bool
    arrival_ms: float
    """When the voter arrived at the station."""
    page: PageAddress
    writer_id: str
    """The real writer (glyph bank) whose hand the voter writes with."""
    ink: Ink

    def values(self) -> dict[str, str]:
        """Field id -> the value as written (checkboxes: ``"x"`` ticked, ``""`` not)."""
        out = {f: str(getattr(self, f)) for f in CONTACT_FIELDS}
        out["consent_email"] = "x" if self.consent_email else ""
        out["consent_sms"] = "x" if self.consent_sms else ""
        return out


@dataclass(frozen=True, slots=True)
class DayEvent:
    """A labelled moment of the day (``opening``, ``contact``, ``closing``, ``pv``, ``signed``)."""

    t_ms: float
    kind: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class StationDay:
    """A station's simulated day, with its ground truth."""

    station: Station
    scenario: str
    seed: int
    opening_ms: float
    closing_ms: float
    arrivals: tuple[float, ...]
    """Every voter's arrival time (ms), sorted; as many as the PV's true signatures."""
    contacts: tuple[Contact, ...]
    pv: StationRun
    """The PV at closing: counts (true, written, paper), scenario label and evidence."""
    ink: Ink
    """Everything the pens captured all day, in time order."""
    events: tuple[DayEvent, ...]
    sessions: Mapping[str, bytes]
    """Pen serial -> the bytes that pen sends for its ink of the day."""

    @property
    def voters(self) -> int:
        return len(self.arrivals)

    @property
    def pen_serial(self) -> str:
        """The station's first pen: contact forms, the PV, the president's signature."""
        return self.station.pen_serials[0]

    def pen_ink(self, serial: str | None = None) -> Ink:
        """The ink of one pen (default :attr:`pen_serial`)."""
        serial = serial or self.pen_serial
        return Ink.of([s for s in self.ink if s.pen_serial == serial])


def arrival_times(n: int, rng: np.random.Generator, opening_ms: float = OPENING_MS) -> np.ndarray:
    """``n`` sorted voter arrival times (ms), between opening and closing (10 hours)."""
    shares = np.array([BASE_SHARE, *(p[2] for p in PEAKS)])
    which = rng.choice(len(shares), size=n, p=shares / shares.sum())
    hours = rng.uniform(0.0, 10.0, n)
    for k, (centre, spread, _) in enumerate(PEAKS, start=1):
        pick = which == k
        h = rng.normal(centre, spread, int(pick.sum()))
        while (bad := (h < 0) | (h >= 10)).any():  # truncate to the opening hours
            h[bad] = rng.normal(centre, spread, int(bad.sum()))
        hours[pick] = h
    return np.sort(opening_ms + hours * HOUR_MS)


def contact_page(station: Station, sheet: int) -> PageAddress:
    """The address of the station's ``sheet``-th contact sheet (from 0)."""
    crc = zlib.crc32(station.id.encode())
    return PageAddress(CONTACT_SEGMENT, crc & 0xFFFF, (crc >> 16) & 0xFFFF, sheet + 1)


def contact_values(
    station: Station,
    rng: np.random.Generator,
    separators: str = "._-",
    names: tuple[Sequence[str], Sequence[str]] = (FIRST_NAMES, LAST_NAMES),
) -> dict[str, str | bool]:
    """A plausible voter's contact: names (drawn from ``names``: given names, surnames),
    e-mail (with one of ``separators``), phone, postcode."""
    if not station.postcodes:
        raise ValueError(f"station {station.id} has no postcode in the sample")
    first = str(names[0][int(rng.integers(len(names[0])))])
    last = str(names[1][int(rng.integers(len(names[1])))])
    f, la = first.lower(), last.lower().replace(" ", "")
    sep = str(rng.choice(list(separators))) if separators else ""
    local = [f"{f}{sep}{la}", f"{f[0]}{la}", f"{f}{sep}{la}{rng.integers(1, 99)}", f"{la}{sep}{f}"]
    domains, weights = zip(*DOMAINS, strict=True)
    domain = str(rng.choice(domains, p=np.asarray(weights) / sum(weights)))
    email = f"{local[int(rng.integers(len(local)))]}@{domain}"
    if len(email) > 40:
        email = f"{f[0]}{la}"[: 39 - len(domain)] + f"@{domain}"
    return {
        "last_name": last,
        "first_name": first,
        "email": email,
        "phone": f"{rng.choice(MOBILE_PREFIXES)}{int(rng.integers(0, 10**7)):07d}",
        "postcode": str(rng.choice(station.postcodes)),
        "consent_email": bool(rng.random() < 0.8),
        "consent_sms": bool(rng.random() < 0.45),
    }


def _tick(
    rect: Rect, t0: float, serial: str, page: PageAddress, rng: np.random.Generator
) -> Stroke:
    """A check mark in a checkbox: down to the bottom, then up to the top-right corner."""
    j = rng.normal(0.0, 0.25, (3, 2))
    corners = np.array(
        [
            [rect.x + 0.2 * rect.width, rect.y + 0.5 * rect.height],
            [rect.x + 0.42 * rect.width, rect.y + 0.8 * rect.height],
            [rect.x + 0.85 * rect.width, rect.y + 0.15 * rect.height],
        ]
    ) + np.clip(j, -0.4, 0.4)
    seg = np.hypot(*np.diff(corners, axis=0).T)
    dist = np.concatenate([[0.0], np.cumsum(seg)])
    n = max(4, int(dist[-1] / float(rng.uniform(40, 70)) * 75) + 1)
    s = np.linspace(0.0, dist[-1], n)
    x, y = np.interp(s, dist, corners[:, 0]), np.interp(s, dist, corners[:, 1])
    force = 0.05 + 0.55 * np.sin(np.pi * np.linspace(0.05, 0.95, n)) ** 0.5
    pts = np.column_stack([x, y, np.round(t0 + np.arange(n) * 1000 / 75), force])
    return Stroke(pts, serial, page)


def write_contact(
    station: Station,
    sheet: int,
    t0_ms: float,
    rng: np.random.Generator,
    *,
    layout: FormLayout,
    bank: GlyphBank,
    arrival_ms: float | None = None,
    names: tuple[Sequence[str], Sequence[str]] = (FIRST_NAMES, LAST_NAMES),
) -> Contact:
    """One voter fills the ``contact`` form on the station's ``sheet``-th sheet from ``t0_ms``
    (names drawn from ``names``: given names, surnames).

    The voter gets a writer who wrote an ``@`` (most UNIPEN writers never did)
    and an e-mail separator their hand has; a name with a letter the writer
    lacks draws another voter.
    """
    serial, page = station.pen_serials[0], contact_page(station, sheet)
    with_at = bank.writers_with("@")
    if not with_at:
        raise MissingGlyph("any", "@", "the glyph bank")
    for _ in range(50):
        writer_id = with_at[int(rng.integers(len(with_at)))]
        writer = Writer(writer_id, seed=int(rng.integers(2**31)), bank=bank)
        chars = bank.chars(writer.writer_id)
        values = contact_values(station, rng, "".join(c for c in "._-" if c in chars), names)
        strokes: list[Stroke] = []
        t = t0_ms
        try:
            for fid in CONTACT_FIELDS:
                text = str(values[fid])
                f = layout.field(fid)
                strokes += writer.write_field(
                    text, f, t, align="left", pen_serial=serial, page=page
                )
                t = strokes[-1].end_ms + float(rng.uniform(1.5, 5.0)) * 1000
        except MissingGlyph:
            continue
        for fid in ("consent_email", "consent_sms"):
            if values[fid]:
                strokes.append(_tick(layout.field(fid).rect, t, serial, page, rng))
                t = strokes[-1].end_ms + float(rng.uniform(1.0, 3.0)) * 1000
        return Contact(
            last_name=str(values["last_name"]),
            first_name=str(values["first_name"]),
            email=str(values["email"]),
            phone=str(values["phone"]),
            postcode=str(values["postcode"]),
            consent_email=bool(values["consent_email"]),
            consent_sms=bool(values["consent_sms"]),
            arrival_ms=float(t0_ms if arrival_ms is None else arrival_ms),
            page=page,
            writer_id=writer.writer_id,
            ink=Ink.of(strokes),
        )
    raise MissingGlyph(  # pragma: no cover - 50 voters in a row whose names a hand lacks
        "any", "?", "the glyph bank"
    )


def simulate_day(
    station: Station,
    scenario: str = "honest",
    seed: int = 0,
    *,
    contact_rate: float = CONTACT_RATE,
    bank: GlyphBank | None = None,
) -> StationDay:
    """Simulate ``station``'s day under the PV ``scenario`` (see :mod:`hardware_sim.scenarios`)."""
    bank = bank if bank is not None else GlyphBank.load()
    pv = simulate_station(station, scenario, seed, bank=bank)
    rng = np.random.default_rng([seed, zlib.crc32(station.id.encode()), 3])
    arrivals = arrival_times(pv.true_counts.signatures, rng)
    layout = load_form("contact")
    contacts: list[Contact] = []
    events = [DayEvent(float(OPENING_MS), "opening", station.id)]
    desk_free = float(OPENING_MS)
    for arrival in arrivals[rng.random(len(arrivals)) < contact_rate]:
        start = max(float(arrival) + float(rng.uniform(1, 4)) * MINUTE_MS, desk_free)
        c = write_contact(
            station, len(contacts), start, rng, layout=layout, bank=bank, arrival_ms=arrival
        )
        contacts.append(c)
        events.append(DayEvent(c.ink[0].start_ms, "contact", str(c.page)))
        desk_free = c.ink[-1].end_ms + float(rng.uniform(10, 40)) * 1000
    events.append(DayEvent(float(CLOSING_MS), "closing", station.id))
    events.append(DayEvent(pv.ink[0].start_ms, "pv", f"{pv.scenario} {pv.page}"))
    events.append(DayEvent(pv.signed_ms, "signed", pv.scenario))
    ink = Ink.of([s for c in contacts for s in c.ink] + list(pv.ink)).by_time()
    by_pen: dict[str, list[Stroke]] = {}
    for s in ink:
        by_pen.setdefault(s.pen_serial, []).append(s)
    sessions = {k: session_bytes(Ink.of(v), PenIdentity(k)) for k, v in sorted(by_pen.items())}
    return StationDay(
        station=station,
        scenario=scenario,
        seed=seed,
        opening_ms=float(OPENING_MS),
        closing_ms=float(CLOSING_MS),
        arrivals=tuple(float(a) for a in arrivals),
        contacts=tuple(contacts),
        pv=pv,
        ink=ink,
        events=tuple(sorted(events, key=lambda e: e.t_ms)),
        sessions=MappingProxyType(sessions),
    )
