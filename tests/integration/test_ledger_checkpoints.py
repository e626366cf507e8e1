"""Checkpoints: sealed record times whose orders let time travel re-fold only what changed."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from procledger.adapters.postgres.audit_reader import connect
from procledger.adapters.postgres.checkpoints import Built, SealWaitTimeout, checkpoint
from procledger.adapters.postgres.store import PostgresLedgerStore
from procledger.audit.filters import Clocks
from procledger.audit.timetravel import unseen
from procledger.codec.avro import encode
from procledger.ledger.apply import apply_batch
from procledger.ledger.batch import build_batch, decode_record, state_keys
from procledger.ledger.ports import KafkaRecord, SealedPast
from procledger.scenario.synthetic import synthetic_events
from procledger_dev.stack.config import StackConfig
from tests.plugins.ledger import LedgerEnv

from .audit_support import audit
from .audit_support import procledger_in_process as procledger
from .test_audit_timetravel import RUNS, Ledger, _check, consumed_in_runs


@pytest.fixture(scope="module")
def checkpointed(stack: StackConfig) -> Ledger:
    """RUNS consumer runs with a checkpoint sealed after each but the last."""

    def seal(env: LedgerEnv, cut: datetime) -> None:
        built = procledger(
            env, "ledger", "checkpoint", "--until", cut.isoformat(), "--format", "json"
        )
        assert built.code == 0, built.err
        assert [c["sealed_until"] for c in built.json()] == [cut.isoformat()]

    return consumed_in_runs(stack, seed=29, after_run=seal)


def test_each_checkpoint_holds_the_orders_changed_since_the_one_before(
    checkpointed: Ledger,
) -> None:
    env, cuts = checkpointed.env, checkpointed.cuts
    rows = env.rows("SELECT checkpoint_id, sealed_until, orders FROM ledger.checkpoints ORDER BY 1")
    assert [r[1] for r in rows] == cuts[1:RUNS]
    for (checkpoint_id, sealed, orders), before in zip(rows, [None, *cuts[1:RUNS]], strict=False):
        changed = env.scalar(
            "SELECT count(DISTINCT order_id) FROM ledger.journal WHERE order_id IS NOT NULL "
            "AND recorded_at <= %s AND (%s::timestamptz IS NULL OR recorded_at > %s)",
            (sealed, before, before),
        )
        written = env.scalar(
            "SELECT count(*) FROM ledger.checkpoint_orders WHERE checkpoint_id = %s",
            (checkpoint_id,),
        )
        assert orders == written == changed > 0


def test_totals_at_a_checkpoint_read_it_and_answer_as_the_full_fold(checkpointed: Ledger) -> None:
    with connect(checkpointed.env.env["AUDIT_DATABASE_URL"]) as conn:
        for cut in checkpointed.cuts[1:RUNS]:
            past = unseen(conn, Clocks(known_at=cut))
            assert past.checkpoint_id is not None and past.rows == 0
    for cut in checkpointed.cuts:
        _check(checkpointed, Clocks(known_at=cut))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    record=st.floats(min_value=-0.05, max_value=1.05),
    business=st.one_of(st.none(), st.floats(min_value=-0.05, max_value=1.05)),
)
def test_any_clocks_between_checkpoints_answer_as_the_full_fold(
    checkpointed: Ledger, record: float, business: float | None
) -> None:
    """Record times anywhere (before, between and after the checkpoints), with or without a
    business clock: whichever base is nearest, the totals are the full fold's."""
    first, last = checkpointed.cuts[0], checkpointed.cuts[-1]
    known_at = first + (last - first) * record
    as_of = None
    if business is not None:
        as_of = checkpointed.first + (checkpointed.last - checkpointed.first) * business
    _check(checkpointed, Clocks(as_of=as_of, known_at=known_at))


def test_a_batch_recorded_at_or_before_a_seal_is_refused_whole(ledger: LedgerEnv) -> None:
    """The seal's guarantee: no journal row can join a checkpoint's past after it was built.
    The consumer retries such a batch with a new record time (SealedPast)."""
    sealed = datetime.now(UTC)
    built = procledger(ledger, "ledger", "checkpoint", "--until", sealed.isoformat())
    assert built.code == 0, built.err
    events = list(synthetic_events(5, seed=3))
    items = [decode_record(KafkaRecord("seal.orders", 0, i, None, None, encode(e)))
             for i, e in enumerate(events)]  # fmt: skip
    store = PostgresLedgerStore(ledger.database.url)
    try:
        for at in (sealed - timedelta(seconds=1), sealed):
            with pytest.raises(SealedPast, match="checkpoint sealed until"):
                apply_batch(store, items, {("seal.orders", 0)}, at)
        assert ledger.scalar("SELECT count(*) FROM ledger.journal") == 0
        applied = apply_batch(
            store, items, {("seal.orders", 0)}, sealed + timedelta(microseconds=1)
        )
        assert applied.write is not None and len(applied.write.journal) == len(events)
    finally:
        store.close()


