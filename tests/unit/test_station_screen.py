"""The president's screen: events folded into a state, rendered to text in French and English."""

from __future__ import annotations

from functools import reduce
from pathlib import Path

from rich.console import Console

from station_agent.pen_link import (
    Anomaly,
    BatchProgress,
    Connected,
    Disconnected,
    InkCaptured,
    LinkEvent,
    PenStatus,
)
from station_agent.screen import (
    MESSAGES,
    ScreenState,
    apply,
    apply_upload,
    render,
    upload_warning,
    warning_code,
)


def text(state: ScreenState, lang: str = "fr") -> str:
    console = Console(record=True, width=110, color_system=None)
    console.print(render(state, lang))
    return console.export_text()


def fold(*events: LinkEvent) -> ScreenState:
    return reduce(apply, events, ScreenState())


def test_a_connected_pen_with_ink_in_french() -> None:
    state = fold(
        Connected("SIM-1", "Plume-SIM-1", "0.2.0", 12, known=True),
        PenStatus(80, False, 1024, 4096, 1),
        BatchProgress(1, 3, 10),
        InkCaptured(42, 2),
    )
    out = text(state)
    assert "SIM-1 connecté" in out and "80 %" in out and "25 %" in out
    assert "42" in out and "#1: 3/10" in out and "aucun" in out


def test_a_pulled_cable_says_what_to_do_in_french_and_english() -> None:
    state = fold(Connected("SIM-1", "m", "f", 0, known=True), Disconnected("EIO", 0.1))
    assert "Stylo déconnecté — vérifiez le câble USB." in text(state)
    assert "Pen disconnected — check the USB cable." in text(state, "en")
    assert "déconnecté" in text(state).split("Batterie")[0]


def test_unknown_pen_low_battery_and_line_noise_are_warned_about() -> None:
    state = fold(
        Connected("OTHER-9", "m", "f", 0, known=False),
        PenStatus(5, False, 0, 4096, 0),
        Anomaly("WIRE.101", "Garbage", "{}"),
        Anomaly("WIRE.101", "Garbage", "{}"),  # repeated: shown once
    )
    assert state.warnings == ("AGENT.102", "AGENT.108", "WIRE.101")
    out = text(state, "en")
    assert "not in the station kit" in out and "Pen battery low" in out and "Noise" in out


def test_every_code_the_agent_raises_has_both_languages() -> None:
    for code, (fr, en) in MESSAGES.items():
        assert fr and en and fr != en, code
        assert "—" in fr and "—" in en, f"{code} must say what to do"


def test_upload_backlog_last_ack_and_centre_warnings() -> None:
    state = ScreenState()
    assert "Dernier accusé du centre" in text(state) and "none yet" in text(state, "en")
    state = apply_upload(state, 12, "accepted", 7, None)
    assert (state.backlog, state.last_ack_seq) == (12, 7)
    assert "#7" in text(state) and "Last acknowledgement" in text(state, "en")
    state = apply_upload(state, 12, "unavailable", 7, None)
    assert state.warnings == ("AGENT.201",)
    assert "Le centre ne répond pas" in text(state)
    state = apply_upload(state, 12, "refused", 7, None)
    assert state.warnings[-1] == "AGENT.202" and "call the centre" in text(state, "en")


def test_backlog_bar_fills_as_the_centre_catches_up_and_restarts_when_empty() -> None:
    state = apply_upload(ScreenState(), 40, "accepted", 1, None)
    state = apply_upload(state, 10, "accepted", 2, None)
    assert (state.backlog, state.backlog_peak) == (10, 40)
    row = next(line for line in text(state).splitlines() if "À envoyer au centre" in line)
    assert "10 en attente" in row
    assert row.count("━") == 22  # 30 / 40 sent of a 30-character bar: 22.5
    state = apply_upload(state, 0, "idle", 3, None)
    assert state.backlog_peak == 0 and "tout est envoyé" in text(state)
    assert "all sent" in text(state, "en")
    state = apply_upload(state, 5, "accepted", 3, None)  # a new backlog: a new, empty bar
    assert state.backlog_peak == 5 and "━" not in text(state)


def test_last_acknowledgement_says_how_long_ago() -> None:
    state = apply_upload(ScreenState(), 0, "accepted", 9, 1_000_000)
    console = Console(record=True, width=110, color_system=None)
    console.print(render(state, "fr", now_ms=1_000_000 + 12_400))
    fr = console.export_text()  # and clears the record
    assert "#9" in fr and "(il y a 12 s)" in fr
    console.print(render(state, "en", now_ms=1_000_000 + 3 * 3_600_000 + 5 * 60_000))
    assert "(3 h 05 ago)" in console.export_text()


def test_screen_and_log_share_one_warning_per_event() -> None:
    assert warning_code(Disconnected("no pen", 1.0, "AGENT.112")) == "AGENT.112"
    assert warning_code(Connected("S", "m", "f", 0, known=True)) is None
    assert warning_code(PenStatus(80, False, 0, 1, 0)) is None
    assert warning_code(PenStatus(5, True, 0, 1, 0)) is None  # low, but charging
    assert upload_warning("unavailable") == "AGENT.201" and upload_warning("accepted") is None
    state = fold(Disconnected("no pen", 1.0, "AGENT.112"))
    assert state.warnings == ("AGENT.112",) and "Aucun stylo branché" in text(state)


def test_the_operations_guide_explains_every_warning() -> None:
    guide = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text()
    rows = {line.split("|")[1].strip() for line in guide.splitlines() if line.startswith("| ")}
    assert set(MESSAGES) <= rows, sorted(set(MESSAGES) - rows)
