"""The benchmark runs end to end at smoke size and reports every figure (never asserts speed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from procledger_dev.stack.config import StackConfig
from tests.plugins.ledger import server_variables

FIGURES = {
    "publish", "raw_kafka_python", "raw_kcat", "raw_fastavro_decode", "raw_pg_copy",
    "e2e_1_consumers", "e2e_2_consumers", "e2e_3_consumers", "e2e_2_p12_consumers",
    "peak_rss_1_consumers", "peak_rss_2_consumers", "peak_rss_3_consumers",
    "latency_500_p50", "latency_500_p99", "latency_500_max", "rebuild", "peer_insert_1",
    "publish_bare_producer", "publish_product", "publish_cli_1_workers", "publish_cli_2_workers",
}  # fmt: skip


def test_quick_bench_reports_every_figure(stack: StackConfig, tmp_path: Path) -> None:
    env = {**os.environ, **server_variables(stack, "postgres")}
    result = subprocess.run(
        [sys.executable, "-m", "procledger_dev.bench", "--quick", "--out", str(tmp_path / "out"),
         "--results", str(tmp_path / "results" / "results.json")],
        env=env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads((tmp_path / "out" / "latest.json").read_text())
    assert results == json.loads((tmp_path / "results" / "results.json").read_text())
    assert results["figures"].keys() >= FIGURES
    for name, figure in results["figures"].items():
        assert figure["runs"], name
        assert figure["min"] <= figure["median"] <= figure["max"], name
        if not name.endswith("_steady"):  # a 5,000-event run may finish before a first look
            assert figure["min"] > 0, name
    assert results["ratios"] and all(v > 0 for v in results["ratios"].values())
    # Every target but latency's (judged at 1,000 and 10,000 events/s; --quick runs 500).
    assert results["targets"].keys() == {
        "e2e_2_consumers_events_per_s", "e2e_over_peer", "cpu_us_per_event",
        "consumer_cpu_us_per_event", "postgres_cpu_us_per_event", "publish_over_bare_producer",
        "publish_workers_2_over_1", "peak_rss_mb", "rebuild_s_per_million_events",
    }  # fmt: skip
    for runs in results["e2e_runs"].values():
        assert all(r["journal_rows"] + r["rejections"] == r["events"] for r in runs)
    # The peer sank every event once, as one row each.
    [peer_run] = results["peer_runs"]
    events = results["e2e_runs"]["1"][0]["events"]
    assert (peer_run["mode"], peer_run["tasks"], peer_run["rows"]) == ("insert", 1, events)
    assert peer_run["jvm_cpu_s"] > 0
    report = (tmp_path / "out" / "latest.md").read_text()
    assert report.startswith("# Benchmark")
    assert "| 2 consumer process(es), run 1 |" in report  # the CPU per process class
    assert "| 2 consumer process(es), 12 partitions, run 1 |" in report
    assert results["latency"]["500"]["events"] > 0
    batches = results["latency"]["500"]["batches"]
    assert batches["count"] > 0 and batches["events"]["p50"] >= 1
    assert 0 < batches["transaction_ms"]["p50"] <= batches["transaction_ms"]["p99"]
    assert "| Latency run (events/s asked) |" in report
