"""The consumer's metrics page, read through a private registry: names, types, labels, values."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from procledger.adapters.postgres.business import snapshot_from_rows
from procledger.domain.events import EVENT_TYPES
from procledger.ledger.business_metrics import BusinessSnapshot, LedgerBusinessCollector
from procledger.ledger.loop import LedgerConsumer
from procledger.ledger.metrics import ConsumerMetrics
from procledger.ledger.ports import KafkaRecord, Position, SourceUnavailable, TopicPartition
from procledger.probes import Refresher

# name -> (type, label names) as a scraper sees them (counters without the _total suffix).
EXPECTED: dict[str, tuple[str, set[str]]] = {
    "procledger_consumer_events_consumed": ("counter", {"topic"}),
    "procledger_consumer_events_applied": ("counter", {"event_type"}),
    "procledger_consumer_events_rejected": ("counter", {"event_type", "reason"}),
    "procledger_consumer_events_redelivered": ("counter", {"event_type"}),
    "procledger_consumer_dlq_forwarded": ("counter", set()),
    "procledger_consumer_dlq_forward_failures": ("counter", set()),
    "procledger_consumer_dlq_pending": ("gauge", set()),
    "procledger_consumer_batch_size_records": ("histogram", set()),
    "procledger_consumer_batch_duration_seconds": ("histogram", set()),
    "procledger_consumer_db_commit_duration_seconds": ("histogram", set()),
    "procledger_consumer_end_to_end_latency_seconds": ("histogram", set()),
    "procledger_consumer_lag_messages": ("gauge", {"topic", "partition"}),
    "procledger_consumer_lag_seconds": ("gauge", {"topic", "partition"}),
    "procledger_consumer_committed_offset": ("gauge", {"topic", "partition"}),
    "procledger_consumer_assigned_partitions": ("gauge", set()),
    "procledger_consumer_rebalances": ("counter", set()),
    "procledger_consumer_retries": ("counter", {"kind"}),
    "procledger_consumer_fenced_batches": ("counter", set()),
    "procledger_consumer_start_time_seconds": ("gauge", set()),
    "procledger_consumer_last_batch_time_seconds": ("gauge", set()),
    "procledger_consumer_store_up": ("gauge", set()),
    "procledger_consumer_kafka_up": ("gauge", set()),
}


def scrape(registry: CollectorRegistry) -> dict[str, Any]:
    """Parse the exposition text, as Prometheus would."""
    text = generate_latest(registry).decode()
    # The text parser reads each counter's and histogram's _created sample as its own gauge.
    return {
        family.name: family
        for family in text_string_to_metric_families(text)
        if not family.name.endswith("_created")
    }


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    value = registry.get_sample_value(name, labels)
    return value


def test_every_metric_has_its_type_and_labels() -> None:
    registry = CollectorRegistry()
    metrics = ConsumerMetrics(registry, event_types=EVENT_TYPES)
    # Labelled series appear on first use; use each so the page shows its label names.
    metrics.consumed.labels("t").inc()
    metrics.rejected.labels("OrderPlaced", "UNKNOWN_ORDER").inc()
    for gauge in (metrics.lag_messages, metrics.lag_seconds, metrics.committed_offset):
        gauge.labels("t", "0").set(1)
    families = scrape(registry)
    assert set(families) == set(EXPECTED)
    for name, (kind, labels) in EXPECTED.items():
        family = families[name]
        assert family.type == kind, name
        assert family.documentation, name
        seen = {k for s in family.samples for k in s.labels if k not in {"le"}}
        assert seen == labels, name


def test_counters_and_histograms_use_the_conventional_suffixes() -> None:
    registry = CollectorRegistry()
    ConsumerMetrics(registry)
    text = generate_latest(registry).decode()
    assert "procledger_consumer_rebalances_total 0.0" in text
    assert "procledger_consumer_end_to_end_latency_seconds_bucket{le=" in text
    for name, (kind, _) in EXPECTED.items():
        if kind == "histogram":
            assert name.endswith(("_seconds", "_records")), name


def test_known_label_values_start_at_zero() -> None:
    registry = CollectorRegistry()
    ConsumerMetrics(registry, event_types=EVENT_TYPES)
    for event_type in EVENT_TYPES:
        assert (
            sample(registry, "procledger_consumer_events_applied_total", event_type=event_type) == 0
        )
        assert (
            sample(registry, "procledger_consumer_events_redelivered_total", event_type=event_type)
            == 0
        )
    for kind in ("unavailable", "conflict"):
        assert sample(registry, "procledger_consumer_retries_total", kind=kind) == 0
    start = sample(registry, "procledger_consumer_start_time_seconds")
    assert start is not None and start > 1.6e9


# --- lag, through the real consumer loop with in-memory ports ------------------------------


class FakeSource:
    def __init__(self, ends: dict[TopicPartition, int]) -> None:
        self.ends = ends

    def poll(self, timeout_s: float, max_records: int) -> list[KafkaRecord]:
        return []

    def assigned(self) -> set[TopicPartition]:
        return set(self.ends)

    def take_new_assignments(self) -> set[TopicPartition]:
        return set()

    def seek(self, partition: TopicPartition, offset: int) -> None:
        raise AssertionError("no seek expected")

    def commit(self, offsets: Mapping[TopicPartition, int]) -> None:
        raise AssertionError("no commit expected")

    def end_offsets(self) -> dict[TopicPartition, int]:
        return dict(self.ends)

    def close(self) -> None:
        pass


class FakeStore:
    def __init__(self, positions: dict[TopicPartition, int]) -> None:
        self.next = positions

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        raise AssertionError("no transaction expected")
        yield

    def positions(self) -> dict[TopicPartition, Position]:
        return {tp: Position(offset, bytes(32)) for tp, offset in self.next.items()}


A: TopicPartition = ("orders", 0)
B: TopicPartition = ("orders", 1)


def lag_consumer(
    source: FakeSource, store: FakeStore, heads: dict[TopicPartition, float], asked: list[Any]
) -> tuple[LedgerConsumer, CollectorRegistry]:
    registry = CollectorRegistry()

    def head_timestamps(offsets: Mapping[TopicPartition, int]) -> Mapping[TopicPartition, float]:
        asked.append(dict(offsets))
        return {tp: heads[tp] for tp in offsets if tp in heads}

    consumer = LedgerConsumer(
        source, store, None, ConsumerMetrics(registry),
        head_timestamps=head_timestamps,
    )  # fmt: skip
    return consumer, registry


def test_lag_in_messages_and_seconds_per_partition() -> None:
    source = FakeSource({A: 10, B: 7})
    store = FakeStore({A: 4, B: 7})
    asked: list[Any] = []
    published = time.time() - 120
    consumer, registry = lag_consumer(source, store, {A: published}, asked)
    consumer.step(threading.Event())
    assert asked == [{A: 4}], "only lagging partitions, at the ledger's next offset"
    labels_a = {"topic": "orders", "partition": "0"}
    labels_b = {"topic": "orders", "partition": "1"}
    assert sample(registry, "procledger_consumer_lag_messages", **labels_a) == 6
    assert sample(registry, "procledger_consumer_lag_messages", **labels_b) == 0
    assert sample(registry, "procledger_consumer_committed_offset", **labels_a) == 4
    age = sample(registry, "procledger_consumer_lag_seconds", **labels_a)
    assert age is not None and 120 <= age < 120 + 60
    assert sample(registry, "procledger_consumer_lag_seconds", **labels_b) == 0
    assert sample(registry, "procledger_consumer_assigned_partitions") == 2


def test_revoked_partitions_leave_the_page() -> None:
    source = FakeSource({A: 3, B: 3})
    store = FakeStore({A: 3, B: 3})
    consumer, registry = lag_consumer(source, store, {}, [])
    consumer.step(threading.Event())
    source.ends = {A: 3}
    consumer._last_lag = 0.0  # next step measures lag again instead of waiting 5 s
    consumer.step(threading.Event())
    gone = {"topic": "orders", "partition": "1"}
    for name in ("lag_messages", "lag_seconds", "committed_offset"):
        assert sample(registry, f"procledger_consumer_{name}", **gone) is None
    assert sample(registry, "procledger_consumer_assigned_partitions") == 1


def test_lag_seconds_survives_an_unreadable_head() -> None:
    source = FakeSource({A: 10})
    store = FakeStore({A: 4})
    consumer, registry = lag_consumer(source, store, {}, [])
    consumer.step(threading.Event())
    labels = {"topic": "orders", "partition": "0"}
    assert sample(registry, "procledger_consumer_lag_messages", **labels) == 6
    # Unknown age is left out rather than reported as 0 (which would read "caught up").
    assert sample(registry, "procledger_consumer_lag_seconds", **labels) is None


class SilentBroker(FakeSource):
    """end_offsets times out while `down`, as kafka-python does with the brokers frozen."""

    down = False

    def end_offsets(self) -> dict[TopicPartition, int]:
        if self.down:
            raise TimeoutError("Failed to get offsets by timestamps in 5.0 secs")
        return super().end_offsets()


def test_kafka_outage_is_exported_and_logged_once_each_way(
    caplog: pytest.LogCaptureFixture,
) -> None:
    source = SilentBroker({A: 3})
    consumer, registry = lag_consumer(source, FakeStore({A: 3}), {}, [])
    caplog.set_level("INFO", logger="procledger.ledger.loop")
    consumer.step(threading.Event())
    assert sample(registry, "procledger_consumer_kafka_up") == 1
    source.down = True
    for _ in range(3):
        consumer._last_lag = 0.0  # measure again now instead of in 5 s
        consumer.step(threading.Event())
    assert sample(registry, "procledger_consumer_kafka_up") == 0
    source.down = False
    consumer._last_lag = 0.0
    consumer.step(threading.Event())
    assert sample(registry, "procledger_consumer_kafka_up") == 1
    lines = [r.getMessage() for r in caplog.records if "Kafka" in r.getMessage()]
    assert len(lines) == 2, lines
    assert (
        lines[0]
        == "Kafka unreachable: TimeoutError: Failed to get offsets by timestamps in 5.0 secs"
    )
    assert lines[1].startswith("Kafka reachable again after ")


class RestartingBroker(FakeSource):
    """poll() raises while `down`, as kafka-python 3.0.12 does while a broker restarts."""

    down = False

    def poll(self, timeout_s: float, max_records: int) -> list[KafkaRecord]:
        if self.down:
            raise SourceUnavailable("KafkaConnectionError: 111 ECONNREFUSED")
        return []


def test_a_poll_that_cannot_reach_kafka_is_ridden_out_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Before the fix the error left the loop, and the consumer process exited."""
    source = RestartingBroker({A: 3})
    consumer, registry = lag_consumer(source, FakeStore({A: 3}), {}, [])
    caplog.set_level("INFO", logger="procledger.consumer.service")
    consumer.step(threading.Event())
    source.down = True
    for _ in range(3):
        assert consumer.step(threading.Event()) == 0
    assert sample(registry, "procledger_consumer_kafka_up") == 0
    assert sample(registry, "procledger_consumer_retries_total", kind="kafka") == 3
    source.down = False
    consumer._last_lag = 0.0  # the lag check (Kafka answers) now, not in 5 s
    consumer.step(threading.Event())
    assert sample(registry, "procledger_consumer_kafka_up") == 1
    lines = [r.getMessage() for r in caplog.records if "Kafka" in r.getMessage()]
    assert lines[0] == "Kafka unreachable: KafkaConnectionError: 111 ECONNREFUSED", lines
    assert len(lines) == 2 and lines[1].startswith("Kafka reachable again after "), lines


