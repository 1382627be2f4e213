"""Batch intake under concurrency, on SQLite and PostgreSQL: each batch stored exactly once.

Intake keeps, per process, a hint of each station's head and key, and stores the
next batch of a station with a group commit (a conditional UPDATE of the head and
the INSERT, sharing one transaction with other stations' batches). These tests race
real threads and real HTTP connections on the real databases, and play two workers
(two engines, two sets of hints) on one database.
"""

from __future__ import annotations

import base64
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Connection, Engine, select, text

from ingest.db import Station, StoredBatch, create_schema, make_engine, session
from ingest.group_commit import GroupCommit
from ingest.stations import Refused, create_kits, enrol, receive_batch
from ingest.stations import _append as _append_group
from pen.batches import (
    GENESIS_HASH,
    Batch,
    batch_hash,
    encode_batch,
    make_batch,
    public_key_bytes,
    sign_batch,
)
from tests.integration.test_ingest_api import db_url  # noqa: F401  (the SQLite/PostgreSQL fixture)
from tests.live_ingest import serve_ingest

KEY = Ed25519PrivateKey.from_private_bytes(b"\x05" * 32)


def _chain(sid: str, n: int, salt: int = 0, start: Batch | None = None) -> list[Batch]:
    out: list[Batch] = []
    prev = GENESIS_HASH if start is None else batch_hash(start)
    first = 1 if start is None else start.seq + 1
    for seq in range(first, first + n):
        b = sign_batch(make_batch(sid, seq, prev, [bytes([2, seq % 256, salt])], seq), KEY)
        out.append(b)
        prev = batch_hash(b)
    return out


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:  # noqa: F811
    e = make_engine(db_url)
    create_schema(e)
    yield e
    e.dispose()


def _enrolled(engine: Engine, *sids: str) -> None:
    codes = create_kits(engine, sids)
    pub = base64.b64encode(public_key_bytes(KEY)).decode()
    for sid in sids:
        enrol(engine, sid, codes[sid], pub)


