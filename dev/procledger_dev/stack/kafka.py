"""Apache Kafka in KRaft mode from Maven Central jars: one combined node, or a 3-node cluster."""

from __future__ import annotations

import base64
import os
import subprocess
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from kafka import KafkaAdminClient
from kafka.errors import KafkaError

from procledger_dev.stack.config import REPO_ROOT, StackConfig, StackError
from procledger_dev.stack.exporters import jmx_agent_option
from procledger_dev.stack.procs import (
    maven_copy,
    port_open,
    read_pid,
    require,
    spawn,
    stop_all,
    stop_pid,
    wait_until,
)
from procledger_dev.stack.tls import TlsFiles, ensure_tls, tls_files

POM = REPO_ROOT / "deploy" / "kafka" / "pom.xml"
LOG4J = REPO_ROOT / "deploy" / "kafka" / "log4j2.properties"

# The optional SASL_PLAINTEXT and SASL_SSL listeners sit this far above each PLAINTEXT port.
SASL_PORT_OFFSET = 100
TLS_PORT_OFFSET = 200
DEFAULT_SASL_USERNAME = "procledger"
DEFAULT_SASL_PASSWORD = "procledger-secret"  # noqa: S105 - a documented local-stack default


@dataclass(frozen=True, slots=True)
class SaslSettings:
    """STACK_KAFKA_SASL=1 adds a SCRAM-SHA-512 listener, STACK_KAFKA_TLS=1 one with TLS too
    (SASL_SSL); both use the user STACK_KAFKA_SASL_USERNAME/PASSWORD."""

    enabled: bool = False
    username: str = DEFAULT_SASL_USERNAME
    password: str = field(default=DEFAULT_SASL_PASSWORD, repr=False)
    tls: bool = False

    @property
    def scram_users(self) -> bool:
        return self.enabled or self.tls

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SaslSettings:
        env = os.environ if env is None else env
        flags = {key: env.get(key, "0") for key in ("STACK_KAFKA_SASL", "STACK_KAFKA_TLS")}
        for key, flag in flags.items():
            if flag not in {"0", "1"}:
                raise StackError(f"{key} must be 0 or 1, got {flag!r}")
        username = env.get("STACK_KAFKA_SASL_USERNAME") or DEFAULT_SASL_USERNAME
        password = env.get("STACK_KAFKA_SASL_PASSWORD") or DEFAULT_SASL_PASSWORD
        # StorageTool parses `[name=...,password=...]`: these characters would break it.
        if any(c in username + password for c in ',[]="'):
            raise StackError('STACK_KAFKA_SASL_USERNAME/PASSWORD must not contain , [ ] = or "')
        return cls(
            flags["STACK_KAFKA_SASL"] == "1", username, password, flags["STACK_KAFKA_TLS"] == "1"
        )


def sasl_ports(cfg: StackConfig) -> list[int]:
    """The SASL_PLAINTEXT client ports (PLAINTEXT port + 100) when STACK_KAFKA_SASL=1."""
    return [p + SASL_PORT_OFFSET for p in cfg.kafka_broker_ports()]


def sasl_bootstrap_servers(cfg: StackConfig) -> str:
    return ",".join(f"127.0.0.1:{p}" for p in sasl_ports(cfg))


def tls_bootstrap_servers(cfg: StackConfig) -> str:
    """The SASL_SSL client addresses (PLAINTEXT port + 200) when STACK_KAFKA_TLS=1."""
    return ",".join(f"127.0.0.1:{p + TLS_PORT_OFFSET}" for p in cfg.kafka_broker_ports())


def tls_cafile(cfg: StackConfig) -> Path:
    """The PEM of the CA that signed the brokers' certificates: clients' KAFKA_SSL_CAFILE."""
    return tls_files(cfg).ca_pem


def kafka_version() -> str:
    text = POM.read_text()
    return text.split("<kafka.version>")[1].split("</kafka.version>")[0]


def jars_dir(cfg: StackConfig) -> Path:
    return cfg.cache_dir / f"kafka-{kafka_version()}"


def ensure_jars(cfg: StackConfig) -> Path:
    """Resolve the broker and its runtime dependencies once; later calls reuse the cache."""
    require("java", "openjdk-17-jre-headless")
    return maven_copy(POM, jars_dir(cfg), f"Apache Kafka {kafka_version()}")


