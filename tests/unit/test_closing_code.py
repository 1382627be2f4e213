"""The closing code the president writes on the paper PV (docs/station-protocol.md)."""

from __future__ import annotations

import base64
import hashlib
import re

from pen.batches import GENESIS_HASH, closing_code

HEAD = "3f" * 32


def test_closing_code_is_the_documented_derivation() -> None:
    digest = hashlib.sha256(HEAD.encode("ascii")).digest()
    b32 = base64.b32encode(digest).decode("ascii")
    assert closing_code(HEAD) == f"{b32[:4]}-{b32[4:8]}"


def test_closing_code_is_deterministic_and_short() -> None:
    assert closing_code(HEAD) == closing_code(HEAD)
    assert closing_code(HEAD.upper()) == closing_code(HEAD)  # hex case does not matter
    assert re.fullmatch(r"[A-Z2-7]{4}-[A-Z2-7]{4}", closing_code(HEAD))
    assert re.fullmatch(r"[A-Z2-7]{4}-[A-Z2-7]{4}", closing_code(GENESIS_HASH))


def test_closing_code_changes_with_the_chain_head() -> None:
    heads = [hashlib.sha256(bytes([i])).hexdigest() for i in range(200)]
    codes = {closing_code(h) for h in heads}
    assert len(codes) == len(heads)
    assert closing_code(HEAD) != closing_code(HEAD[:-1] + "e")
