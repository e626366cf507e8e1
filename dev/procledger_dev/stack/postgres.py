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


def pg_bin(name: str) -> str:
    candidate = PG_BIN / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise StackError(
            f"{name} not found: install PostgreSQL 15 with `apt-get install postgresql-15`"
        )
    return found


def as_server_user(argv: list[str]) -> list[str]:
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


def pg_home(cfg: StackConfig, name: str = "postgres") -> Path:
    """A cluster's folder: inside the stack folder, unless the server user cannot reach it."""
    home = cfg.root / name
    cfg.root.mkdir(parents=True, exist_ok=True)
    if _reachable_by_postgres(cfg.root):
        return home
    digest = hashlib.sha256(str(cfg.root).encode()).hexdigest()[:12]
    # A fixed, root-owned parent: only reached when the stack folder is private to root.
    return Path("/var/tmp/procledger") / digest / name  # noqa: S108


def chown_to_server(path: Path) -> None:
    if os.geteuid() == 0:
        shutil.chown(path, "postgres", "postgres")


def up(cfg: StackConfig) -> list[str]:
    """initdb once, then start the server and wait until it accepts connections."""
    home = pg_home(cfg)
    data = home / "data"
    run = home / "run"
    log = log_file(cfg, home, "postgres")
    for folder in (home, run):
        folder.mkdir(parents=True, exist_ok=True)
        chown_to_server(folder)
    if not (data / "PG_VERSION").exists():
        pwfile = home / "pwfile"
        pwfile.write_text(cfg.pg_superuser_password + "\n")
        chown_to_server(pwfile)
        init = subprocess.run(
            as_server_user([pg_bin("initdb"), "-D", str(data), "-U", "postgres",
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
    start_server(data, log, cfg.pg_port, "STACK_PG_PORT")
    return [f"postgres   127.0.0.1:{cfg.pg_port} (PostgreSQL 15, data {data})"]


def log_file(cfg: StackConfig, home: Path, name: str) -> Path:
    """The server user writes its own log, so it lives where that user can reach."""
    cfg.logs.mkdir(parents=True, exist_ok=True)
    return cfg.logs / f"{name}.log" if home.is_relative_to(cfg.root) else home / f"{name}.log"


def start_server(data: Path, log: Path, port: int, port_variable: str) -> None:
    """pg_ctl start on `port`, waiting until it accepts connections (or raising why not)."""
    if port_open(port):
        raise StackError(f"port {port} is taken by another process; set {port_variable}")
    if not log.exists():
        log.touch()
    chown_to_server(log)
    start = subprocess.run(
        as_server_user([pg_bin("pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60",
                        "-o", f"-p {port}", "start"]),
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if start.returncode != 0:
        raise StackError(f"PostgreSQL did not start:\n{start.stdout}{start.stderr}")


def stop(cfg: StackConfig, mode: str = "fast") -> bool:
    """Stop with pg_ctl's fast or immediate mode; True if it was running."""
    return stop_server(pg_home(cfg) / "data", mode)


def stop_server(data: Path, mode: str = "fast") -> bool:
    """pg_ctl stop of the cluster in `data`; True if it was running."""
    if not server_running(data):
        return False
    subprocess.run(
        as_server_user([pg_bin("pg_ctl"), "-D", str(data), "-m", mode, "-w", "stop"]),
        capture_output=True, check=True,
    )  # fmt: skip
    return True


def down(cfg: StackConfig) -> list[str]:
    return ["postgres   stopped" if stop(cfg) else "postgres   not running"]


def status_running(cfg: StackConfig) -> bool:
    return server_running(pg_home(cfg) / "data")


def server_running(data: Path) -> bool:
    """pg_ctl status of the cluster in `data` (False when it was never created)."""
    if not (data / "PG_VERSION").exists():
        return False
    result = subprocess.run(
        as_server_user([pg_bin("pg_ctl"), "-D", str(data), "status"]),
        capture_output=True, check=False,
    )  # fmt: skip
    return result.returncode == 0


def status(cfg: StackConfig) -> list[str]:
    state = "running" if status_running(cfg) else "stopped"
    return [f"postgres   127.0.0.1:{cfg.pg_port} {state}"]


def base_backup(cfg: StackConfig, name: str, dest: Path | None = None, *extra: str) -> Path:
    """pg_basebackup of the running server into the cluster's folder (a fast checkpoint, the
    WAL streamed alongside, so the copy is consistent on its own); returns its folder.
    `extra` options go to pg_basebackup (the replica's -R and its slot)."""
    dest = pg_home(cfg) / name if dest is None else dest
    env = {**os.environ, "PGPASSWORD": cfg.pg_superuser_password}
    done = subprocess.run(
        as_server_user([pg_bin("pg_basebackup"), "-D", str(dest), "-X", "stream", "-c", "fast",
                        "-h", "127.0.0.1", "-p", str(cfg.pg_port), "-U", "postgres", "-w",
                        *extra]),
        capture_output=True, text=True, check=False, env=env,
    )  # fmt: skip
    if done.returncode != 0:
        raise StackError(f"pg_basebackup failed:\n{done.stdout}{done.stderr}")
    return dest


def restore(cfg: StackConfig, backup: Path) -> None:
    """Replace the cluster with `backup` (the lost data kept aside) and start it: the server
    recovers to the end of the backup, as after losing the database host."""
    stop(cfg, "immediate")
    data = pg_home(cfg) / "data"
    lost = data.with_name("data.before-restore")
    shutil.rmtree(lost, ignore_errors=True)
    data.rename(lost)
    backup.rename(data)
    up(cfg)
