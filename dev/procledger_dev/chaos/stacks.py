"""A throw-away stack for faults: its brokers and PostgreSQL are restarted and killed on purpose."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from kafka import KafkaAdminClient

from procledger_dev.stack import kafka as stack_kafka
from procledger_dev.stack import postgres as stack_postgres
from procledger_dev.stack.config import StackConfig
from procledger_dev.stack.procs import port_open, read_pid, wait_until


@dataclass
class StackFaults:
    """Broker and database restarts a stack went through, for the reliability report."""

    broker_restarts: int = 0
    leader_kills: int = 0
    db_restarts: dict[str, int] = field(default_factory=dict)
    db_pauses: int = 0


@contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    """The stack modules read a few settings (SASL) from os.environ: set them for one call."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@dataclass
class ChaosStack:
    """A second stack in its own folder and ports; never the one other tests are using."""

    cfg: StackConfig
    sasl: bool = False
    tls: bool = False
    faults: StackFaults = field(default_factory=StackFaults)
    owns_postgres: bool = False

    @classmethod
    def create(
        cls,
        root: Path,
        *,
        kafka_port: int,
        pg_port: int,
        cache_dir: Path,
        brokers: int = 1,
        sasl: bool = False,
        tls: bool = False,
    ) -> ChaosStack:
        cfg = StackConfig.from_env({
            "STACK_DIR": str(root),
            "STACK_KAFKA_PORT": str(kafka_port),
            "STACK_KAFKA_BROKERS": str(brokers),
            "STACK_PG_PORT": str(pg_port),
            "STACK_PROMETHEUS_PORT": str(kafka_port - 2),
            "STACK_CACHE_DIR": str(cache_dir),
        })  # fmt: skip
        return cls(cfg, sasl, tls)

    def _sasl_env(self) -> dict[str, str]:
        return {"STACK_KAFKA_SASL": str(int(self.sasl)), "STACK_KAFKA_TLS": str(int(self.tls))}

    def up(self, *, postgres: bool = True) -> None:
        """PostgreSQL (optional: a cluster can borrow another stack's) and every broker."""
        if postgres:
            stack_postgres.up(self.cfg)
            self.owns_postgres = True
        with _environ(self._sasl_env()):
            stack_kafka.up(self.cfg)

    def down(self) -> None:
        stack_kafka.down(self.cfg)
        if self.owns_postgres:
            stack_postgres.down(self.cfg)

    @property
    def bootstrap_servers(self) -> str:
        return self.cfg.bootstrap_servers

    @property
    def sasl_bootstrap_servers(self) -> str:
        return stack_kafka.sasl_bootstrap_servers(self.cfg)

    @property
    def tls_bootstrap_servers(self) -> str:
        return stack_kafka.tls_bootstrap_servers(self.cfg)

    @property
    def tls_cafile(self) -> str:
        return str(stack_kafka.tls_cafile(self.cfg))

    def admin_url(self, database: str = "postgres") -> str:
        password = self.cfg.pg_superuser_password
        return f"postgresql://postgres:{password}@127.0.0.1:{self.cfg.pg_port}/{database}"

    def kill_broker(self, node: int) -> None:
        """SIGKILL one broker node: no controlled shutdown, no leadership handed over."""
        pid = read_pid(stack_kafka.node_pid_file(self.cfg, node))
        if pid is None:
            raise RuntimeError(f"broker {node} is not running")
        os.kill(pid, signal.SIGKILL)
        port = self.cfg.kafka_broker_ports()[node - 1]
        wait_until(lambda: read_pid(stack_kafka.node_pid_file(self.cfg, node)) is None, 30,
                   f"broker {node} to die")  # fmt: skip
        wait_until(lambda: not port_open(port), 30, f"port {port} to close")

    def start_broker(self, node: int) -> None:
        stack_kafka.start_node(self.cfg, node)

    def restart_broker(self, node: int = 1, *, down_s: float = 0.0, hard: bool = False) -> None:
        """Stop (SIGTERM, or SIGKILL if `hard`), stay down `down_s`, start again."""
        if hard:
            self.kill_broker(node)
        else:
            stack_kafka.stop_node(self.cfg, node)
        time.sleep(down_s)
        self.start_broker(node)
        self.faults.broker_restarts += 1

    def partition_leaders(self, topic: str) -> dict[int, int]:
        """Partition -> leader node id, as the cluster reports it now."""
        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap_servers, client_id="chaos")
        try:
            described = admin.describe_topics([topic])
        finally:
            admin.close()
        return {p["partition_index"]: p["leader_id"] for p in described[0]["partitions"]}

    def restart_postgres(self, mode: str, *, down_s: float = 0.0) -> None:
        """pg_ctl stop in `mode` (fast: sessions ended cleanly; immediate: crash recovery)."""
        stack_postgres.stop(self.cfg, mode)
        time.sleep(down_s)
        stack_postgres.up(self.cfg)
        self.faults.db_restarts[mode] = self.faults.db_restarts.get(mode, 0) + 1

    def postgres_pids(self) -> list[int]:
        """The postmaster (first) and every backend and helper process it forked."""
        pid_file = stack_postgres.pg_home(self.cfg) / "data" / "postmaster.pid"
        postmaster = int(pid_file.read_text().split()[0])
        children = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                # /proc/PID/stat: "pid (comm) state ppid ..."; comm may hold spaces.
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # ended meanwhile
            if int(fields[1]) == postmaster:
                children.append(int(entry.name))
        return [postmaster, *children]

    def freeze_postgres(self) -> list[int]:
        """SIGSTOP the whole server: a paused VM or a stuck host as its clients see it (TCP
        connections accepted by the kernel, no answer). The postmaster first, so that it
        forks nothing after its children were listed. Returns the pids for thaw_postgres."""
        pids = self.postgres_pids()
        os.kill(pids[0], signal.SIGSTOP)
        pids = [pids[0], *self.postgres_pids()[1:]]
        for pid in pids[1:]:
            os.kill(pid, signal.SIGSTOP)
        self.faults.db_pauses += 1
        return pids

    def thaw_postgres(self, pids: list[int]) -> None:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                continue
