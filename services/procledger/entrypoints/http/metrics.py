"""Reusable HTTP metrics middleware for the FastAPI services (intake, audit)."""

from __future__ import annotations

import time

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from procledger.publishing.metrics import HttpMetrics

__all__ = ["HttpMetrics", "install_http_metrics"]

# Requests that matched no route share one label, so scanners cannot grow the series count.
UNMATCHED = "unmatched"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


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
