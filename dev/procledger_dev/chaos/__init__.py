"""Fault injection for the ledger: consumer fleets, stack faults, an oracle check, a report."""
