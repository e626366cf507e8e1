"""The local stack: real Kafka, PostgreSQL and Prometheus servers started without Docker."""
