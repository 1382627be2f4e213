"""Read API on an election night's worth of rows: how long the dashboards' calls take.

Fills a database with N stations (default 10,000, spread over 96
départements, ids from real-looking INSEE codes) with a complete PV, two
batches and a finding each, and an audit log of ``--audit`` entries; then
times the calls a dashboard or an export makes, through the real app
(FastAPI TestClient, in process) and the real database. Medians of
``--repeats`` runs. The audit route verifies the whole chain on every call,
so its time grows with the log.

    python bench/api_reads.py [--stations 10000] [--audit 20000] [--repeats 5]
                              [--pg postgresql+psycopg://...] [--json out.json]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fastapi.testclient import TestClient

from bench.common import median_seconds, print_table, write_json
from ingest import audit
from ingest.app import create_app
from ingest.auth import create_user
from ingest.db import Base, FindingRow, PvResult, Station, StoredBatch, make_engine, session
from ingest.settings import Settings

DEPTS = [f"{d:02d}" for d in range(1, 96) if d != 20] + ["2A"]


def fill(url: str, stations: int, entries: int) -> None:
    engine = make_engine(url)
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    ids = [f"{DEPTS[i % len(DEPTS)]}{i // len(DEPTS) % 1000:03d}-{i:04d}" for i in range(stations)]
    with session(engine) as s, s.begin():
        for i, sid in enumerate(ids):
            s.add(
                Station(
                    station_id=sid,
                    enrol_code_hash="0" * 64,
                    public_key=b"k" * 32,
                    enrolled_at_ms=1,
                    head_seq=2,
                    head_hash=f"{i:064x}",
                )
            )
        s.flush()
        for i, sid in enumerate(ids):
            dept = sid[:2]
            cands = [100 + i % 50, 80 + i % 30, 60 + i % 20]
            values = {
                "signatures": sum(cands) + 7,
                "ballots": sum(cands) + 7,
                "blank": 4,
                "spoiled": 3,
                "valid": sum(cands),
                "contributions": sum(cands) + 7,
            }
            values.update({f"candidate_{k}": v for k, v in enumerate(cands, start=1)})
            s.add(
                PvResult(
                    station_id=sid,
                    departement=dept,
                    values=values,
                    confidence=0.99,
                    complete=True,
                    updated_ms=1,
                )
            )
            for seq in (1, 2):
                s.add(
                    StoredBatch(
                        station_id=sid,
                        seq=seq,
                        hash=f"{seq:064x}",
                        prev_hash="0" * 64,
                        format_version=1,
                        created_ms=seq,
                        event_count=10,
                        received_at_ms=seq,
                        body=b"{}",
                    )
                )
            s.add(
                FindingRow(
                    station_id=sid,
                    departement=dept,
                    code="R.101",
                    severity="warning",
                    message="m",
                    fields=[],
                    evidence={},
                    created_ms=1,
                )
            )
    with session(engine) as s, s.begin():
        for i in range(entries):
            audit.append(s, "user:bench", "export.results", f"export:{i}", {"rows": i})
    engine.dispose()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stations", type=int, default=10_000)
    ap.add_argument("--audit", type=int, default=20_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--pg", default=None, help="PostgreSQL URL (default: a SQLite file)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    tmp = tempfile.mkdtemp()
    url = args.pg or f"sqlite:///{tmp}/bench.db"
    t0 = time.perf_counter()
    fill(url, args.stations, args.audit)
    print(
        f"filled {args.stations} stations and {args.audit} audit entries "
        f"in {time.perf_counter() - t0:.1f} s ({url.split(':')[0]})"
    )
    app = create_app(Settings(database_url=url))
    rows: list[list[str]] = []
    results: dict[str, float] = {}
    with TestClient(app) as client:
        ha = {"Authorization": "Bearer " + create_user(app.state.engine, "ha", "high_authority")}
        fed = {
            "Authorization": "Bearer "
            + create_user(app.state.engine, "f75", "federation", departement="75")
        }
        calls = [
            ("results national", "/v1/results/national", ha),
            ("results département 75", "/v1/results/departements/75", fed),
            ("stations page 100 (national)", "/v1/stations?limit=100", ha),
            ("stations page 1000 (national)", "/v1/stations?limit=1000", ha),
            ("stations of 75 (federation)", "/v1/stations?limit=1000", fed),
            ("findings page 100", "/v1/findings?limit=100", ha),
            ("export results.csv (national)", "/v1/exports/results.csv", ha),
            ("audit page 100 + verify chain", "/v1/audit?limit=100", ha),
        ]
        for name, path, headers in calls:

            def call(path: str = path, headers: dict[str, str] = headers) -> None:
                r = client.get(path, headers=headers)
                assert r.status_code == 200, r.text

            med, _ = median_seconds(call, args.repeats)
            results[name] = med * 1000
            rows.append([name, f"{med * 1000:.1f}"])
    print_table(["call", "median ms"], rows)
    out = write_json(
        "api_reads",
        {
            "database": url.split(":")[0],
            "stations": args.stations,
            "audit_entries": args.audit,
            "repeats": args.repeats,
            "median_ms": results,
        },
        args.json,
    )
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
