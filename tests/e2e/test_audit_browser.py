"""The audit web page in real headless Chromium: log in, filter, read the CLI's total."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import sync_playwright

from procledger_dev.stack.config import StackConfig
from tests.integration.audit_support import AUDITOR_TOKEN, Story, audit, story_ledger

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def served(stack: StackConfig) -> Iterator[tuple[str, Story]]:
    """`procledger serve audit` as a real process over the story ledger."""
    story = story_ledger(stack)
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "procledger.cli", "serve", "audit", "--port", str(port)],
        env=story.ledger.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):  # readiness poll, not a timed assertion
            if proc.poll() is not None:
                raise AssertionError(proc.stderr.read().decode() if proc.stderr else "exited")
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield base, story
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_page_filters_totals_and_matches_the_cli(served: tuple[str, Story]) -> None:
    base, story = served
    expected = audit(
        story.ledger, "totals", "--by", "caliber_mm", "--caliber-mm", "155",
        "--from", "2023-01-01", "--to", "2023-06-15", "--format", "json",
    ).json()  # fmt: skip
    assert expected[0]["ordered_value_usd"] == "1000000000.00"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(base + "/")
            page.fill("#token", AUDITOR_TOKEN)
            page.click("#login")
            page.wait_for_selector("#totals-table[data-loaded='1'] tbody tr")
            page.evaluate("document.getElementById('totals-table').dataset.loaded = ''")
            page.fill("input[name=by]", "caliber_mm")
            page.fill("input[name=caliber_mm]", "155")
            page.fill("input[name=from]", "2023-01-01")
            page.fill("input[name=to]", "2023-06-15")
            page.click("#apply")
            page.wait_for_selector("#totals-table[data-loaded='1'] tbody tr")
            rows = page.locator("#totals-table tbody tr")
            assert rows.count() == 1
            cell = rows.first.locator("td[data-col=ordered_value_usd]").inner_text()
            assert cell == expected[0]["ordered_value_usd"]
            assert rows.first.locator("td[data-col=orders]").inner_text() == str(
                expected[0]["orders"]
            )
            assert page.locator("#chart rect").count() > 0
            assert page.inner_text("#error") == ""
            # The order history with provenance, and the verification panel.
            oid = audit(story.ledger, "orders", "--limit", "1").json()[0]["order_id"]
            page.fill("input[name=order_id]", oid)
            page.click("#show-order")
            page.wait_for_selector("#order-history tbody tr")
            first = page.locator("#order-history tbody tr").first
            assert first.locator("td[data-col=event_type]").inner_text() == "OrderPlaced"
            page.click("#verify-now")
            page.wait_for_selector("#verify-state.ok")
        finally:
            browser.close()
