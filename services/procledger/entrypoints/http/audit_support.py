"""What the audit API's routes share: the verifier, error mapping and list/CSV responses."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse, Response

from procledger.adapters.postgres.audit_reader import (
    AuditUnavailable,
    Connection,
    connect,
    retrying,
)
from procledger.adapters.postgres.health import PostgresPing
from procledger.adapters.postgres.standby import DatabasePosition, read_position
from procledger.audit import verify as verifying
from procledger.audit.filters import FilterError
from procledger.audit.formats import to_csv
from procledger.audit.metrics import AuditMetrics
from procledger.audit.queries import Page
from procledger.entrypoints.http.problems import problem
from procledger.probes import OutageLog, Refresher
from procledger.settings.audit import AuditSettings

log = logging.getLogger("procledger.entrypoints.http.audit")
T = TypeVar("T")


class Verifier:
    """Runs verify on demand or on a timer; keeps only the last result, in memory."""

    def __init__(self, settings: AuditSettings, metrics: AuditMetrics) -> None:
        self._settings = settings
        self._metrics = metrics
        self._lock = threading.Lock()
        self.last: dict[str, Any] | None = None

    def run(self, against_kafka: bool = False) -> dict[str, Any]:
        """One full verification (serialised: two at once would only double the load).

        Raises AuditUnavailable when it could not run: that is counted as an error, never
        as a discrepancy (a database outage is not tampering).
        """
        with self._lock:
            started = time.monotonic()
            try:
                report = retrying(lambda: self._verify(against_kafka))
            except AuditUnavailable as err:
                self._metrics.record_error()
                log.warning("verification could not run: %s", err)
                raise
            duration = time.monotonic() - started
            self._metrics.record(report, time.time(), duration)
            result = {**report.as_dict(), "duration_s": round(duration, 3)}
            self.last = result
            log.info("verification: ok=%s discrepancies=%d", report.ok, len(report.discrepancies))
            return result

    def _verify(self, against_kafka: bool) -> verifying.VerifyReport:
        with connect(self._settings.read_url) as conn:
            report = verifying.verify(conn)
            if against_kafka:
                from procledger.adapters.kafka.digests import check_against_kafka  # noqa: PLC0415

                check_against_kafka(conn, self._settings.kafka, report, lambda _n: None)
        return report

    async def periodically(self, interval_s: int) -> None:
        """Verify now and then every interval_s seconds, until cancelled."""
        while True:
            # Counted and logged by run(); the next attempt comes at the next interval.
            with contextlib.suppress(AuditUnavailable):
                await asyncio.to_thread(self.run)
            await asyncio.sleep(interval_s)


def database_probe(url: str) -> Refresher[DatabasePosition]:
    """The read database's position (a replica's replay lag) every 2 s, down after 3 s
    without an answer; logs each outage once each way."""
    outage = OutageLog("PostgreSQL (the audit database)", log)
    ping = PostgresPing(url, "procledger-audit-probe")
    return Refresher(
        "audit-db-probe",
        lambda: ping.run(read_position),
        interval_s=2.0,
        timeout_s=3.0,
        outage=outage,
    )


def query(settings: AuditSettings, body: Callable[[Connection], T]) -> T:
    """Run `body` in one read-only snapshot; bad filters are 422, an unreachable DB 503."""

    def read() -> T:
        with connect(settings.read_url) as conn:
            return body(conn)

    try:
        return retrying(read)
    except FilterError as err:
        raise invalid(err) from err
    except AuditUnavailable as err:
        raise HTTPException(503, detail=str(err)) from err


def invalid(err: FilterError, where: str = "query") -> HTTPException:
    """FastAPI's own 422 shape, naming the parameter."""
    return HTTPException(
        422, detail=[{"loc": [where, err.field], "msg": err.message, "type": "value_error"}]
    )


def guard(call: Callable[[], T], where: str = "query") -> T:
    """Parameter parsing outside a query: FilterError becomes 422."""
    try:
        return call()
    except FilterError as err:
        raise invalid(err, where) from err


def csv_response(name: str, columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> Response:
    """A CSV download."""
    return Response(
        to_csv(columns, rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


def listing(
    name: str, page: Page, fmt: str, limit: int | None = None, offset: int = 0
) -> Response | dict[str, Any]:
    """A list as JSON {items, total, limit, offset} or as CSV."""
    if fmt == "csv":
        return csv_response(name, page.columns, page.rows)
    return {"items": page.rows, "total": page.total, "limit": limit, "offset": offset}


async def on_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """The database went away mid-request."""
    return problem(request, 503, str(exc))
