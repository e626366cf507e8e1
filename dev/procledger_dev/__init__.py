"""Development tooling of procledger; not part of the runtime wheel (see docs/decisions/0001)."""
