"""The committed Grafana dashboards are exactly what procledger_dev.ops.dashboards generates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from procledger_dev.ops import dashboards

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "deploy" / "grafana"
COMMITTED = GRAFANA / "dashboards"


def panels(name: str) -> list[dict[str, Any]]:
    loaded: list[dict[str, Any]] = json.loads((COMMITTED / name).read_text())["panels"]
    return loaded


@pytest.mark.parametrize("name", sorted(dashboards.DASHBOARDS))
def test_committed_json_matches_the_builder(name: str) -> None:
    expected = dashboards.dump(dashboards.DASHBOARDS[name]())
    assert (COMMITTED / name).read_text() == expected, (
        f"{name} differs from the builder: run "
        "`python -m procledger_dev.ops.dashboards --out deploy/grafana/dashboards`"
    )


def test_no_other_dashboard_files() -> None:
    assert sorted(p.name for p in COMMITTED.glob("*.json")) == sorted(dashboards.DASHBOARDS)


def test_main_writes_the_files(tmp_path: Path) -> None:
    assert dashboards.main(["--out", str(tmp_path)]) == 0
    for name in dashboards.DASHBOARDS:
        assert (tmp_path / name).read_text() == (COMMITTED / name).read_text()


@pytest.mark.parametrize("name", sorted(dashboards.DASHBOARDS))
def test_panels_are_well_formed(name: str) -> None:
    found = panels(name)
    assert len({p["id"] for p in found}) == len(found)
    for panel in found:
        assert panel["type"] in {"timeseries", "stat", "bargauge", "table"}
        assert panel["datasource"] == {"type": "prometheus", "uid": "prometheus"}
        assert panel["targets"], panel["title"]
        assert all(t["expr"].strip() for t in panel["targets"])
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["x"] + pos["w"] <= 24


def test_pipeline_dashboard_covers_the_pipeline() -> None:
    exprs = " ".join(t["expr"] for p in panels("ledger-pipeline.json") for t in p["targets"])
    for metric in (
        "events_applied_total", "events_consumed_total", "lag_messages", "lag_seconds",
        "end_to_end_latency_seconds_bucket", "events_rejected_total", "batch_size_records",
        "batch_duration_seconds", "db_commit_duration_seconds", "retries_total",
        "rebalances_total", "fenced_batches_total",
    ):  # fmt: skip
        assert f"procledger_consumer_{metric}" in exprs, metric
    for q in ("0.5", "0.9", "0.99"):
        assert f"histogram_quantile({q}, sum by (le) (rate(procledger_consumer_end_to_end" in exprs


def test_headline_stat_turns_at_one_billion() -> None:
    stat = next(p for p in panels("procurement.json") if "year to date" in p["title"])
    assert stat["type"] == "stat"
    assert "procledger_ledger_ordered_value_155mm_ytd_usd" in stat["targets"][0]["expr"]
    steps = stat["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert [s["value"] for s in steps] == [None, 1e9]


def test_provisioning_points_at_the_dashboards() -> None:
    source = yaml.safe_load((GRAFANA / "provisioning/datasources/prometheus.yml").read_text())
    (datasource,) = source["datasources"]
    assert datasource["uid"] == "prometheus"
    assert datasource["url"] == "http://prometheus:9090"
    provider = yaml.safe_load((GRAFANA / "provisioning/dashboards/procledger.yml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    volumes = compose["services"]["grafana"]["volumes"]
    assert "./deploy/grafana/dashboards:/var/lib/grafana/dashboards:ro" in volumes
    assert "./deploy/grafana/provisioning:/etc/grafana/provisioning:ro" in volumes
