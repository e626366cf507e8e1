"""The replica is opt-in, on its own port next to the primary's, and bad values are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from procledger_dev.stack import control, replica
from procledger_dev.stack.config import StackConfig, StackError


def test_replica_is_off_by_default_and_listens_next_to_the_primary() -> None:
    cfg = StackConfig.from_env({})
    assert (cfg.pg_replica, cfg.pg_replica_port) == (False, 55433)
    second = StackConfig.from_env({"STACK_PG_PORT": "25632", "STACK_PG_REPLICA": "1"})
    assert (second.pg_replica, second.pg_replica_port) == (True, 25633)
    assert second.replica_url.endswith("@127.0.0.1:25633/postgres")
    assert StackConfig.from_env({"STACK_PG_REPLICA_PORT": "7433"}).pg_replica_port == 7433


def test_bad_replica_values_are_named() -> None:
    with pytest.raises(StackError, match="STACK_PG_REPLICA must be 0 or 1"):
        StackConfig.from_env({"STACK_PG_REPLICA": "yes"})
    with pytest.raises(StackError, match="STACK_PG_REPLICA_PORT"):
        StackConfig.from_env({"STACK_PG_REPLICA_PORT": "replica"})


def test_up_starts_the_replica_only_when_asked_down_always_stops_it() -> None:
    off, on = StackConfig.from_env({}), StackConfig.from_env({"STACK_PG_REPLICA": "1"})
    assert "replica" not in control._default_components(off, "up")
    assert control._default_components(on, "up")[:2] == ["postgres", "replica"]
    for action in ("down", "status"):
        assert "replica" in control._default_components(off, action)


def test_status_of_a_replica_not_asked_for_is_not_a_failure(tmp_path: Path) -> None:
    cfg = StackConfig.from_env({"STACK_DIR": str(tmp_path)})
    [line] = replica.status(cfg)
    assert "stopped" not in line and "STACK_PG_REPLICA=1" in line
    enabled = StackConfig.from_env({"STACK_DIR": str(tmp_path), "STACK_PG_REPLICA": "1"})
    assert replica.status(enabled) == ["pg-replica 127.0.0.1:55433 stopped"]


def test_up_without_a_running_primary_says_what_to_start(tmp_path: Path) -> None:
    cfg = StackConfig.from_env({"STACK_DIR": str(tmp_path), "STACK_PG_PORT": "25998"})
    with pytest.raises(StackError, match="--only postgres"):
        replica.up(cfg)
