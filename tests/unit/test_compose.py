"""docker-compose.yml is valid and names the same ports, topics and variables as the stack."""

from __future__ import annotations

import tomllib
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import yaml

from procledger.entrypoints.cli.main import build_parser
from procledger.settings import DatabaseSettings, Env, KafkaSettings, Topics
from procledger_dev.stack import exporters
from procledger_dev.stack.config import StackConfig

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


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
    db = DatabaseSettings.from_env(settings, admin=True)
    assert db.url.startswith("postgresql://procledger_app:")
    assert "/procledger" in db.admin_url


def test_compose_kafka_is_kraft_4x() -> None:
    kafka = _compose()["services"]["kafka"]
    assert kafka["image"].startswith("apache/kafka:4.")
    assert kafka["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert _compose()["services"]["postgres"]["image"] == "postgres:17"


def _mounts() -> dict[str, Path]:
    """Every bind mount of the compose services: container path -> checkout path."""
    mounts = {}
    for svc in _compose()["services"].values():
        for volume in svc.get("volumes", []):
            source, target = str(volume).split(":")[:2]
            if source.startswith((".", "/")):  # a bind mount, not a named volume
                mounts[target] = ROOT / source
    return mounts


def test_every_mounted_file_exists_in_the_checkout() -> None:
    mounts = _mounts()
    assert mounts, "compose mounts nothing: the test would prove nothing"
    missing = [f"{target} <- {source}" for target, source in mounts.items() if not source.exists()]
    assert not missing


def test_grafana_and_prometheus_find_their_files_under_the_mounts() -> None:
    mounts = _mounts()
    provider = yaml.safe_load(
        (mounts["/etc/grafana/provisioning"] / "dashboards" / "procledger.yml").read_text()
    )
    dashboards = mounts[provider["providers"][0]["options"]["path"]]
    assert {"ledger-pipeline.json", "procurement.json"} <= {
        p.name for p in dashboards.glob("*.json")
    }
    assert list((mounts["/etc/grafana/provisioning"] / "datasources").glob("*.yml"))
    config = yaml.safe_load(mounts["/etc/prometheus/prometheus.yml"].read_text())
    for pattern in config["rule_files"]:  # relative to the config file's folder
        folder, glob = pattern.rsplit("/", 1)
        assert list(mounts[f"/etc/prometheus/{folder}"].glob(glob)), pattern


def test_the_image_is_built_from_the_wheel_inputs_only() -> None:
    from tests.e2e.test_installed_product import BUILD_INPUTS  # noqa: PLC0415 - e2e module

    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text().splitlines()
    copied = {
        part.rstrip("/")
        for line in dockerfile
        if line.startswith("COPY ") and "--from" not in line
        for part in line.split()[1:-1]
    }
    assert copied == set(BUILD_INPUTS)
    allowed = {
        line[1:].rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    assert allowed == set(BUILD_INPUTS)
    assert all((ROOT / name).exists() for name in BUILD_INPUTS)
    # The runtime stage installs the wheel, runs as a non-root user, and holds no source.
    runtime = "\n".join(
        dockerfile[next(i for i, line in enumerate(dockerfile) if " AS runtime" in line) :]
    )
    assert "--find-links /wheels procledger" in runtime
    assert "\nUSER procledger" in runtime
    assert "COPY" not in runtime


def test_the_compose_commands_exist_in_the_installed_cli() -> None:
    parser = build_parser()
    services = _compose()["services"]
    commands = [services[name]["command"] for name in ("consumer", "intake", "audit")]
    setup = services["setup"]["entrypoint"][-1]
    commands += [step.split()[1:] for step in setup.split("&&")]
    # The checkpoint loop's one procledger command, between `do` and the `;` after it.
    loop = services["checkpoint"]["entrypoint"][-1]
    commands.append(loop.split("do ", 1)[1].split(";", 1)[0].split()[1:])
    for command in commands:
        args = parser.parse_args(command)  # exits (failing the test) on an unknown command
        assert callable(args.func)


def test_the_package_data_covers_every_schema_and_migration() -> None:
    # Migrations and schemas are read from the installed package: a file the package-data
    # patterns miss would be absent from the wheel (and from the image) without a sound.
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = data["tool"]["setuptools"]["package-data"]["procledger.schemas"]
    files = [
        p.relative_to(ROOT / "schemas").as_posix()
        for p in (ROOT / "schemas").rglob("*")
        if p.is_file() and p.suffix not in {".py", ".pyc"}
    ]
    assert files
    assert [f for f in files if not any(fnmatch(f, pattern) for pattern in patterns)] == []


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
