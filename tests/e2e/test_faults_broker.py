"""Broker faults: the single broker restarted mid-stream; a 3-node cluster losing leaders."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType

from procledger.scenario.synthetic import SyntheticOracle, synthetic_events
from procledger_dev.chaos.fleet import ConsumerFleet
from procledger_dev.chaos.load import PublisherThread, slices
from procledger_dev.chaos.oracle import Expected
from procledger_dev.chaos.report import ScenarioFigures
from procledger_dev.chaos.stacks import ChaosStack

from .conftest import (
    CLUSTER_PORT,
    FULL,
    _private_root,
    ledger_env,
    oracle_discrepancies,
    published_records,
    scenario,
)

pytestmark = pytest.mark.chaos

Record = Callable[[ScenarioFigures], None]


@pytest.fixture(scope="module")
def cluster(chaos_stack: ChaosStack) -> Iterator[ChaosStack]:
    """Three KRaft nodes (replication 3, min.insync.replicas 2); stopped after this module."""
    root = _private_root("procledger-cluster-")
    stack = ChaosStack.create(
        root, kafka_port=CLUSTER_PORT, pg_port=chaos_stack.cfg.pg_port,
        cache_dir=chaos_stack.cfg.cache_dir, brokers=3,
    )  # fmt: skip
    try:
        stack.up(postgres=False)  # the ledger's database lives on the chaos stack
        yield stack
    finally:
        stack.down()
        shutil.rmtree(root, ignore_errors=True)


def test_single_broker_restarts_mid_stream(
    chaos_stack: ChaosStack, tmp_path: Path, record: Record
) -> None:
    n, restarts = (100_000, 6) if FULL else (8_000, 2)
    started = time.monotonic()
    ledger = ledger_env(chaos_stack)
    oracle = SyntheticOracle()
    events = list(synthetic_events(n, seed=404, invalid_ratio=0.02, oracle=oracle))
    fleet = ConsumerFleet(ledger.env, tmp_path / "logs", seed=404)
    publisher = PublisherThread(ledger.kafka, ledger.topics, events, chunks=4 * restarts)
    fleet.start()
    publisher.start()
    before = chaos_stack.faults.broker_restarts
    for i in range(1, restarts + 1):
        ledger.wait_applied(n * i // (restarts + 2), timeout=600)
        # Alternate a clean shutdown with a SIGKILL; the publisher keeps sending throughout.
        chaos_stack.restart_broker(1, down_s=fleet.delay(1.0, 4.0), hard=i % 2 == 0)
        assert fleet.vanished() == {}, f"the consumer ended during broker restart {i}"
    publisher.finish()
    found = oracle_discrepancies(ledger, Expected.from_synthetic(oracle))
    codes = fleet.stop_all()
    record(scenario(
        "single broker restarted mid-stream", events=published_records(ledger),
        consumers_started=fleet.counts.started, rebalances=fleet.rebalances,
        broker_restarts=chaos_stack.faults.broker_restarts - before,
        discrepancies=len(found), seconds=time.monotonic() - started,
    ))  # fmt: skip
    assert found == []
    # The consumer survived every restart: the one process started is the one stopped.
    assert fleet.counts.started == 1
    assert set(codes.values()) == {0}


def test_cluster_partition_leaders_killed_mid_stream(
    chaos_stack: ChaosStack, cluster: ChaosStack, tmp_path: Path, record: Record
) -> None:
    n, kills = (100_000, 4) if FULL else (8_000, 1)
    started = time.monotonic()
    ledger = ledger_env(chaos_stack, cluster.bootstrap_servers, TOPIC_REPLICATION="3")
    admin = KafkaAdminClient(bootstrap_servers=cluster.bootstrap_servers)
    try:
        configs = admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, ledger.topics.orders)], config_filter="all"
        )
        described = admin.describe_topics([ledger.topics.orders])
    finally:
        admin.close()
    assert configs["topic"][ledger.topics.orders]["min.insync.replicas"]["value"] == "2"
    assert {len(p["replica_nodes"]) for p in described[0]["partitions"]} == {3}
    oracle = SyntheticOracle()
    events = list(synthetic_events(n, seed=505, invalid_ratio=0.02, oracle=oracle))
    fleet = ConsumerFleet(ledger.env, tmp_path / "logs", seed=505)
    fleet.start()
    fleet.start()
    # One slice of events per kill and a last one: each kill lands while its slice is being
    # published and consumed, however fast both sides are.
    parts = slices(events, kills + 1)
    published = 0
    for i in range(kills):
        publisher = PublisherThread(ledger.kafka, ledger.topics, parts[i], chunks=6)
        publisher.start()
        ledger.wait_applied(published + len(parts[i]) // 4, timeout=600)
        leaders = cluster.partition_leaders(ledger.topics.orders)
        victim = leaders[fleet.rng.choice(sorted(leaders))]
        # SIGKILL the leader of a random partition: its partitions elect new leaders from
        # the in-sync replicas; acks=all with min ISR 2 means no acknowledged record is lost.
        cluster.kill_broker(victim)
        cluster.faults.leader_kills += 1
        # The rest of the slice is published and applied with two brokers of three.
        published += publisher.finish()
        ledger.wait_applied(published, timeout=600)
        cluster.start_broker(victim)
    publisher = PublisherThread(ledger.kafka, ledger.topics, parts[kills], chunks=4)
    publisher.start()
    publisher.finish()
    found = oracle_discrepancies(ledger, Expected.from_synthetic(oracle))
    codes = fleet.stop_all()
    record(scenario(
        "3-broker cluster: partition leader SIGKILLed", events=published_records(ledger),
        consumers_started=fleet.counts.started, rebalances=fleet.rebalances,
        leader_kills=kills, broker_restarts=kills, discrepancies=len(found),
        seconds=time.monotonic() - started,
    ))  # fmt: skip
    assert found == []
    assert fleet.counts.started == 2
    assert set(codes.values()) == {0}
