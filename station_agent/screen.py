"""The president's screen: a pure fold of link events into a state, and state to rich.

:func:`apply` folds a :data:`~station_agent.pen_link.LinkEvent` into a
:class:`ScreenState`; :func:`render` turns a state into a rich renderable in
French (default) or English. Every warning is a plain sentence saying what
happened and what to do, looked up by its stable code in :data:`MESSAGES`.
No I/O here: the CLI owns the terminal.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from station_agent.pen_link import (
    Anomaly,
    BatchProgress,
    BatchSaved,
    Connected,
    Disconnected,
    InkCaptured,
    LinkEvent,
    PenStatus,
)

LOW_BATTERY_PCT = 15
MAX_WARNINGS = 5

#: code -> (French, English): what happened, then what to do.
MESSAGES: dict[str, tuple[str, str]] = {
    "AGENT.101": (
        "Stylo déconnecté — vérifiez le câble USB.",
        "Pen disconnected — check the USB cable.",
    ),
    "AGENT.102": (
        "Ce stylo n'est pas dans le kit du bureau — ses données sont gardées mais signalées ; "
        "appelez le centre.",
        "This pen is not in the station kit — its data is kept but flagged; call the centre.",
    ),
    "AGENT.103": (
        "Le stylo envoie un lot inconnu — débranchez et rebranchez le stylo.",
        "The pen sent an unknown batch — unplug and plug the pen in again.",
    ),
    "AGENT.104": (
        "L'horloge du stylo était très décalée — elle a été remise à l'heure, rien à faire.",
        "The pen clock was far off — it has been corrected, nothing to do.",
    ),
    "AGENT.105": (
        "Version du stylo non prise en charge — utilisez un stylo du kit ou appelez le centre.",
        "Pen version not supported — use a pen from the kit or call the centre.",
    ),
    "AGENT.106": (
        "Le stylo s'est éteint — rechargez-le puis rallumez-le.",
        "The pen turned off — charge it, then turn it on again.",
    ),
    "AGENT.107": (
        "Un lot du stylo est arrivé abîmé — il reste sur le stylo ; rebranchez le stylo.",
        "A batch from the pen arrived damaged — it stays on the pen; plug the pen in again.",
    ),
    "AGENT.108": (
        "Batterie du stylo faible — branchez-le pour le recharger.",
        "Pen battery low — plug it in to charge.",
    ),
    "AGENT.111": (
        "Aucun identifiant USB de stylo n'est configuré — appelez le centre.",
        "No pen USB id is configured — call the centre.",
    ),
    "AGENT.112": (
        "Aucun stylo branché — branchez le stylo du kit sur le port USB.",
        "No pen plugged in — plug the kit's pen into a USB port.",
    ),
    "AGENT.113": (
        "Plusieurs stylos branchés — n'en laissez qu'un seul branché.",
        "Several pens plugged in — leave only one plugged in.",
    ),
    "AGENT.201": (
        "Le centre ne répond pas — tout est gardé et sera envoyé plus tard ; rien à faire.",
        "The centre does not answer — everything is kept and will be sent later; nothing to do.",
    ),
    "AGENT.202": (
        "Le centre refuse les envois — rien n'est perdu ; appelez le centre.",
        "The centre refuses the uploads — nothing is lost; call the centre.",
    ),
    "WIRE.101": (
        "Parasites sur la liaison avec le stylo — vérifiez le câble ; rien n'est perdu.",
        "Noise on the pen's line — check the cable; nothing is lost.",
    ),
    "WIRE.102": (
        "Un message abîmé du stylo — vérifiez le câble ; il est gardé comme preuve.",
        "A damaged message from the pen — check the cable; it is kept as evidence.",
    ),
    "WIRE.103": (
        "Message inconnu du stylo — il est gardé ; signalez-le au centre.",
        "Unknown message from the pen — it is kept; report it to the centre.",
    ),
    "WIRE.104": (
        "Des messages du stylo manquent — vérifiez le câble.",
        "Messages from the pen are missing — check the cable.",
    ),
    "WIRE.105": (
        "Message répété par le stylo — ignoré, rien à faire.",
        "The pen repeated a message — ignored, nothing to do.",
    ),
    "WIRE.201": (
        "Un trait incomplet — il est gardé ; vérifiez la page concernée.",
        "An incomplete stroke — it is kept; check that page.",
    ),
    "WIRE.202": (
        "Encre sans début de trait — gardée ; vérifiez la page concernée.",
        "Ink with no stroke start — kept; check that page.",
    ),
}

_LABELS = {
    "title": ("Bureau de vote — stylo numérique", "Polling station — digital pen"),
    "pen": ("Stylo", "Pen"),
    "connected": ("connecté", "connected"),
    "disconnected": ("déconnecté", "disconnected"),
    "battery": ("Batterie", "Battery"),
    "memory": ("Mémoire du stylo", "Pen memory"),
    "strokes": ("Traits enregistrés", "Strokes captured"),
    "pages": ("Pages", "Pages"),
    "batch": ("Lot hors ligne", "Offline batch"),
    "backlog": ("À envoyer au centre", "Waiting for upload"),
    "last_ack": ("Dernier accusé du centre", "Last acknowledgement"),
    "never": ("aucun", "none yet"),
    "warnings": ("Avertissements", "Warnings"),
    "none": ("aucun", "none"),
    "unknown": ("inconnue", "unknown"),
}


@dataclass(frozen=True, slots=True)
class ScreenState:
    connected: bool = False
    pen_serial: str = ""
    battery_pct: int | None = None
    memory_used: int = 0
    memory_total: int = 0
    strokes: int = 0
    pages: int = 0
    batch: tuple[int, int, int] | None = None
    """Offline batch being downloaded: (id, chunks received, chunks)."""
    backlog: int = 0
    last_ack_seq: int | None = None
    """The last batch the centre acknowledged (None: none yet, or no centre)."""
    last_ack_ms: int | None = None
    warnings: tuple[str, ...] = ()
    """Codes of the latest warnings, newest last."""


def _warn(state: ScreenState, code: str) -> ScreenState:
    if state.warnings and state.warnings[-1] == code:
        return state
    return dataclasses.replace(state, warnings=(*state.warnings, code)[-MAX_WARNINGS:])


def apply(state: ScreenState, event: LinkEvent) -> ScreenState:
    """The state after ``event`` (pure)."""
    replace = dataclasses.replace
    if isinstance(event, Connected):
        state = replace(state, connected=True, pen_serial=event.pen_serial)
        return state if event.known else _warn(state, "AGENT.102")
    if isinstance(event, Disconnected):
        return _warn(replace(state, connected=False, batch=None), event.code)
    if isinstance(event, PenStatus):
        state = replace(
            state,
            battery_pct=event.battery_pct,
            memory_used=event.memory_used,
            memory_total=event.memory_total,
        )
        low = event.battery_pct < LOW_BATTERY_PCT and not event.charging
        return _warn(state, "AGENT.108") if low else state
    if isinstance(event, InkCaptured):
        return replace(state, strokes=event.strokes, pages=event.pages)
    if isinstance(event, BatchProgress):
        return replace(state, batch=(event.batch_id, event.received_chunks, event.n_chunks))
    if isinstance(event, BatchSaved):
        return replace(state, batch=None)
    if isinstance(event, Anomaly):
        return _warn(state, event.code)
    return state


def apply_upload(
    state: ScreenState,
    backlog: int,
    status: str,
    last_ack_seq: int | None,
    last_ack_ms: int | None,
) -> ScreenState:
    """The state after an upload step (pure); ``status`` as in UploadResult."""
    state = dataclasses.replace(
        state, backlog=backlog, last_ack_seq=last_ack_seq, last_ack_ms=last_ack_ms
    )
    if status == "unavailable":
        return _warn(state, "AGENT.201")
    if status == "refused":
        return _warn(state, "AGENT.202")
    return state


def message(code: str, lang: str = "fr") -> str:
    """The plain sentence for a warning code (the code itself if it is not catalogued)."""
    fr, en = MESSAGES.get(code, (f"Anomalie {code}", f"Anomaly {code}"))
    return en if lang == "en" else fr


def render(state: ScreenState, lang: str = "fr") -> RenderableType:
    """The screen for ``state`` in ``lang`` (``fr`` or ``en``)."""
    i = 1 if lang == "en" else 0

    def label(key: str) -> str:
        return _LABELS[key][i]

    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    link = label("connected") if state.connected else label("disconnected")
    pen = Text(f"{state.pen_serial} " if state.pen_serial else "")
    pen.append(link, style="green" if state.connected else "bold red")
    table.add_row(label("pen"), pen)
    battery = label("unknown") if state.battery_pct is None else f"{state.battery_pct} %"
    low = state.battery_pct is not None and state.battery_pct < LOW_BATTERY_PCT
    table.add_row(label("battery"), Text(battery, style="bold red" if low else ""))
    if state.memory_total:
        pct = round(100 * state.memory_used / state.memory_total)
        table.add_row(label("memory"), f"{pct} %")
    table.add_row(label("strokes"), str(state.strokes))
    table.add_row(label("pages"), str(state.pages))
    if state.batch is not None:
        batch_id, got, n = state.batch
        table.add_row(label("batch"), f"#{batch_id}: {got}/{n}")
    table.add_row(label("backlog"), str(state.backlog))
    if state.last_ack_seq is None:
        table.add_row(label("last_ack"), label("never"))
    else:
        when = ""
        if state.last_ack_ms is not None:
            when = time.strftime(" %H:%M:%S", time.localtime(state.last_ack_ms / 1000))
        table.add_row(label("last_ack"), f"#{state.last_ack_seq}{when}")
    warnings = Text()
    for code in state.warnings:
        warnings.append(f"• {message(code, lang)} ({code})\n", style="yellow")
    if not state.warnings:
        warnings.append(label("none"))
    return Panel(
        Group(table, Text(""), Text(label("warnings"), style="bold"), warnings),
        title=label("title"),
    )
