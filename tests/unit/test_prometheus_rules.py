"""Every alert says what to do and is tested both ways; the configs scrape the right ports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from procledger.settings import Env
from procledger.settings.audit import AuditSettings
from procledger.settings.consumer import ConsumerSettings
from procledger.settings.publishing import IntakeSettings
from procledger_dev.stack.config import ServicePorts, StackConfig
from procledger_dev.stack.prometheus import config_text

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
RULE_FILES = sorted((PROMETHEUS / "rules").glob("*.yml"))
TEST_FILES = sorted((PROMETHEUS / "tests").glob("*.yml"))
CONFIGS = [PROMETHEUS / "prometheus.yml", PROMETHEUS / "prometheus.compose.yml"]


def alert_rules() -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            rules.extend(r for r in group["rules"] if "alert" in r)
    return rules


def test_there_are_rule_and_test_files() -> None:
    assert [p.name for p in RULE_FILES] == ["procledger.yml", "servers.yml"]
    assert TEST_FILES


def test_every_alert_says_what_to_do() -> None:
    for rule in alert_rules():
        annotations = rule.get("annotations", {})
        missing = {"summary", "description", "runbook"} - annotations.keys()
        assert not missing, f"{rule['alert']} lacks {sorted(missing)}"
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}


def test_every_alert_is_tested_firing_and_not_firing() -> None:
    firing: set[str] = set()
    quiet: set[str] = set()
    for path in TEST_FILES:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    names = {rule["alert"] for rule in alert_rules()}
    assert names <= firing, f"never tested firing: {sorted(names - firing)}"
    assert names <= quiet, f"never tested quiet: {sorted(names - quiet)}"


def test_the_required_alerts_exist() -> None:
    assert {rule["alert"] for rule in alert_rules()} >= {
        "ConsumerDown",
        "ConsumerLagHigh",
        "LedgerRejections",
        "DeadLetterTraffic",
        "EndToEndLatencyHigh",
        "VerificationFailing",
        "VerificationStale",
        "NoEventsWhileProducersUp",
        "KafkaBrokerDown",
        "KafkaUnderReplicatedPartitions",
        "PostgresDown",
    }


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_every_service_is_scraped(config: Path) -> None:
    jobs = {job["job_name"] for job in yaml.safe_load(config.read_text())["scrape_configs"]}
    assert jobs >= {
        "procledger-consumer",
        "procledger-intake",
        "procledger-audit",
        "procledger-publish",
        "kafka",
        "postgres",
    }


def test_the_shipped_config_is_the_generated_one_for_the_default_ports() -> None:
    assert (PROMETHEUS / "prometheus.yml").read_text() == config_text(StackConfig.from_env({})), (
        "run `python -m procledger_dev.stack.prometheus` after changing the generator"
    )


def test_a_stack_scrapes_the_ports_its_settings_name() -> None:
    cfg = StackConfig.from_env({
        "STACK_PROMETHEUS_PORT": "21090", "CONSUMER_METRICS_PORT": "21410",
        "INTAKE_PORT": "21081", "AUDIT_PORT": "21082", "PUBLISH_METRICS_PORT": "21420",
    })  # fmt: skip
    jobs = {
        job["job_name"]: job["static_configs"][0]["targets"]
        for job in yaml.safe_load(config_text(cfg))["scrape_configs"]
    }
    assert jobs == {
        "prometheus": ["127.0.0.1:21090"],
        "procledger-consumer": ["127.0.0.1:21410", "127.0.0.1:21411", "127.0.0.1:21412"],
        "procledger-intake": ["127.0.0.1:21081"],
        "procledger-audit": ["127.0.0.1:21082"],
        "procledger-publish": ["127.0.0.1:21420"],
        # The exporters follow the stack's ports: Kafka 9092 + 312, Prometheus 21090 + 97.
        "kafka": ["127.0.0.1:9404"],
        "postgres": ["127.0.0.1:21187"],
    }


def test_the_stack_expects_each_service_on_its_own_default_port() -> None:
    env = Env({"INTAKE_TOKENS": "t", "PROCLEDGER_PROFILE": "local"})
    ports = ServicePorts.from_env({})
    assert ports.consumer == ConsumerSettings.from_env(env).metrics_port
    assert ports.intake == IntakeSettings.from_env(env).port
    assert ports.audit == AuditSettings.from_env(env).port
