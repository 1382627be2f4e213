"""The batch format v1: the values, canonical bytes, hash, signature, wire JSON, parsing."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TypeAlias

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from pen.errors import (
    BadSignatureError,
    BatchError,
    MalformedBatchError,
    UnknownBatchFormatError,
)

FORMAT_VERSION = 1
"""The batch format this module writes."""
SUPPORTED_FORMAT_VERSIONS = frozenset({1})
"""The batch formats this module reads."""
GENESIS_HASH = "0" * 64
"""``prev_hash`` of a station's first batch (seq 1)."""
MAX_EVENTS = 10_000
"""Most events in one batch."""
MAX_RAW_BYTES = 4 * 1024 * 1024
"""Most raw wire bytes, summed over the events of one batch."""
STATION_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
"""A station id: 1-64 characters, letters, digits, ``.``, ``_``, ``-``; not starting with a sign."""

_HEX64 = re.compile(r"[0-9a-f]{64}")
_MAX_SUMMARY_DEPTH = 16
_SIGNED_KEYS = frozenset(
    {"format_version", "station_id", "seq", "prev_hash", "created_ms", "events"}
)
_EVENT_KEYS = frozenset({"raw", "summary"})

JsonValue: TypeAlias = bool | int | str | list["JsonValue"] | dict[str, "JsonValue"] | None
"""What an event summary may hold: JSON without floats (integers keep the encoding canonical)."""


@dataclass(frozen=True)
class BatchEvent:
    """One pen event: its raw wire bytes, and optionally what the agent decoded from them."""

    raw: bytes
    """The frame(s) exactly as read from the pen (docs/pen-protocol.md), kept for audit."""
    summary: dict[str, JsonValue] | None = None
    """Decoded fields (e.g. kind, page address, pen serial); JSON without floats."""


@dataclass(frozen=True)
class Batch:
    """A station batch. Construction validates every field (raises :class:`MalformedBatchError`)."""

    station_id: str
    seq: int
    """Per-station sequence number, from 1, without gaps."""
    prev_hash: str
    """Hex SHA-256 of the previous batch's canonical bytes; :data:`GENESIS_HASH` for seq 1."""
    created_ms: int
    """When the agent built the batch, Unix milliseconds (laptop clock)."""
    events: tuple[BatchEvent, ...]
    format_version: int = FORMAT_VERSION
    signature: bytes | None = field(default=None, compare=False)
    """Ed25519 signature over :func:`canonical_bytes`; ``None`` until signed."""

    def __post_init__(self) -> None:
        _validate(self)


