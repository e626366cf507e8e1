"""The ledger consumer: Kafka records folded exactly once into the PostgreSQL ledger."""
