"""The ledger's contract files, installed as the package procledger.schemas (see setup.py)."""
