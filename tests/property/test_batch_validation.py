"""The fast paths of batch parsing decide exactly as the plain rules they stand in for.

``pen.batches`` checks summaries (:func:`_check_json`) and base64 (:func:`_canonical_b64`)
through fast walks that fall back to the plain, message-giving code when something
is off. The plain rules are restated here as references (as they were written before
the fast paths); for any input the fast and the plain way accept the same values and
refuse the others with the same message.
"""

from __future__ import annotations

import base64
import binascii
import enum
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pen.batches import BatchError, parse_batch
from pen.batches._format import _b64decode, _canonical_b64, _check_json, _malformed

MAX_DEPTH = 16


def reference_check_json(value: object, where: str, depth: int = 0) -> None:
    """The summary rule as first written: JSON without floats, valid Unicode, <= 16 deep."""
    if depth > MAX_DEPTH:
        raise _malformed(f"{where} is nested deeper than {MAX_DEPTH} levels")
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
            reference_check_json(item, f"{where}[{i}]", depth + 1)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise _malformed(f"{where} has a key that is not a string")
            reference_check_json(key, f"{where} key", depth + 1)
            reference_check_json(item, f"{where}.{key}", depth + 1)
        return
    kind = type(value).__name__
    raise _malformed(f"{where} holds a {kind}; summaries take JSON without floats (use integers)")


def reference_b64(text: object) -> bytes:
    """The base64 rule as first written: standard alphabet, padded, canonical."""
    if not isinstance(text, str):
        raise _malformed("not a string")
    data = base64.b64decode(text.encode("ascii"), validate=True)  # may raise
    if base64.b64encode(data).decode("ascii") != text:
        raise _malformed("not canonical")
    return data


class Level(enum.IntEnum):
    LOW = 1


def _outcome(check: object, value: object) -> str:
    try:
        check(value, "summary")  # type: ignore[operator]
    except BatchError as exc:
        return f"refused: {exc.message}"
    return "accepted"


_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=4)
"""Any code point, lone surrogates included."""
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | _text
    | st.floats(allow_nan=True)
    | st.just(Level.LOW)
    | st.just(b"bytes")
)
_keys = _text | st.integers(0, 3) | st.just(None)
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(_keys, inner, max_size=3) | st.tuples(inner)
    ),
    max_leaves=12,
)


def _nested(depth: int, leaf: object) -> object:
    value = leaf
    for i in range(depth):
        value = [value] if i % 2 else {"d": value}
    return value


@settings(max_examples=500)
@given(_values)
def test_summary_check_decides_as_the_plain_rule(value: object) -> None:
    assert _outcome(_check_json, value) == _outcome(reference_check_json, value)


@pytest.mark.parametrize("depth", [14, 15, 16, 17, 18])
@pytest.mark.parametrize("leaf", [1, "x", {}, [], "\ud800", 1.5])
def test_summary_depth_limit_is_where_it_was(depth: int, leaf: object) -> None:
    value = _nested(depth, leaf)
    assert _outcome(_check_json, value) == _outcome(reference_check_json, value)


_b64_text = (
    st.binary(max_size=12).map(lambda b: base64.b64encode(b).decode("ascii"))
    | st.text("ABCDabcd0189+/=-_ \n\té", max_size=10)
    | st.binary(max_size=9).map(lambda b: base64.b64encode(b).decode("ascii").rstrip("="))
    | st.binary(min_size=1, max_size=9).map(
        lambda b: base64.b64encode(b).decode("ascii")[:-2] + "B="
    )
)


@settings(max_examples=500)
@given(_b64_text)
def test_base64_fast_path_accepts_exactly_canonical_base64(text: str) -> None:
    try:
        expected: bytes | None = reference_b64(text)
    except (BatchError, binascii.Error, UnicodeEncodeError):
        expected = None
    assert _canonical_b64(text) == expected
    if expected is None:  # the plain path still says why
        with pytest.raises(BatchError):
            _b64decode(text, "raw", "S1", 1)


def test_a_key_twice_in_one_object_is_refused_and_named() -> None:
    body = json.dumps({"format_version": 1}).replace("{", '{"seq": 1, "seq": 2, ', 1)
    with pytest.raises(BatchError, match="key 'seq' appears twice"):
        parse_batch(body.encode())
