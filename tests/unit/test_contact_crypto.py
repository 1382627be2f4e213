import base64
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.crypto import ContactCipher, ContactKeyError, DecryptError, parse_key
from ingest.settings import Settings

KEY = os.urandom(32)


@given(st.text(max_size=200))
def test_round_trip_and_no_plaintext(value: str) -> None:
    c = ContactCipher(KEY)
    stored = c.encrypt("71.1.2.3", "email", value)
    assert c.decrypt("71.1.2.3", "email", stored) == value
    if len(value) >= 4:
        assert value.encode() not in base64.b64decode(stored)


def test_same_value_twice_gives_different_ciphertexts() -> None:
    c = ContactCipher(KEY)
    assert c.encrypt("p", "email", "a@b.fr") != c.encrypt("p", "email", "a@b.fr")


def test_moved_value_fails_authentication() -> None:
    c = ContactCipher(KEY)
    stored = c.encrypt("71.1.2.3", "email", "a@b.fr")
    with pytest.raises(DecryptError, match="moved"):
        c.decrypt("71.1.2.3", "phone", stored)
    with pytest.raises(DecryptError, match="moved"):
        c.decrypt("71.1.2.4", "email", stored)
    with pytest.raises(DecryptError, match="moved"):
        ContactCipher(os.urandom(32)).decrypt("71.1.2.3", "email", stored)


def test_tampered_or_garbage_is_refused() -> None:
    c = ContactCipher(KEY)
    raw = bytearray(base64.b64decode(c.encrypt("p", "f", "secret")))
    raw[-1] ^= 1
    with pytest.raises(DecryptError):
        c.decrypt("p", "f", base64.b64encode(bytes(raw)).decode())
    with pytest.raises(DecryptError, match="not base64"):
        c.decrypt("p", "f", "%%%")
    with pytest.raises(DecryptError, match="not sealed"):
        c.decrypt("p", "f", base64.b64encode(b"short").decode())


def test_keys_are_checked() -> None:
    with pytest.raises(ContactKeyError, match="32 bytes"):
        parse_key(base64.b64encode(b"x" * 16).decode())
    with pytest.raises(ContactKeyError, match="not base64"):
        parse_key("not base64!")
    with pytest.raises(ValueError, match="PLUME_CONTACT_KEY must be set"):
        Settings(environment="production", secret_key="s" * 32)
    key = base64.b64encode(KEY).decode()
    assert Settings(environment="production", secret_key="s" * 32, contact_key=key)