def _malformed(message: str, station_id: str | None = None, seq: int | None = None) -> BatchError:
    return MalformedBatchError(message, station_id, seq)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _valid_text(text: str) -> bool:
    """Whether ``text`` is valid Unicode (no lone surrogates); ASCII is, at once."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _plain_json(value: object, depth: int) -> bool:
    """True when the container ``value`` at ``depth`` passes :func:`_check_json`.

    The fast walk of valid summaries: exact types, no paths built, scalars checked in
    the loop. False only means "ask :func:`_check_json`", which finds the fault and
    says where (or accepts what this walk does not know, e.g. a subclass of int).
    """
    items: Iterable[object]
    if type(value) is dict:
        for key in value:
            if type(key) is not str or not _valid_text(key):
                return False
        items = value.values()
    elif type(value) is list:
        items = value
    else:
        return False
    if not value:
        return depth <= _MAX_SUMMARY_DEPTH
    if depth >= _MAX_SUMMARY_DEPTH:  # its items would be deeper than allowed
        return False
    for item in items:
        kind = type(item)
        if kind is str:
            if not _valid_text(item):
                return False
        elif kind is int or kind is bool or item is None:
            continue
        elif not _plain_json(item, depth + 1):  # a dict, a list, or anything else: False
            return False
    return True


def _check_json(value: object, where: str, depth: int = 0) -> None:
    if _plain_json(value, depth):
        return
    if depth > _MAX_SUMMARY_DEPTH:
        raise _malformed(f"{where} is nested deeper than {_MAX_SUMMARY_DEPTH} levels")
    if value is None or isinstance(value, bool | int):
        return
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise _malformed(f"{where} holds a string that is not valid Unicode") from None
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check_json(item, f"{where}[{i}]", depth + 1)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise _malformed(f"{where} has a key that is not a string")
            _check_json(key, f"{where} key", depth + 1)
            _check_json(item, f"{where}.{key}", depth + 1)
        return
    kind = type(value).__name__
    raise _malformed(f"{where} holds a {kind}; summaries take JSON without floats (use integers)")


def _validate(b: Batch) -> None:
    if not isinstance(b.station_id, str) or not STATION_ID_RE.fullmatch(b.station_id):
        raise _malformed(f"station_id {b.station_id!r} is not 1-64 letters, digits, '.', '_', '-'")
    sid = b.station_id
    if not _is_int(b.seq) or b.seq < 1:
        raise _malformed(f"seq {b.seq!r} is not an integer >= 1", sid)
    if not isinstance(b.prev_hash, str) or not _HEX64.fullmatch(b.prev_hash):
        raise _malformed("prev_hash is not 64 lowercase hex digits", sid, b.seq)
    if b.seq == 1 and b.prev_hash != GENESIS_HASH:
        raise _malformed("the first batch (seq 1) must have prev_hash of 64 zeros", sid, 1)
    if not _is_int(b.created_ms) or b.created_ms < 0:
        raise _malformed(f"created_ms {b.created_ms!r} is not an integer >= 0", sid, b.seq)
    if not _is_int(b.format_version):
        raise _malformed(f"format_version {b.format_version!r} is not an integer", sid, b.seq)
    if b.format_version not in SUPPORTED_FORMAT_VERSIONS:
        raise UnknownBatchFormatError(
            f"format_version {b.format_version} is unknown to this centre (it reads "
            f"{sorted(SUPPORTED_FORMAT_VERSIONS)}); update the station agent or the centre",
            b.format_version,
            sid,
            b.seq,
        )
    if not isinstance(b.events, tuple) or len(b.events) > MAX_EVENTS:
        raise _malformed(f"events must be a tuple of at most {MAX_EVENTS} events", sid, b.seq)
    total = 0
    for i, ev in enumerate(b.events):
        if not isinstance(ev, BatchEvent) or not isinstance(ev.raw, bytes):
            raise _malformed(f"events[{i}] is not a BatchEvent with raw bytes", sid, b.seq)
        total += len(ev.raw)
        if ev.summary is not None:
            if not isinstance(ev.summary, dict):
                raise _malformed(f"events[{i}].summary is not an object", sid, b.seq)
            try:
                _check_json(ev.summary, f"events[{i}].summary")
            except BatchError as exc:
                raise _malformed(exc.message, sid, b.seq) from None
    if total > MAX_RAW_BYTES:
        raise _malformed(f"{total} raw bytes exceed the {MAX_RAW_BYTES} allowed", sid, b.seq)
    if b.signature is not None and (not isinstance(b.signature, bytes) or len(b.signature) != 64):
        raise _malformed("signature is not 64 bytes (Ed25519)", sid, b.seq)


def make_batch(
    station_id: str,
    seq: int,
    prev_hash: str,
    events: Iterable[BatchEvent | bytes],
    created_ms: int,
    format_version: int = FORMAT_VERSION,
) -> Batch:
    """An unsigned batch; plain ``bytes`` events become events without a summary."""
    evs = tuple(e if isinstance(e, BatchEvent) else BatchEvent(bytes(e)) for e in events)
    return Batch(station_id, seq, prev_hash, created_ms, evs, format_version)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _signed_dict(batch: Batch) -> dict[str, JsonValue]:
    events: list[JsonValue] = []
    for ev in batch.events:
        item: dict[str, JsonValue] = {"raw": _b64(ev.raw)}
        if ev.summary is not None:
            item["summary"] = ev.summary
        events.append(item)
    return {
        "format_version": batch.format_version,
        "station_id": batch.station_id,
        "seq": batch.seq,
        "prev_hash": batch.prev_hash,
        "created_ms": batch.created_ms,
        "events": events,
    }


def _dump(obj: Mapping[str, JsonValue]) -> bytes:
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8")


def canonical_bytes(batch: Batch) -> bytes:
    """The bytes that are signed and hashed: every field but ``signature``, canonical JSON."""
    return _dump(_signed_dict(batch))


def batch_hash(batch: Batch) -> str:
    """Hex SHA-256 of :func:`canonical_bytes`: the next batch's ``prev_hash``."""
    return hashlib.sha256(canonical_bytes(batch)).hexdigest()


def batch_to_dict(batch: Batch) -> dict[str, JsonValue]:
    """The wire object: the signed fields plus ``signature`` (base64, or null if unsigned)."""
    out = _signed_dict(batch)
    out["signature"] = None if batch.signature is None else _b64(batch.signature)
    return out


def encode_batch(batch: Batch) -> bytes:
    """The HTTP body for a batch: :func:`batch_to_dict` as canonical JSON."""
    return _dump(batch_to_dict(batch))


def sign_batch(batch: Batch, private_key: Ed25519PrivateKey) -> Batch:
    """The same batch with its Ed25519 signature over :func:`canonical_bytes`."""
    return replace(batch, signature=private_key.sign(canonical_bytes(batch)))


