"""Exports: results (CSV and JSON, format ``plume-results`` v1) and consenting contacts (CSV).

Every export is audited in the same transaction that reads it. A federation
exports its own département; the high authority all, or one with
``?departement=``. Contacts: only people who ticked consent, decrypted here
(:class:`~ingest.crypto.ContactCipher`) and never logged; the audit entry
records how many rows and which département, never a value. Cells that a
spreadsheet would run as a formula (``= + - @``) are prefixed with ``'``.
"""

from __future__ import annotations

import csv
import io
import json
import time
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy import Engine, select

from ingest import audit, results
from ingest.access import require
from ingest.auth import Principal
from ingest.crypto import ContactCipher, DecryptError
from ingest.db import Contact, session
from ingest.scope import departement_in_scope

FORMAT = "plume-results"
FORMAT_VERSION = 1
CONTACT_FIELDS = (
    "last_name",
    "first_name",
    "email",
    "phone",
    "postcode",
    "consent_email",
    "consent_sms",
)
_FORMULA = ("=", "+", "-", "@", "\t", "\r")
REGIONAL = require("high_authority", "federation")
DeptQuery = Annotated[str | None, Query(pattern=r"^(\d{2}|2[AB]|97[1-6])$")]


def _safe(cell: object) -> str:
    text = "" if cell is None else str(cell)
    return "'" + text if text.startswith(_FORMULA) else text


def csv_text(header: list[str], rows: list[list[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([[_safe(c) for c in row] for row in rows])
    return out.getvalue()


def export_scope(who: Principal, asked: str | None) -> str | None:
    """The département an export covers: the federation's own; the high authority's choice."""
    if asked is not None:
        departement_in_scope(who, asked)
    return who.departement or asked


def results_document(engine: Engine, departement: str | None) -> dict[str, Any]:
    """The ``plume-results`` v1 document: totals and every station's PV values."""
    t = results.totals(engine, departement)
    stations = [
        {
            "station_id": row.station_id,
            "departement": row.departement,
            "complete": row.complete,
            "confidence": row.confidence,
            "values": {k: row.values[k] for k in results.field_order(row.values)},
        }
        for row in results.station_rows(engine, departement)
    ]
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "scope": t.scope,
        "stations_expected": t.stations_expected,
        "stations_reporting": t.stations_reporting,
        "totals": t.totals,
        "candidates": [c.__dict__ for c in t.candidates],
        "stations": stations,
    }


def results_csv(doc: dict[str, Any]) -> str:
    """One line per station: id, département, complete, confidence, then each field."""
    fields = results.field_order(f for st in doc["stations"] for f in st["values"])
    header = ["station_id", "departement", "complete", "confidence", *fields]
    rows = [
        [st["station_id"], st["departement"], st["complete"], st["confidence"]]
        + [st["values"].get(f) for f in fields]
        for st in doc["stations"]
    ]
    return csv_text(header, rows)


def _audited(engine: Engine, who: Principal, action: str, detail: dict[str, Any]) -> None:
    with session(engine) as s, s.begin():
        audit.append(
            s, who.actor, action, f"export:{detail.get('departement') or 'national'}", detail
        )


def contacts_csv(
    engine: Engine, cipher: ContactCipher, who: Principal, departement: str | None
) -> tuple[str, int]:
    """Consenting contacts, decrypted, as CSV; and how many fields failed to decrypt."""
    q = select(Contact).where(Contact.consent.is_(True)).order_by(Contact.station_id, Contact.id)
    if departement is not None:
        q = q.where(Contact.departement == departement)
    rows: list[list[object]] = []
    failed = 0
    with session(engine) as s, s.begin():
        for c in s.scalars(q):
            values: list[object] = [c.station_id, c.departement, c.page]
            for name in CONTACT_FIELDS:
                stored = c.encrypted.get(name)
                try:
                    values.append(cipher.decrypt(c.page, name, stored) if stored else "")
                except DecryptError:
                    failed += 1
                    values.append("")
            rows.append(values)
        detail = {"departement": departement, "rows": len(rows), "undecryptable": failed}
        audit.append(s, who.actor, "contacts.export", f"export:{departement or 'national'}", detail)
    return csv_text(["station_id", "departement", "page", *CONTACT_FIELDS], rows), failed


router = APIRouter(prefix="/v1/exports", tags=["exports"])


def _file(body: str, media: str, name: str, headers: dict[str, str] | None = None) -> Response:
    disposition = {"Content-Disposition": f'attachment; filename="{name}"'}
    return Response(body, media_type=media, headers={**disposition, **(headers or {})})


def _csv_doc(description: str) -> dict[int | str, dict[str, Any]]:
    return {
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": description}
    }


def _stamp() -> int:
    return time.time_ns() // 1_000_000


@router.get("/results.csv", response_class=Response, responses=_csv_doc("one line per station"))
def get_results_csv(
    request: Request, departement: DeptQuery = None, who: Principal = REGIONAL
) -> Response:
    """Every station's PV values as CSV (complete or not: see the ``complete`` column)."""
    engine = request.app.state.engine
    scope = export_scope(who, departement)
    doc = results_document(engine, scope)
    _audited(
        engine,
        who,
        "export.results",
        {"departement": scope, "format": "csv", "rows": len(doc["stations"])},
    )
    return _file(
        results_csv(doc), "text/csv; charset=utf-8", f"results-{doc['scope']}-{_stamp()}.csv"
    )


@router.get(
    "/results.json",
    response_class=Response,
    responses={200: {"content": {"application/json": {}}, "description": "plume-results v1"}},
)
def get_results_json(
    request: Request, departement: DeptQuery = None, who: Principal = REGIONAL
) -> Response:
    """Totals and every station's PV values, format ``plume-results`` v1 (docs/api.md)."""
    engine = request.app.state.engine
    scope = export_scope(who, departement)
    doc = results_document(engine, scope)
    _audited(
        engine,
        who,
        "export.results",
        {"departement": scope, "format": "json", "rows": len(doc["stations"])},
    )
    body = json.dumps(doc, ensure_ascii=False, indent=1)
    return _file(body, "application/json", f"results-{doc['scope']}-{_stamp()}.json")


@router.get("/contacts.csv", response_class=Response, responses=_csv_doc("consenting contacts"))
def get_contacts_csv(
    request: Request, departement: DeptQuery = None, who: Principal = REGIONAL
) -> Response:
    """Contacts who consented, decrypted; a federation gets its own département only."""
    engine = request.app.state.engine
    cipher = ContactCipher.from_text(request.app.state.settings.contact_key.get_secret_value())
    scope = export_scope(who, departement)
    body, failed = contacts_csv(engine, cipher, who, scope)
    headers = {"X-Plume-Undecryptable": str(failed), "Cache-Control": "no-store"}
    return _file(body, "text/csv; charset=utf-8", f"contacts-{scope or 'national'}.csv", headers)
