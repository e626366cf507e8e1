"""Every producer-path Prometheus metric (publish CLI, scenario, intake API), defined once."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from procledger.metric_factory import MetricFactory

# Broker confirmation of one intake request or one CLI window: 1 ms up to 2 minutes.
PUBLISH_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
                   60, 120)  # fmt: skip

# The bounded values of the `reason` label; anything else is counted as invalid_value.
REASONS = (
    "missing_field",
    "unknown_field",
    "unknown_type",
    "invalid_type",
    "invalid_value",
    "invalid_json",
    "invalid_csv",
    "invalid_encoding",
    "too_large",
    "too_many_events",
)

# Codec and validation reasons (prefix match) mapped to the bounded label set above.
_REASON_PREFIXES = (
    ("required field is missing", "missing_field"),
    ("required column is missing", "missing_field"),
    ("must not be null or empty", "missing_field"),
    ("unknown field", "unknown_field"),
    ("unknown column", "unknown_field"),
    ("duplicate column", "invalid_csv"),
    ("unknown event type", "unknown_type"),
    ("invalid JSON", "invalid_json"),
    ("must be a JSON object", "invalid_json"),
    ("invalid CSV", "invalid_csv"),
    ("expected ", "invalid_csv"),
    ("not valid UTF-8", "invalid_encoding"),
    ("line is longer than", "too_large"),
    ("too many events", "too_many_events"),
    ("must be a string", "invalid_type"),
    ("must be an integer", "invalid_type"),
    ("must be an ISO-8601 timestamp string", "invalid_type"),
    ("decimal must be a string", "invalid_type"),
)


def reason_label(reason: str) -> str:
    """The bounded `reason` label for a validation message (never the message itself)."""
    for prefix, label in _REASON_PREFIXES:
        if reason.startswith(prefix):
            return label
    return "invalid_value"


# The HELP text of each metric, by its name after the prefix.
HELP = {
    "publish_events": "Events the broker confirmed, by event type and path",
    "publish_failures": "Events the broker did not confirm, by event type and path",
    "publish_latency_seconds": (
        "Time until the broker confirmed one intake request or one CLI window of events"
    ),
    "validation_failures": "Input problems that stopped a publish, by bounded reason",
}


class PublishMetrics:
    """Events published, failed and refused, and confirmation latency; `path` is cli|intake."""

    def __init__(self, registry: CollectorRegistry) -> None:
        m = MetricFactory(registry, "procledger_", HELP)
        self.published = m.counter("publish_events", ("event_type", "path"))
        self.failures = m.counter("publish_failures", ("event_type", "path"))
        self.latency = m.histogram("publish_latency_seconds", ("path",), buckets=PUBLISH_BUCKETS)
        self.validation_failures = m.counter("validation_failures", ("path", "reason"))

    def refused(self, path: str, reason: str) -> None:
        """Count one validation problem, given its message (mapped to a bounded label)."""
        self.validation_failures.labels(path=path, reason=reason_label(reason)).inc()
