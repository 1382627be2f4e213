"""docs/reconciliation-rules.md is the catalogue, and the catalogue is well formed."""

from __future__ import annotations

from pathlib import Path

from reconciliation import RULES, Severity
from reconciliation.catalogue import REGENERATE, render_markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "reconciliation-rules.md"


def test_doc_matches_catalogue() -> None:
    assert DOC.read_text(encoding="utf-8") == render_markdown(), (
        f"docs/reconciliation-rules.md is out of date; run: {REGENERATE}"
    )


def test_every_rule_is_complete_and_its_letter_is_its_severity() -> None:
    letters = {Severity.ERROR: "F", Severity.WARNING: "W", Severity.INFO: "I"}
    for code, r in RULES.items():
        assert r.code == code
        assert code.startswith(letters[r.severity] + ".")
        assert r.title and r.template and r.action and r.source
        assert f"## {code}: {r.title}" in render_markdown()


def test_abacus_numbered_rules_cite_abacus() -> None:
    for code in ("F.202", "F.203", "W.201", "W.202", "W.203", "W.204"):
        assert "Abacus" in RULES[code].source
