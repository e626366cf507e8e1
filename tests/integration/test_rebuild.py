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


def test_replacing_the_projections_drops_the_checkpoints_folded_beside_them(
    ledger: LedgerEnv,
) -> None:
    """Checkpoints are folds of the journal too: after a swap they would disagree with the
    projections, so they go, and the next `ledger checkpoint` writes them again."""
    ledger.publish(story_events())
    ledger.consume()
    done = subprocess.run(
        [sys.executable, "-m", "procledger", "ledger", "checkpoint", "--lag", "0"],
        env=ledger.env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert ledger.scalar("SELECT count(*) FROM ledger.checkpoint_orders") > 0
    ledger.rows("UPDATE ledger.orders SET destination = 'tampered' RETURNING 1")
    assert _rebuild(ledger, "--replace").returncode == 0
    assert ledger.scalar("SELECT count(*) FROM ledger.checkpoints") == 0
    assert ledger.scalar("SELECT count(*) FROM ledger.checkpoint_orders") == 0
    again = subprocess.run(
        [sys.executable, "-m", "procledger", "ledger", "checkpoint", "--lag", "0"],
        env=ledger.env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert ledger.scalar("SELECT count(*) FROM ledger.checkpoint_orders") == ledger.scalar(
        "SELECT count(*) FROM ledger.orders"
    )
