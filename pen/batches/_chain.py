"""The per-station hash chain: where a batch stands against what the centre accepted."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from pen.batches._format import GENESIS_HASH, Batch, _malformed, batch_hash


class Verdict(StrEnum):
    """How a batch relates to the chain the centre has already accepted for its station."""

    ACCEPTED = "accepted"
    """The next batch: store it."""
    DUPLICATE = "duplicate"
    """The last accepted batch again (a retry): acknowledge, store nothing."""
    GAP = "gap"
    """Batches are missing before this one: reject; the agent sends the missing ones first."""
    FORK = "fork"
    """Contradicts the accepted chain (same seq, other content; or wrong prev_hash): reject."""
    REPLAY = "replay"
    """An older accepted batch sent again: reject, store nothing (already stored)."""


_CODES = {
    Verdict.ACCEPTED: "PEN.700",
    Verdict.DUPLICATE: "PEN.701",
    Verdict.GAP: "PEN.702",
    Verdict.FORK: "PEN.703",
    Verdict.REPLAY: "PEN.704",
}


@dataclass(frozen=True)
class ChainHead:
    """The last batch the centre accepted for a station."""

    seq: int
    hash: str


@dataclass(frozen=True)
class ChainVerdict:
    """The outcome of :func:`check_chain`, with a stable ``code`` and a sentence for people."""

    verdict: Verdict
    seq: int
    batch_hash: str
    expected_seq: int
    """The seq the centre expects next."""
    message: str

    @property
    def code(self) -> str:
        return _CODES[self.verdict]

    @property
    def acknowledged(self) -> bool:
        """True when the station may mark the batch sent (accepted or duplicate)."""
        return self.verdict in (Verdict.ACCEPTED, Verdict.DUPLICATE)


def check_chain(
    batch: Batch,
    head: ChainHead | None,
    hash_at: Callable[[int], str | None] | None = None,
) -> ChainVerdict:
    """Where ``batch`` stands against the accepted chain ending at ``head`` (None: empty).

    ``hash_at(seq)`` gives the hash of an older accepted batch, to tell a replay from
    a fork; without it an older seq is reported as a replay.
    """
    h, seq = batch_hash(batch), batch.seq
    last = 0 if head is None else head.seq
    expected = last + 1

    def verdict(v: Verdict, message: str) -> ChainVerdict:
        return ChainVerdict(v, seq, h, expected, message)

    if seq == expected:
        want = GENESIS_HASH if head is None else head.hash
        if batch.prev_hash == want:
            return verdict(Verdict.ACCEPTED, f"batch {seq} accepted")
        return verdict(
            Verdict.FORK,
            f"batch {seq} names {batch.prev_hash[:12]}... as the previous batch, but the accepted "
            f"batch {last} hashes to {want[:12]}...; the station's chain has forked: "
            "do not resend, contact the centre",
        )
    if seq > expected:
        missing = f"{expected}" if seq == expected + 1 else f"{expected}-{seq - 1}"
        return verdict(
            Verdict.GAP,
            f"batch {seq} arrived but the centre expects batch {expected}: "
            f"batch(es) {missing} are missing; send them first",
        )
    assert head is not None
    stored = head.hash if seq == head.seq else (hash_at(seq) if hash_at else None)
    if stored is not None and stored != h:
        return verdict(
            Verdict.FORK,
            f"batch {seq} differs from the batch {seq} already accepted "
            f"({h[:12]}... vs {stored[:12]}...); do not resend, contact the centre",
        )
    if seq == head.seq:
        return verdict(Verdict.DUPLICATE, f"batch {seq} was already accepted; nothing stored again")
    return verdict(
        Verdict.REPLAY,
        f"batch {seq} is an old batch (the centre is at batch {head.seq}); it is already "
        "stored and was not stored again",
    )


class ChainVerifier:
    """One station's accepted chain in memory: :meth:`check` a batch, :meth:`accept` it."""

    def __init__(self, station_id: str, hashes: Sequence[str] = ()) -> None:
        self.station_id = station_id
        self._hashes: list[str] = list(hashes)

    @property
    def head(self) -> ChainHead | None:
        return ChainHead(len(self._hashes), self._hashes[-1]) if self._hashes else None

    def _hash_at(self, seq: int) -> str | None:
        return self._hashes[seq - 1] if 1 <= seq <= len(self._hashes) else None

    def check(self, batch: Batch) -> ChainVerdict:
        """The verdict for ``batch``, without changing the chain."""
        if batch.station_id != self.station_id:
            raise _malformed(
                f"batch of station {batch.station_id} checked against station {self.station_id}",
                batch.station_id,
                batch.seq,
            )
        return check_chain(batch, self.head, self._hash_at)

    def accept(self, batch: Batch) -> ChainVerdict:
        """:meth:`check`, and extend the chain when the verdict is ``ACCEPTED``."""
        result = self.check(batch)
        if result.verdict is Verdict.ACCEPTED:
            self._hashes.append(result.batch_hash)
        return result
