"""The real pipeline: events published to Kafka, folded by `procledger consume` into PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

import psycopg
import pytest

from procledger.scenario.story import story_events, story_oracle
from procledger.scenario.synthetic import synthetic_events
from tests.plugins.ledger import LedgerEnv, assert_offsets_accounted, snapshot

HEADLINE = Decimal("1000000000.00")


def _mid_june_155(ledger: LedgerEnv) -> Decimal:
    value: Decimal = ledger.scalar(
        "SELECT coalesce(sum(value_usd), 0) FROM ledger.orders WHERE caliber_mm = 155"
        " AND placed_at >= '2023-01-01' AND placed_at < '2023-06-16'"
    )
    return value


def test_demo_story_gives_exactly_one_billion_of_155mm(ledger: LedgerEnv) -> None:
    events = story_events()
    ledger.publish(events)
    ledger.consume()
    assert _mid_june_155(ledger) == HEADLINE
    assert ledger.scalar("SELECT count(*) FROM ledger.journal") == len(events)
    assert ledger.scalar("SELECT count(*) FROM ledger.rejections") == 0
    assert assert_offsets_accounted(ledger) == len(events)
    oracle = story_oracle()
    assert ledger.scalar("SELECT count(*) FROM ledger.orders") == oracle.orders


def test_publishing_twice_and_replaying_leave_the_ledger_identical(
    ledger: LedgerEnv, unique: str
) -> None:
    events = story_events()
    ledger.publish(events)
    ledger.consume()
    clean = snapshot(ledger)

    ledger.publish(events)  # a producer retrying everything
    ledger.consume()
    assert snapshot(ledger) == clean
    # Re-sent with the same content: acknowledged re-deliveries, no error, nothing applied.
    repeats = ledger.rows("SELECT reason_code, count(*) FROM ledger.rejections GROUP BY 1")
    assert repeats == [("REDELIVERED", len(events))]

    # A new consumer group starts from Kafka offset 0; the ledger's positions decide.
    ledger.consume(group=f"replay.{unique}")
    assert snapshot(ledger) == clean
    assert assert_offsets_accounted(ledger) == 2 * len(events)


def test_application_role_cannot_alter_history(ledger: LedgerEnv) -> None:
    ledger.publish(story_events()[:20])
    ledger.consume()
    with psycopg.connect(ledger.database.url, autocommit=True) as conn:
        for statement in (
            "UPDATE ledger.journal SET payload = '{}'",
            "DELETE FROM ledger.journal",
            "TRUNCATE ledger.journal",
            "UPDATE ledger.entries SET amounts = '{0}'",
            "DELETE FROM ledger.rejections",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
    # The trigger refuses even the owner, who holds every privilege.
    with (
        psycopg.connect(ledger.database.admin_url, autocommit=True) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"),
    ):
        conn.execute("DELETE FROM ledger.journal")


def test_restarts_and_two_consumers_match_a_clean_run(ledger: LedgerEnv, unique: str) -> None:
    events = list(synthetic_events(6000, seed=7))
    ledger.publish(events[:3000])
    first = ledger.start_consumer()
    second = ledger.start_consumer()
    ledger.publish(events[3000:])
    ledger.wait_applied(1500)
    first.terminate()  # SIGTERM mid-stream: finishes its batch and exits 0
    assert first.wait(timeout=60) == 0
    ledger.start_consumer()
    ledger.wait_applied(len(events))
    ledger.stop_all()
    assert second.returncode == 0
    assert assert_offsets_accounted(ledger) == len(events)

    # The same events folded by one uninterrupted consumer give the same ledger.
    clean = ledger.sibling("clean")
    clean.consume()
    assert snapshot(ledger) == snapshot(clean)
    assert snapshot(clean)["event_ids"]


def test_sigkill_mid_batch_loses_nothing_and_applies_nothing_twice(ledger: LedgerEnv) -> None:
    events = list(synthetic_events(8000, seed=11))
    ledger.publish(events)
    for kills in range(3):
        proc = ledger.start_consumer()
        ledger.wait_applied(1000 * (kills + 1), timeout=120)
        proc.kill()  # SIGKILL: no chance to finish the batch
        proc.wait()
    ledger.consume()
    assert assert_offsets_accounted(ledger) == len(events)
    clean = ledger.sibling("clean")
    clean.consume()
    assert snapshot(ledger) == snapshot(clean)
