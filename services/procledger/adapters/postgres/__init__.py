"""PostgreSQL adapters: the ledger store, sessions, migrations, rebuild and the audit reader."""
