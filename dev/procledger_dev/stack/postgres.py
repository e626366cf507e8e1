"""A private PostgreSQL 15 cluster (initdb in the stack folder, its own port)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from procledger_dev.stack.config import StackConfig, StackError
from procledger_dev.stack.procs import port_open

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def _bin(name: str) -> str:
    candidate = PG_BIN / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise StackError(
            f"{name} not found: install PostgreSQL 15 with `apt-get install postgresql-15`"
        )
    return found


def _as_server_user(argv: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root; CI and this machine run as root.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *argv]
    return argv


def _reachable_by_postgres(path: Path) -> bool:
    if os.geteuid() != 0:
        return True
    probe = subprocess.run(
        ["runuser", "-u", "postgres", "--", "test", "-x", str(path)], check=False
    )
    return probe.returncode == 0


def pg_home(cfg: StackConfig) -> Path:
    """The cluster's folder: inside the stack folder, unless the server user cannot reach it."""
    home = cfg.root / "postgres"
    cfg.root.mkdir(parents=True, exist_ok=True)
    if _reachable_by_postgres(cfg.root):
        return home
    digest = hashlib.sha256(str(cfg.root).encode()).hexdigest()[:12]
    # A fixed, root-owned parent: only reached when the stack folder is private to root.
    return Path("/var/tmp/procledger") / digest / "postgres"  # noqa: S108


def _chown(path: Path) -> None:
    if os.geteuid() == 0:
        shutil.chown(path, "postgres", "postgres")


def up(cfg: StackConfig) -> list[str]:
    """initdb once, then start the server and wait until it accepts connections."""
    home = pg_home(cfg)
    data = home / "data"
    run = home / "run"
    # The server user writes its own log, so it lives where that user can reach.
    log = cfg.logs / "postgres.log" if home.is_relative_to(cfg.root) else home / "postgres.log"
    cfg.logs.mkdir(parents=True, exist_ok=True)
    for folder in (home, run):
        folder.mkdir(parents=True, exist_ok=True)
        _chown(folder)
    if not (data / "PG_VERSION").exists():
        pwfile = home / "pwfile"
        pwfile.write_text(cfg.pg_superuser_password + "\n")
        _chown(pwfile)
        init = subprocess.run(
            _as_server_user([_bin("initdb"), "-D", str(data), "-U", "postgres",
                             f"--pwfile={pwfile}", "--auth-local=trust",
                             "--auth-host=scram-sha-256", "-E", "UTF8", "--no-locale"]),
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        pwfile.unlink()
        if init.returncode != 0:
            raise StackError(f"initdb failed:\n{init.stdout}{init.stderr}")
        with (data / "postgresql.conf").open("a") as conf:
            conf.write(
                "\n# procledger stack\n"
                "listen_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{run}'\n"
                "max_connections = 200\n"
                "shared_buffers = 256MB\n"
                "log_line_prefix = '%m [%p] %u@%d '\n"
                "timezone = 'UTC'\n"
            )
    if status_running(cfg):
        return [f"postgres   127.0.0.1:{cfg.pg_port} (already running)"]
    if port_open(cfg.pg_port):
        raise StackError(f"port {cfg.pg_port} is taken by another process; set STACK_PG_PORT")
    if not log.exists():
        log.touch()
    _chown(log)
    start = subprocess.run(
        _as_server_user([_bin("pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60",
                         "-o", f"-p {cfg.pg_port}", "start"]),
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if start.returncode != 0:
        raise StackError(f"PostgreSQL did not start:\n{start.stdout}{start.stderr}")
    return [f"postgres   127.0.0.1:{cfg.pg_port} (PostgreSQL 15, data {data})"]


def stop(cfg: StackConfig, mode: str = "fast") -> bool:
    """Stop with pg_ctl's fast or immediate mode; True if it was running."""
    if not status_running(cfg):
        return False
    data = pg_home(cfg) / "data"
    subprocess.run(
        _as_server_user([_bin("pg_ctl"), "-D", str(data), "-m", mode, "-w", "stop"]),
        capture_output=True, check=True,
    )  # fmt: skip
    return True


def down(cfg: StackConfig) -> list[str]:
    return ["postgres   stopped" if stop(cfg) else "postgres   not running"]


def status_running(cfg: StackConfig) -> bool:
    data = pg_home(cfg) / "data"
    if not (data / "PG_VERSION").exists():
        return False
    result = subprocess.run(
        _as_server_user([_bin("pg_ctl"), "-D", str(data), "status"]),
        capture_output=True, check=False,
    )  # fmt: skip
    return result.returncode == 0


def status(cfg: StackConfig) -> list[str]:
    state = "running" if status_running(cfg) else "stopped"
    return [f"postgres   127.0.0.1:{cfg.pg_port} {state}"]
