"""Pure domain core: event values, money rules and the ledger fold (no Kafka, no psycopg)."""
