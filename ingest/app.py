"""The ingest app factory: ``create_app(settings)`` wires storage, routes and errors.

Nothing connects at import or at construction: the schema is migrated to head
in the lifespan (startup), and the engine connects on first use. The lifespan
also starts and stops the pipeline loop (:mod:`ingest.pipeline`) unless
``Settings.pipeline_enabled`` is off.

While the app serves, what it was built from (modules, routes, the engine: some
160,000 objects) is moved out of the garbage collector's sight (``gc.freeze()``,
undone at shutdown): it lives as long as the service, and every full collection
walked it again. Under load (1,000 stations, each request parsing a batch into a
few hundred objects) the collector took 7 % of the server's CPU, 2 % frozen
(docs/benchmarks.md).
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from ingest.access import check_access_decisions
from ingest.api import health, v1
from ingest.api_results import router as results_router
from ingest.api_review import router as review_router
from ingest.api_scans import router as scans_router
from ingest.batch_route import install_batch_route
from ingest.db import create_schema, make_engine
from ingest.errors import install_error_handlers
from ingest.exports import router as exports_router
from ingest.observability import install_observability
from ingest.pipeline import Pipeline
from ingest.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    """A configured ingest app; refuses to build if a route lacks an access decision."""
    settings = settings or Settings()
    engine = make_engine(settings.database_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(create_schema, engine)
        pipeline = Pipeline(engine, settings) if settings.pipeline_enabled else None
        if pipeline is not None:
            pipeline.start()
        app.state.pipeline = pipeline
        gc.freeze()  # see the module's docstring
        try:
            yield
        finally:
            gc.unfreeze()
            if pipeline is not None:
                await run_in_threadpool(pipeline.stop)
            engine.dispose()

    app = FastAPI(
        title="Plume ingest",
        version="1",
        description="Receives signed, hash-chained batches from polling stations.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    install_error_handlers(app)
    install_observability(app)
    app.include_router(health)
    app.include_router(v1)
    app.include_router(results_router)
    app.include_router(review_router)
    app.include_router(scans_router)
    app.include_router(exports_router)
    check_access_decisions(app)
    install_batch_route(app)
    return app
