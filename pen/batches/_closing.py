"""The closing code: what the president writes on the paper PV to bind it to the chain."""

from __future__ import annotations

import base64
import hashlib


def closing_code(head_hash: str) -> str:
    """The closing code for a chain head (64 hex): ``XXXX-XXXX``.

    The first 8 characters of the base32 (RFC 4648) of SHA-256 over the ASCII of the
    lowercase head hash, grouped 4-4. Base32 has no 0/O or 1/I confusion to write.
    """
    digest = hashlib.sha256(head_hash.strip().lower().encode("ascii")).digest()
    code = base64.b32encode(digest).decode("ascii")[:8]
    return f"{code[:4]}-{code[4:]}"