def _race(n: int, fn: Callable[[int], str]) -> list[str]:
    """Run ``fn(i)`` in ``n`` threads released together; their outcomes."""
    start = threading.Barrier(n)
    out: list[str] = [""] * n

    def go(i: int) -> None:
        start.wait()
        try:
            out[i] = fn(i)
        except Refused as exc:
            out[i] = exc.reason
        except Exception as exc:  # reported in the assertion, not swallowed
            out[i] = f"error {exc!r}"

    threads = [threading.Thread(target=go, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return out


def _stored(engine: Engine, sid: str) -> list[tuple[int, str]]:
    with session(engine) as s:
        q = select(StoredBatch.seq, StoredBatch.hash).where(StoredBatch.station_id == sid)
        return sorted((seq, h) for seq, h in s.execute(q))


def test_the_same_batch_raced_on_8_threads_is_accepted_once(engine: Engine) -> None:
    sid = "race-1"
    _enrolled(engine, sid)
    chain = _chain(sid, 4)
    for b in chain:  # seq 1 has no hint yet (decided under lock); later ones take the fast path
        body = encode_batch(b)
        outcomes = _race(8, lambda i, body=body: receive_batch(engine, sid, body).status)
        assert Counter(outcomes) == {"accepted": 1, "duplicate": 7}, outcomes
    assert _stored(engine, sid) == [(b.seq, batch_hash(b)) for b in chain]


def test_two_different_batches_for_one_seq_one_wins_the_other_is_a_fork(engine: Engine) -> None:
    sid = "race-2"
    _enrolled(engine, sid)
    (b1,) = _chain(sid, 1)
    assert receive_batch(engine, sid, encode_batch(b1)).status == "accepted"
    ours, theirs = _chain(sid, 1, salt=1, start=b1)[0], _chain(sid, 1, salt=2, start=b1)[0]
    bodies = [encode_batch(ours), encode_batch(theirs)] * 3
    outcomes = _race(6, lambda i: receive_batch(engine, sid, bodies[i]).status)
    counts = Counter(outcomes)
    assert counts["accepted"] == 1 and counts["fork"] == 3, outcomes
    assert counts["duplicate"] == 2, outcomes  # the winner's twins
    stored = _stored(engine, sid)
    assert len(stored) == 2 and stored[1][1] in (batch_hash(ours), batch_hash(theirs))


def test_many_stations_at_once_all_stored_in_order(engine: Engine) -> None:
    sids = [f"grp-{i}" for i in range(12)]
    _enrolled(engine, *sids)
    chains = {sid: _chain(sid, 5) for sid in sids}

    def upload(i: int) -> str:
        sid = sids[i]
        return ",".join(receive_batch(engine, sid, encode_batch(b)).status for b in chains[sid])

    assert _race(len(sids), upload) == [",".join(["accepted"] * 5)] * len(sids)
    for sid in sids:
        assert _stored(engine, sid) == [(b.seq, batch_hash(b)) for b in chains[sid]]
    with session(engine) as s:
        heads = {sid: seq for sid, seq in s.execute(select(Station.station_id, Station.head_seq))}
    assert all(heads[sid] == 5 for sid in sids)


def test_a_stale_hint_of_another_worker_is_caught_by_the_database(db_url: str) -> None:  # noqa: F811
    """Two workers (two engines): what one stores makes the other's hint stale."""
    worker_a, worker_b = make_engine(db_url), make_engine(db_url)
    sid = "two-workers"
    try:
        create_schema(worker_a)
        _enrolled(worker_a, sid)
        b1, b2, b3, b4 = _chain(sid, 4)
        for b in (b1, b2):
            assert receive_batch(worker_a, sid, encode_batch(b)).status == "accepted"
        # worker B stores batch 3: worker A still believes the head is batch 2
        assert receive_batch(worker_b, sid, encode_batch(b3)).status == "accepted"
        fork3 = _chain(sid, 1, salt=7, start=b2)[0]
        with pytest.raises(Refused) as refused:
            receive_batch(worker_a, sid, encode_batch(fork3))
        assert refused.value.code == "PEN.703" and refused.value.reason == "fork"
        assert receive_batch(worker_a, sid, encode_batch(b3)).status == "duplicate"
        assert receive_batch(worker_a, sid, encode_batch(b4)).status == "accepted"
        # now worker B's hint (head 3) is stale: batch 4 again is a duplicate, 2 a replay
        assert receive_batch(worker_b, sid, encode_batch(b4)).status == "duplicate"
        with pytest.raises(Refused) as refused:
            receive_batch(worker_b, sid, encode_batch(b2))
        assert refused.value.reason == "replay"
        assert _stored(worker_a, sid) == [(b.seq, batch_hash(b)) for b in (b1, b2, b3, b4)]
    finally:
        worker_a.dispose()
        worker_b.dispose()


def test_two_http_connections_racing_one_batch_get_201_and_200(tmp_path: Path) -> None:
    sid = "http-race"
    with serve_ingest(tmp_path / "ingest.db") as (app, base):
        _enrolled(app.state.engine, sid)
        clients = [httpx.Client(base_url=base, timeout=10) for _ in range(2)]
        try:
            for b in _chain(sid, 3):
                body = encode_batch(b)

                def post(i: int, body: bytes = body) -> str:
                    r = clients[i].post(f"/v1/stations/{sid}/batches", content=body)
                    return f"{r.status_code} {r.json()['status']}"

                assert sorted(_race(2, post)) == ["200 duplicate", "201 accepted"]
        finally:
            for c in clients:
                c.close()
        assert [seq for seq, _ in _stored(app.state.engine, sid)] == [1, 2, 3]


def test_group_commit_writes_every_item_once_and_answers_each_caller(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/g.db")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE items (n INTEGER PRIMARY KEY)"))
    groups: list[int] = []

    def write(conn: Connection, items: list[int]) -> list[int]:
        groups.append(len(items))
        for n in items:
            conn.execute(text("INSERT INTO items (n) VALUES (:n)"), {"n": n})
        return [n * 10 for n in items]

    commits: GroupCommit[int, int] = GroupCommit(write, failed=-1)
    outcomes = _race(16, lambda i: str(commits.run(engine, i)))
    assert outcomes == [str(i * 10) for i in range(16)]
    assert sum(groups) == 16

    def count() -> int | None:
        with engine.connect() as conn:
            n: int | None = conn.scalar(text("SELECT count(*) FROM items"))
            return n

    assert count() == 16
    # a group whose transaction fails (3 is there already) answers ``failed``, writes nothing
    assert commits.run(engine, 3) == -1
    assert count() == 16
    engine.dispose()


def test_one_group_advances_each_head_once_and_only_where_the_hint_holds(engine: Engine) -> None:
    """The group's single UPDATE: a station's second item in the group, and a stale hint,
    are left to the slow path (not moved, not stored); the others are stored."""
    from ingest.stations import _Hint, _Next, _row, load_public_key

    _enrolled(engine, "grp-a", "grp-b", "grp-c")
    for sid in ("grp-a", "grp-b", "grp-c"):
        assert receive_batch(engine, sid, encode_batch(_chain(sid, 1)[0])).status == "accepted"
    key = public_key_bytes(KEY)

    def nxt(sid: str, salt: int, head_seq: int = 1) -> _Next:
        first = _chain(sid, 1)[0]
        b = _chain(sid, 1, salt=salt, start=first)[0]
        head = batch_hash(first) if head_seq == 1 else "f" * 64
        hint = _Hint(key, load_public_key(key), head_seq, head)
        return _Next(_row(b, encode_batch(b), batch_hash(b)), hint)

    group = [nxt("grp-b", 1), nxt("grp-a", 0), nxt("grp-b", 2), nxt("grp-c", 0, head_seq=7)]
    with engine.begin() as conn:
        assert _append_group(conn, group) == [True, True, False, False]
    assert [h for _, h in _stored(engine, "grp-b")][1] == group[0].row["hash"]
    assert [seq for seq, _ in _stored(engine, "grp-a")] == [1, 2]
    assert [seq for seq, _ in _stored(engine, "grp-c")] == [1]
