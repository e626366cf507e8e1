"""Kafka adapters (kafka-python); importing the package applies the client fix first."""

from procledger.adapters.kafka import compat as _compat  # noqa: F401
