"""Consumer faults: SIGKILL at random moments, competing members, a SIGSTOPped zombie."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

import pytest

from procledger.scenario.synthetic import SyntheticOracle, synthetic_events
from procledger_dev.chaos.fleet import ASSIGNED, FENCED, ConsumerFleet, Member
from procledger_dev.chaos.load import PublisherThread, slices
from procledger_dev.chaos.oracle import Expected
from procledger_dev.chaos.report import ScenarioFigures
from procledger_dev.stack.procs import wait_until
from tests.plugins.ledger import LedgerEnv

from .conftest import FULL, oracle_discrepancies, published_records, scenario

pytestmark = pytest.mark.chaos

Record = Callable[[ScenarioFigures], None]


def _events(n: int, seed: int) -> tuple[list, SyntheticOracle]:  # type: ignore[type-arg]
    oracle = SyntheticOracle()
    return list(synthetic_events(n, seed=seed, invalid_ratio=0.02, oracle=oracle)), oracle


def _assigned_more(members: Sequence[Member], before: int) -> bool:
    """True once the members' logs hold more assignments than `before`."""
    return sum(m.log_text().count(ASSIGNED) for m in members) > before


def _progress(ledger: LedgerEnv) -> int:
    done: int = ledger.scalar("SELECT coalesce(sum(next_offset), 0) FROM ledger.positions")
    return done


def test_sigkill_at_random_moments(cledger: LedgerEnv, tmp_path: Path, record: Record) -> None:
    n, kills = (100_000, 20) if FULL else (10_000, 3)
    started = time.monotonic()
    events, oracle = _events(n, seed=101)
    fleet = ConsumerFleet(cledger.env, tmp_path / "logs", seed=101)
    publisher = PublisherThread(cledger.kafka, cledger.topics, events, chunks=4 * kills)
    publisher.start()
    fleet.start()
    # Kill points are ledger progress marks drawn from the seed, then a random extra delay
    # so the SIGKILL lands anywhere in a poll, a fold or a commit.
    marks = sorted(fleet.rng.sample(range(n // 20, n * 9 // 10), kills))
    for mark in marks:
        cledger.wait_applied(mark, timeout=600)
        time.sleep(fleet.delay(0.0, 0.4))
        fleet.kill(fleet.pick())
        fleet.start()
    publisher.finish()
    found = oracle_discrepancies(cledger, Expected.from_synthetic(oracle))
    codes = fleet.stop_all()
    record(scenario(
        "consumer SIGKILL at random moments", events=published_records(cledger),
        consumers_started=fleet.counts.started, kills=fleet.counts.kills,
        rebalances=fleet.rebalances, discrepancies=len(found),
        seconds=time.monotonic() - started,
    ))  # fmt: skip
    assert found == []
    assert fleet.counts.kills == kills
    assert set(codes.values()) == {0}


def test_competing_consumers_killed_and_added(
    cledger: LedgerEnv, tmp_path: Path, record: Record
) -> None:
    n = 60_000 if FULL else 8_000
    started = time.monotonic()
    events, oracle = _events(n, seed=202)
    fleet = ConsumerFleet(cledger.env, tmp_path / "logs", seed=202)
    publisher = PublisherThread(cledger.kafka, cledger.topics, events, chunks=12)
    fleet.start()
    fleet.start()
    publisher.start()
    # Two members, then three, then a kill, an addition, another kill: each one rebalances
    # the group while batches are in flight.
    plan = ["add", "kill"] * (5 if FULL else 2) + ["add"]  # members: 3, 2, 3, 2, ..., 3
    for step, action in enumerate(plan, start=1):
        cledger.wait_applied(n * step // (len(plan) + 1), timeout=600)
        time.sleep(fleet.delay(0.0, 0.5))
        if action == "add":
            fleet.start()
        else:
            fleet.kill(fleet.pick())
    publisher.finish()
    found = oracle_discrepancies(cledger, Expected.from_synthetic(oracle))
    survivors = fleet.alive()
    # A member added near the end may still be waiting for the killed members' sessions to
    # expire when the others have applied everything: its admission is awaited, not assumed.
    wait_until(lambda: all(ASSIGNED in m.log_text() for m in survivors), 60,
               "every surviving member's admission")  # fmt: skip
    codes = fleet.stop_all()
    record(scenario(
        "competing consumers (2-3 members) killed and added", events=published_records(cledger),
        consumers_started=fleet.counts.started, kills=fleet.counts.kills,
        rebalances=fleet.rebalances, fenced_batches=fleet.log_count(FENCED),
        discrepancies=len(found), seconds=time.monotonic() - started,
    ))  # fmt: skip
    assert found == []
    assert set(codes.values()) == {0}
    # Every member still running at the end was let into the group (rebalances that overlap
    # a dead member's session expiry may merge, so their number is not fixed).
    assert len(survivors) == 3
    assert all(ASSIGNED in m.log_text() for m in survivors)


def test_sigstopped_zombie_is_fenced(cledger: LedgerEnv, tmp_path: Path, record: Record) -> None:
    n = 40_000 if FULL else 6_000
    rounds = 3 if FULL else 1
    started = time.monotonic()
    events, oracle = _events(n, seed=303)
    fleet = ConsumerFleet(cledger.env, tmp_path / "logs", seed=303)
    zombie = fleet.start({"CONSUMER_SESSION_TIMEOUT_MS": "6000"})
    others = [fleet.start(), fleet.start()]
    # One slice of events per round and a last one for everyone: each round's slice is still
    # flowing when the zombie freezes, however fast the members are.
    parts = slices(events, rounds + 1)
    published = 0
    for round_ in range(1, rounds + 1):
        publisher = PublisherThread(cledger.kafka, cledger.topics, parts[round_ - 1], chunks=8)
        publisher.start()
        cledger.wait_applied(published + len(parts[round_ - 1]) // 4, timeout=600)
        before = sum(m.log_text().count(ASSIGNED) for m in others)
        fleet.pause(zombie)  # most likely mid-batch, holding its partitions' position locks
        # The group moves on: the others are given the zombie's partitions. That needs the
        # zombie's 6 s session to expire first, so this wait is event-driven, not a sleep.
        wait_until(
            partial(_assigned_more, others, before),
            120,
            "the group's rebalance away from the zombie",
        )
        # The others apply the whole slice, the zombie's partitions included, while it is frozen.
        published += publisher.finish()
        cledger.wait_applied(published, timeout=600)
        rejoined = zombie.log_text().count(ASSIGNED)
        fleet.resume(zombie)
        # A member again before the next round freezes it: pausing a process the group has
        # already dropped would move no partition.
        wait_until(
            partial(_assigned_more, [zombie], rejoined),
            120,
            "the resumed zombie's return to the group",
        )
    publisher = PublisherThread(cledger.kafka, cledger.topics, parts[rounds], chunks=4)
    publisher.start()
    publisher.finish()
    found = oracle_discrepancies(cledger, Expected.from_synthetic(oracle))
    codes = fleet.stop_all()
    log = zombie.log_text()
    record(scenario(
        "SIGSTOPped zombie past its session timeout", events=published_records(cledger),
        consumers_started=fleet.counts.started, pauses=fleet.counts.pauses,
        rebalances=fleet.rebalances, fenced_batches=fleet.log_count(FENCED),
        discrepancies=len(found), seconds=time.monotonic() - started,
    ))  # fmt: skip
    assert found == []
    assert set(codes.values()) == {0}
    # Resumed, the zombie learnt it had been replaced and rejoined (revoked or reassigned).
    assert "revoked" in log or log.count(ASSIGNED) >= 2, log[-2000:]
