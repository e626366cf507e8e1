"""Idempotent creation of the product's topics on a real broker."""

from __future__ import annotations

import logging

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from procledger.settings import KafkaSettings, Topics

log = logging.getLogger(__name__)


class TopicSetupError(Exception):
    """The broker refused to create or describe a topic."""


def ensure_topics(kafka: KafkaSettings, topics: Topics) -> dict[str, str]:
    """Create the orders, stockpile-targets and DLQ topics where missing; report each one."""
    admin = KafkaAdminClient(client_id="procledger-topics", **kafka.client_config())
    report: dict[str, str] = {}
    try:
        for name in (topics.orders, topics.stockpile_targets, topics.dlq):
            try:
                admin.create_topics([NewTopic(name, topics.partitions, topics.replication_factor)])
                report[name] = f"created ({topics.partitions} partitions)"
            except TopicAlreadyExistsError:
                report[name] = "exists"
        described = admin.describe_topics([topics.orders, topics.stockpile_targets, topics.dlq])
    except KafkaError as err:
        raise TopicSetupError(f"could not create topics: {err}") from err
    finally:
        admin.close()
    for topic in described:
        if report.get(topic["name"]) != "exists":
            # Just created with the requested count; the metadata may not show it yet.
            continue
        count = len(topic["partitions"])
        report[topic["name"]] = f"exists ({count} partitions)"
        if count != topics.partitions:
            log.warning(
                "topic %s has %d partitions, TOPIC_PARTITIONS says %d",
                topic["name"],
                count,
                topics.partitions,
            )
    return report
