"""Property-based testing of the ingest API over its own OpenAPI document (schemathesis).

Every operation gets generated requests, valid and invalid by the schema, in
process (ASGI) against the real app on a real SQLite file. Whatever comes in,
the answer is never a 5xx, and it conforms to the document: a declared status,
content type, headers and body shape (errors in the one error shape); requests
that break the schema are refused. Examples are capped per operation and mode
to keep this near 20 s. (schemathesis' own pytest loader does not run on this
pytest, so the test drives its Hypothesis strategies directly.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ingest.app import create_app
from ingest.settings import Settings
from ingest.stations import create_kits

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
EXAMPLES = 30


def _check_operation(operation: Any, mode: GenerationMode) -> None:
    checks = [*CHECKS, negative_data_rejection] if mode is GenerationMode.NEGATIVE else CHECKS

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        case.call_and_validate(checks=checks)

    try:
        run()
    except Unsatisfiable:
        # no request can break the schema of an operation without inputs (GET /health)
        assert mode is GenerationMode.NEGATIVE and not operation.path_parameters


def test_no_server_error_and_answers_conform(tmp_path: Path) -> None:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path}/ingest.db"))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)  # starts the app: migrates
    create_kits(app.state.engine, ["ST-00001", "a", "0"])  # stations the generator may name
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {
        "/health",
        "/ready",
        "/metrics",
        "/v1/stations/{station_id}/enrol",
        "/v1/stations/{station_id}/batches",
    }
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _check_operation(operation, mode)
