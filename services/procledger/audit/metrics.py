"""Every Prometheus metric of the audit API, defined once: HTTP traffic and verification."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Gauge

from procledger.audit.verify import VerifyReport
from procledger.publishing.http_metrics import HttpMetrics


class AuditMetrics:
    """Requests and durations by route and status, and the last verification's outcome."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.http = HttpMetrics(registry)
        self.last_success = Gauge(
            "procledger_audit_last_verification_success",
            "1 if the last verification found no discrepancy, 0 if it found any or failed",
            registry=registry,
        )
        self.last_timestamp = Gauge(
            "procledger_audit_last_verification_timestamp_seconds",
            "Unix time when the last verification finished",
            registry=registry,
        )
        self.discrepancies = Gauge(
            "procledger_audit_verification_discrepancies",
            "Discrepancies the last verification reported",
            registry=registry,
        )
        self.duration = Gauge(
            "procledger_audit_last_verification_duration_seconds",
            "How long the last verification took",
            registry=registry,
        )

    def record(self, report: VerifyReport, finished_at: float, duration_s: float) -> None:
        """Publish one verification's outcome."""
        self.last_success.set(1 if report.ok else 0)
        self.last_timestamp.set(finished_at)
        self.discrepancies.set(len(report.discrepancies))
        self.duration.set(duration_s)
