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
from rich.progress_bar import ProgressBar
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
MEMORY_FULL_FRACTION = 0.9
"""A pen whose memory is this full is warned about (AGENT.109)."""
MAX_WARNINGS = 5
BAR_WIDTH = 30

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
    "AGENT.109": (
        "La mémoire du stylo est presque pleine — laissez le stylo branché pour que l'agent "
        "la vide ; si cela dure, appelez le centre.",
        "The pen's memory is almost full — keep the pen plugged in so the agent empties it; "
        "if this lasts, call the centre.",
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
    "AGENT.203": (
        "Le centre avait déjà des lots plus récents de ce bureau — un autre ordinateur "
        "envoie-t-il pour ce bureau ? Appelez le centre ; rien n'est perdu.",
        "The centre already had newer batches from this station — is another laptop sending "
        "for this station? Call the centre; nothing is lost.",
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
    "waiting": ("en attente", "waiting"),
    "all_sent": ("tout est envoyé", "all sent"),
    "last_ack": ("Dernier accusé du centre", "Last acknowledgement"),
    "ago": ("il y a", ""),
    "ago_after": ("", "ago"),
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
    backlog_peak: int = 0
    """The largest backlog since it was last empty: the bar's full length."""
    last_ack_seq: int | None = None
    """The last batch the centre acknowledged (None: none yet, or no centre)."""
    last_ack_ms: int | None = None
    warnings: tuple[str, ...] = ()
    """Codes of the latest warnings, newest last."""


def _warn(state: ScreenState, code: str) -> ScreenState:
    if state.warnings and state.warnings[-1] == code:
        return state
    return dataclasses.replace(state, warnings=(*state.warnings, code)[-MAX_WARNINGS:])


def warning_code(event: LinkEvent) -> str | None:
    """The warning an event raises on the screen (and in the log), or None."""
    if isinstance(event, Connected):
        return None if event.known else "AGENT.102"
    if isinstance(event, Disconnected):
        return event.code
    if isinstance(event, PenStatus):
        if event.battery_pct < LOW_BATTERY_PCT and not event.charging:
            return "AGENT.108"
        full = event.memory_used >= MEMORY_FULL_FRACTION * event.memory_total > 0
        return "AGENT.109" if full else None
    if isinstance(event, Anomaly):
        return event.code
    return None


def upload_warning(status: str) -> str | None:
    """The warning an upload step raises (``status`` as in UploadResult), or None."""
    return {"unavailable": "AGENT.201", "refused": "AGENT.202", "replay": "AGENT.203"}.get(status)


def apply(state: ScreenState, event: LinkEvent) -> ScreenState:
    """The state after ``event`` (pure)."""
    replace = dataclasses.replace
    if isinstance(event, Connected):
        state = replace(state, connected=True, pen_serial=event.pen_serial)
    elif isinstance(event, Disconnected):
        state = replace(state, connected=False, batch=None)
    elif isinstance(event, PenStatus):
        state = replace(
            state,
            battery_pct=event.battery_pct,
            memory_used=event.memory_used,
            memory_total=event.memory_total,
        )
    elif isinstance(event, InkCaptured):
        state = replace(state, strokes=event.strokes, pages=event.pages)
    elif isinstance(event, BatchProgress):
        state = replace(state, batch=(event.batch_id, event.received_chunks, event.n_chunks))
    elif isinstance(event, BatchSaved):
        state = replace(state, batch=None)
    code = warning_code(event)
    return state if code is None else _warn(state, code)


def with_backlog(state: ScreenState, backlog: int) -> ScreenState:
    """The state with ``backlog`` events waiting (the bar restarts once it was empty)."""
    peak = 0 if backlog == 0 else max(state.backlog_peak, backlog)
    return dataclasses.replace(state, backlog=backlog, backlog_peak=peak)


def apply_upload(
    state: ScreenState,
    backlog: int,
    status: str,
    last_ack_seq: int | None,
    last_ack_ms: int | None,
) -> ScreenState:
    """The state after an upload step (pure); ``status`` as in UploadResult."""
    state = dataclasses.replace(
        with_backlog(state, backlog), last_ack_seq=last_ack_seq, last_ack_ms=last_ack_ms
    )
    code = upload_warning(status)
    return state if code is None else _warn(state, code)


def _age(ms: float) -> str:
    """A duration in plain words: ``12 s``, ``3 min``, ``2 h 05``."""
    seconds = max(0, int(ms // 1000))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d}"


def message(code: str, lang: str = "fr") -> str:
    """The plain sentence for a warning code (the code itself if it is not catalogued)."""
    fr, en = MESSAGES.get(code, (f"Anomalie {code}", f"Anomaly {code}"))
    return en if lang == "en" else fr


def render(state: ScreenState, lang: str = "fr", now_ms: int | None = None) -> RenderableType:
    """The screen for ``state`` in ``lang`` (``fr`` or ``en``), at ``now_ms`` (default: now)."""
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
    if state.backlog:
        sent = state.backlog_peak - state.backlog
        cell = Table.grid(padding=(0, 1))
        cell.add_row(
            ProgressBar(total=state.backlog_peak, completed=sent, width=BAR_WIDTH),
            Text(f"{state.backlog} {label('waiting')}"),
        )
        table.add_row(label("backlog"), cell)
    else:
        table.add_row(label("backlog"), Text(label("all_sent"), style="green"))
    if state.last_ack_seq is None:
        table.add_row(label("last_ack"), label("never"))
    else:
        when = ""
        if state.last_ack_ms is not None:
            now = time.time() * 1000 if now_ms is None else now_ms
            age = " ".join(
                p for p in (label("ago"), _age(now - state.last_ack_ms), label("ago_after")) if p
            )
            clock = time.strftime("%H:%M:%S", time.localtime(state.last_ack_ms / 1000))
            when = f" {clock} ({age})"
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
