"""`procledger serve intake` with LOG_FORMAT=json: uvicorn's own lines are JSON objects too."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import httpx

from tests.integration.publishing_support import TopicSet
from tests.integration.test_intake_api import INTAKE, _free_port, body, topics
from tests.unit.event_samples import PLACED

__all__ = ["topics"]  # the fixture, shared with the intake API's tests


def test_every_intake_log_line_is_one_json_object(topics: TopicSet) -> None:
    port = _free_port()
    env = {**topics.env, "INTAKE_TOKENS": "intake-secret", "LOG_FORMAT": "json",
           "LOG_LEVEL": "INFO"}  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "procledger", "serve", "intake", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            # Ready, not just alive: a POST before the broker answers gets its 503 by design.
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the intake never answered /readyz with 200"
            time.sleep(0.2)
        response = httpx.post(f"{url}/v1/events", json=body(PLACED), headers=INTAKE, timeout=60)
        assert response.status_code == 202, response.text
    finally:
        proc.terminate()
        output, _ = proc.communicate(timeout=30)
    lines = output.splitlines()
    entries = [json.loads(line) for line in lines]  # fails on any line that is not JSON
    access = [e["message"] for e in entries if e["logger"] == "uvicorn.access"]
    assert any("POST /v1/events" in m and "202" in m for m in access), lines
    assert {e["logger"] for e in entries} >= {"procledger.intake", "uvicorn.access"}
    assert proc.returncode == 0
