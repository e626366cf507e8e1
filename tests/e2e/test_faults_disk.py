"""PostgreSQL out of disk: the ledger's tablespace on a small tmpfs, filled mid-stream, freed."""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from procledger.scenario.synthetic import SyntheticOracle, synthetic_events
from procledger_dev.chaos.fleet import DB_RETRY, ConsumerFleet
from procledger_dev.chaos.load import slices
from procledger_dev.chaos.oracle import Expected
from procledger_dev.chaos.report import ScenarioFigures
from procledger_dev.chaos.stacks import ChaosStack, SmallDisk
from procledger_dev.stack.procs import wait_until
from tests.plugins.ledger import LedgerEnv, assert_offsets_accounted

from .conftest import FULL, ledger_env, oracle_discrepancies, published_records, scenario

pytestmark = pytest.mark.chaos

Record = Callable[[ScenarioFigures], None]
DISK_FULL = "out of disk space"


@pytest.fixture
def small_disk_ledger(chaos_stack: ChaosStack) -> Iterator[tuple[LedgerEnv, SmallDisk]]:
    """A ledger whose database lives in a tablespace on a small tmpfs (WAL stays put)."""
    root = Path(tempfile.mkdtemp(prefix="procledger-disk-"))
    root.chmod(0o755)  # the server user reaches the mount point through it
    # Room for the template database and the first half of the events (about 1.7 KiB each).
    disk = SmallDisk(root / "small", size_mb=160 if FULL else 64)
    disk.up()
    ledger = ledger_env(chaos_stack)
    database = ledger.database.admin_url.rsplit("/", 1)[1]
    tablespace = f"small_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect(chaos_stack.admin_url(), autocommit=True)
    try:
        admin.execute(sql.SQL("CREATE TABLESPACE {} LOCATION {}").format(
            sql.Identifier(tablespace), sql.Literal(str(disk.location))))  # fmt: skip
        # The move needs the database to itself: the migration's connection may linger until
        # it is garbage-collected.
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE datname = %s AND pid <> pg_backend_pid()", (database,))  # fmt: skip
        # Moves every relation of the (migrated, still empty) ledger onto the small disk.
        admin.execute(sql.SQL("ALTER DATABASE {} SET TABLESPACE {}").format(
            sql.Identifier(database), sql.Identifier(tablespace)))  # fmt: skip
        yield ledger, disk
    finally:
        ledger.stop_all()
        disk.release()
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(database)))  # fmt: skip
        admin.execute(sql.SQL("DROP TABLESPACE IF EXISTS {}").format(sql.Identifier(tablespace)))
        admin.close()
        disk.down()
        shutil.rmtree(root, ignore_errors=True)


def _progress(conn: psycopg.Connection[tuple[Any, ...]]) -> int:
    row = conn.execute("SELECT coalesce(sum(next_offset), 0) FROM ledger.positions").fetchone()
    assert row is not None
    return int(row[0])


def test_postgres_out_of_disk_pauses_and_resumes(
    small_disk_ledger: tuple[LedgerEnv, SmallDisk], tmp_path: Path, record: Record
) -> None:
    ledger, disk = small_disk_ledger
    n, hold_s = (40_000, 60.0) if FULL else (6_000, 15.0)
    started = time.monotonic()
    oracle = SyntheticOracle()
    before, during = slices(list(synthetic_events(n, seed=909, invalid_ratio=0.02,
                                                  oracle=oracle)), 2)  # fmt: skip
    fleet = ConsumerFleet(ledger.env, tmp_path / "logs", seed=909)
    members = [fleet.start(), fleet.start()]
    ledger.publish(before)
    ledger.wait_applied(len(before), timeout=600)

    # Opened before the disk fills: a new connection may then be refused ("could not write
    # init file", as a full run found: a backend's first write goes to the database's
    # directory, on the full disk).
    with psycopg.connect(ledger.database.admin_url, autocommit=True) as watch:
        filled = disk.fill()
        ledger.publish(during)  # Kafka has room: the events wait there for the ledger
        wait_until(lambda: fleet.log_count(DISK_FULL) > 0, 120, "a consumer to report it")
        first_error = time.monotonic()
        at_first_error = _progress(watch)
        time.sleep(hold_s)  # the disk stays full: the consumers must keep waiting, not give up
        # PostgreSQL may still commit a batch whose rows fit in pages it already has, so the
        # ledger may creep on; it cannot finish, and whatever it committed must be whole.
        stalled_at = _progress(watch)
        assert stalled_at < len(before) + len(during), "the ledger finished on a full disk"
        assert_offsets_accounted(ledger, watch)  # no batch half-written, no offset lost
        assert all(m.alive for m in members), "a consumer died of the full disk"

        disk.release()
        freed = time.monotonic()
        wait_until(lambda: _progress(watch) > stalled_at, 120, "the ledger to move again")
        resumed = time.monotonic()
    found = oracle_discrepancies(ledger, Expected.from_synthetic(oracle))
    retries = fleet.log_count(DB_RETRY)
    codes = fleet.stop_all()
    record(scenario(
        "PostgreSQL out of disk (tablespace on a full tmpfs)",
        events=published_records(ledger), consumers_started=fleet.counts.started,
        rebalances=fleet.rebalances, discrepancies=len(found),
        seconds=time.monotonic() - started,
        figures={"filled": f"{filled / 2**20:.1f} MiB", "paused": f"{resumed - first_error:.0f} s",
                 "resumed after space freed": f"{resumed - freed:.1f} s",
                 "outage warnings": str(retries),
                 "offsets committed on the full disk": f"{stalled_at - at_first_error:,}"},
    ))  # fmt: skip
    assert found == []
    assert set(codes.values()) == {0}
    assert fleet.counts.started == len(members)  # nobody crashed and was restarted
    log = "\n".join(m.log_text() for m in members)
    # Said why, as a transient failure retried with backoff; the full disk rejected nothing.
    assert f"{DB_RETRY}, retry" in log and "No space left on device" in log, log[-3000:]
