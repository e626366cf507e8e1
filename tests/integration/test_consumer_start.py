"""A consumer started while Kafka cannot be reached says so itself, and stops on SIGTERM."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.plugins.ledger import LedgerEnv


def _closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_kafka_unreachable_at_start_is_logged_by_the_consumer(
    ledger: LedgerEnv, tmp_path: Path
) -> None:
    where = f"127.0.0.1:{_closed_port()}"
    log_file = tmp_path / "consumer.log"
    env = {**ledger.env, "KAFKA_BOOTSTRAP_SERVERS": where, "LOG_FORMAT": "json"}
    with log_file.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "procledger", "consume"],
            env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        wanted = f"Kafka at {where} unreachable: "
        while wanted not in log_file.read_text():
            assert proc.poll() is None, log_file.read_text()
            assert time.monotonic() < deadline, f"never logged {wanted!r}:\n{log_file.read_text()}"
            time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    entries = [json.loads(line) for line in log_file.read_text().splitlines()]
    ours = [e for e in entries if e["message"].startswith(wanted)]
    # The application's own line (not only kafka-python's), once: reminders come a minute apart.
    assert len(ours) == 1 and ours[0]["level"] == "WARNING", ours
    assert ours[0]["logger"] == "procledger.consume"
    assert code == 0  # SIGTERM while the Kafka client waits for a broker: at once, not 20 s on
