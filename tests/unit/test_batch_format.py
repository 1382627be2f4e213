"""Unit tests of station batches: typed errors with stable codes, the canonical form."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from pen.batches import (
    GENESIS_HASH,
    BadSignatureError,
    ChainHead,
    MalformedBatchError,
    UnknownBatchFormatError,
    Verdict,
    batch_hash,
    batch_to_dict,
    check_chain,
    encode_batch,
    make_batch,
    parse_batch,
    public_key_bytes,
    sign_batch,
    verify_batch,
)

KEY = Ed25519PrivateKey.from_private_bytes(b"\x01" * 32)


def _signed() -> bytes:
    return encode_batch(sign_batch(make_batch("01004-0008", 1, GENESIS_HASH, [b"\x02ab"], 5), KEY))


def test_canonical_form_is_sorted_compact_json() -> None:
    body = encode_batch(make_batch("S", 1, GENESIS_HASH, [b"\x00"], 7))
    assert body == (
        b'{"created_ms":7,"events":[{"raw":"AA=="}],"format_version":1,'
        b'"prev_hash":"' + b"0" * 64 + b'","seq":1,"signature":null,"station_id":"S"}'
    )


def test_unknown_format_version_is_named() -> None:
    obj = json.loads(_signed())
    obj["format_version"] = 2
    with pytest.raises(UnknownBatchFormatError) as err:
        parse_batch(json.dumps(obj))
    assert err.value.code == "PEN.602" and err.value.format_version == 2
    assert "format_version 2 is unknown" in str(err.value)


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"seq": 0}, "seq"),
        ({"seq": True}, "seq"),
        ({"prev_hash": "ab"}, "prev_hash"),
        ({"station_id": "a/b"}, "station_id"),
        ({"extra": 1}, "unknown"),
        ({"events": [{"raw": "not base64!"}]}, "base64"),
        ({"events": [{"raw": "AA==", "summary": {"x": 1.5}}]}, "float"),
        ({"signature": "AA=="}, "signature"),
    ],
)
def test_malformed_batches_are_refused(change: dict[str, object], needle: str) -> None:
    obj = json.loads(_signed())
    obj.update(change)
    with pytest.raises(MalformedBatchError) as err:
        parse_batch(json.dumps(obj))
    assert err.value.code == "PEN.601"
    assert needle in str(err.value)


@pytest.mark.parametrize("body", [b"", b"[]", b"{", b'{"format_version":1,"format_version":1}'])
def test_not_a_batch(body: bytes) -> None:
    with pytest.raises(MalformedBatchError):
        parse_batch(body)


def test_signature_checks() -> None:
    batch = parse_batch(_signed())
    verify_batch(batch, public_key_bytes(KEY))
    other = Ed25519PrivateKey.from_private_bytes(b"\x02" * 32)
    with pytest.raises(BadSignatureError) as err:
        verify_batch(batch, other.public_key())
    assert err.value.code == "PEN.603" and err.value.seq == 1
    unsigned = parse_batch({**batch_to_dict(batch), "signature": None})
    with pytest.raises(BadSignatureError, match="not signed"):
        verify_batch(unsigned, KEY.public_key())


def test_chain_verdict_codes_and_messages() -> None:
    b1 = make_batch("S", 1, GENESIS_HASH, [b"a"], 1)
    b3 = make_batch("S", 3, batch_hash(b1), [b"c"], 3)
    gap = check_chain(b3, ChainHead(1, batch_hash(b1)))
    assert (gap.verdict, gap.code, gap.expected_seq) == (Verdict.GAP, "PEN.702", 2)
    assert "batch(es) 2 are missing" in gap.message
    assert check_chain(b1, None).verdict is Verdict.ACCEPTED
    assert check_chain(b1, ChainHead(1, batch_hash(b1))).code == "PEN.701"
    assert check_chain(b1, ChainHead(1, "f" * 64)).code == "PEN.703"
