"""Build hardware_sim/data/stations-sample.csv from ../shared/data/geo/communes.csv.

France is laid out as polling stations, about one per thousand inhabitants
(at least one per commune), each numbered ``<insee>-<nnnn>``; a seeded uniform
sample of those stations is kept so the simulator ships a compact, realistic
file and never reads ../shared at run time. Each kept station gets its
registered electorate: the commune's population split evenly over its
stations, times the share of inhabitants on the electoral roll (about 0.72),
with a little seeded spread, and the commune's postcodes. Provenance and the
MIT notices of the source packages are written next to the sample (STATIONS.md).

Usage: python scripts/build_station_sample.py [--stations 4000] [--seed 2011]
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
GEO = ROOT.parent / "shared" / "data" / "geo"
OUT = ROOT / "hardware_sim" / "data"
INHABITANTS_PER_STATION = 1000
ROLL_SHARE = 0.72
HEADER = ("station_id", "insee_code", "departement", "commune", "electorate", "postcodes")


def all_stations(communes: Path) -> list[tuple[str, str, str, str, float, str]]:
    """(station id, insee, département, commune, inhabitants per station, postcodes)."""
    out = []
    with communes.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            population = int(row["population"] or 0)
            if population <= 0:
                continue
            n = max(1, round(population / INHABITANTS_PER_STATION))
            for k in range(1, n + 1):
                station = f"{row['insee_code']}-{k:04d}"
                out.append(
                    (
                        station,
                        row["insee_code"],
                        row["departement"],
                        row["name"],
                        population / n,
                        row["postcodes"],
                    )
                )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=2011)
    parser.add_argument("--geo", type=Path, default=GEO)
    args = parser.parse_args(argv)
    stations = all_stations(args.geo / "communes.csv")
    rng = np.random.default_rng(args.seed)
    keep = np.sort(rng.choice(len(stations), size=min(args.stations, len(stations)), replace=False))
    OUT.mkdir(parents=True, exist_ok=True)
    with (OUT / "stations-sample.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(HEADER)
        for i in keep:
            station, insee, dept, name, inhabitants, postcodes = stations[int(i)]
            electorate = max(20, round(inhabitants * ROLL_SHARE * np.exp(rng.normal(0, 0.12))))
            writer.writerow((station, insee, dept, name, electorate, postcodes))
    notices = "\n".join(
        f"### {p.name}\n\n```\n{p.read_text(encoding='utf-8').strip()}\n```\n"
        for p in sorted(args.geo.glob("LICENSE-*"))
    )
    (OUT / "STATIONS.md").write_text(
        "# stations-sample.csv\n\n"
        f"{len(keep)} polling stations drawn uniformly (seed {args.seed}) from the "
        f"{len(stations)} stations of a layout of France with one station per "
        f"{INHABITANTS_PER_STATION} inhabitants (at least one per commune). Built by "
        "`scripts/build_station_sample.py` from ../shared/data/geo/communes.csv, which is "
        "derived from two MIT-licensed npm packages built from official French data (INSEE "
        "Code officiel géographique, La Poste / Base Adresse Nationale): "
        "`@etalab/decoupage-administratif` 6.0.0 (Etalab) and `codes-postaux` 4.1.2 "
        "(Base Adresse Nationale). Their MIT notices follow and go with every copy.\n\n"
        "Columns: station_id (`<insee>-<nnnn>`), insee_code, departement, commune, "
        f"electorate (registered voters: population per station x {ROLL_SHARE}, "
        "seeded spread), postcodes (the commune's La Poste postcodes, space-separated, "
        "from the `postcodes` column of communes.csv).\n\n" + notices,
        encoding="utf-8",
    )
    print(f"{len(keep)} stations of {len(stations)} -> {OUT / 'stations-sample.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
