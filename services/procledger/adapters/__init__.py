"""Adapters to the outside world by technology: kafka/, postgres/, and an in-memory store."""
