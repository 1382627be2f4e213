"""The PV values as the centre read them, shown at the close: best effort, never blocking.

The centre serves ``GET /v1/results/stations/{station_id}`` (a user token, JSON with
the PV values per field) once its pipeline has read the scanned PV. At the close
the agent asks once, with a short timeout, and shows what it gets; when the
centre has not read the PV yet, refuses the token or does not answer, it says so
plainly and the close goes on. The exact shape of the JSON belongs to the centre,
so :func:`value_lines` flattens any JSON into ``path: value`` lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

RESULTS_TIMEOUT_S = 5.0
MAX_LINES = 80


@dataclass(frozen=True, slots=True)
class CentreReading:
    """What the centre said about the station's PV."""

    status: str
    """``read`` (values below), ``not_yet`` (404), ``no_access`` (401/403: token
    missing or refused) or ``unavailable`` (no answer, 5xx, or not JSON)."""
    lines: tuple[str, ...] = ()


def value_lines(data: Any, prefix: str = "") -> list[str]:
    """``path: value`` for every scalar in ``data`` (dict keys in the centre's order)."""
    if isinstance(data, dict):
        out: list[str] = []
        for key, value in data.items():
            out += value_lines(value, f"{prefix}.{key}" if prefix else str(key))
        return out
    if isinstance(data, list):
        out = []
        for i, value in enumerate(data):
            out += value_lines(value, f"{prefix}[{i}]")
        return out
    shown = "—" if data is None else str(data)
    return [f"{prefix}: {shown}" if prefix else shown]


def fetch_reading(
    client: httpx.Client, base_url: str, station_id: str, token: str | None
) -> CentreReading:
    """Ask the centre once for the station's PV values; never raises for the centre's state."""
    url = base_url.rstrip("/") + f"/v1/results/stations/{station_id}"
    headers = {"authorization": f"Bearer {token}"} if token else {}
    try:
        r = client.get(url, headers=headers, timeout=RESULTS_TIMEOUT_S)
    except httpx.HTTPError:
        return CentreReading("unavailable")
    if r.status_code == 404:
        return CentreReading("not_yet")
    if r.status_code in (401, 403):
        return CentreReading("no_access")
    if r.status_code != 200:
        return CentreReading("unavailable")
    try:
        lines = value_lines(r.json())
    except ValueError:
        return CentreReading("unavailable")
    if len(lines) > MAX_LINES:
        lines = [*lines[:MAX_LINES], f"... ({len(lines) - MAX_LINES} more)"]
    return CentreReading("read", tuple(lines))


#: status -> what the president reads (English; the CLI's close output is English).
READING_MESSAGES = {
    "not_yet": "the centre has not read the PV yet; the closing code above is what counts",
    "no_access": "the centre did not show the PV values (give a user token with --token)",
    "unavailable": "the centre did not answer about the PV values; nothing to do",
}
