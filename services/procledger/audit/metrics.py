"""Every Prometheus metric of the audit API, defined once: HTTP traffic and verification."""

from __future__ import annotations

import math

from prometheus_client import CollectorRegistry

from procledger.adapters.postgres.standby import DatabasePosition
from procledger.audit.verify import VerifyReport
from procledger.entrypoints.http.metrics import HttpMetrics
from procledger.metric_factory import MetricFactory
from procledger.probes import Refresher

# The HELP text of each metric, by its name after the prefix.
HELP = {
    "last_verification_success": (
        "1 if the last verification that ran found no discrepancy, 0 if it found any"
    ),
    "last_verification_timestamp_seconds": "Unix time when the last verification that ran finished",
    "verification_discrepancies": "Discrepancies the last verification that ran reported",
    "last_verification_duration_seconds": "How long the last verification that ran took",
    "last_verification_error": (
        "1 if the latest verification attempt could not run (database unreachable), else 0"
    ),
    "verification_errors": (
        "Verification attempts that could not run (database unreachable or refusing)"
    ),
    "database_up": "1 if the audit database answered the service's last probe in time, else 0",
    "database_standby": (
        "1 if the audit queries read a hot standby (AUDIT_READ_DATABASE_URL), 0 the primary"
    ),
    "database_replay_lag_seconds": (
        "How far the standby the audit reads is behind: age of its last replayed commit, "
        "0 once it has replayed all it received (always 0 on the primary)"
    ),
}


class AuditMetrics:
    """Requests and durations by route and status, the last verification's outcome, and
    whether a verification could run at all (a database outage is not a discrepancy)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.http = HttpMetrics(registry)
        m = MetricFactory(registry, "procledger_audit_", HELP)
        self.last_success = m.gauge("last_verification_success")
        self.last_timestamp = m.gauge("last_verification_timestamp_seconds")
        self.discrepancies = m.gauge("verification_discrepancies")
        self.duration = m.gauge("last_verification_duration_seconds")
        self.last_error = m.gauge("last_verification_error")
        self.errors = m.counter("verification_errors")
        self.database_up = m.gauge("database_up")
        self.standby = m.gauge("database_standby")
        self.replay_lag = m.gauge("database_replay_lag_seconds")

    def record(self, report: VerifyReport, finished_at: float, duration_s: float) -> None:
        """Publish one verification's outcome."""
        self.last_success.set(1 if report.ok else 0)
        self.last_timestamp.set(finished_at)
        self.discrepancies.set(len(report.discrepancies))
        self.duration.set(duration_s)
        self.last_error.set(0)

    def record_error(self) -> None:
        """A verification that could not run: the last one that ran keeps its gauges."""
        self.errors.inc()
        self.last_error.set(1)

    def watch(self, database: Refresher[DatabasePosition]) -> None:
        """Read the background probe's last answer at scrape time (no waiting)."""
        self.database_up.set_function(lambda: float(database.state().ok))

        def lag() -> float:
            # NaN until the probe has answered once: unknown is not "no lag".
            position = database.state().value
            return math.nan if position is None else position.replay_lag_s

        def standby() -> float:
            position = database.state().value
            return math.nan if position is None else float(position.standby)

        self.replay_lag.set_function(lag)
        self.standby.set_function(standby)
