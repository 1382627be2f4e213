"""Where a station is: its département, from the INSEE commune code that starts its id.

Station ids are ``<INSEE commune code>-<number>`` (e.g. ``75056-0042``). The
département is the code's first two characters (``2A``/``2B`` for Corsica),
or its first three for the overseas départements (``971`` .. ``976``).
Ids that do not start with a commune code belong to département ``??``.
"""

from __future__ import annotations

import re

_COMMUNE = re.compile(r"^(97[1-6]|2[AB]|\d{2})[0-9]{2,3}(?:-|$)")

UNKNOWN = "??"


def departement_of(station_id: str) -> str:
    """``75`` for ``75056-0042``, ``2A`` for ``2A004-0001``, ``971`` for ``97105-0003``."""
    m = _COMMUNE.match(station_id.upper())
    return m.group(1) if m else UNKNOWN
