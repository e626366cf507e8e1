"""A throw-away stack for faults: its brokers and PostgreSQL are restarted and killed on purpose."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
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
    owns_kafka: bool = False

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

    def up(self, *, postgres: bool = True, kafka: bool = True) -> None:
        """PostgreSQL and every broker; either may be borrowed from another stack instead."""
        if postgres:
            self.owns_postgres = True
            stack_postgres.up(self.cfg)
        if kafka:
            self.owns_kafka = True  # before: a broker that half started is stopped by down()
            with _environ(self._sasl_env()):
                stack_kafka.up(self.cfg)

    def down(self) -> None:
        if self.owns_kafka:
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

    def base_backup(self, name: str = "base-backup") -> Path:
        """pg_basebackup of the running server, taken while it works."""
        return stack_postgres.base_backup(self.cfg, name)

    def restore_postgres(self, backup: Path) -> None:
        """Lose the database (immediate stop) and bring it back from `backup`."""
        stack_postgres.restore(self.cfg, backup)
        self.faults.db_restarts["restore"] = self.faults.db_restarts.get("restore", 0) + 1

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


@dataclass
class SmallDisk:
    """A size-limited tmpfs that a PostgreSQL tablespace lives on, filled and freed on purpose.

    Mounting needs root (as CI and this project's machine run); `location` is the empty,
    server-owned folder a `CREATE TABLESPACE ... LOCATION` takes.
    """

    mount: Path
    size_mb: int

    @property
    def location(self) -> Path:
        return self.mount / "tablespace"

    @property
    def _filler(self) -> Path:
        return self.mount / "filler"

    def up(self) -> None:
        self.mount.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={self.size_mb}m,mode=0755",
                        "tmpfs", str(self.mount)], check=True, capture_output=True)  # fmt: skip
        self.location.mkdir()
        shutil.chown(self.location, "postgres", "postgres")
        self.location.chmod(0o700)

    def free_bytes(self) -> int:
        stat = os.statvfs(self.mount)
        return stat.f_bavail * stat.f_frsize

    def fill(self) -> int:
        """Take every free byte with one file; returns how many it took."""
        free = self.free_bytes()
        with self._filler.open("ab") as out:
            os.posix_fallocate(out.fileno(), self._filler.stat().st_size, free)
        return free

    def release(self) -> None:
        """Free what `fill` took: the server finds room again."""
        self._filler.unlink(missing_ok=True)

    def down(self) -> None:
        subprocess.run(["umount", "--lazy", str(self.mount)], check=False, capture_output=True)