# --- the business collector ----------------------------------------------------------------

SNAPSHOT = snapshot_from_rows(
    buyers=[("DEU", 155, 500.0, 10, 4), ("DEU", None, 50.0, 1, 1)],
    stockpile=[("DEU", 155, 100, 40), ("POL", 155, 10, 30)],
    ytd=(1686873600.0, 1e9),
    months=[("2023-05", 155, 300.0), ("2023-06", 155, 200.0), ("2023-06", None, 50.0)],
    checkpoint=(1796300000.0,),
)


def refreshed(fetch: Callable[[], BusinessSnapshot]) -> Refresher[BusinessSnapshot]:
    """A refresher that has made one attempt (no background thread)."""
    refresher = Refresher("business-test", fetch, interval_s=5.0, timeout_s=1.0)
    refresher.refresh_once()
    return refresher


def collector_registry(refresher: Refresher[BusinessSnapshot]) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(LedgerBusinessCollector(refresher))
    return registry


def test_business_collector_reports_the_projections() -> None:
    registry = collector_registry(refreshed(lambda: SNAPSHOT))
    families = scrape(registry)
    assert {f.type for n, f in families.items() if n.startswith("procledger_ledger_")} == {"gauge"}
    get = registry.get_sample_value
    deu155 = {"buyer": "DEU", "caliber_mm": "155"}
    assert get("procledger_ledger_committed_value_usd", deu155) == 500
    assert get("procledger_ledger_committed_quantity", deu155) == 10
    assert get("procledger_ledger_delivered_quantity", deu155) == 4
    assert (
        get("procledger_ledger_committed_value_usd", {"buyer": "DEU", "caliber_mm": "none"}) == 50
    )
    deu = {"country": "DEU", "caliber_mm": "155"}
    pol = {"country": "POL", "caliber_mm": "155"}
    assert get("procledger_ledger_stockpile_target_quantity", deu) == 100
    assert get("procledger_ledger_stockpile_holdings_quantity", deu) == 40
    assert get("procledger_ledger_stockpile_gap_quantity", deu) == 60
    assert get("procledger_ledger_stockpile_gap_quantity", pol) == 0, "floored at zero"
    assert get("procledger_ledger_ordered_value_155mm_ytd_usd") == 1e9
    assert get("procledger_ledger_ordered_value_155mm_ytd_as_of_seconds") == 1686873600.0
    assert get("procledger_ledger_checkpoint_sealed_timestamp_seconds") == 1796300000.0
    assert get("procledger_ledger_projection_scrape_success") == 1
    by_month = "procledger_ledger_committed_value_by_month_usd"
    assert get(by_month, {"month": "2023-05", "caliber_mm": "155"}) == 300
    assert get(by_month, {"month": "2023-06", "caliber_mm": "155"}) == 200
    assert get(by_month, {"month": "2023-06", "caliber_mm": "none"}) == 50
    age = get("procledger_ledger_projection_snapshot_age_seconds")
    assert age is not None and 0 <= age < 60
    label_names = {
        k for n, f in families.items() for s in f.samples for k in s.labels
        if n.startswith("procledger_ledger_")
    }  # fmt: skip
    assert label_names == {"buyer", "caliber_mm", "country", "month"}, "bounded labels only"


