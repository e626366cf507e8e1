"""docker-compose.yml is valid and names the same ports, topics and variables as the stack."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from procledger.settings import DatabaseSettings, Env, KafkaSettings, Topics
from procledger_dev.stack import exporters
from procledger_dev.stack.config import StackConfig

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def test_docker_compose_config_validates() -> None:
    tool = shutil.which("docker-compose")
    cmd = [tool, "config", "-q"] if tool else ["docker", "compose", "config", "-q"]
    if not tool and shutil.which("docker") is None:
        pytest.fail("neither docker-compose nor docker is installed (.ci/run installs it)")
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_compose_publishes_the_local_stack_ports() -> None:
    stack = StackConfig.from_env({})
    services = _compose()["services"]
    published = {
        name: {int(str(p).split(":")[0]) for p in svc.get("ports", [])}
        for name, svc in services.items()
    }
    assert stack.kafka_port in published["kafka"]
    assert stack.pg_port in published["postgres"]
    assert stack.prometheus_port in published["prometheus"]
    assert 9410 in published["consumer"]


def test_compose_uses_the_same_topics_and_variables() -> None:
    services = _compose()["services"]
    env = services["consumer"]["environment"]
    topics = Topics.from_env(Env({}))
    assert env["TOPIC_ORDERS"] == topics.orders
    assert env["TOPIC_STOCKPILE_TARGETS"] == topics.stockpile_targets
    assert env["TOPIC_DLQ"] == topics.dlq
    assert int(env["TOPIC_PARTITIONS"]) == topics.partitions
    # Every variable compose sets is one the settings read (no typo goes unnoticed).
    settings = Env(env)
    assert KafkaSettings.from_env(settings).bootstrap_servers == "kafka:9092"
    db = DatabaseSettings.from_env(settings)
    assert db.url.startswith("postgresql://procledger_app:")
    assert "/procledger" in db.admin_url


def test_compose_kafka_is_kraft_4x() -> None:
    kafka = _compose()["services"]["kafka"]
    assert kafka["image"].startswith("apache/kafka:4.")
    assert kafka["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert _compose()["services"]["postgres"]["image"] == "postgres:17"


def test_compose_runs_the_same_exporters_as_the_stack() -> None:
    services = _compose()["services"]
    version = exporters.jmx_exporter_version()
    agent = f"jmx_prometheus_javaagent-{version}.jar=9404:/etc/kafka/jmx-exporter.yml"
    assert agent in services["kafka"]["environment"]["KAFKA_OPTS"]
    assert (
        "./deploy/kafka/jmx-exporter.yml:/etc/kafka/jmx-exporter.yml:ro"
        in (services["kafka"]["volumes"])
    )
    assert "/deploy/kafka/jmx-exporter-pom.xml" in services["jmx-agent"]["command"]
    # Kafka's tools read KAFKA_OPTS too: the health check's must not load the agent again.
    assert services["kafka"]["healthcheck"]["test"][1].startswith("KAFKA_OPTS= ")
    pg = services["postgres-exporter"]
    debian = subprocess.run(
        [exporters.PG_EXPORTER, "--version"], capture_output=True, text=True, check=False
    )
    tag = pg["image"].rsplit(":v", 1)[1]
    assert f"version {tag} " in debian.stdout + debian.stderr, "same version as Debian's"
    assert (
        "./deploy/postgres/exporter-queries.yml:/etc/postgres-exporter/queries.yml:ro"
        in (pg["volumes"])
    )
    targets = {
        target
        for job in yaml.safe_load((ROOT / "deploy/prometheus/prometheus.compose.yml").read_text())[
            "scrape_configs"
        ]
        for config in job["static_configs"]
        for target in config["targets"]
    }
    assert {"kafka:9404", "postgres-exporter:9187"} <= targets
