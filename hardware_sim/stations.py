"""Realistic polling stations: where they are, how many voters, how they vote.

Stations come from the packaged sample ``hardware_sim/data/stations-sample.csv``
(built by ``scripts/build_station_sample.py`` from the communes of
../shared/data/geo; provenance and licences in ``data/STATIONS.md``): a
uniform sample of a layout of France with about one station per thousand
inhabitants, ids ``<insee>-<nnnn>``, each with its registered electorate and
the commune's postcodes.

Vote shares vary around the national round-one result of the 2011 primaire
citoyenne (:data:`hardware_sim.electorate.ROUND_ONE_2011`): each département
draws its shares from a Dirichlet centred on the national ones, and each
station from a Dirichlet centred on its département's. Both are seeded by the
département code or station id, so a station always votes the same way for
the same seed. Turnout in the primary is drawn per station (Beta, mean about
a third of the roll).
"""

from __future__ import annotations

import csv
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from hardware_sim.electorate import ROUND_ONE_2011, StationCount, honest_count
from pen.page import PageAddress

DATA = Path(__file__).resolve().parent / "data" / "stations-sample.csv"
NATIONAL_SHARES = tuple(v / 100 for v in ROUND_ONE_2011.values())
"""Round-one 2011 shares in ballot order (as on the PV form), summing to about 1."""
DEPARTEMENT_CONCENTRATION = 150.0
"""Dirichlet concentration of a département's shares around the national ones."""
STATION_CONCENTRATION = 400.0
"""Dirichlet concentration of a station's shares around its département's."""
#: Page-address segment of the simulated election's PV sheets.
PV_SEGMENT = 70


def _stable(text: str, seed: int) -> int:
    return zlib.crc32(f"{seed}:{text}".encode())


@dataclass(frozen=True, slots=True)
class Station:
    """One polling station of the sample."""

    id: str
    """``<insee>-<nnnn>``."""
    insee: str
    departement: str
    commune: str
    electorate: int
    """Registered voters."""
    postcodes: tuple[str, ...] = ()
    """The commune's postcodes (La Poste)."""

    @property
    def pen_serials(self) -> tuple[str, str]:
        """The two pens issued to this station (president and secretary)."""
        base = zlib.crc32(self.id.encode()) % 10**7
        return (f"SIM{base:07d}A", f"SIM{base:07d}B")

    @property
    def pv_page(self) -> PageAddress:
        """The page address of the PV sheet issued to this station."""
        crc = zlib.crc32(self.id.encode())
        return PageAddress(PV_SEGMENT, crc & 0xFFFF, (crc >> 16) & 0xFFFF, 1)

    def shares(self, seed: int = 2011) -> tuple[float, ...]:
        """This station's expected vote shares, in ballot order."""
        dept = departement_shares(self.departement, seed)
        rng = np.random.default_rng(_stable(self.id, seed))
        return tuple(float(v) for v in rng.dirichlet(np.asarray(dept) * STATION_CONCENTRATION))

    def count(self, rng: np.random.Generator, seed: int = 2011) -> StationCount:
        """An honest, arithmetically consistent count for this station's electorate."""
        turnout = float(rng.beta(6.0, 12.0))
        voters = max(5, int(rng.binomial(self.electorate, turnout)))
        return honest_count(rng, self.shares(seed), voters=voters)


@lru_cache(maxsize=256)
def departement_shares(departement: str, seed: int = 2011) -> tuple[float, ...]:
    """A département's expected vote shares, around the national ones."""
    p = np.asarray(NATIONAL_SHARES) / sum(NATIONAL_SHARES)
    rng = np.random.default_rng(_stable(departement, seed))
    return tuple(float(v) for v in rng.dirichlet(p * DEPARTEMENT_CONCENTRATION))


@lru_cache(maxsize=4)
def load_stations(path: Path = DATA) -> tuple[Station, ...]:
    """Every station of the packaged sample, in file order."""
    with path.open(newline="", encoding="utf-8") as f:
        return tuple(
            Station(
                r["station_id"],
                r["insee_code"],
                r["departement"],
                r["commune"],
                int(r["electorate"]),
                tuple(r.get("postcodes", "").split()),
            )
            for r in csv.DictReader(f)
        )


def pick_stations(n: int, seed: int = 0) -> list[Station]:
    """``n`` distinct stations of the sample, seeded."""
    stations = load_stations()
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(stations), size=min(n, len(stations)), replace=False)
    return [stations[int(i)] for i in idx]
