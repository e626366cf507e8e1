"""The real promtool: Prometheus configs, alert rules and their tests, dashboards' PromQL."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from procledger_dev.ops import dashboards
from procledger_dev.ops.grafana import as_promql
from procledger_dev.stack.config import StackConfig
from procledger_dev.stack.prometheus import config_text

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
RULE_FILES = sorted((PROMETHEUS / "rules").glob("*.yml"))
TEST_FILES = sorted((PROMETHEUS / "tests").glob("*.yml"))
CONFIGS = [PROMETHEUS / "prometheus.yml", PROMETHEUS / "prometheus.compose.yml"]
DASHBOARDS = ROOT / "deploy" / "grafana" / "dashboards"


def panels(name: str) -> list[dict[str, Any]]:
    loaded: list[dict[str, Any]] = json.loads((DASHBOARDS / name).read_text())["panels"]
    return loaded


def promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("promtool")
    if tool is None:
        pytest.fail("promtool is not installed (Debian package `prometheus`; .ci/run installs it)")
    return subprocess.run(
        [tool, *map(str, args)], cwd=PROMETHEUS, capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_promtool_checks_config(config: Path) -> None:
    result = promtool("check", "config", config)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_checks_rules() -> None:
    result = promtool("check", "rules", *RULE_FILES)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_pass() -> None:
    result = promtool("test", "rules", *TEST_FILES)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


def test_every_dashboard_expression_parses(tmp_path: Path) -> None:
    """promtool parses each expression, with the variables as Grafana's All would set them."""
    exprs = [
        t["expr"]
        for name in sorted(dashboards.DASHBOARDS)
        for p in panels(name)
        for t in p.get("targets", [])
    ]
    rules = [{"record": f"dashboard:expr{i}", "expr": as_promql(e)} for i, e in enumerate(exprs)]
    path = tmp_path / "exprs.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = promtool("check", "rules", path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_checks_a_config_generated_for_other_ports(tmp_path: Path) -> None:
    cfg = StackConfig.from_env({"STACK_PROMETHEUS_PORT": "21090", "AUDIT_PORT": "21082"})
    config = tmp_path / "prometheus.yml"
    config.write_text(config_text(cfg, rules=f"{PROMETHEUS}/rules/*.yml"))
    result = promtool("check", "config", config)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr
