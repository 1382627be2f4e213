"""Property: any change to the audit rows that leaves the stored head alone is detected.

Edits (with or without recomputing the hash), deletions, reorderings and
forged insertions are tried at random positions of random chains.
"""

from __future__ import annotations

import dataclasses

from hypothesis import assume, given
from hypothesis import strategies as st

from ingest.audit import GENESIS, Row, entry_hash, verify_chain

texts = st.text(min_size=0, max_size=12)
details = st.dictionaries(
    st.text(min_size=1, max_size=6), st.one_of(st.integers(), texts, st.booleans(), st.none())
)
contents = st.tuples(st.integers(0, 2**50), texts, texts, texts, details)


def build(items: list[tuple[int, str, str, str, dict[str, object]]]) -> list[Row]:
    rows, prev = [], GENESIS
    for seq, (at, actor, action, target, detail) in enumerate(items, start=1):
        h = entry_hash(prev, seq, at, actor, action, target, detail)
        rows.append(Row(seq, at, actor, action, target, detail, prev, h))
        prev = h
    return rows


def head_of(rows: list[Row]) -> tuple[int, str] | None:
    return (rows[-1].seq, rows[-1].hash) if rows else None


def rehash(row: Row) -> Row:
    h = entry_hash(row.prev_hash, row.seq, row.at_ms, row.actor, row.action, row.target, row.detail)
    return dataclasses.replace(row, hash=h)


@given(st.lists(contents, max_size=8))
def test_an_untouched_chain_verifies(
    items: list[tuple[int, str, str, str, dict[str, object]]],
) -> None:
    rows = build(items)
    result = verify_chain(rows, head_of(rows))
    assert result.ok and result.entries == len(rows) and result.bad_seq is None


@given(
    st.lists(contents, min_size=1, max_size=8),
    st.sampled_from(["edit", "edit_rehash", "delete", "swap", "forge", "forge_end"]),
    st.data(),
)
def test_any_tamper_is_detected(
    items: list[tuple[int, str, str, str, dict[str, object]]], how: str, data: st.DataObject
) -> None:
    rows = build(items)
    head = head_of(rows)
    i = data.draw(st.integers(0, len(rows) - 1), label="row")
    tampered = list(rows)
    if how in ("edit", "edit_rehash"):
        name = data.draw(st.sampled_from(["at_ms", "actor", "action", "target", "detail"]))
        old = getattr(rows[i], name)
        new = data.draw(
            (
                st.integers(0, 2**50) if name == "at_ms" else details if name == "detail" else texts
            ).filter(lambda v: v != old)
        )
        tampered[i] = dataclasses.replace(rows[i], **{name: new})
        if how == "edit_rehash":
            tampered[i] = rehash(tampered[i])
    elif how == "delete":
        del tampered[i]
    elif how == "swap":
        assume(len(rows) >= 2)
        j = data.draw(st.integers(0, len(rows) - 1).filter(lambda j: rows[j] != rows[i]))
        a, b = rows[i], rows[j]
        keep = ("seq",)
        tampered[i] = Row(**{**dataclasses.asdict(b), **{k: getattr(a, k) for k in keep}})
        tampered[j] = Row(**{**dataclasses.asdict(a), **{k: getattr(b, k) for k in keep}})
    else:
        at = len(rows) if how == "forge_end" else i
        prev = rows[at - 1].hash if at else GENESIS
        forged = rehash(Row(at + 1, 1, "user:mallory", "user.create", "user:mallory", {}, prev, ""))
        tampered.insert(at, forged)
    result = verify_chain(tampered, head)
    assert not result.ok and result.problem
