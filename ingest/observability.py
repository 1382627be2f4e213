"""What ingest tells its operators: Prometheus metrics and one structlog line per request.

- :class:`Metrics`: the service's counters, each app with its own
  ``CollectorRegistry`` (several apps in one test process never collide),
  served at ``GET /metrics`` in Prometheus text format. Labels are bounded:
  route templates (never raw paths), methods, status codes, refusal reasons;
  never station ids, never anything a voter wrote.
- :class:`RequestLog`: an ASGI middleware that times every request, counts it,
  gives it a request id (``X-Request-ID``, kept from the caller when sane) bound
  into every log line of the request, and logs one ``request`` line with method,
  route, status, duration and the stable error code if any. It never reads or
  logs bodies.
- :func:`configure_logging`: structlog (and the standard library's loggers,
  uvicorn's and Alembic's included) as JSON lines or for a terminal, configured
  once by the program (``plume serve``), never at import.
"""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from typing import Any, Literal, TextIO

import structlog
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest
from sqlalchemy import Engine, text
from starlette.concurrency import run_in_threadpool
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ingest.access import PUBLIC

log = structlog.get_logger("ingest.request")

LogFormat = Literal["json", "console"]

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_UNMATCHED = "unmatched"
"""Route label of requests that matched no route (their raw paths would be unbounded)."""
_NEVER_LOGGED = frozenset(
    {"body", "content", "email", "phone", "address", "password", "secret", "token"}
)
"""Keys dropped from every log event, whoever logs them: personal data and secrets."""


class Metrics:
    """The counters of one ingest app, in their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "plume_http_requests",
            "HTTP requests answered, by route template, method and status code.",
            ["method", "route", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "plume_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template and method.",
            ["method", "route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
            registry=r,
        )
        self.batches = Counter(
            "plume_batches",
            "Batches received: outcome accepted, duplicate or rejected, and the refusal reason.",
            ["outcome", "reason"],
            registry=r,
        )
        self.events = Counter(
            "plume_batch_events_stored", "Pen events in accepted batches.", registry=r
        )
        self.raw_bytes = Counter(
            "plume_batch_bytes_stored", "Bytes of accepted batch bodies, stored raw.", registry=r
        )
        self.database_up = Gauge(
            "plume_database_up",
            "1 if the database answered the last readiness check or scrape, else 0.",
            registry=r,
        )

    def exposition(self) -> bytes:
        """Everything in Prometheus text format."""
        return generate_latest(self.registry)


def metrics_of(app: Any) -> Metrics:
    """The metrics of the app (``install_observability`` put them there)."""
    m: Metrics = app.state.metrics
    return m


def record_batch(
    app: Any,
    outcome: Literal["accepted", "duplicate", "rejected"],
    *,
    reason: str = "none",
    events: int = 0,
    raw_bytes: int = 0,
) -> None:
    """Count one batch of ``app`` where its outcome is known (the batch route calls this)."""
    m = metrics_of(app)
    m.batches.labels(outcome=outcome, reason=reason).inc()
    if outcome == "accepted":
        m.events.inc(events)
        m.raw_bytes.inc(raw_bytes)


def _select_one(engine: Engine) -> bool:
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:
        return False
    return True


async def database_answers(request: Request) -> bool:
    """Whether the database answers ``SELECT 1``; kept in ``plume_database_up``."""
    ok = await run_in_threadpool(_select_one, request.app.state.engine)
    metrics_of(request.app).database_up.set(1 if ok else 0)
    return ok


metrics_router = APIRouter(tags=["health"])


@metrics_router.get(
    "/metrics",
    dependencies=[PUBLIC],
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def get_metrics(request: Request) -> Response:
    """Prometheus metrics of this process (text format). No personal data, no station ids."""
    await database_answers(request)
    return Response(metrics_of(request.app).exposition(), media_type=CONTENT_TYPE_LATEST)


def _route_template(scope: Scope) -> str:
    """The path template of the route that answered (API routes leave it in the scope)."""
    route = scope.get("route")
    if route is None:  # the docs and the OpenAPI document: find which route matches
        route = next((r for r in scope["app"].routes if r.matches(scope)[0] is Match.FULL), None)
    return getattr(route, "path", None) or _UNMATCHED


class RequestLog:
    """ASGI middleware: request id, one log line and the HTTP metrics of every request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
                message = {**message, "headers": headers}
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            except Exception:
                status = 500
                raise
            finally:
                self._finish(scope, request_id, status, time.perf_counter() - started)

    def _finish(self, scope: Scope, request_id: str, status: int, seconds: float) -> None:
        route = _route_template(scope)
        method = scope["method"]
        m = metrics_of(scope["app"])
        m.requests.labels(method=method, route=route, status=str(status)).inc()
        m.latency.labels(method=method, route=route).observe(seconds)
        code = scope.get("state", {}).get("error_code")
        if status >= 500:
            code = code or f"HTTP.{status}"
        level = "error" if status >= 500 else "warning" if status >= 400 else "info"
        if level == "info" and not scope["app"].state.settings.request_log:
            return
        fields: dict[str, Any] = {
            "method": method,
            "route": route,
            "status": status,
            "duration_ms": round(seconds * 1000, 2),
            "request_id": request_id,
        }
        if code:
            fields["code"] = code
        getattr(log, level)("request", **fields)


def install_observability(app: FastAPI) -> None:
    """Give the app its metrics registry, the request middleware and ``GET /metrics``."""
    app.state.metrics = Metrics()
    app.add_middleware(RequestLog)
    app.include_router(metrics_router)


def _drop_personal(logger: Any, method: str, event: dict[str, Any]) -> dict[str, Any]:
    """Remove keys that name personal data or secrets, a last guard behind careful callers."""
    for key in _NEVER_LOGGED & event.keys():
        del event[key]
    return event


def configure_logging(
    fmt: LogFormat = "json", level: str = "INFO", stream: TextIO | None = None
) -> None:
    """Route structlog and the standard library's logging to ``stream`` as JSON or console.

    Tracebacks never include local variables: they could hold a batch or a form.
    """
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _drop_personal,
    ]
    renderer: Any
    if fmt == "json":
        tracebacks = structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
        final = [structlog.processors.ExceptionRenderer(tracebacks)]
        renderer = structlog.processors.JSONRenderer()
    else:
        final = []
        renderer = structlog.dev.ConsoleRenderer(
            exception_formatter=structlog.dev.plain_traceback, colors=False
        )
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,  # below the level: no work at all
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                *final,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
