"""Field-by-field encryption of contact forms at rest: AES-256-GCM.

Each personal field (name, e-mail, phone, postcode, ...) is encrypted on its
own with a fresh 96-bit nonce; the associated data binds the ciphertext to its
page and field, so a value cannot be moved to another contact or field
unnoticed. Stored as base64 of ``key id (1 byte) | nonce (12) | ciphertext | tag (16)``.
Plaintext never leaves this module except as the return value of
:meth:`ContactCipher.decrypt`; nothing here logs.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
_NONCE = 12

#: Development key, derived from a public string: refused outside development.
DEV_CONTACT_KEY = base64.b64encode(
    hashlib.sha256(b"plume development contact key").digest()
).decode()


class ContactKeyError(ValueError):
    """The configured contact key is not base64 of 32 bytes."""


class DecryptError(ValueError):
    """A stored value does not decrypt with this key for this page and field."""


def parse_key(text: str) -> bytes:
    """The 32 raw bytes of a base64 key; :class:`ContactKeyError` otherwise."""
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ContactKeyError("PLUME_CONTACT_KEY is not base64") from None
    if len(key) != KEY_BYTES:
        raise ContactKeyError(
            f"PLUME_CONTACT_KEY must be {KEY_BYTES} bytes, base64 (it is {len(key)} bytes); "
            "make one with: openssl rand -base64 32"
        )
    return key


def _aad(page: str, field: str) -> bytes:
    return f"plume-contact-v1|{page}|{field}".encode()


class ContactCipher:
    """Encrypts and decrypts contact fields with one key (key id 1)."""

    KEY_ID = 1

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ContactKeyError(f"an AES-256 key is {KEY_BYTES} bytes, not {len(key)}")
        self._aead = AESGCM(key)

    @classmethod
    def from_text(cls, text: str) -> ContactCipher:
        return cls(parse_key(text))

    def encrypt(self, page: str, field: str, value: str) -> str:
        nonce = os.urandom(_NONCE)
        sealed = self._aead.encrypt(nonce, value.encode("utf-8"), _aad(page, field))
        return base64.b64encode(bytes([self.KEY_ID]) + nonce + sealed).decode("ascii")

    def decrypt(self, page: str, field: str, stored: str) -> str:
        try:
            raw = base64.b64decode(stored, validate=True)
        except (binascii.Error, ValueError):
            raise DecryptError(f"field {field} of page {page} is not base64") from None
        if len(raw) < 1 + _NONCE + 16 or raw[0] != self.KEY_ID:
            raise DecryptError(f"field {field} of page {page} was not sealed with this key")
        try:
            plain = self._aead.decrypt(raw[1 : 1 + _NONCE], raw[1 + _NONCE :], _aad(page, field))
        except InvalidTag:
            raise DecryptError(
                f"field {field} of page {page} fails authentication (wrong key, or moved)"
            ) from None
        return plain.decode("utf-8")
