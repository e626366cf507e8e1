"""The shared fixtures, as plugins: the real local stack and fresh ledgers (tests/plugins/)."""

pytest_plugins = ["tests.plugins.stack", "tests.plugins.ledger"]