def test_a_scrape_reads_the_snapshot_and_never_queries() -> None:
    calls: list[int] = []

    def fetch() -> BusinessSnapshot:
        calls.append(1)
        return SNAPSHOT

    registry = collector_registry(refreshed(fetch))
    for _ in range(3):
        generate_latest(registry)
    assert calls == [1], "only the refresher reads the projections"


def test_business_collector_reports_failure_without_stale_values() -> None:
    answers: list[BusinessSnapshot | Exception] = [SNAPSHOT, ConnectionError("database down")]

    def fetch() -> BusinessSnapshot:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    refresher = refreshed(fetch)
    refresher.refresh_once()  # the second read fails
    registry = collector_registry(refresher)
    families = scrape(registry)
    assert registry.get_sample_value("procledger_ledger_projection_scrape_success") == 0
    assert "procledger_ledger_committed_value_usd" not in families
    # The age of the last good snapshot stays on the page: how long the figures are missing.
    assert (
        registry.get_sample_value("procledger_ledger_projection_snapshot_age_seconds") is not None
    )


def test_a_hung_read_does_not_hold_the_scrape() -> None:
    """A frozen PostgreSQL never answers: the scrape answers at once and reports a failure."""
    release = threading.Event()
    answers = iter([SNAPSHOT])

    def fetch() -> BusinessSnapshot:
        value = next(answers, None)
        if value is None:
            release.wait(30)  # hung until the test ends it
            raise ConnectionError("server closed the connection")
        return value

    refresher = Refresher("business-test", fetch, interval_s=5.0, timeout_s=0.2)
    refresher.refresh_once()
    refresher.refresh_once()  # waits 0.2 s, then records the missing answer
    registry = collector_registry(refresher)
    try:
        assert registry.get_sample_value("procledger_ledger_projection_scrape_success") == 0
        assert "procledger_ledger_committed_value_usd" not in scrape(registry)
        assert "no answer within" in (refresher.state().error or "")
    finally:
        release.set()


def test_registering_the_collector_does_not_query() -> None:
    def fetch() -> BusinessSnapshot:
        pytest.fail("describe() must not read the database")

    refresher = Refresher("business-test", fetch, interval_s=5.0, timeout_s=1.0)
    CollectorRegistry().register(LedgerBusinessCollector(refresher))


def test_empty_ledger_reports_zero_year_to_date_without_an_as_of() -> None:
    empty = snapshot_from_rows([], [], (None, 0))
    registry = collector_registry(refreshed(lambda: empty))
    assert registry.get_sample_value("procledger_ledger_ordered_value_155mm_ytd_usd") == 0
    assert (
        registry.get_sample_value("procledger_ledger_ordered_value_155mm_ytd_as_of_seconds") is None
    )
    sealed = "procledger_ledger_checkpoint_sealed_timestamp_seconds"
    assert registry.get_sample_value(sealed) is None, "no checkpoint built: no sample"