@pytest.fixture
def running_transaction(ledger: LedgerEnv) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """A transaction of the application role that holds a transaction id, as a batch does."""
    with psycopg.connect(ledger.database.url) as conn:
        conn.execute("SELECT pg_current_xact_id()")
        yield conn


def test_the_build_waits_for_transactions_running_at_the_seal(
    ledger: LedgerEnv, running_transaction: psycopg.Connection[tuple[object, ...]]
) -> None:
    first = datetime.now(UTC)
    with pytest.raises(SealWaitTimeout, match=r"had not ended after 0\.3s"):
        checkpoint(ledger.database.url, first, wait_s=0.3)
    assert ledger.rows("SELECT sealed_until, built_at FROM ledger.checkpoints") == [(first, None)]
    running_transaction.commit()
    built = checkpoint(ledger.database.url, first + timedelta(microseconds=1), wait_s=5)
    assert [b.sealed_until for b in built] == [first, first + timedelta(microseconds=1)]
    assert ledger.scalar("SELECT count(*) FROM ledger.checkpoints WHERE built_at IS NULL") == 0


def test_bad_options_and_a_seal_that_goes_back_are_usage_errors(ledger: LedgerEnv) -> None:
    bad = procledger(ledger, "ledger", "checkpoint", "--until", "yesterday")
    assert bad.code == 2 and "--until" in bad.err
    naive = procledger(ledger, "ledger", "checkpoint", "--until", "2026-01-01T00:00:00")
    assert naive.code == 2 and "timezone" in naive.err
    assert procledger(ledger, "ledger", "checkpoint", "--wait", "0").code == 2
    assert procledger(ledger, "ledger", "checkpoint", "--lag", "-5").code == 2
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    ahead = procledger(ledger, "ledger", "checkpoint", "--until", future)
    assert ahead.code == 2 and "after the database's clock" in ahead.err
    assert ledger.scalar("SELECT count(*) FROM ledger.checkpoints") == 0
    now = datetime.now(UTC)
    assert procledger(ledger, "ledger", "checkpoint", "--until", now.isoformat()).code == 0
    back = procledger(ledger, "ledger", "checkpoint", "--until", (now - timedelta(1)).isoformat())
    assert back.code == 2 and "sealed up to" in back.err and "only moves forward" in back.err
    assert ledger.scalar("SELECT count(*) FROM ledger.checkpoints") == 1
    json_out = procledger(ledger, "ledger", "checkpoint", "--format", "json", "--lag", "0")
    assert json_out.code == 0 and json.loads(json_out.out)[0]["orders"] == 0


