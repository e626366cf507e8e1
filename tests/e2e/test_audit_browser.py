"""The audit page in real headless Chromium, as an auditor uses it: sign in, every view, CSV
downloads compared with the API, charts that drew the API's numbers (keyboard, labels and
contrast: test_audit_page_access)."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

from playwright.sync_api import Page, Route, expect

from tests.plugins.ledger import LedgerEnv

from .audit_page_support import api, browser, cells, page, sign_in, site, submit, wait_done

__all__ = ["browser", "page", "site"]  # fixtures used by name

JUNE = {"by": "caliber_mm", "caliber_mm": "155", "from": "2023-01-01", "to": "2023-06-15"}


def _download(page: Page, view: str) -> str:
    with page.expect_download() as info:
        page.click(f"#view-{view} button.csv")
    return Path(info.value.path()).read_text(encoding="utf-8")


def _marks(page: Page, chart: str, series: str | None = None) -> list[tuple[str, str]]:
    where = f"#chart-{chart} [data-value]" + (f"[data-series='{series}']" if series else "")
    return [
        (str(c), str(v))
        for c, v in page.eval_on_selector_all(
            where, "els => els.map(e => [e.dataset.category, e.dataset.value])"
        )
    ]


def test_a_wrong_token_is_rejected_and_never_shown_as_set(page: Page) -> None:
    sign_in(page, "not-a-real-token")
    page.wait_for_selector("#login-state.bad")
    state = page.inner_text("#login-state")
    assert "rejected" in state.lower() and "401" in state
    assert "accepted" not in state.lower() and "token set" not in state.lower()
    assert page.evaluate("sessionStorage.getItem('auditToken')") is None
    assert page.locator("#totals-table tbody tr").count() == 0
    # The token never reaches the URL, even on a submit.
    assert "not-a-real-token" not in page.url


def test_totals_grand_total_money_charts_and_csv(page: Page, site: tuple[str, LedgerEnv]) -> None:
    base, _ = site
    sign_in(page)
    assert page.inner_text("#login-state") == "Signed in: token accepted"
    assert submit(page, "totals", JUNE) == "done"
    rows = page.locator("#totals-table tbody tr")
    assert rows.count() == 1
    total = page.locator("#totals-table tfoot td[data-col=ordered_value_usd]")
    assert total.get_attribute("data-value") == "1000000000.00"
    assert total.inner_text() == "USD 1,000,000,000.00"

    # By buyer: 22 rows whose grand total is the billion, computed exactly in the page.
    assert submit(page, "totals", {**JUNE, "by": "buyer"}) == "done"
    q = "by=buyer&caliber_mm=155&from=2023-01-01&to=2023-06-15"
    items = api(base, f"/v1/totals?{q}").json()["items"]
    assert cells(page, "totals-table", "buyer") == [r["buyer"] for r in items]
    assert total.inner_text() == "USD 1,000,000,000.00"
    assert len(items) > 1 and page.locator(
        "#totals-table tfoot td[data-col=orders]"
    ).inner_text() == str(sum(r["orders"] for r in items))
    assert _download(page, "totals") == api(base, f"/v1/totals?{q}&format=csv").text

    # The cumulative 155mm chart ends on the same billion, with the 1bn reference line.
    points = _marks(page, "cumulative-155mm")
    orders = api(base, "/v1/orders?caliber_mm=155&from=2023-01-01&to=2023-06-15&limit=1000")
    assert points[-1][1] == "1000000000.00"
    assert len(points) == len({o["placed_at"][:10] for o in orders.json()["items"]})
    assert page.locator("#chart-cumulative-155mm line[stroke-dasharray]").count() == 1
    legend = page.locator("#chart-cumulative-155mm svg g.legend").all_text_contents()
    assert legend == ["155mm ordered, cumulative", "USD 1bn"]
    # Ordered versus delivered per buyer: the bars carry the API's quantities.
    bought = _marks(page, "buyers", "ordered")
    assert bought == [(r["buyer"], str(r["ordered_quantity"])) for r in items]
    assert _marks(page, "buyers", "delivered") == [
        (r["buyer"], str(r["delivered_quantity"])) for r in items
    ]
    tip = page.locator("#chart-buyers [data-series=ordered] title").first.text_content()
    assert tip is not None and tip.startswith(f"{items[0]['buyer']}: ordered ")

    # Items without a calibre read "none".
    assert submit(page, "totals", {"by": "caliber_mm", "caliber_mm": "", "from": "", "to": ""})
    assert page.locator("#totals-table tbody tr").last.locator("td").first.inner_text() == "none"
    # Nothing in range: one row of zeros.
    assert submit(page, "totals", {"by": "", "year": "1999"}) == "done"
    assert page.locator("#totals-table tbody td[data-col=orders]").inner_text() == "0"
    assert page.locator("#totals-table tbody td[data-col=paid_usd]").inner_text() == "USD 0.00"


def test_orders_page_through_and_download_the_page_shown(
    page: Page, site: tuple[str, LedgerEnv]
) -> None:
    base, _ = site
    sign_in(page)
    assert submit(page, "orders", {"limit": "25"}) == "done"
    first = cells(page, "orders-table", "order_id")
    assert len(first) == 25
    page.click("#orders-pager .next")
    expect(page.locator("#orders-pager .range")).to_have_text(re.compile("^Rows 26"))
    wait_done(page, "orders")
    second = cells(page, "orders-table", "order_id")
    expected = api(base, "/v1/orders?limit=25&offset=25").json()
    assert second == [o["order_id"] for o in expected["items"]] and not set(first) & set(second)
    assert (
        page.inner_text("#orders-pager .range")
        == f"Rows 26\u2013{min(50, expected['total'])} of {expected['total']}"
    )
    assert _download(page, "orders") == api(base, "/v1/orders?limit=25&offset=25&format=csv").text
    assert page.is_disabled("#orders-pager .prev") is False
    money = page.locator("#orders-table tbody td[data-col=value_usd]").first.inner_text()
    assert money.startswith("USD ") and "," in money


def test_order_trace_stockpile_rejections_verify_and_export(
    page: Page, site: tuple[str, LedgerEnv], tmp_path: Path
) -> None:
    base, ledger = site
    sign_in(page)
    oid = api(base, "/v1/orders?limit=1").json()["items"][0]["order_id"]
    assert submit(page, "order", {"order_id": oid}) == "done"
    detail = api(base, f"/v1/orders/{oid}").json()
    assert cells(page, "order-history", "event_id") == [h["event_id"] for h in detail["history"]]
    assert _download(page, "order") == api(base, f"/v1/orders/{oid}?format=csv").text

    # Both clocks: as of mid-June 2022 the order did not exist yet.
    page.fill("#clocks-form [name=as_of]", "2022-06-15T00:00:00Z")
    assert submit(page, "order", {"order_id": oid}) == "empty"
    assert page.inner_text("#order-status").startswith("Not found: order")
    assert page.locator("#order-history tbody tr").count() == 0
    page.fill("#clocks-form [name=as_of]", "")

    event = detail["history"][-1]["event_id"]
    assert submit(page, "trace", {"event_id": event}) == "done"
    postings = api(base, f"/v1/events/{event}/trace").json()["postings"]
    assert cells(page, "trace-postings", "amount_usd") == [p["amount_usd"] for p in postings]
    assert _download(page, "trace") == api(base, f"/v1/events/{event}/trace?format=csv").text

    assert submit(page, "stockpile") == "done"
    items = api(base, "/v1/stockpile").json()["items"]
    assert cells(page, "stockpile-table", "gap") == [str(i["gap"]) for i in items]
    assert [v for _, v in _marks(page, "stockpile", "target")] == [
        str(i["target_quantity"]) for i in items
    ]
    assert len(_marks(page, "stockpile")) == 3 * len(items)
    assert _download(page, "stockpile") == api(base, "/v1/stockpile?format=csv").text

    assert submit(page, "rejections") == "done"
    rejected = api(base, "/v1/rejections?limit=50").json()
    assert rejected["total"] == 3
    assert cells(page, "rejections-table", "reason_code") == [
        r["reason_code"] for r in rejected["items"]
    ]
    assert sum(int(v) for _, v in _marks(page, "rejections")) == rejected["total"]
    assert _download(page, "rejections") == api(base, "/v1/rejections?limit=50&format=csv").text

    assert submit(page, "verify") == "done"
    assert page.get_attribute("#verify-state", "class") == "ok"

    page.click("#tab-export")
    page.fill("#export-form [name=buyer]", "DEU")
    page.fill("#clocks-form [name=as_of]", "2023-06-15T23:59:59Z")
    with page.expect_download() as info:
        page.click("#export-form [type=submit]")
    bundle = tmp_path / "bundle.zip"
    info.value.save_as(bundle)
    wait_done(page, "export")
    with zipfile.ZipFile(bundle) as zf:
        assert b'"as_of": "2023-06-15T23:59:59.000000Z"' in zf.read("manifest.json")
    checked = subprocess.run(
        [sys.executable, "-m", "procledger", "audit", "check-bundle", str(bundle)],
        env=ledger.env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_an_older_answer_landing_late_does_not_replace_the_newer_one(
    page: Page, site: tuple[str, LedgerEnv]
) -> None:
    """The orders tab's first load (default limit) still in flight when the form is
    submitted with limit 25: its late answer must not replace the 25 rows asked last."""
    base, _ = site
    sign_in(page)
    held: list[Route] = []

    def hold_the_first(route: Route) -> None:
        if not held:
            held.append(route)  # answered below, after the newer request
        else:
            route.continue_()

    page.route(re.compile(r".*/v1/orders\?.*"), hold_the_first)
    page.click("#tab-orders")
    page.wait_for_function("document.querySelector('#orders-status').dataset.state === 'loading'")
    assert submit(page, "orders", {"limit": "25"}) == "done"
    assert len(cells(page, "orders-table", "order_id")) == 25
    # The older answer arrives now, whole; then one turn of the page's event loop, in which
    # its handler runs. The page keeps what it was asked last.
    with page.expect_request_finished(lambda r: r.url == held[0].request.url):
        held[0].continue_()
    page.evaluate("() => new Promise((done) => setTimeout(done, 0))")
    assert len(cells(page, "orders-table", "order_id")) == 25
    assert page.get_attribute("#orders-status", "data-state") == "done"
    total = api(base, "/v1/orders?limit=1").json()["total"]
    assert page.inner_text("#orders-pager .range") == f"Rows 1\u201325 of {total}"
