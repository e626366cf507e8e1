"""The audit HTTP API (FastAPI): every audit query under /v1, the web page at /, /metrics."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query
from fastapi import Path as PathParam
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from procledger.adapters.postgres.audit_reader import AuditUnavailable
from procledger.audit import bundle as bundles
from procledger.audit import chart_data, history, queries
from procledger.audit.filters import (
    Clocks,
    OrderFilter,
    day,
    dimensions,
    instant,
    order_filter,
    text,
)
from procledger.audit.metrics import AuditMetrics
from procledger.audit.signing import load_signer
from procledger.entrypoints.http.audit_page import install_page
from procledger.entrypoints.http.audit_support import (
    Verifier,
    csv_response,
    database_probe,
    guard,
    listing,
    on_unavailable,
    query,
)
from procledger.entrypoints.http.auth import Role, require_role
from procledger.entrypoints.http.metrics import install_http_metrics
from procledger.entrypoints.http.problems import install_problems
from procledger.settings.audit import AuditSettings

MAX_LIMIT = 1000
Format = Literal["json", "csv"]
Text = Annotated[str | None, Query(max_length=200)]
Stamp = Annotated[str | None, Query(max_length=64, description="ISO-8601 with a zone")]
Day = Annotated[str | None, Query(max_length=10, description="YYYY-MM-DD (UTC)")]
Caliber = Annotated[int | None, Query(ge=1, le=10_000)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"rows per page, at most {MAX_LIMIT}")]
Offset = Annotated[int, Query(ge=0, le=1_000_000_000)]


def _clocks(as_of: Stamp = None, known_at: Stamp = None) -> Clocks:
    """Business time (as_of) and record time (known_at)."""
    return guard(lambda: Clocks(instant("as_of", as_of), instant("known_at", known_at)))


def _orders_filter(  # noqa: PLR0917 - FastAPI maps each query parameter to one argument
    buyer: Text = None,
    caliber_mm: Caliber = None,
    year: Annotated[int | None, Query(ge=1900, le=9998)] = None,
    placed_from: Annotated[Day, Query(alias="from")] = None,
    to: Day = None,
    status: Annotated[Literal["OPEN", "FULFILLED", "CANCELLED"] | None, Query()] = None,
) -> OrderFilter:
    return guard(
        lambda: order_filter(
            buyer=buyer,
            caliber_mm=caliber_mm,
            year=year,
            placed_from=placed_from,
            placed_to=to,
            status=status,
        )
    )


ClocksDep = Annotated[Clocks, Depends(_clocks)]
FilterDep = Annotated[OrderFilter, Depends(_orders_filter)]
FormatQ = Annotated[Format, Query(description="json (default) or csv")]


def _routes(settings: AuditSettings, verifier: Verifier) -> APIRouter:
    auditor = require_role(settings.tokens, Role.AUDITOR)
    v1 = APIRouter(prefix="/v1", dependencies=[Depends(auditor)], tags=["audit"])
    signer = load_signer(settings.signing_key_file)  # at start: a bad key stops the service

    @v1.get("/charts/{name}", summary="A chart of the page as SVG, from the same queries")
    def chart(
        name: chart_data.ChartName,
        flt: FilterDep,
        clocks: ClocksDep,
        reason: Text = None,
    ) -> Response:
        code = guard(lambda: text("reason", reason))
        svg = query(
            settings,
            lambda c: chart_data.render(name, c, flt, clocks, reason=code and code.upper()),
        )
        return Response(svg, media_type="image/svg+xml")

    @v1.get("/totals", summary="Ordered, delivered and paid, grouped by dimensions")
    def totals(flt: FilterDep, clocks: ClocksDep, by: Text = None, format: FormatQ = "json") -> Any:
        dims = guard(lambda: dimensions("by", by))
        page = query(settings, lambda c: queries.totals(c, dims, flt, clocks))
        return listing("totals", page, format)

    @v1.get("/orders", summary="Orders with their current (or past) state")
    def orders(
        flt: FilterDep,
        clocks: ClocksDep,
        limit: Limit = 100,
        offset: Offset = 0,
        format: FormatQ = "json",
    ) -> Any:
        page = query(settings, lambda c: queries.orders(c, flt, clocks, limit, offset))
        return listing("orders", page, format, limit, offset)

    @v1.get("/orders/{order_id}", summary="One order: state and history with provenance")
    def order(
        order_id: Annotated[str, PathParam(max_length=200)],
        clocks: ClocksDep,
        format: FormatQ = "json",
    ) -> Any:
        oid = guard(lambda: text("order_id", order_id), "path") or ""
        detail = query(settings, lambda c: history.order_detail(c, oid, clocks))
        if detail is None:
            raise HTTPException(404, detail=f"order {oid!r} not found")
        if format == "csv":
            return csv_response(f"order-{oid}", history.HISTORY_COLUMNS, detail["history"])
        return detail

    @v1.get("/stockpile", summary="Stockpile targets against ordered and delivered")
    def stockpile(
        clocks: ClocksDep,
        buyer: Text = None,
        caliber_mm: Caliber = None,
        format: FormatQ = "json",
    ) -> Any:
        flt = guard(lambda: order_filter(buyer=buyer, caliber_mm=caliber_mm))
        page = query(settings, lambda c: queries.stockpile(c, flt, clocks))
        return listing("stockpile", page, format)

    @v1.get("/events/{event_id}/trace", summary="Where an entry came from, what it changed")
    def trace(event_id: Annotated[str, PathParam(max_length=200)], format: FormatQ = "json") -> Any:
        eid = guard(lambda: text("event_id", event_id), "path") or ""
        found = query(settings, lambda c: history.trace(c, eid))
        if found is None:
            raise HTTPException(404, detail=f"event {eid!r} not found")
        if format == "csv":
            return csv_response(f"trace-{eid}", history.POSTING_COLUMNS, found.get("postings", []))
        return found

    @v1.get("/rejections", summary="Records that were not applied, with reason codes")
    def rejections(  # noqa: PLR0917 - one argument per query parameter
        reason: Text = None,
        topic: Text = None,
        known_at: Stamp = None,
        limit: Limit = 100,
        offset: Offset = 0,
        format: FormatQ = "json",
    ) -> Any:
        checked = guard(
            lambda: (text("reason", reason), text("topic", topic), instant("known_at", known_at))
        )
        r, t, k = checked
        code = r.upper() if r else None
        page = query(settings, lambda c: history.rejections(c, code, t, k, limit, offset))
        return listing("rejections", page, format, limit, offset)

    @v1.get("/verify", summary="The last verification's result (null before the first)")
    def last_verification() -> Any:
        return {"last": verifier.last}

    @v1.post("/verify", summary="Verify the whole ledger now")
    def verify_now(against_kafka: bool = False) -> Any:
        return verifier.run(against_kafka)

    @v1.get("/export", summary="An evidence bundle (zip) for an order, a buyer or a period")
    def export(
        clocks: ClocksDep,
        order: Text = None,
        buyer: Text = None,
        occurred_from: Annotated[Day, Query(alias="from")] = None,
        to: Day = None,
    ) -> Response:
        def build() -> bundles.BundleFilter:
            start, end = day("from", occurred_from), day("to", to)
            return bundles.BundleFilter(
                order_id=text("order", order),
                buyer=text("buyer", buyer),
                occurred_from=None if start is None else bundles.day_after(start, 0),
                occurred_to=None if end is None else bundles.day_after(end),
            )

        flt = guard(build)
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "bundle.zip"
            query(settings, lambda c: bundles.export(c, flt, out, None, clocks, signer))
            data = out.read_bytes()
        return Response(
            data,
            media_type="application/zip",
            headers={"Content-Disposition": 'attachment; filename="evidence-bundle.zip"'},
        )

    return v1


def create_app(settings: AuditSettings, registry: CollectorRegistry) -> FastAPI:
    """The audit service; verifies every AUDIT_VERIFY_INTERVAL_S seconds (0: on demand only)."""
    metrics = AuditMetrics(registry)
    verifier = Verifier(settings, metrics)
    database = database_probe(settings.read_url)
    metrics.watch(database)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        database.start()
        task = None
        if settings.verify_interval_s > 0:
            task = asyncio.create_task(verifier.periodically(settings.verify_interval_s))
        try:
            yield
        finally:
            database.stop()
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    app = FastAPI(
        title="procledger audit API",
        version="1",
        description=(
            "Read-only answers about the procurement ledger for auditors: totals, orders and "
            "their history, stockpile targets, provenance of each entry, rejections, "
            "verification and evidence bundles. Every /v1 route needs a bearer token from "
            "AUDITOR_TOKENS. as_of filters on business time, known_at on record time."
        ),
        lifespan=lifespan,
    )
    app.state.verifier = verifier
    install_http_metrics(app, metrics.http, "audit")
    install_problems(app)
    app.add_exception_handler(AuditUnavailable, on_unavailable)
    app.include_router(_routes(settings, verifier))

    install_page(app)

    @app.get("/healthz", tags=["ops"], summary="Liveness")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    # async: served on the event loop, so it never queues behind requests that wait on the
    # database in the worker threads (every gauge is already computed; nothing here blocks).
    @app.get("/metrics", tags=["ops"], summary="Prometheus metrics")
    async def prometheus() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app
