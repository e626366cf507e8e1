"""Screenshots of every audit view at 1400x1000 for the README (run by hand, never by tests):

    STACK_DIR=... .venv/bin/python -m tests.e2e.audit_screenshots --out docs/screenshots

It builds the browser tests' ledger (the June 2023 story, a hostile 2024 order and three
rejected records) on the running stack, serves the page and saves one PNG per view.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from playwright.sync_api import Page

from procledger_dev.stack.config import StackConfig

from .audit_page_support import (
    api,
    build_ledger,
    chromium,
    new_page,
    serve,
    sign_in,
    submit,
)

JUNE = {"caliber_mm": "155", "from": "2023-01-01", "to": "2023-06-15"}


def _shot(page: Page, out: Path, name: str, scroll_to: str | None = None) -> None:
    if scroll_to:
        page.locator(scroll_to).scroll_into_view_if_needed()
    else:
        page.evaluate("window.scrollTo(0, 0)")
    page.mouse.move(0, 0)
    page.screenshot(path=str(out / f"audit-{name}.png"))
    print(out / f"audit-{name}.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    args = parser.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    ledger = build_ledger(StackConfig.from_env())
    with serve(ledger) as base, chromium() as browser:
        page = new_page(browser, base)
        sign_in(page)
        submit(page, "totals", {"by": "buyer", **JUNE})
        _shot(page, out, "totals")
        _shot(page, out, "totals-charts", "#chart-buyers")
        submit(page, "orders", {"limit": "25"})
        _shot(page, out, "orders")
        order = api(base, "/v1/orders?buyer=DEU&limit=1").json()["items"][0]["order_id"]
        submit(page, "order", {"order_id": order})
        _shot(page, out, "order")
        submit(page, "stockpile", {"caliber_mm": "155"})
        _shot(page, out, "stockpile", "#chart-stockpile")
        event = api(base, f"/v1/orders/{order}").json()["history"][-1]["event_id"]
        submit(page, "trace", {"event_id": event})
        _shot(page, out, "trace")
        submit(page, "rejections")
        _shot(page, out, "rejections", "#chart-rejections")
        submit(page, "verify")
        _shot(page, out, "verify")
        page.click("#tab-export")
        page.fill("#export-form [name=buyer]", "DEU")
        page.fill("#clocks-form [name=as_of]", "2023-06-15T23:59:59Z")
        with page.expect_download():
            page.click("#export-form [type=submit]")
        page.wait_for_selector("#export-status[data-state=done]")
        _shot(page, out, "export")
        page.close()
    ledger.stop_all()


if __name__ == "__main__":
    main()
