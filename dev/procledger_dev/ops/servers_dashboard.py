"""The "Servers" dashboard: Kafka (JMX exporter agent) and PostgreSQL (postgres_exporter)."""

from __future__ import annotations

from procledger_dev.ops.grafana import RATE, Dashboard, Panel, Target, Variable, row, stat

K = 'instance=~"$broker"'
# Per-topic broker meters carry a topic label; the all-topics ones have none, and =~".*"
# would match both, so per-topic queries insist on a topic.
KT = f'{K}, topic=~"$topic", topic!=""'
PG = 'instance=~"$pg"'
PGD = f'{PG}, datname=~"$datname"'


def _kafka() -> tuple[Panel, ...]:
    red_from_1 = ((None, "green"), (1, "red"))
    return (
        row("Kafka brokers"),
        stat(
            "Brokers up",
            f'sum(up{{job="kafka", {K}}})',
            "Brokers whose JMX exporter agent answers (the KafkaBrokerDown alert)",
            thresholds=((None, "red"), (1, "green")),
        ),
        stat(
            "Under-replicated partitions",
            f"sum(kafka_server_replicamanager_underreplicatedpartitions{{{K}}})",
            "Partitions with fewer in-sync replicas than replicas "
            "(the KafkaUnderReplicatedPartitions alert)",
            thresholds=red_from_1,
        ),
        stat(
            "Offline partitions",
            f"max(kafka_controller_kafkacontroller_offlinepartitionscount{{{K}}})",
            "Partitions without a leader: nobody can write or read them",
            thresholds=red_from_1,
        ),
        stat(
            "Active controllers",
            f"sum(kafka_controller_kafkacontroller_activecontrollercount{{{K}}})",
            "Exactly one in a healthy KRaft quorum",
            thresholds=((None, "red"), (1, "green"), (2, "red")),
        ),
        Panel(
            "Requests per second by type",
            "timeseries",
            (
                Target(
                    "topk(8, sum by (request) "
                    f"(rate(kafka_network_requestmetrics_requests_total{{{K}}}[{RATE}])))",
                    "{{request}}",
                ),
            ),
            unit="reqps",
            width=8,
        ),
        Panel(
            "Request time p99 (Produce, Fetch, commits)",
            "timeseries",
            (
                Target(
                    "max by (request) (kafka_network_request_total_time_ms{"
                    f'{K}, quantile="0.99", '
                    'request=~"Produce|FetchConsumer|Fetch|OffsetCommit|Metadata"})',
                    "{{request}}",
                ),
            ),
            unit="ms",
            width=8,
            description="From the broker's own histograms (a decaying sample of recent requests)",
        ),
        Panel(
            "Request errors per second",
            "timeseries",
            (
                # No series until a request fails: draw 0 until then.
                Target(
                    "sum by (request, error) (rate(kafka_network_requestmetrics_errors_total{"
                    f'{K}, error!="NONE"}}[{RATE}])) or on () vector(0)',
                    "{{request}} {{error}}",
                ),
            ),
            unit="reqps",
            width=8,
        ),
        Panel(
            "Messages in per second by topic",
            "timeseries",
            (
                Target(
                    "sum by (topic) "
                    f"(rate(kafka_server_brokertopicmetrics_messagesin_total{{{KT}}}[{RATE}]))",
                    "{{topic}}",
                ),
            ),
            unit="ops",
            width=8,
        ),
        Panel(
            "Bytes in and out",
            "timeseries",
            (
                Target(
                    "sum(rate(kafka_server_brokertopicmetrics_bytesin_total"
                    f'{{{K}, topic=""}}[{RATE}]))',
                    "in",
                ),
                Target(
                    "sum(rate(kafka_server_brokertopicmetrics_bytesout_total"
                    f'{{{K}, topic=""}}[{RATE}]))',
                    "out",
                ),
            ),
            unit="Bps",
            width=8,
        ),
        Panel(
            "Log size by topic",
            "timeseries",
            (
                Target(
                    f'sum by (topic) (kafka_log_size_bytes{{{K}, topic=~"$topic"}})', "{{topic}}"
                ),
            ),
            unit="bytes",
            width=8,
            description="Bytes on disk of every partition of the topic on the selected brokers",
        ),
        Panel(
            "Partitions and leaders per broker",
            "timeseries",
            (
                Target(f"kafka_server_replicamanager_partitioncount{{{K}}}", "{{instance}} all"),
                Target(f"kafka_server_replicamanager_leadercount{{{K}}}", "{{instance}} leads"),
            ),
            width=8,
        ),
        Panel(
            "ISR shrinks and expands",
            "timeseries",
            (
                Target(
                    f"sum(rate(kafka_server_replicamanager_isrshrinks_total{{{K}}}[{RATE}]))",
                    "shrinks",
                ),
                Target(
                    f"sum(rate(kafka_server_replicamanager_isrexpands_total{{{K}}}[{RATE}]))",
                    "expands",
                ),
            ),
            unit="ops",
            width=8,
        ),
        Panel(
            "Request handlers idle",
            "timeseries",
            (Target(f"kafka_server_request_handler_idle_ratio{{{K}}}", "{{instance}} idle"),),
            unit="percentunit",
            width=8,
            description="Share of time the request handler threads are idle: near 0 means "
            "the broker is saturated",
        ),
        Panel(
            "Broker JVM heap used",
            "timeseries",
            (Target(f'jvm_memory_used_bytes{{job="kafka", area="heap", {K}}}', "{{instance}}"),),
            unit="bytes",
            width=24,
            height=6,
        ),
    )


