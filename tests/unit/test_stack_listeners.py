"""The local Kafka's listener settings: flags checked by name, properties per flag."""

from __future__ import annotations

from pathlib import Path

import pytest

from procledger_dev.stack import kafka
from procledger_dev.stack.config import StackConfig, StackError
from procledger_dev.stack.tls import TlsFiles

CFG = StackConfig.from_env({"STACK_DIR": "/tmp/stack-x", "STACK_KAFKA_PORT": "19092"})


@pytest.mark.parametrize("key", ["STACK_KAFKA_SASL", "STACK_KAFKA_TLS"])
def test_a_flag_other_than_0_or_1_is_refused_by_name(key: str) -> None:
    with pytest.raises(StackError, match=f"{key} must be 0 or 1, got 'yes'"):
        kafka.SaslSettings.from_env({key: "yes"})


def test_tls_alone_still_creates_the_scram_user() -> None:
    settings = kafka.SaslSettings.from_env({"STACK_KAFKA_TLS": "1"})
    assert (settings.enabled, settings.tls, settings.scram_users) == (False, True, True)
    assert not kafka.SaslSettings.from_env({}).scram_users


def test_plain_stack_has_only_the_plaintext_and_controller_listeners() -> None:
    props = kafka._properties(CFG, 1)
    assert "listeners=PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093\n" in props
    assert "SASL" not in props and "ssl." not in props


def test_sasl_and_tls_listeners_sit_100_and_200_above_plaintext() -> None:
    sasl = kafka.SaslSettings(enabled=True, tls=True)
    tls = TlsFiles(Path("/s/ca.pem"), Path("/s/broker.p12"), "pw")
    props = kafka._properties(CFG, 1, sasl, tls)
    extra = ",SASL_PLAINTEXT://127.0.0.1:19192,SASL_SSL://127.0.0.1:19292"
    assert f"CONTROLLER://127.0.0.1:19093{extra}\n" in props
    assert f"advertised.listeners=PLAINTEXT://127.0.0.1:19092{extra}\n" in props
    assert ",SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL\n" in props
    assert "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=" in props
    assert "ssl.keystore.location=/s/broker.p12\nssl.keystore.type=PKCS12\n" in props
    assert "ssl.keystore.password=pw\n" in props
    assert kafka.tls_bootstrap_servers(CFG) == "127.0.0.1:19292"
