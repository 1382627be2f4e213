"""The catalogue of packaged form layouts: which forms and versions ship, and loading them.

Layouts ship inside the package as ``pen/forms/<form_id>.v<version>.json``.
Reading them is the only I/O that :mod:`pen` does, and it happens on the
first call, never at import. Parsed layouts are cached: they are immutable.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources
from typing import Any

from pen.errors import FormError, UnknownFormError
from pen.forms.model import FormLayout
from pen.forms.parse import parse_form

_FILE_NAME = re.compile(r"([a-z][a-z0-9_]*)\.v([0-9]+)\.json")


@lru_cache(maxsize=1)
def _files() -> dict[str, dict[int, str]]:
    found: dict[str, dict[int, str]] = {}
    for entry in resources.files("pen.forms").iterdir():
        match = _FILE_NAME.fullmatch(entry.name)
        if match:
            found.setdefault(match[1], {})[int(match[2])] = entry.name
    return found


def known_forms() -> dict[str, tuple[int, ...]]:
    """Every packaged form id with its versions, oldest first."""
    return {fid: tuple(sorted(vs)) for fid, vs in sorted(_files().items())}


def _describe_known() -> str:
    return "; ".join(
        f"{fid} (version{'s' if len(vs) > 1 else ''} {', '.join(map(str, vs))})"
        for fid, vs in known_forms().items()
    )


@lru_cache(maxsize=16)
def form_data(form_id: str, version: int) -> dict[str, Any]:
    """The decoded JSON of one packaged layout (a fresh copy is not made: do not mutate)."""
    name = _files()[form_id][version]
    text = resources.files("pen.forms").joinpath(name).read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FormError(f"packaged layout {name} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise FormError(f"packaged layout {name} is not a JSON object")
    if data.get("form_id") != form_id or data.get("version") != version:
        raise FormError(
            f"packaged layout {name} says it is form {data.get('form_id')!r} "
            f"version {data.get('version')!r}"
        )
    return data


def latest_version(form_id: str) -> int:
    versions = known_forms().get(form_id)
    if not versions:
        raise UnknownFormError(f"unknown form {form_id!r}; known forms: {_describe_known()}")
    return versions[-1]


def load_form(
    form_id: str, version: int | None = None, *, candidates: Sequence[str] | None = None
) -> FormLayout:
    """The layout of a packaged form; the latest version unless ``version`` is given.

    ``candidates`` replaces a vote-counting form's default candidate list.
    Raises :class:`UnknownFormError` for an unknown form or version (the message
    lists the known ones) and :class:`FormError` for a layout that cannot be built.
    """
    if version is None:
        version = latest_version(form_id)
    elif version not in known_forms().get(form_id, ()):
        latest_version(form_id)  # raises for an unknown form id
        versions = ", ".join(map(str, known_forms()[form_id]))
        raise UnknownFormError(
            f"form {form_id!r} has no version {version!r}; known versions: {versions}"
        )
    names = None if candidates is None else tuple(candidates)
    return _load(form_id, version, names)


@lru_cache(maxsize=64)
def _load(form_id: str, version: int, candidates: tuple[str, ...] | None) -> FormLayout:
    return parse_form(form_data(form_id, version), candidates=candidates)
