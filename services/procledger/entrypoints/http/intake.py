"""The intake API: POST /v1/events validates a request's events, then publishes all of them."""

from __future__ import annotations

import time
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request, status
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from procledger.codec.errors import InvalidEventData
from procledger.codec.textformats import UNKNOWN_TYPE, event_from_json_dict, strict_json_loads
from procledger.domain.events import Event, event_type
from procledger.entrypoints.http.auth import Role, require_role
from procledger.entrypoints.http.intake_schema import Accepted, AcceptedEvent, Outcome, request_body
from procledger.entrypoints.http.metrics import HttpMetrics, install_http_metrics
from procledger.entrypoints.http.problems import Problem, install_problems, problem, summary
from procledger.publishing.intake_publish import (
    RETRY_AFTER_S,
    BrokerWatch,
    EventPublisher,
    IntakePublishing,
    Unavailable,
)
from procledger.publishing.metrics import PublishMetrics, reason_label
from procledger.publishing.status import (
    StatusReader,
    StatusUnavailable,
    statuses,
    wait_for,
)
from procledger.settings.publishing import IntakeSettings

PATH = "intake"
SERVICE = "intake"
Loc = tuple[str | int, ...]


class _Invalid(Exception):
    """The request's problems: (location, message) each; nothing is published."""

    def __init__(self, problems: list[tuple[Loc, str]]) -> None:
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems


def _parse(body: bytes) -> object:
    if not body.strip():
        raise _Invalid([(("body",), "invalid JSON: the body is empty")])
    try:
        return strict_json_loads(body)
    except (ValueError, RecursionError) as err:
        # ValueError covers JSONDecodeError and UnicodeDecodeError; RecursionError deep nesting.
        reason = "nested too deeply" if isinstance(err, RecursionError) else str(err)
        raise _Invalid([(("body",), f"invalid JSON: {reason}")]) from None


def _event(item: object, loc: Loc) -> Event | list[tuple[Loc, str]]:
    if not isinstance(item, dict):
        return [(loc, "must be a JSON object")]
    data = dict(item)
    if "type" not in data:
        return [((*loc, "type"), "required field is missing")]
    kind = data.pop("type")
    if not isinstance(kind, str):
        return [((*loc, "type"), UNKNOWN_TYPE)]
    try:
        return event_from_json_dict(kind, data)
    except InvalidEventData as err:
        return [((*loc, e.field), e.reason) for e in err.errors]


def events_of(document: object, max_batch: int) -> list[Event]:
    """The request's events, all valid, or _Invalid naming every problem by index and field."""
    if not isinstance(document, dict):
        raise _Invalid([(("body",), 'must be a JSON object: one event or {"events": [...]}')])
    if "type" in document or "events" not in document:
        built = _event(document, ("body",))
        if isinstance(built, list):
            raise _Invalid(built)
        return [built]
    problems: list[tuple[Loc, str]] = [
        (("body", key), "unknown field") for key in document if key != "events"
    ]
    items = document["events"]
    if not isinstance(items, list) or not items:
        raise _Invalid([*problems, (("body", "events"), "must be a non-empty JSON array")])
    if len(items) > max_batch:
        reason = f"too many events: at most {max_batch} per request, got {len(items)}"
        raise _Invalid([*problems, (("body", "events"), reason)])
    events: list[Event] = []
    for index, item in enumerate(items):
        built = _event(item, ("body", "events", index))
        if isinstance(built, list):
            problems += built
        else:
            events.append(built)
    if problems:
        raise _Invalid(problems)
    return events


def _too_large(limit: int) -> HTTPException:
    return HTTPException(
        status.HTTP_413_CONTENT_TOO_LARGE,
        detail=f"request body is larger than {limit} bytes (INTAKE_MAX_BODY_BYTES)",
    )


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refused as soon as it passes `limit` bytes (declared or actually sent)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _too_large(limit)
    return bytes(body)


def _json_content(request: Request) -> bool:
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def _outcomes(found: list[Any]) -> list[Outcome]:
    return [Outcome.model_validate(s.to_json()) for s in found]


