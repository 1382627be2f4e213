"""The agent's structured log: JSON lines in a file beside the journal, or a human console.

``plume agent run`` logs what happens to the pen and the uploads, and every warning
the screen shows, with its stable code and the English sentence. Only facts about
the equipment go in: pen serial, codes, counts, batch numbers, the centre's error
codes. Never ink, never decoded values, never what a voter wrote: an anomaly's
detail and evidence stay in the journal, which is the place for audit.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import IO, Any

import structlog

from station_agent.link_events import (
    BatchSaved,
    Connected,
    Disconnected,
    LinkEvent,
    PenStatus,
)
from station_agent.screen import message, upload_warning, warning_code

LOG_FILE = "agent.log"


def log_path(journal_path: str | Path) -> Path:
    """Where the log goes by default: beside the journal."""
    return Path(journal_path).parent / LOG_FILE


def configure(target: Path | None) -> IO[str]:
    """JSON lines appended to ``target``, or coloured lines on stderr when it is None.

    Returns the stream written to (the caller closes a file when the agent stops).
    """
    stream: IO[str]
    if target is None:
        stream = sys.stderr
        renderer: Any = structlog.dev.ConsoleRenderer(colors=stream.isatty())
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        stream = target.open("a", encoding="utf-8", buffering=1)  # a line is a write
        renderer = structlog.processors.JSONRenderer(sort_keys=True)
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        logger_factory=structlog.WriteLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
    return stream


def log_link_event(log: Any, event: LinkEvent) -> None:
    """One line for the events worth keeping (not every stroke), and one per warning."""
    if isinstance(event, Connected):
        log.info(
            "pen.connected",
            pen_serial=event.pen_serial,
            model=event.model,
            firmware=event.firmware,
            clock_offset_ms=event.clock_offset_ms,
            in_kit=event.known,
        )
    elif isinstance(event, Disconnected):
        log.info("pen.disconnected", reason=event.reason, retry_in_s=round(event.retry_in_s, 2))
    elif isinstance(event, PenStatus):
        log.info("pen.status", battery_pct=event.battery_pct, offline_batches=event.offline_batches)
    elif isinstance(event, BatchSaved):
        log.info("pen.batch_saved", batch_id=event.batch_id, strokes=event.strokes,
                 already_saved=event.already_saved)  # fmt: skip
    code = warning_code(event)
    if code is not None:
        log.warning("agent.warning", code=code, message=message(code, "en"),
                    kind=type(event).__name__)  # fmt: skip


def log_upload(
    log: Any, status: str, seq: int | None, code: str = "", backlog: int | None = None
) -> None:
    """An upload step worth a line: acknowledged batches and warnings (not idle steps)."""
    if status in ("accepted", "duplicate", "replay"):
        log.info("upload.acknowledged", status=status, batch_seq=seq, backlog=backlog)
    warning = upload_warning(status)
    if warning is not None:
        log.warning("agent.warning", code=warning, message=message(warning, "en"),
                    status=status, centre_code=code, batch_seq=seq)  # fmt: skip
