"""The auditor's interface: read-only queries, time travel, verification and evidence bundles."""
