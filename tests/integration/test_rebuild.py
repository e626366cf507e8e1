"""`procledger ledger rebuild` re-folds the journal alone and finds tampered projections."""

from __future__ import annotations

import json
import subprocess
import sys

from procledger.scenario.story import story_events
from tests.plugins.ledger import LedgerEnv


def _rebuild(ledger: LedgerEnv, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "procledger", "ledger", "rebuild", "--format", "json", *extra],
        env=ledger.env, capture_output=True, text=True, check=False,
    )  # fmt: skip


def test_rebuild_matches_live_projections_and_repairs_a_tampered_one(ledger: LedgerEnv) -> None:
    events = story_events()
    ledger.publish(events)
    ledger.consume()

    clean = _rebuild(ledger)
    assert clean.returncode == 0, clean.stderr
    report = json.loads(clean.stdout)
    assert report["events"] == len(events)
    assert report["differences"] == []

    order_id = ledger.scalar("SELECT order_id FROM ledger.orders ORDER BY order_id LIMIT 1")
    ledger.rows(
        "UPDATE ledger.orders SET value_usd = value_usd + 1 WHERE order_id = %s RETURNING 1",
        (order_id,),
    )
    ledger.rows("DELETE FROM ledger.stockpile_targets WHERE country = 'DEU' RETURNING 1")

    tampered = _rebuild(ledger)
    assert tampered.returncode == 1
    found = json.loads(tampered.stdout)["differences"]
    assert any(order_id in line and "value_usd" in line for line in found)
    assert any("DEU" in line and "missing from the live projection" in line for line in found)

    repaired = _rebuild(ledger, "--replace")
    assert repaired.returncode == 0, repaired.stderr
    assert json.loads(_rebuild(ledger).stdout)["differences"] == []
