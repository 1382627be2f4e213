"""The station's identity: its Ed25519 key (file mode 0600, never sent) and enrolment.

The private key lives next to the journal (``station.key``, PKCS#8 PEM) and never
leaves the laptop; only the raw 32-byte public key, base64, goes to the centre with
the kit's one-time code (docs/station-protocol.md, "Keys and enrolment"). Enrolling
again with the same key is answered 200 by the centre, so a retry after a lost
answer is safe.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from pen.batches import public_key_bytes

KEY_FILE = "station.key"


class EnrolError(Exception):
    """The centre refused the enrolment; ``code`` is the centre's error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code

    def __str__(self) -> str:
        return f"[{self.code}] {self.args[0]}"


@dataclass(frozen=True, slots=True)
class Enrolment:
    station_id: str
    public_key: str
    enrolled_at_ms: int
    created: bool
    """False when the centre already had this key (a retry)."""


def key_path(journal_path: str | Path) -> Path:
    """Where the station key lives: next to the journal."""
    return Path(journal_path).parent / KEY_FILE


def load_or_create_key(path: str | Path) -> Ed25519PrivateKey:
    """Load the key at ``path``, or create it there (mode 0600, fsynced) if it is absent."""
    path = Path(path)
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise EnrolError("ENROL.001", f"{path} is not an Ed25519 key; restore the station key")
        return key
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, pem)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return key


def enrol(
    client: httpx.Client,
    station_id: str,
    code: str,
    key: Ed25519PrivateKey,
    *,
    attempts: int = 3,
) -> Enrolment:
    """Register the public key with the one-time ``code``; transport errors are retried.

    Raises :class:`EnrolError` on a refusal (403 wrong code, 404 unknown station,
    409 enrolled with another key) or when the centre stays unreachable.
    """
    pub = base64.b64encode(public_key_bytes(key)).decode("ascii")
    last: Exception | None = None
    for _ in range(max(1, attempts)):
        try:
            r = client.post(
                f"/v1/stations/{station_id}/enrol", json={"code": code, "public_key": pub}
            )
        except httpx.TransportError as exc:
            last = exc
            continue
        if r.status_code in (200, 201):
            body = r.json()
            return Enrolment(
                body["station_id"], body["public_key"], body["enrolled_at_ms"], r.status_code == 201
            )
        if r.status_code >= 500:
            last = EnrolError(f"HTTP.{r.status_code}", "the centre is unavailable; retry later")
            continue
        try:
            err = r.json()["error"]
            raise EnrolError(str(err["code"]), str(err["message"]))
        except (ValueError, KeyError, TypeError):
            raise EnrolError(f"HTTP.{r.status_code}", r.text[:200]) from None
    raise EnrolError("ENROL.503", f"the centre did not answer ({last}); retry later")
