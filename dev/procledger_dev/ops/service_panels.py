"""The intake, audit and publish sections of the "Ledger pipeline" dashboard."""

from __future__ import annotations

from procledger_dev.ops.grafana import RATE, Panel, Target, quantiles, row

A = "procledger_audit_"


def _http(service: str, where: str) -> tuple[Panel, ...]:
    """Requests, latency and errors of one HTTP service (its `service` label)."""
    sel = f'service="{service}", {where}'
    return (
        Panel(
            f"{service.capitalize()} requests per second by route and status",
            "timeseries",
            (
                Target(
                    "sum by (route, status) "
                    f"(rate(procledger_http_requests_total{{{sel}}}[{RATE}]))",
                    "{{route}} {{status}}",
                ),
            ),
            unit="reqps",
            width=8,
        ),
        Panel(
            f"{service.capitalize()} latency",
            "timeseries",
            quantiles("procledger_http_request_duration_seconds", (0.5, 0.99), where=sel),
            unit="s",
            width=8,
            description="Time to answer a request, all routes",
        ),
        Panel(
            f"{service.capitalize()} error ratio",
            "timeseries",
            tuple(
                # No 5xx series until a first server error: count 0 until then.
                Target(
                    f'(sum(rate(procledger_http_requests_total{{{sel}, status=~"{pattern}"}}'
                    f"[{RATE}])) or on () vector(0)) / "
                    f"sum(rate(procledger_http_requests_total{{{sel}}}[{RATE}]))",
                    legend,
                )
                for pattern, legend in (("5..", "server errors (5xx)"), ("4..", "refused (4xx)"))
            ),
            unit="percentunit",
            width=8,
            description="Share of requests answered with 5xx (the service failed) and 4xx "
            "(bad input, unknown token)",
        ),
    )


def service_panels(where: str) -> tuple[Panel, ...]:
    """Intake, audit and publishing panels; `where` holds the instance matcher."""
    return (
        row("Intake API"),
        *_http("intake", where),
        row("Audit API"),
        *_http("audit", where),
        Panel(
            "Last verification",
            "stat",
            (Target(f"min({A}last_verification_success{{{where}}})"),),
            width=6,
            height=5,
            thresholds=((None, "red"), (1, "green")),
            description="1: the hash chains and balances verified; 0: a discrepancy or failure",
        ),
        Panel(
            "Discrepancies found",
            "stat",
            (Target(f"max({A}verification_discrepancies{{{where}}})"),),
            width=6,
            height=5,
            thresholds=((None, "green"), (1, "red")),
        ),
        Panel(
            "Since last verification",
            "stat",
            (Target(f"time() - max({A}last_verification_timestamp_seconds{{{where}}})"),),
            unit="s",
            width=6,
            height=5,
            thresholds=((None, "green"), (3600, "orange")),
            description="The VerificationStale alert fires after an hour",
        ),
        Panel(
            "Verification duration",
            "timeseries",
            (
                Target(
                    f"max by (instance) ({A}last_verification_duration_seconds{{{where}}})",
                    "{{instance}}",
                ),
            ),
            unit="s",
            width=6,
            height=5,
        ),
        row("Publishing (intake API and publish CLI)"),
        Panel(
            "Events confirmed by the broker per second",
            "timeseries",
            (
                Target(
                    "sum by (path, event_type) "
                    f"(rate(procledger_publish_events_total{{{where}}}[{RATE}]))",
                    "{{path}} {{event_type}}",
                ),
            ),
            unit="ops",
            width=8,
        ),
        Panel(
            "Publish failures and refused input per second",
            "timeseries",
            (
                # The failure counter has no series until a first failure: draw 0 until then.
                Target(
                    "sum by (path) (rate(procledger_publish_failures_total"
                    f"{{{where}}}[{RATE}])) or on () vector(0)",
                    "not confirmed {{path}}",
                ),
                Target(
                    "sum by (path, reason) "
                    f"(rate(procledger_validation_failures_total{{{where}}}[{RATE}]))",
                    "refused {{path}} {{reason}}",
                ),
            ),
            unit="ops",
            width=8,
            description="Events the broker did not confirm, and input refused before publishing",
        ),
        Panel(
            "Broker confirmation latency",
            "timeseries",
            quantiles("procledger_publish_latency_seconds", (0.5, 0.99), "path", where),
            unit="s",
            width=8,
            description="One intake request or one CLI window, until every event is confirmed",
        ),
    )
