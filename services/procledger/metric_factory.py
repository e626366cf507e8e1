"""Prometheus metrics made on one registry under one name prefix: the services' metric kit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class MetricFactory:
    """Counters, gauges and histograms on `registry`, named `prefix` + name and documented by
    `help_texts[name]`, so a service's metrics module keeps its help texts in one table and
    each definition states only its name, labels and buckets."""

    def __init__(
        self, registry: CollectorRegistry, prefix: str, help_texts: Mapping[str, str]
    ) -> None:
        self.registry = registry
        self.prefix = prefix
        self.help_texts = help_texts

    def counter(self, name: str, labels: Sequence[str] = ()) -> Counter:
        """A counter (prometheus_client adds the `_total` suffix)."""
        return Counter(self.prefix + name, self.help_texts[name], labels, registry=self.registry)

    def gauge(self, name: str, labels: Sequence[str] = ()) -> Gauge:
        """A gauge."""
        return Gauge(self.prefix + name, self.help_texts[name], labels, registry=self.registry)

    def histogram(
        self, name: str, labels: Sequence[str] = (), *, buckets: Sequence[float]
    ) -> Histogram:
        """A histogram with the given bucket bounds."""
        return Histogram(
            self.prefix + name,
            self.help_texts[name],
            labels,
            buckets=buckets,
            registry=self.registry,
        )