def public_key_bytes(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    """The raw 32-byte public key (what a station registers at enrolment)."""
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return pub.public_bytes_raw()


def load_public_key(raw: bytes) -> Ed25519PublicKey:
    """A public key from its 32 raw bytes; :class:`MalformedBatchError` if they are not one."""
    try:
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError:
        raise _malformed("not a raw 32-byte Ed25519 public key") from None


def verify_batch(batch: Batch, public_key: Ed25519PublicKey | bytes) -> None:
    """Raise :class:`BadSignatureError` unless the batch is signed by ``public_key``."""
    sid, seq = batch.station_id, batch.seq
    if batch.signature is None:
        raise BadSignatureError("the batch is not signed; sign it with the station key", sid, seq)
    key = load_public_key(public_key) if isinstance(public_key, bytes) else public_key
    try:
        key.verify(batch.signature, canonical_bytes(batch))
    except InvalidSignature:
        raise BadSignatureError(
            f"batch {seq} of station {sid} is not signed by the key enrolled for that station; "
            "it was altered, or the agent holds another key (re-enrol the station)",
            sid,
            seq,
        ) from None


def _reject_float(text: str) -> object:
    raise _malformed(f"number {text} is not an integer; batches hold no floats")


def _reject_constant(text: str) -> object:
    raise _malformed(f"{text} is not valid in a batch")


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    out = dict(pairs)
    if len(out) == len(pairs):
        return out
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise _malformed(f"key {key!r} appears twice in one object")
        seen.add(key)
    raise AssertionError("unreachable")


def _canonical_b64(text: object) -> bytes | None:
    """The bytes of ``text`` if it is canonical base64, else None (:func:`_b64decode` says why)."""
    if type(text) is not str:
        return None
    try:
        data = binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError):
        return None
    return data if binascii.b2a_base64(data, newline=False).decode("ascii") == text else None


def _b64decode(text: object, where: str, sid: str, seq: int) -> bytes:
    if not isinstance(text, str):
        raise _malformed(f"{where} is not a base64 string", sid, seq)
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise _malformed(f"{where} is not valid base64", sid, seq) from None
    if _b64(data) != text:
        raise _malformed(f"{where} is not canonical base64 (standard alphabet, padded)", sid, seq)
    return data


def parse_batch(data: bytes | str | Mapping[str, object]) -> Batch:
    """A batch from its wire form (JSON bytes/text or an already-decoded object).

    Raises :class:`UnknownBatchFormatError` for an unknown ``format_version`` and
    :class:`MalformedBatchError` for anything else that is not a v1 batch. Does not
    check the signature (:func:`verify_batch`) nor the chain (:func:`check_chain`).
    """
    if isinstance(data, bytes | str):
        try:
            obj: object = json.loads(
                data,
                parse_float=_reject_float,
                parse_constant=_reject_constant,
                object_pairs_hook=_unique_keys,
            )
        except (ValueError, RecursionError) as exc:
            if isinstance(exc, BatchError):
                raise
            raise _malformed(f"the body is not JSON: {exc}") from None
    else:
        obj = data
    if not isinstance(obj, Mapping):
        raise _malformed("a batch is a JSON object")
    version = obj.get("format_version")
    if version is None:
        raise _malformed("format_version is missing")
    if not _is_int(version) or version not in SUPPORTED_FORMAT_VERSIONS:
        raise UnknownBatchFormatError(
            f"format_version {version!r} is unknown to this centre (it reads "
            f"{sorted(SUPPORTED_FORMAT_VERSIONS)}); update the station agent or the centre",
            version,
        )
    keys = set(obj)
    missing = sorted(_SIGNED_KEYS - keys)
    extra = sorted(keys - _SIGNED_KEYS - {"signature"})
    if missing or extra:
        raise _malformed(f"fields missing {missing}, unknown {extra}")
    sid_raw, seq_raw = obj["station_id"], obj["seq"]
    sid = sid_raw if isinstance(sid_raw, str) else None
    seq = seq_raw if _is_int(seq_raw) else None
    if sid is None or seq is None:
        raise _malformed("station_id must be a string and seq an integer", sid, seq)
    assert isinstance(seq, int)
    events_raw = obj["events"]
    if not isinstance(events_raw, list) or len(events_raw) > MAX_EVENTS:
        raise _malformed(f"events must be a list of at most {MAX_EVENTS} events", sid, seq)
    events: list[BatchEvent] = []
    for i, ev in enumerate(events_raw):
        if not isinstance(ev, dict) or "raw" not in ev or not ev.keys() <= _EVENT_KEYS:
            raise _malformed(f"events[{i}] must be an object with raw and optional summary", sid)
        summary = ev.get("summary")
        if summary is not None and not isinstance(summary, dict):
            raise _malformed(f"events[{i}].summary is not an object", sid, seq)
        raw = _canonical_b64(ev["raw"])
        if raw is None:
            raw = _b64decode(ev["raw"], f"events[{i}].raw", sid, seq)
        events.append(BatchEvent(raw, summary))
    sig_raw = obj.get("signature")
    signature = None if sig_raw is None else _b64decode(sig_raw, "signature", sid, seq)
    prev_hash, created_ms = obj["prev_hash"], obj["created_ms"]
    return Batch(
        sid,
        seq,
        prev_hash,  # checked in Batch.__post_init__
        created_ms,
        tuple(events),
        version,
        signature,
    )
