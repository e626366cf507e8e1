"""The `procledger` command line: one parser module and one handler module per command group."""