def create_app(
    settings: IntakeSettings,
    publisher: EventPublisher,
    registry: CollectorRegistry,
    status_reader: StatusReader,
    watch: BrokerWatch | None = None,
) -> FastAPI:
    """The intake API over `publisher` and the ledger's `status_reader`; metrics to `registry`.

    `watch` (a BrokerProbe) answers /readyz and refuses events for a missing topic at once;
    `app.state.publishing.stop()` cuts the waits in flight short when the process stops.
    """
    app = FastAPI(
        title="procledger intake API",
        version="1",
        description="Publish procurement order events to the ledger's Kafka topics.",
    )
    metrics = PublishMetrics(registry)
    publishing = IntakePublishing(publisher, settings.topics, settings.publish_timeout_s, watch)
    app.state.publishing = publishing
    install_http_metrics(app, HttpMetrics(registry), SERVICE)
    install_problems(app)
    intake_role = require_role(settings.tokens, Role.INTAKE)
    errors: dict[int | str, dict[str, Any]] = {
        401: {"model": Problem, "description": "no bearer token, or an unknown one"},
        403: {"model": Problem, "description": "the token's role is not intake"},
        413: {"model": Problem, "description": "body over INTAKE_MAX_BODY_BYTES"},
        415: {"model": Problem, "description": "Content-Type is not application/json"},
        422: {"model": Problem, "description": "invalid events (see errors); none was published"},
        503: {
            "model": Problem,
            "description": "Kafka did not confirm in time, or a topic is missing; send the "
            "same request again after Retry-After (re-sending is safe)",
        },
    }
    max_wait = float(settings.max_wait_s)

    def refuse(request: Request, problems: list[tuple[Loc, str]]) -> JSONResponse:
        errors: list[dict[str, Any]] = []
        for loc, reason in problems:
            label = reason_label(reason)
            metrics.validation_failures.labels(path=PATH, reason=label).inc()
            errors.append({"loc": list(loc), "msg": reason, "type": label})
        return problem(request, 422, summary(errors), errors)

    def unavailable(err: StatusUnavailable) -> HTTPException:
        return HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=str(err))

    @app.post(
        "/v1/events",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=Accepted,
        responses=errors,
        openapi_extra={"requestBody": request_body(settings.max_batch)},
        summary="Publish one event or a batch; all are validated before any is published",
        # A dependency of the route, not a parameter: it runs before the body is read.
        dependencies=[Depends(intake_role)],
    )
    async def post_events(
        request: Request,
        wait: float | None = Query(
            None,
            ge=0,
            le=max_wait,
            description="seconds to wait for the ledger to fold the events (at most "
            "INTAKE_MAX_WAIT_S); the response then carries each event's outcome",
        ),
    ) -> Accepted | JSONResponse:
        if not _json_content(request):
            raise HTTPException(
                status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
                detail="Content-Type must be application/json",
            )
        body = await _read_body(request, settings.max_body_bytes)
        try:
            events = events_of(_parse(body), settings.max_batch)
        except _Invalid as invalid:
            return refuse(request, invalid.problems)
        started = time.perf_counter()
        try:
            confirmed = await publishing.publish(events)
        except Unavailable as err:
            for event in events:
                metrics.failures.labels(event_type=event_type(event), path=PATH).inc()
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE,
                detail=str(err),
                headers={"Retry-After": str(RETRY_AFTER_S)},
            ) from err
        metrics.latency.labels(path=PATH).observe(time.perf_counter() - started)
        for event in events:
            metrics.published.labels(event_type=event_type(event), path=PATH).inc()
        accepted = [
            AcceptedEvent(
                event_id=p.event_id,
                event_type=p.event_type,
                topic=p.topic,
                partition=p.partition,
                offset=p.offset,
            )
            for p in confirmed
        ]
        if wait is None:
            return Accepted(accepted=accepted)
        ids = [p.event_id for p in confirmed]
        try:
            found = await run_in_threadpool(wait_for, status_reader, ids, wait)
        except StatusUnavailable as err:
            raise unavailable(err) from err
        return Accepted(accepted=accepted, outcomes=_outcomes(found))

    @app.get(
        "/v1/events/{event_id}",
        response_model=Outcome,
        responses={k: v for k, v in errors.items() if k in (401, 403, 422, 503)},
        summary="What the ledger made of an event: applied, rejected or unknown",
        dependencies=[Depends(intake_role)],
    )
    async def event_status(
        event_id: str = PathParam(min_length=1, max_length=200),
    ) -> Outcome:
        try:
            found = await run_in_threadpool(statuses, status_reader, [event_id])
        except StatusUnavailable as err:
            raise unavailable(err) from err
        return _outcomes(found)[0]

    @app.get("/healthz", summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        summary="Readiness: Kafka answers and every topic exists",
        responses={503: {"model": Problem, "description": "Kafka unreachable or a topic missing"}},
    )
    async def readyz(request: Request) -> JSONResponse:
        not_ready = publishing.readiness()
        if not_ready is None:
            return JSONResponse({"status": "ready"})
        return problem(request, 503, not_ready, headers={"Retry-After": str(RETRY_AFTER_S)})

    @app.get(
        "/metrics",
        summary="Prometheus metrics",
        response_class=PlainTextResponse,
        responses={200: {"content": {CONTENT_TYPE_LATEST.split(";")[0]: {}}}},
    )
    async def prometheus_metrics() -> PlainTextResponse:
        return PlainTextResponse(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app
