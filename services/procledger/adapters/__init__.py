"""Adapters: Kafka and PostgreSQL code around the pure core, named after technology and role."""

# Every Kafka producer of the product needs kafka-python's idempotent-producer fix.
from procledger.adapters import kafka_compat as _kafka_compat  # noqa: F401