def _node_dir(cfg: StackConfig, node: int) -> Path:
    return cfg.root / "kafka" / f"node-{node}"


def _secured_properties(
    port: int, sasl: SaslSettings, tls: TlsFiles | None
) -> tuple[str, str, str]:
    """Extra listeners, their protocol map entries and the settings for SCRAM (and TLS)."""
    listeners = [("SASL_PLAINTEXT", port + SASL_PORT_OFFSET)] if sasl.enabled else []
    if tls is not None:
        listeners.append(("SASL_SSL", port + TLS_PORT_OFFSET))
    if not listeners:
        return "", "", ""
    lines = [
        "# SCRAM-SHA-512 clients on the secured listeners; users are added at format time.",
        "sasl.enabled.mechanisms=SCRAM-SHA-512",
        *(f"listener.name.{name.lower()}.scram-sha-512.sasl.jaas.config="
          "org.apache.kafka.common.security.scram.ScramLoginModule required;"
          for name, _ in listeners),
    ]  # fmt: skip
    if tls is not None:
        lines += [
            "# The broker's key and certificate chain (procledger_dev.stack.tls made them).",
            f"ssl.keystore.location={tls.keystore}",
            "ssl.keystore.type=PKCS12",
            f"ssl.keystore.password={tls.password}",
        ]
    return (
        "".join(f",{name}://127.0.0.1:{p}" for name, p in listeners),
        "".join(f",{name}:{name}" for name, _ in listeners),
        "\n".join(lines) + "\n",
    )


def _properties(
    cfg: StackConfig, node: int, sasl: SaslSettings | None = None, tls: TlsFiles | None = None
) -> str:
    ports = cfg.kafka_broker_ports()
    voters = ",".join(f"{i + 1}@127.0.0.1:{p + 1}" for i, p in enumerate(ports))
    port = ports[node - 1]
    replication = cfg.kafka_brokers
    min_isr = 2 if replication == 3 else 1
    # The PLAINTEXT listener stays as it is (inter-broker traffic and existing clients use it).
    extra, protocols, secured = _secured_properties(port, sasl or SaslSettings(), tls)
    return f"""# Generated by procledger stack; edit dev/procledger_dev/stack/kafka.py instead.
process.roles=broker,controller
node.id={node}
controller.quorum.voters={voters}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{port + 1}{extra}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}{extra}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT{protocols}
{secured}log.dirs={_node_dir(cfg, node) / "data"}
num.partitions=6
default.replication.factor={replication}
min.insync.replicas={min_isr}
offsets.topic.replication.factor={replication}
offsets.topic.num.partitions=12
transaction.state.log.replication.factor={replication}
transaction.state.log.min.isr={min_isr}
# Topics are created on purpose (procledger topics create), never by a typo.
auto.create.topics.enable=false
# Tests form groups constantly; the default 3 s delay only slows them.
group.initial.rebalance.delay.ms=0
log.retention.hours=-1
log.segment.bytes=268435456
"""


def _java(cfg: StackConfig, jars: Path, *args: str) -> list[str]:
    java = require("java", "openjdk-17-jre-headless")
    return [java, "-Xms256m", "-Xmx768m", "-XX:+UseG1GC",
            f"-Dlog4j2.configurationFile={LOG4J}", "-cp", f"{jars}/*", *args]  # fmt: skip


def _broker(cfg: StackConfig, jars: Path, node: int) -> list[str]:
    """The broker's command line, with the JMX exporter agent serving its metrics."""
    props = _node_dir(cfg, node) / "server.properties"
    java, *options = _java(cfg, jars, "kafka.Kafka", str(props))
    return [java, jmx_agent_option(cfg, node), *options]


