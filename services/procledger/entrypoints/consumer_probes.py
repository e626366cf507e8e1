"""The consumer's background probes: the ledger database and Kafka answering, the business
snapshot."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from prometheus_client import CollectorRegistry

from procledger.adapters.kafka.probe import BrokerProbe
from procledger.adapters.postgres.business import PostgresBusinessQueries
from procledger.adapters.postgres.health import PostgresPing
from procledger.ledger.business_metrics import BusinessSnapshot, LedgerBusinessCollector
from procledger.ledger.metrics import ConsumerMetrics
from procledger.probes import OutageLog, Refresher
from procledger.settings import KafkaSettings

log = logging.getLogger("procledger.consume")

# The store is asked every 2 s and counted down after 3 s without an answer; Prometheus
# scrapes every 5 s, so a scrape sees an outage within one interval.
STORE_INTERVAL_S = 2.0
STORE_TIMEOUT_S = 3.0
# The business figures: refreshed every 5 s (what one scrape costs at most), a read bounded
# by its own 3 s statement timeout, and counted failed past 5 s. Their reads scan the orders
# projection, which grows with the ledger: each consumer process spends at most 5 % of the
# time in them (at 520,960 orders a refresh took 5.3 s, back to back, before this bound and
# the one-pass reads), and the snapshot's age says how fresh the figures are.
BUSINESS_INTERVAL_S = 5.0
BUSINESS_TIMEOUT_S = 5.0
BUSINESS_BUSY_SHARE = 0.05
# How often the consumer asks the brokers for metadata on its own (a small request).
KAFKA_PROBE_INTERVAL_S = 5.0


@dataclass
class ConsumerProbes:
    """Started once per consumer process; stopped when it exits."""

    store: Refresher[None]
    business: Refresher[BusinessSnapshot]
    ping: PostgresPing
    queries: PostgresBusinessQueries

    @classmethod
    def start(
        cls, database_url: str, metrics: ConsumerMetrics, registry: CollectorRegistry
    ) -> ConsumerProbes:
        ping = PostgresPing(database_url, "procledger-consumer-probe")
        store = Refresher(
            "store-probe",
            ping,
            interval_s=STORE_INTERVAL_S,
            timeout_s=STORE_TIMEOUT_S,
            outage=OutageLog("PostgreSQL (the ledger database)", log),
        )
        queries = PostgresBusinessQueries(database_url)
        business = Refresher(
            "business-metrics",
            queries,
            interval_s=BUSINESS_INTERVAL_S,
            timeout_s=BUSINESS_TIMEOUT_S,
            busy_share=BUSINESS_BUSY_SHARE,
            outage=OutageLog("ledger projections for the business metrics", log),
        )
        metrics.watch(store)
        registry.register(LedgerBusinessCollector(business))
        probes = cls(store, business, ping, queries)
        store.start()
        business.start()
        return probes

    def stop(self) -> None:
        # A connection still used by a call hung on a frozen server is left to the exit.
        if self.store.stop():
            self.ping.close()
        if self.business.stop():
            self.queries.close()


def watch_kafka(
    kafka: KafkaSettings, topics: list[str], group: str
) -> tuple[OutageLog, BrokerProbe]:
    """The application's own word on Kafka, at start and every minute while it stays out (not
    only kafka-python's connection errors): unreachable, or a topic missing. One outage log
    for the probe, the lag check and the polls: one line each way."""
    outage = OutageLog(f"Kafka at {kafka.bootstrap_servers}", log)
    broker = BrokerProbe(
        kafka,
        topics,
        interval_s=KAFKA_PROBE_INTERVAL_S,
        client_id=f"procledger-consumer-probe-{group}",
        missing_means="this consumer gets nothing from it until it is created",
        outage=outage,
    )
    broker.start()
    return outage, broker
