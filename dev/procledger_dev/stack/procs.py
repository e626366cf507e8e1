"""Start, find and stop the stack's server processes through pid files."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from procledger_dev.stack.config import StackError


def require(binary: str, package: str) -> str:
    """The path of a prerequisite, or a StackError naming the package that provides it."""
    path = shutil.which(binary)
    if path is None:
        raise StackError(f"{binary} not found: install it with `apt-get install {package}`")
    return path


def maven_copy(pom: Path, target: Path, what: str) -> Path:
    """Resolve a pom's dependencies into `target` once (a marker records success)."""
    marker = target / ".complete"
    if marker.exists():
        return target
    mvn = require("mvn", "maven")
    print(f"resolving {what} with Maven into {target} ...", flush=True)
    result = subprocess.run(
        [mvn, "-q", "-B", "-f", str(pom), "dependency:copy-dependencies",
         f"-DoutputDirectory={target}"],
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise StackError(f"Maven could not resolve {what}:\n{result.stdout}{result.stderr}")
    marker.write_text(what + "\n")
    return target


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def read_pid(pid_file: Path) -> int | None:
    """The pid in the file if that process is still alive, else None."""
    try:
        pid = int(pid_file.read_text().split()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    # A zombie child of this very process still answers kill(0); reap it if so.
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        done = 0
    return None if done == pid else pid


def spawn(
    argv: Sequence[str],
    pid_file: Path,
    log_file: Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> int:
    """Start a server in its own session (so our Ctrl-C does not reach it) and record its pid."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        proc = subprocess.Popen(
            list(argv),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
    pid_file.write_text(f"{proc.pid}\n")
    return proc.pid


def wait_until(
    ready: Callable[[], bool], timeout: float, what: str, log_file: Path | None = None
) -> None:
    """Poll until ready() holds; on timeout raise with the tail of the server's log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.2)
    tail = ""
    if log_file is not None and log_file.exists():
        tail = "\n".join(log_file.read_text(errors="replace").splitlines()[-15:])
    raise StackError(f"{what} did not become ready within {timeout:.0f}s\n{tail}")


def stop_pid(pid_file: Path, timeout: float = 30.0) -> bool:
    """SIGTERM, wait, then SIGKILL; True if a process was running."""
    return bool(stop_all([pid_file], timeout))


def stop_all(pid_files: Sequence[Path], timeout: float = 30.0) -> list[Path]:
    """Stop several processes at once (a KRaft quorum must lose all its voters together,
    or the last one waits for a majority that is gone); returns those that were running."""
    running = [f for f in pid_files if read_pid(f) is not None]
    for pid_file in running:
        pid = read_pid(pid_file)
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(read_pid(f) is not None for f in running):
        time.sleep(0.1)
    for pid_file in running:
        pid = read_pid(pid_file)
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
            while read_pid(pid_file) is not None:
                time.sleep(0.1)
    for pid_file in pid_files:
        pid_file.unlink(missing_ok=True)
    return running