def test_verify_re_folds_every_checkpoint_and_names_each_alteration(ledger: LedgerEnv) -> None:
    """Time travel answers from checkpoints: an altered, missing or added row in one is a
    discrepancy of `audit verify`, named by checkpoint and order, like a projection's."""
    ledger.publish(list(synthetic_events(400, seed=5)))
    ledger.consume(until_idle=1.0)
    assert procledger(ledger, "ledger", "checkpoint", "--lag", "0").code == 0
    ledger.publish(list(synthetic_events(400, seed=6)))
    ledger.consume(until_idle=1.0)
    assert procledger(ledger, "ledger", "checkpoint", "--lag", "0").code == 0
    clean = audit(ledger, "verify", "--format", "json")
    assert clean.code == 0, clean.out
    assert clean.json()["checked"]["checkpoints"] == 2
    held = ledger.scalar("SELECT count(*) FROM ledger.checkpoint_orders")
    assert clean.json()["checked"]["checkpoint_orders"] == held
    altered, dropped = (r[0] for r in ledger.rows(
        "SELECT order_id FROM ledger.checkpoint_orders WHERE checkpoint_id = 2 "
        "ORDER BY order_id LIMIT 2"))  # fmt: skip
    quantity = ledger.scalar(
        "UPDATE ledger.checkpoint_orders SET quantity = quantity + 1 "
        "WHERE checkpoint_id = 2 AND order_id = %s RETURNING quantity - 1",
        (altered,),
    )
    ledger.rows(
        "DELETE FROM ledger.checkpoint_orders WHERE checkpoint_id = 2 AND order_id = %s "
        "RETURNING 1",
        (dropped,),
    )
    # An order the second checkpoint has no reason to hold: none of its rows came after the
    # first seal (first checkpoint's orders that the second run did not touch).
    stray = ledger.scalar(
        "SELECT order_id FROM ledger.checkpoint_orders c1 WHERE checkpoint_id = 1 AND NOT "
        "EXISTS (SELECT 1 FROM ledger.checkpoint_orders c2 WHERE c2.checkpoint_id = 2 "
        "AND c2.order_id = c1.order_id) ORDER BY order_id LIMIT 1"
    )
    ledger.rows(
        "INSERT INTO ledger.checkpoint_orders SELECT 2, order_id, buyer, supplier, "
        "supplier_country, item_description, caliber_mm, purpose, currency, usd_rate, "
        "unit_price, quantity, value, value_usd, delivered_quantity, delivered_value, "
        "delivered_value_usd, paid, paid_usd, status, placed_at, updated_at, destination, "
        "delivery_ids, payment_ids, fx_difference_usd FROM ledger.checkpoint_orders "
        "WHERE checkpoint_id = 1 AND order_id = %s RETURNING 1",
        (stray,),
    )
    tampered = audit(ledger, "verify", "--format", "json")
    assert tampered.code == 1
    assert sorted(tampered.json()["discrepancies"]) == sorted([
        f"order {altered}: quantity is {quantity + 1} at checkpoint 2 but {quantity} by the "
        "journal",
        f"order {dropped}: missing from checkpoint 2",
        f"order {stray}: in checkpoint 2 but not in the journal",
    ])  # fmt: skip


def test_checkpoints_sealed_while_consumers_write_hold_exactly_their_past(
    ledger: LedgerEnv,
) -> None:
    """The seal under real concurrency: two consumers write while checkpoints are sealed at
    the present (`--lag 0`, so batches in flight fall before the seal, are waited for, or
    are refused and retried). Every checkpoint must then equal the journal's fold up to its
    seal, and every record must be applied once: `audit verify` checks both."""
    events = list(synthetic_events(20_000, seed=41))
    ledger.publish(events)
    for _ in range(2):
        ledger.start_consumer()
    built = 0
    deadline = time.monotonic() + 300
    applied = "SELECT coalesce(sum(next_offset), 0) FROM ledger.positions"
    while ledger.scalar(applied) < len(events) and time.monotonic() < deadline:
        run = procledger(ledger, "ledger", "checkpoint", "--lag", "0", "--format", "json")
        assert run.code == 0, run.err
        built += len(run.json())
    ledger.wait_applied(len(events), timeout=30)
    ledger.stop_all()
    assert built >= 2
    verified = audit(ledger, "verify", "--format", "json")
    assert verified.code == 0, verified.json()["discrepancies"][:5]
    assert verified.json()["checked"]["checkpoints"] == built
    assert verified.json()["checked"]["journal_rows"] == len(events)


def test_a_batch_in_flight_at_the_seal_is_waited_for_and_folded(ledger: LedgerEnv) -> None:
    """A batch past its seal check (at its positions' lock) but not yet committed when the
    seal lands: the build waits for it (the lock gave it a transaction id) and folds it."""
    events = list(synthetic_events(60, seed=8))
    items = [decode_record(KafkaRecord("flight.orders", 0, i, None, None, encode(e)))
             for i, e in enumerate(events)]  # fmt: skip
    now = datetime.now(UTC)
    recorded, sealed = now - timedelta(seconds=2), now - timedelta(seconds=1)
    store = PostgresLedgerStore(ledger.database.url)
    built: list[list[Built]] = []
    try:
        with store.transaction() as tx:
            positions = tx.lock_positions({("flight.orders", 0)}, recorded)
            state = tx.load_state(state_keys(items))
            tx.write(build_batch(items, state, positions, recorded))
            builder = threading.Thread(
                target=lambda: built.append(checkpoint(ledger.database.url, sealed, wait_s=30))
            )
            builder.start()
            builder.join(timeout=2.0)
            assert builder.is_alive(), "the build must wait for this open transaction"
        builder.join(timeout=30)
    finally:
        store.close()
    assert [b.sealed_until for b in built[0]] == [sealed]
    held = ledger.scalar("SELECT count(*) FROM ledger.checkpoint_orders")
    assert held == ledger.scalar("SELECT count(*) FROM ledger.orders") > 0
