"""Producer paths: `procledger publish`, `procledger scenario`, the intake API and their metrics."""