def up(cfg: StackConfig) -> list[str]:
    """Format storage where new, start every node not running, wait until each answers."""
    jars = ensure_jars(cfg)
    cluster_file = cfg.root / "kafka" / "cluster.id"
    cluster_file.parent.mkdir(parents=True, exist_ok=True)
    if not cluster_file.exists():
        # A KRaft cluster id is 16 random bytes in URL-safe base64 without padding.
        raw = uuid.uuid4().bytes
        cluster_file.write_text(base64.urlsafe_b64encode(raw).decode().rstrip("=") + "\n")
    cluster_id = cluster_file.read_text().strip()
    sasl = SaslSettings.from_env()
    tls = ensure_tls(cfg) if sasl.tls else None
    started: list[tuple[int, Path]] = []
    for node, port in enumerate(cfg.kafka_broker_ports(), start=1):
        home = _node_dir(cfg, node)
        home.mkdir(parents=True, exist_ok=True)
        props = home / "server.properties"
        props.write_text(_properties(cfg, node, sasl, tls))
        log = cfg.logs / f"kafka-{node}.log"
        if read_pid(home / "kafka.pid") is not None:
            continue
        if port_open(port):
            raise StackError(f"port {port} is taken by another process; set STACK_KAFKA_PORT")
        if not (home / "data" / "meta.properties").exists():
            # SCRAM users live in the cluster metadata; KRaft takes the first ones at format.
            scram = (
                ["--add-scram", f"SCRAM-SHA-512=[name={sasl.username},password={sasl.password}]"]
                if sasl.scram_users
                else []
            )
            # `--cluster-id=` form: a random id may start with "-", which a separate
            # argument would turn into an unknown option.
            fmt = subprocess.run(
                _java(cfg, jars, "kafka.tools.StorageTool", "format",
                      f"--cluster-id={cluster_id}", "-c", str(props), *scram),
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            if fmt.returncode != 0:
                raise StackError(f"formatting KRaft storage failed:\n{fmt.stdout}{fmt.stderr}")
        env = dict(os.environ, KAFKA_NODE=str(node))
        spawn(_broker(cfg, jars, node), home / "kafka.pid", log, env=env)
        started.append((port, log))
    for port, log in started:
        wait_until(lambda p=port: port_open(p), 90, f"Kafka broker on port {port}", log)  # type: ignore[misc]
    wait_until(lambda: _metadata_ready(cfg), 90, "Kafka metadata", cfg.logs / "kafka-1.log")
    lines = [f"kafka      {cfg.bootstrap_servers} (Apache Kafka {kafka_version()}, KRaft)"]
    if sasl.enabled:
        lines.append(f"kafka      {sasl_bootstrap_servers(cfg)} (SASL_PLAINTEXT, SCRAM-SHA-512)")
    if tls is not None:
        lines.append(
            f"kafka      {tls_bootstrap_servers(cfg)} (SASL_SSL, SCRAM-SHA-512; CA {tls.ca_pem})"
        )
    return lines


def _metadata_ready(cfg: StackConfig) -> bool:
    """All brokers registered: a client can create topics with the full replication factor."""
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=cfg.bootstrap_servers, request_timeout_ms=3000, client_id="stack"
        )
    except KafkaError:
        return False
    try:
        cluster = admin.describe_cluster()
        return len(cluster.get("brokers", [])) >= cfg.kafka_brokers
    except KafkaError:
        return False
    finally:
        admin.close()


def node_pid_file(cfg: StackConfig, node: int) -> Path:
    return _node_dir(cfg, node) / "kafka.pid"


RESTART_WAIT_S = 240


def start_node(cfg: StackConfig, node: int) -> None:
    """Start one node again (fault tests bring a killed broker back)."""
    home = _node_dir(cfg, node)
    port = cfg.kafka_broker_ports()[node - 1]
    log = cfg.logs / f"kafka-{node}.log"
    spawn(_broker(cfg, ensure_jars(cfg), node), home / "kafka.pid", log)
    # Longer than a first start's wait: a restarted broker reloads and recovers every log, and
    # on a shared machine at load 24-34 that took over 90 s (two fault runs failed on it).
    wait_until(lambda: port_open(port), RESTART_WAIT_S, f"Kafka broker on port {port}", log)


def stop_node(cfg: StackConfig, node: int) -> bool:
    return stop_pid(node_pid_file(cfg, node), timeout=60)


def down(cfg: StackConfig) -> list[str]:
    files = [node_pid_file(cfg, n) for n in range(1, cfg.kafka_brokers + 1)]
    running = stop_all(files, timeout=60)
    stopped = [n for n in range(1, cfg.kafka_brokers + 1) if files[n - 1] in running]
    return [f"kafka      stopped node(s) {stopped}" if stopped else "kafka      not running"]


def status(cfg: StackConfig) -> list[str]:
    lines = []
    for node, port in enumerate(cfg.kafka_broker_ports(), start=1):
        pid = read_pid(node_pid_file(cfg, node))
        state = f"running (pid {pid})" if pid and port_open(port) else "stopped"
        lines.append(f"kafka-{node}    127.0.0.1:{port} {state}")
    return lines
