"""The growth benchmark runs at smoke size: chunks fold into one ledger, the audit queries,
rebuild and verify are timed on it (never asserts speed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from procledger_dev.stack.config import StackConfig
from tests.plugins.ledger import server_variables


def test_growth_bench_grows_one_ledger_and_times_its_reads(
    stack: StackConfig, tmp_path: Path
) -> None:
    env = {**os.environ, **server_variables(stack, "postgres")}
    out = tmp_path / "growth.json"
    result = subprocess.run(
        [sys.executable, "-m", "procledger_dev.bench.growth", "--events", "3000", "--chunk",
         "1200", "--samples", "2", "--out", str(out), "--markdown", str(tmp_path / "growth.md")],
        env=env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads(out.read_text())
    chunks = results["chunks"]
    assert [c["events"] for c in chunks] == [1200, 1200, 600]
    # One ledger grows: each chunk's records are on top of the ones before.
    sizes = [c["ledger_events"] for c in chunks]
    assert sizes == sorted(sizes) and len(set(sizes)) == 3 and sizes[-1] >= 3000
    assert all(c["events_per_s"] > 0 and c["peak_rss_mb"] > 0 for c in chunks)
    assert results["last_over_first"] > 0
    queries = results["audit"]["queries"]
    expected = {"totals", "order", "trace", "totals_known_at_half", "order_known_at_half",
                "totals_known_at_mid_chunk", "totals_known_at_half_no_checkpoints"}  # fmt: skip
    assert expected <= set(queries)
    # A checkpoint per chunk: the first holds every order, each later one those it changed.
    assert all(c["checkpoint_orders"] > 0 and c["checkpoint_s"] > 0 for c in chunks)
    assert all(q["runs"] >= 1 and 0 < q["p50_s"] <= q["p99_s"] for q in queries.values())
    for name in ("rebuild", "verify"):
        assert results[name]["exit"] == 0, results[name]
        assert results[name]["peak_rss_mb"] > 0
    assert results["rebuild"]["report"]["differences"] == []
    assert (tmp_path / "growth.md").read_text().startswith("# Benchmark: the ledger as it grows")
