"""Station -> centre batches, format v1: build, encode, sign, hash, parse, verify, chain.

A batch is what a station agent uploads to ingest: the pen's raw wire bytes
(for audit) with an optional decoded summary per event, numbered per station,
hash-chained to the previous batch and signed with the station's Ed25519 key.
Pure: no I/O. The format is specified in docs/station-protocol.md.

- :mod:`pen.batches._format`: :class:`Batch`, canonical bytes, hash, sign, verify, parse.
- :mod:`pen.batches._chain`: :func:`check_chain` and :class:`ChainVerifier` verdicts.

Typical use::

    batch = sign_batch(make_batch("01004-0008", 1, GENESIS_HASH, [raw], now_ms), key)
    body = encode_batch(batch)                      # agent -> HTTP body
    batch = parse_batch(body)                       # centre
    verify_batch(batch, registered_public_key)      # BadSignatureError if not
    verdict = check_chain(batch, head, stored_hash_at)
"""

from pen.batches._chain import ChainHead, ChainVerdict, ChainVerifier, Verdict, check_chain
from pen.batches._closing import closing_code
from pen.batches._format import (
    FORMAT_VERSION,
    GENESIS_HASH,
    MAX_EVENTS,
    MAX_RAW_BYTES,
    STATION_ID_RE,
    SUPPORTED_FORMAT_VERSIONS,
    Batch,
    BatchEvent,
    JsonValue,
    batch_hash,
    batch_to_dict,
    canonical_bytes,
    encode_batch,
    load_public_key,
    make_batch,
    parse_batch,
    public_key_bytes,
    sign_batch,
    verify_batch,
)
from pen.errors import BadSignatureError, BatchError, MalformedBatchError, UnknownBatchFormatError

__all__ = [
    "FORMAT_VERSION",
    "GENESIS_HASH",
    "MAX_EVENTS",
    "MAX_RAW_BYTES",
    "STATION_ID_RE",
    "SUPPORTED_FORMAT_VERSIONS",
    "BadSignatureError",
    "Batch",
    "BatchError",
    "BatchEvent",
    "ChainHead",
    "ChainVerdict",
    "ChainVerifier",
    "JsonValue",
    "MalformedBatchError",
    "UnknownBatchFormatError",
    "Verdict",
    "batch_hash",
    "batch_to_dict",
    "canonical_bytes",
    "check_chain",
    "closing_code",
    "encode_batch",
    "load_public_key",
    "make_batch",
    "parse_batch",
    "public_key_bytes",
    "sign_batch",
    "verify_batch",
]
