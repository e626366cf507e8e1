"""A PostgreSQL 15 streaming replica (hot standby) beside the stack's primary, opt-in."""

from __future__ import annotations

import shutil
import time

import psycopg

from procledger.adapters.postgres.standby import read_position
from procledger_dev.stack.config import StackConfig, StackError
from procledger_dev.stack.postgres import (
    base_backup,
    chown_to_server,
    log_file,
    pg_home,
    server_running,
    start_server,
    status_running,
    stop_server,
)

NAME = "postgres-replica"
# A physical slot: the primary keeps the WAL the replica has not received yet, so a replica
# that falls behind under a full-speed load catches up instead of needing a new base backup.
SLOT = "procledger_stack_replica"
# ... but not without bound: a slot whose replica is stopped keeps every WAL file from then
# on. Left so over a 10,000,000-event benchmark it held 63 GB, filled the disk and the
# primary stopped (PANIC: could not write to file "pg_wal/xlogtemp"). Past this, PostgreSQL
# gives the slot up, and the next `up` makes the replica again from a new base backup.
MAX_SLOT_WAL_KEEP = "2GB"


def _settings(run: str) -> str:
    return (
        "\n# procledger stack: streaming replica\n"
        f"unix_socket_directories = '{run}'\n"
        "hot_standby = on\n"
        # The primary keeps the row versions the replica's open snapshots still see, so its
        # vacuum and HOT pruning (ledger.positions and ledger.orders change every batch) do
        # not cancel an audit verification midway; the cost is some bloat on the primary
        # while a long read runs.
        "hot_standby_feedback = on\n"
        # The conflicts feedback cannot prevent (locks of DDL, a vacuum truncating a table)
        # delay replay this long, then cancel the query; the audit retries a cancelled read.
        "max_standby_streaming_delay = 30s\n"
    )


def _drop_stale_slot(cfg: StackConfig) -> None:
    """A slot left by a replica whose data is gone would hold the primary's WAL for ever."""
    with psycopg.connect(cfg.database_url, autocommit=True, connect_timeout=10) as conn:
        conn.execute(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
            "WHERE slot_name = %s AND NOT active",
            (SLOT,),
        )


def _slot_usable(cfg: StackConfig) -> bool:
    """Bound the primary's WAL kept for the slot; False when the slot is gone or was given
    up (its replica cannot catch up from the primary any more)."""
    with psycopg.connect(cfg.database_url, autocommit=True, connect_timeout=10) as conn:
        conn.execute(f"ALTER SYSTEM SET max_slot_wal_keep_size = '{MAX_SLOT_WAL_KEEP}'")
        conn.execute("SELECT pg_reload_conf()")
        row = conn.execute(
            "SELECT wal_status FROM pg_replication_slots WHERE slot_name = %s", (SLOT,)
        ).fetchone()
    return row is not None and row[0] != "lost"


def up(cfg: StackConfig) -> list[str]:
    """Base backup of the running primary once (-R: standby.signal and primary_conninfo),
    then start it on STACK_PG_REPLICA_PORT and wait until it accepts connections."""
    if not status_running(cfg):
        raise StackError(
            "the replica streams from the stack's PostgreSQL, which is not running: "
            "start it first (procledger-dev stack up --only postgres)"
        )
    home = pg_home(cfg, NAME)
    data, run = home / "data", home / "run"
    for folder in (home, run):
        folder.mkdir(parents=True, exist_ok=True)
        chown_to_server(folder)
    where = f"pg-replica 127.0.0.1:{cfg.pg_replica_port}"
    rebuilt = ""
    usable = _slot_usable(cfg)  # also bounds the WAL the primary keeps for the slot
    if (data / "PG_VERSION").exists() and not usable and not server_running(data):
        shutil.rmtree(data)  # the primary no longer keeps the WAL it would need
        rebuilt = ", made again: its slot was gone or given up"
    if not (data / "PG_VERSION").exists():
        _drop_stale_slot(cfg)
        base_backup(cfg, NAME, data, "-R", "-C", "-S", SLOT)
        with (data / "postgresql.conf").open("a") as conf:
            conf.write(_settings(str(run)))
    if server_running(data):
        return [f"{where} (already running, {_state(cfg)})"]
    start_server(data, log_file(cfg, home, NAME), cfg.pg_replica_port, "STACK_PG_REPLICA_PORT")
    return [f"{where} (hot standby of :{cfg.pg_port}, {_state(cfg)}, data {data}{rebuilt})"]


def _state(cfg: StackConfig) -> str:
    """Replay lag (0 once it has replayed all it received), or why it cannot tell."""
    try:
        with psycopg.connect(cfg.replica_url, autocommit=True, connect_timeout=5) as conn:
            position = read_position(conn)
    except psycopg.Error as err:
        return f"not answering: {' '.join(str(err).split())}"
    if not position.standby:
        return "promoted: no longer a standby"
    return f"replay lag {position.replay_lag_s:.1f}s"


def down(cfg: StackConfig) -> list[str]:
    """Stop the replica (its data and the primary's slot stay for the next `up`)."""
    stopped = stop_server(pg_home(cfg, NAME) / "data")
    return ["pg-replica stopped" if stopped else "pg-replica not running"]


def status(cfg: StackConfig) -> list[str]:
    where = f"pg-replica 127.0.0.1:{cfg.pg_replica_port}"
    if server_running(pg_home(cfg, NAME) / "data"):
        return [f"{where} running ({_state(cfg)})"]
    if cfg.pg_replica:
        return [f"{where} stopped"]
    # Not asked for: not a failure of `status` (its exit code 3 means something is down).
    return ["pg-replica off (STACK_PG_REPLICA=1 adds it to `stack up`)"]


def wait_replayed(cfg: StackConfig, timeout_s: float = 120) -> float:
    """Seconds until the replica has replayed all the primary had written when called."""
    started = time.perf_counter()
    with psycopg.connect(cfg.database_url, autocommit=True) as primary:
        row = primary.execute("SELECT pg_current_wal_lsn()").fetchone()
    assert row is not None
    with psycopg.connect(cfg.replica_url, autocommit=True) as replica:
        while time.perf_counter() - started < timeout_s:
            done = replica.execute(
                "SELECT pg_wal_lsn_diff(pg_last_wal_replay_lsn(), %s) >= 0", (row[0],)
            ).fetchone()
            if done is not None and done[0]:
                return time.perf_counter() - started
            time.sleep(0.1)
    raise StackError(f"the replica did not replay up to {row[0]} within {timeout_s:.0f}s")
