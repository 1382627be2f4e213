"""The form layouts the pipeline hit-tests and reads with, built once per candidate list."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from pen.forms import FormLayout, load_form

FORMS = ("pv", "contact")


@dataclass(frozen=True, slots=True)
class Layouts:
    """The PV (with this election's candidates) and the contact form."""

    pv: FormLayout
    contact: FormLayout

    def get(self, form: str | None) -> FormLayout | None:
        return {"pv": self.pv, "contact": self.contact}.get(form or "")


@lru_cache(maxsize=8)
def layouts(candidates: tuple[str, ...]) -> Layouts:
    """Layouts for a PV printed with ``candidates`` (``Settings.pv_candidates``)."""
    return Layouts(load_form("pv", candidates=candidates), load_form("contact"))
