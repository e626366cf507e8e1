"""Reusable HTTP metrics middleware for the FastAPI services (intake, audit)."""

from __future__ import annotations

import time

from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from procledger.metric_factory import MetricFactory

# Requests that matched no route share one label, so scanners cannot grow the series count.
UNMATCHED = "unmatched"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


# The HELP text of each metric, by its name after the prefix.
HELP = {
    "requests": "HTTP requests answered, by route template and status",
    "request_duration_seconds": "Time to answer an HTTP request",
}


class HttpMetrics:
    """HTTP requests and durations per service and route template (never the raw path)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        m = MetricFactory(registry, "procledger_http_", HELP)
        self.requests = m.counter("requests", ("service", "route", "method", "status"))
        self.duration = m.histogram(
            "request_duration_seconds", ("service", "route", "method"), buckets=HTTP_BUCKETS
        )


class _HttpMetricsMiddleware:
    """Pure ASGI middleware: times each HTTP request and labels it by its route template."""

    def __init__(self, app: ASGIApp, metrics: HttpMetrics, service: str) -> None:
        self.app = app
        self.metrics = metrics
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            # The router writes the matched route into this same scope dict.
            route = scope.get("route")
            template = getattr(route, "path", None)
            label = template if isinstance(template, str) else UNMATCHED
            method = scope.get("method", "")
            method = method if method in _METHODS else "OTHER"
            self.metrics.requests.labels(self.service, label, method, str(status)).inc()
            self.metrics.duration.labels(self.service, label, method).observe(
                time.perf_counter() - started
            )


def install_http_metrics(app: FastAPI, metrics: HttpMetrics, service: str) -> None:
    """Count and time every HTTP request of `app` under service=`service`."""
    app.add_middleware(_HttpMetricsMiddleware, metrics=metrics, service=service)
