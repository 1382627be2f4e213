"""The ingest pipeline's throughput: strokes assembled and fields read per second.

Simulates whole station days (contact forms and the PV, hardware_sim), stores
them through ingest's real intake as signed batches of 500 events (what an
agent sends), then times, on a fresh database each repeat, assembly
(``ingest.assembly.assemble``) and reading (``mark_ready`` + reading every
field with the configured workers), and prints the medians.

    python bench/pipeline.py [--stations 2] [--repeats 3] [--workers 2]
                             [--database-url postgresql+psycopg://...] [--json out.json]

SQLite files go to a temporary folder; a PostgreSQL URL is emptied first.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import structlog

from bench.common import print_table, write_json
from hardware_sim.day import simulate_day
from hardware_sim.stations import pick_stations
from ingest.assembly import assemble
from ingest.db import Base, create_schema, make_engine
from ingest.pipeline import run_once
from ingest.settings import Settings
from plume.sim_kits import create_sim_kits
from tests.pipeline_sim import day_events, enrol_station, signed_bodies, upload


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))

    stations = pick_stations(args.stations, seed=7)
    days = [simulate_day(st, "honest", seed=i) for i, st in enumerate(stations)]
    strokes = sum(len(d.ink) for d in days)
    runs: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            url = args.database_url or f"sqlite:///{tmp}/bench-{r}.db"
            settings = Settings(database_url=url, worker_count=args.workers, field_idle_s=0)
            engine = make_engine(url)
            if args.database_url:
                Base.metadata.drop_all(engine)
            create_schema(engine)
            codes = create_sim_kits(engine, stations, contact_sheets=400)
            for d in days:
                key = enrol_station(engine, d.station.id, codes[d.station.id])
                upload(engine, d.station.id, signed_bodies(d.station.id, key, day_events(d)))
            t0 = time.perf_counter()
            done = assemble(engine, settings)
            t1 = time.perf_counter()
            stats = run_once(engine, settings)
            t2 = time.perf_counter()
            assert done.strokes == strokes and stats.failed == 0
            runs.append(
                {
                    "assemble_s": t1 - t0,
                    "read_s": t2 - t1,
                    "fields": float(stats.read),
                    "batches": float(done.batches),
                }
            )
            engine.dispose()
    assemble_s = statistics.median(x["assemble_s"] for x in runs)
    read_s = statistics.median(x["read_s"] for x in runs)
    fields = runs[0]["fields"]
    backend = "postgresql" if args.database_url else "sqlite"
    print(
        f"pipeline on {backend}: {len(days)} station days, {strokes} strokes, "
        f"{int(runs[0]['batches'])} batches, {int(fields)} fields; medians of {args.repeats}"
    )
    print_table(
        ["stage", "seconds", "rate"],
        [
            ["assembly", f"{assemble_s:.2f}", f"{strokes / assemble_s:.0f} strokes/s"],
            [
                f"reading ({args.workers} workers)",
                f"{read_s:.2f}",
                f"{fields / read_s:.1f} fields/s",
            ],
        ],
    )
    summary = {
        "backend": backend,
        "stations": len(days),
        "strokes": strokes,
        "fields": fields,
        "workers": args.workers,
        "assemble_s_median": assemble_s,
        "read_s_median": read_s,
        "strokes_per_s": strokes / assemble_s,
        "fields_per_s": fields / read_s,
        "runs": runs,
    }
    print(f"wrote {write_json(f'pipeline-{backend}', summary, args.json)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
