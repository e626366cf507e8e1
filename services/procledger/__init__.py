"""Procurement order ledger: order events on Kafka folded exactly once into PostgreSQL."""

__version__ = "0.1.0"
