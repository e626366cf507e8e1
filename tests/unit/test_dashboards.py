"""The committed Grafana dashboards are exactly what procledger_dev.ops.dashboards generates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from procledger_dev.ops import dashboards
from procledger_dev.ops.grafana import as_promql

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "deploy" / "grafana"
COMMITTED = GRAFANA / "dashboards"
COMMITTED_NAMES = sorted(dashboards.DASHBOARDS)


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
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["x"] + pos["w"] <= 24
        if panel["type"] == "row":
            continue
        assert panel["type"] in {"timeseries", "stat", "bargauge", "table", "barchart"}
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"], panel["title"]
        assert all(t["expr"].strip() for t in panel["targets"])
        assert all(t["datasource"]["uid"] == "${datasource}" for t in panel["targets"])


@pytest.mark.parametrize("name", sorted(dashboards.DASHBOARDS))
def test_no_datasource_uid_is_hard_coded_and_every_variable_is_used(name: str) -> None:
    text = (COMMITTED / name).read_text()
    model = json.loads(text)
    assert '"uid": "prometheus"' not in text
    variables = model["templating"]["list"]
    assert variables[0]["type"] == "datasource" and variables[0]["name"] == "datasource"
    queries = [v for v in variables[1:] if v["type"] == "query"]
    assert queries, "instance, topic or buyer variables"
    exprs = " ".join(t["expr"] for p in model["panels"] for t in p.get("targets", []))
    for variable in queries:
        assert variable["datasource"]["uid"] == "${datasource}"
        assert variable["definition"].startswith("label_values(")
        assert f'=~"${variable["name"]}"' in exprs, f"${variable['name']} filters no panel"


def test_dashboards_link_to_each_other() -> None:
    uids = {name: json.loads((COMMITTED / name).read_text())["uid"] for name in COMMITTED_NAMES}
    for name in COMMITTED_NAMES:
        links = json.loads((COMMITTED / name).read_text())["links"]
        targets = {link["url"].split("?")[0] for link in links}
        assert targets == {f"/d/{uid}" for n, uid in uids.items() if n != name}
        assert all(link["keepTime"] for link in links)


def test_expected_variables() -> None:
    def names(dashboard: str) -> set[str]:
        model = json.loads((COMMITTED / dashboard).read_text())
        return {v["name"] for v in model["templating"]["list"]}

    assert names("ledger-pipeline.json") >= {"datasource", "instance", "topic"}
    assert names("procurement.json") >= {"datasource", "buyer", "caliber", "country"}
    assert names("servers.json") >= {"datasource", "broker", "topic", "pg", "datname"}


def test_pipeline_dashboard_has_a_section_per_service() -> None:
    found = panels("ledger-pipeline.json")
    rows = [p["title"] for p in found if p["type"] == "row"]
    assert rows == ["Consumers", "Intake API", "Audit API",
                    "Publishing (intake API and publish CLI)"]  # fmt: skip
    exprs = " ".join(t["expr"] for p in found for t in p.get("targets", []))
    for service in ("intake", "audit"):
        assert f'procledger_http_requests_total{{service="{service}"' in exprs
        assert f'procledger_http_request_duration_seconds_bucket{{service="{service}"' in exprs
    for metric in (
        "procledger_audit_last_verification_success", "procledger_audit_verification_discrepancies",
        "procledger_publish_events_total", "procledger_publish_failures_total",
        "procledger_validation_failures_total", "procledger_publish_latency_seconds_bucket",
    ):  # fmt: skip
        assert metric in exprs, metric


def test_business_time_panels_use_business_dates() -> None:
    found = {p["title"]: p for p in panels("procurement.json")}
    monthly = found["155mm ordered by business month, and running total"]
    assert monthly["type"] == "barchart" and monthly["options"]["xField"] == "month"
    assert "committed_value_by_month_usd" in monthly["targets"][0]["expr"]
    steps = monthly["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert [s["value"] for s in steps] == [None, 1e9]
    assert any(t["id"] == "calculateField" for t in monthly["transformations"])
    clock = found["Business clock: latest 155mm order placed"]
    assert "ordered_value_155mm_ytd_as_of_seconds" in clock["targets"][0]["expr"]
    # The wall-clock substitute says what it is.
    assert "Committed value by calibre, by record time (wall clock)" in found


def test_servers_dashboard_covers_broker_and_database() -> None:
    exprs = " ".join(t["expr"] for p in panels("servers.json") for t in p.get("targets", []))
    for metric in (
        "kafka_server_replicamanager_underreplicatedpartitions",
        "kafka_network_requestmetrics_requests_total", "kafka_log_size_bytes",
        "pg_stat_database_numbackends", "pg_stat_database_xact_commit", "pg_locks_count",
        "pg_replication_replay_lag_bytes", "pg_database_size_bytes", "pg_wal_size_bytes",
    ):  # fmt: skip
        assert metric in exprs, metric


def test_pipeline_dashboard_covers_the_pipeline() -> None:
    exprs = " ".join(
        t["expr"] for p in panels("ledger-pipeline.json") for t in p.get("targets", [])
    )
    for metric in (
        "events_applied_total", "events_consumed_total", "lag_messages", "lag_seconds",
        "end_to_end_latency_seconds_bucket", "events_rejected_total", "batch_size_records",
        "batch_duration_seconds", "db_commit_duration_seconds", "retries_total",
        "rebalances_total", "fenced_batches_total", "dlq_pending",
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


def test_as_promql_sets_every_variable_to_all() -> None:
    expr = 'sum(rate(m{instance=~"$instance", topic=~"$topic"}[$__rate_interval])) > $__range'
    assert as_promql(expr, "2m") == 'sum(rate(m{instance=~".*", topic=~".*"}[2m])) > 2m'
