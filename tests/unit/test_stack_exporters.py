"""The exporters' ports follow the stack's ports unless set, and a taken port is named."""

from __future__ import annotations

import socket

import pytest
import yaml

from procledger_dev.stack import exporters
from procledger_dev.stack.config import StackConfig, StackError


def test_default_ports_are_the_exporters_usual_ones() -> None:
    cfg = StackConfig.from_env({})
    assert cfg.kafka_exporter_ports() == [9404]
    assert cfg.pg_exporter_port == 9187


def test_a_second_stack_gets_its_own_exporter_ports() -> None:
    cfg = StackConfig.from_env(
        {"STACK_KAFKA_PORT": "19292", "STACK_KAFKA_BROKERS": "3", "STACK_PROMETHEUS_PORT": "19290"}
    )
    assert cfg.kafka_exporter_ports() == [19604, 19606, 19608]
    assert cfg.pg_exporter_port == 19387
    # None of them is a broker's client, controller, SASL or TLS port.
    brokers = {p + off for p in cfg.kafka_broker_ports() for off in (0, 1, 100, 101, 200, 201)}
    assert not brokers & {*cfg.kafka_exporter_ports(), cfg.pg_exporter_port}


def test_ports_can_be_set_and_bad_values_are_named() -> None:
    cfg = StackConfig.from_env(
        {"STACK_KAFKA_EXPORTER_PORT": "7071", "STACK_PG_EXPORTER_PORT": "7072"}
    )
    assert (cfg.kafka_exporter_port, cfg.pg_exporter_port) == (7071, 7072)
    with pytest.raises(StackError, match="STACK_PG_EXPORTER_PORT"):
        StackConfig.from_env({"STACK_PG_EXPORTER_PORT": "metrics"})


def test_a_taken_agent_port_is_refused_before_the_broker_starts() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        cfg = StackConfig.from_env({"STACK_KAFKA_EXPORTER_PORT": str(port)})
        with pytest.raises(StackError, match="STACK_KAFKA_EXPORTER_PORT"):
            exporters.jmx_agent_option(cfg, 1)


def test_agent_version_and_rules() -> None:
    assert exporters.jmx_exporter_version() == "1.0.1"
    rules = yaml.safe_load(exporters.JMX_RULES.read_text())
    assert rules["lowercaseOutputName"] is True
    names = {rule["name"] for rule in rules["rules"]}
    assert "kafka_log_size_bytes" in names
    assert all(r["name"].endswith("_total") for r in rules["rules"] if r["type"] == "COUNTER")
