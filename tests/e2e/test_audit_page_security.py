"""The audit page against hostile ledger text and for its secrets: markup in event fields is
shown as text on every view, the served headers hold, the token stays out of URLs and logs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page

from procledger.entrypoints.http.audit_page import CSP
from procledger_dev.stack.config import StackConfig
from tests.integration.audit_support import AUDITOR_TOKEN

from .audit_page_support import (
    HOSTILE,
    HOSTILE_ORDER,
    VIEWS,
    _id,
    browser,
    build_ledger,
    new_page,
    serve,
    sign_in,
    submit,
)

__all__ = ["browser"]  # a fixture used by name

# What each view is asked, so that it shows the hostile text where it can.
QUERIES: dict[str, dict[str, str]] = {
    "totals": {"by": "supplier", "caliber_mm": "", "year": "2024"},
    "orders": {"year": "2024"},
    "order": {"order_id": HOSTILE_ORDER},
    "stockpile": {"buyer": "ISL"},
    "trace": {"event_id": _id("placed")},
    "rejections": {},
    "verify": {},
    "export": {"order": HOSTILE_ORDER},
}


@pytest.fixture(scope="module")
def site(
    stack: StackConfig, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    log = tmp_path_factory.mktemp("audit") / "audit.log"
    with serve(build_ledger(stack), log) as base:
        yield base, log


def _no_markup_ran(page: Page) -> None:
    assert page.evaluate("window.__pwned") is None
    assert page.locator("main img, main script, main iframe").count() == 0


def test_hostile_event_text_is_shown_as_text_on_every_view(
    browser: Browser, site: tuple[str, Path]
) -> None:
    page = new_page(browser, site[0])
    sign_in(page)
    assert set(QUERIES) == set(VIEWS)
    shown_in = []
    for view in VIEWS:
        state = submit(page, view, QUERIES[view])
        assert state == "done", (view, page.inner_text(f"#{view}-status"))
        _no_markup_ran(page)
        if HOSTILE in page.inner_text(f"#view-{view}"):
            shown_in.append(view)
        # Charts too: the labels stay text inside the SVG.
        for svg in page.locator(f"#view-{view} .chart svg").all():
            assert svg.locator("img, script, foreignObject").count() == 0
    assert shown_in == ["totals", "orders", "order", "stockpile", "trace", "rejections"]
    page.close()


def test_headers_of_the_served_page_and_api(site: tuple[str, Path]) -> None:
    base, _ = site
    auth = {"Authorization": f"Bearer {AUDITOR_TOKEN}"}
    for path, headers in (("/", {}), ("/static/views.js", {}), ("/v1/stockpile", auth),
                          ("/v1/charts/stockpile", auth), ("/v1/totals", {})):  # fmt: skip
        response = httpx.get(base + path, headers=headers)
        assert response.headers["Content-Security-Policy"] == CSP, path
        assert "frame-ancestors 'none'" in CSP and "'unsafe-inline'" not in CSP
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "no-referrer"
    chart = httpx.get(base + "/v1/charts/stockpile", headers=auth)
    assert chart.headers["Content-Type"].startswith("image/svg+xml")
    assert chart.headers["Cache-Control"] == "no-store"


def test_the_token_is_never_in_a_url_or_the_log(browser: Browser, site: tuple[str, Path]) -> None:
    base, log = site
    page = new_page(browser, base)
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    sign_in(page)
    for view in ("orders", "stockpile", "rejections"):
        submit(page, view, QUERIES[view])
    sign_in(page, "a-wrong-token-that-must-not-be-logged")
    page.wait_for_selector("#login-state.bad")
    page.close()
    assert urls and not [u for u in urls if AUDITOR_TOKEN in u or "wrong-token" in u]
    text = log.read_text(errors="replace")
    assert "audit API on http://" in text  # the log is the service's, at DEBUG
    assert AUDITOR_TOKEN not in text and "a-wrong-token-that-must-not-be-logged" not in text
