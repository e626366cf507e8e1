"""Adapters: Kafka and PostgreSQL code around the pure core, named after technology and role."""