def _postgres() -> tuple[Panel, ...]:
    return (
        row("PostgreSQL"),
        stat(
            "PostgreSQL up",
            f"min(pg_up{{{PG}}})",
            "postgres_exporter reaches the server (the PostgresDown alert)",
            thresholds=((None, "red"), (1, "green")),
        ),
        stat(
            "Connections used",
            f"sum(pg_stat_database_numbackends{{{PG}}}) / max(pg_settings_max_connections{{{PG}}})",
            "Backends of every database over max_connections",
            thresholds=((None, "green"), (0.8, "orange"), (0.95, "red")),
            unit="percentunit",
        ),
        stat(
            "Standbys streaming",
            f"max(pg_replication_standbys{{{PG}}})",
            "Rows of pg_stat_replication; the local stack runs no standby",
        ),
        Panel(
            "Disk: WAL",
            "stat",
            (Target(f"max(pg_wal_size_bytes{{{PG}}})"),),
            unit="bytes",
            width=6,
            height=4,
        ),
        Panel(
            "Connections by state",
            "timeseries",
            (Target(f"sum by (state) (pg_stat_activity_count{{{PGD}}})", "{{state}}"),),
            width=8,
        ),
        Panel(
            "Transactions per second",
            "timeseries",
            (
                Target(f"sum(rate(pg_stat_database_xact_commit{{{PGD}}}[{RATE}]))", "commits"),
                Target(f"sum(rate(pg_stat_database_xact_rollback{{{PGD}}}[{RATE}]))", "rollbacks"),
                Target(f"sum(rate(pg_stat_database_deadlocks{{{PGD}}}[{RATE}]))", "deadlocks"),
            ),
            unit="ops",
            width=8,
            description="A consumer's fenced batch is a rollback: some are expected",
        ),
        Panel(
            "Locks by mode",
            "timeseries",
            (Target(f"sum by (mode) (pg_locks_count{{{PGD}}})", "{{mode}}"),),
            width=8,
            description="Row locks of the consumers' position rows show as RowShareLock and "
            "RowExclusiveLock",
        ),
        Panel(
            "Longest open transaction",
            "timeseries",
            (Target(f"max by (state) (pg_stat_activity_max_tx_duration{{{PGD}}})", "{{state}}"),),
            unit="s",
            width=8,
            description="An idle-in-transaction session is ended after 20 s (the consumer's "
            "session limits)",
        ),
        Panel(
            "Replication lag",
            "timeseries",
            (
                Target(f"max(pg_replication_replay_lag_bytes{{{PG}}})", "replay lag"),
                Target(f"max(pg_replication_is_replica{{{PG}}})", "is a standby (1)"),
            ),
            unit="bytes",
            width=8,
            description="WAL the slowest standby has not replayed; 0 without standbys",
        ),
        Panel(
            "Cache hit ratio",
            "timeseries",
            (
                Target(
                    f"sum(rate(pg_stat_database_blks_hit{{{PGD}}}[{RATE}])) / "
                    f"(sum(rate(pg_stat_database_blks_hit{{{PGD}}}[{RATE}])) + "
                    f"sum(rate(pg_stat_database_blks_read{{{PGD}}}[{RATE}])))",
                    "hit ratio",
                ),
            ),
            unit="percentunit",
            width=8,
        ),
        Panel(
            "Disk: largest databases",
            "bargauge",
            (
                Target(
                    f"topk(10, sum by (datname) (pg_database_size_bytes{{{PGD}}}))",
                    "{{datname}}",
                    instant=True,
                ),
            ),
            unit="bytes",
            width=24,
            height=8,
        ),
    )


def servers() -> Dashboard:
    return Dashboard(
        uid="procledger-servers",
        title="Servers",
        description="The servers the ledger depends on: Kafka brokers and PostgreSQL.",
        variables=(
            Variable("broker", "Kafka broker", 'up{job="kafka"}', "instance"),
            Variable("topic", "Topic", "kafka_log_size_bytes", "topic"),
            Variable("pg", "PostgreSQL exporter", 'up{job="postgres"}', "instance"),
            Variable("datname", "Database", "pg_stat_database_numbackends", "datname"),
        ),
        panels=(*_kafka(), *_postgres()),
    )
