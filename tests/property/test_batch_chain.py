"""Property tests of station batches: round trips, tamper evidence, chain verdicts."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from pen.batches import (
    GENESIS_HASH,
    Batch,
    BatchError,
    BatchEvent,
    ChainVerifier,
    JsonValue,
    Verdict,
    batch_hash,
    canonical_bytes,
    encode_batch,
    make_batch,
    parse_batch,
    sign_batch,
    verify_batch,
)

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
PUB = KEY.public_key()

_scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**63) | st.text(max_size=12)
_json: st.SearchStrategy[JsonValue] = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
_events = st.builds(
    BatchEvent,
    raw=st.binary(max_size=40),
    summary=st.none() | st.dictionaries(st.text(max_size=8), _json, max_size=3),
)
_station = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,20}", fullmatch=True)


@st.composite
def batches(draw: st.DrawFn) -> Batch:
    seq = draw(st.integers(1, 10**9))
    prev = GENESIS_HASH if seq == 1 else draw(st.from_regex(r"[0-9a-f]{64}", fullmatch=True))
    events = draw(st.lists(_events, max_size=4))
    return make_batch(draw(_station), seq, prev, events, draw(st.integers(0, 2**53)))


@given(batches())
def test_round_trip(batch: Batch) -> None:
    signed = sign_batch(batch, KEY)
    parsed = parse_batch(encode_batch(signed))
    assert parsed == signed
    assert parsed.signature == signed.signature
    assert canonical_bytes(parsed) == canonical_bytes(batch)
    assert batch_hash(parsed) == batch_hash(batch)
    verify_batch(parsed, PUB)


@settings(max_examples=300)
@given(batches(), st.data())
def test_any_single_byte_change_is_refused(batch: Batch, data: st.DataObject) -> None:
    body = encode_batch(sign_batch(batch, KEY))
    i = data.draw(st.integers(0, len(body) - 1))
    new = data.draw(st.integers(0, 255).filter(lambda b: b != body[i]))
    damaged = body[:i] + bytes([new]) + body[i + 1 :]
    try:
        verify_batch(parse_batch(damaged), PUB)
    except BatchError:
        return
    raise AssertionError(f"byte {i} changed to {new} and the batch still verified")


@given(batches(), st.data())
def test_any_single_byte_change_to_signed_bytes_breaks_the_signature(
    batch: Batch, data: st.DataObject
) -> None:
    signed = sign_batch(batch, KEY)
    body = canonical_bytes(signed)
    i = data.draw(st.integers(0, len(body) - 1))
    damaged = body[:i] + bytes([body[i] ^ data.draw(st.integers(1, 255))]) + body[i + 1 :]
    assert signed.signature is not None
    try:
        PUB.verify(signed.signature, damaged)
    except Exception:
        return
    raise AssertionError("a damaged canonical encoding verified")


def _chain(n: int, station: str = "S-1", salt: int = 0) -> list[Batch]:
    out: list[Batch] = []
    prev = GENESIS_HASH
    for seq in range(1, n + 1):
        b = make_batch(station, seq, prev, [bytes([seq % 256, salt])], 1000 * seq + salt)
        out.append(b)
        prev = batch_hash(b)
    return out


@given(st.lists(st.integers(0, 11), max_size=40))
def test_chain_accepts_each_batch_once_in_order(order: list[int]) -> None:
    """Whatever the delivery order, retries and replays: stored = a prefix, each once."""
    chain = _chain(12)
    verifier = ChainVerifier("S-1")
    stored: list[Batch] = []
    for i in order:
        result = verifier.accept(chain[i])
        head = len(stored)
        if i == head:
            assert result.verdict is Verdict.ACCEPTED
            stored.append(chain[i])
        elif i == head - 1:
            assert result.verdict is Verdict.DUPLICATE and result.acknowledged
        elif i < head - 1:
            assert result.verdict is Verdict.REPLAY and not result.acknowledged
        else:
            assert result.verdict is Verdict.GAP and result.expected_seq == head + 1
    assert stored == chain[: len(stored)]
    head = verifier.head
    assert (head.seq if head else 0) == len(stored)


@given(st.integers(1, 8), st.integers(0, 7))
def test_a_different_batch_at_an_accepted_seq_is_a_fork(n: int, at: int) -> None:
    chain, other = _chain(n), _chain(n, salt=1)
    verifier = ChainVerifier("S-1")
    for b in chain:
        assert verifier.accept(b).verdict is Verdict.ACCEPTED
    at = at % n
    assert verifier.accept(other[at]).verdict is Verdict.FORK
    # the next seq with a prev_hash from another history is a fork too
    nxt = make_batch("S-1", n + 1, batch_hash(other[-1]), [b"z"], 1)
    assert verifier.accept(nxt).verdict is Verdict.FORK
    assert verifier.head is not None and verifier.head.seq == n
