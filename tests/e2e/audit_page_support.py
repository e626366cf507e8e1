"""The audit page under a real browser: a ledger with hostile text, the served page, helpers."""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from procledger.domain.events import (
    DeliveryRecorded,
    Event,
    OrderPlaced,
    PaymentRecorded,
    Purpose,
    StockpileTargetSet,
)
from procledger.scenario.story import story_events
from procledger_dev.stack.config import StackConfig
from tests.integration.audit_support import AUDITOR_TOKEN, new_ledger
from tests.plugins.ledger import LedgerEnv

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
VIEWPORT = {"width": 1400, "height": 1000}
# Markup that would run if any view inserted event text as HTML.
HOSTILE = '<img src=x onerror="window.__pwned=1">'
HOSTILE_ORDER = HOSTILE
VIEWS = ("totals", "orders", "order", "stockpile", "trace", "rejections", "verify", "export")


def _id(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"procledger-audit-page/{name}"))


def _at(day: str) -> datetime:
    return datetime.fromisoformat(f"{day}T10:00:00+00:00").astimezone(UTC)


def hostile_events() -> list[Event]:
    """A 2024 order and a target whose free text is markup, and three records the ledger
    rejects (so the rejections view has rows); the 2023 story's figures stay as they are."""
    placed = OrderPlaced(
        event_id=_id("placed"), occurred_at=_at("2024-02-01"), order_id=HOSTILE_ORDER,
        buyer="EST", supplier=HOSTILE, item_description=HOSTILE, caliber_mm=None, quantity=10,
        unit_price=Decimal("100.00"), currency="EUR", usd_rate=Decimal("1.0800"),
        purpose=Purpose.OTHER, destination=None,
    )  # fmt: skip
    return [
        placed,
        StockpileTargetSet(
            event_id=_id("target"),
            occurred_at=_at("2024-02-02"),
            country="ISL",
            caliber_mm=120,
            target_quantity=5000,
            authority=HOSTILE,
        ),
        DeliveryRecorded(
            event_id=_id("over"),
            occurred_at=_at("2024-02-03"),
            order_id=HOSTILE_ORDER,
            delivery_id="d-over",
            quantity=11,
            destination=None,
        ),
        PaymentRecorded(
            event_id=_id("unknown"),
            occurred_at=_at("2024-02-04"),
            order_id="no-such-order",
            payment_id="p-1",
            amount=Decimal("5.00"),
            currency="EUR",
            usd_rate=Decimal("1.08"),
        ),
        OrderPlaced(
            **{
                **{f: getattr(placed, f) for f in placed.__dataclass_fields__},
                "event_id": _id("again"),
            }
        ),
    ]


_BUILT: list[LedgerEnv] = []


def build_ledger(stack: StackConfig) -> LedgerEnv:
    """The June 2023 story plus the hostile events, consumed into a fresh ledger; built once
    per session (the tests only read it)."""
    if not _BUILT:
        ledger = new_ledger(stack)
        ledger.publish([*story_events(), *hostile_events()])
        ledger.consume(until_idle=1.0)
        _BUILT.append(ledger)
    return _BUILT[0]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def serve(ledger: LedgerEnv, log: Path | None = None) -> Iterator[str]:
    """`procledger serve audit` as a real process, its DEBUG log in `log`; yields its URL."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        log = log or Path(tmp) / "audit.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "procledger", "serve", "audit", "--port", str(port)],
                env={**ledger.env, "LOG_LEVEL": "DEBUG"}, stdout=out, stderr=out,
            )  # fmt: skip
        try:
            for _ in range(300):  # readiness poll, not a timed assertion
                if proc.poll() is not None:
                    raise AssertionError(log.read_text(errors="replace"))
                try:
                    if httpx.get(f"{base}/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            yield base
        finally:
            proc.terminate()
            proc.wait(timeout=30)


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def new_page(browser: Browser, base: str) -> Page:
    page = browser.new_page(viewport=VIEWPORT, accept_downloads=True)  # type: ignore[arg-type]
    page.goto(base + "/")
    return page


def wait_done(page: Page, view: str) -> str:
    """Wait for the view's status line to leave "loading"; returns its state."""
    selector = f"#{view}-status[data-state]:not([data-state=loading])"
    page.wait_for_selector(selector, state="attached")
    return str(page.get_attribute(f"#{view}-status", "data-state"))


def sign_in(page: Page, token: str = AUDITOR_TOKEN) -> None:
    page.fill("#token", token)
    page.click("#login")
    if token == AUDITOR_TOKEN:
        wait_done(page, "totals")


def submit(page: Page, view: str, values: dict[str, str] | None = None) -> str:
    """Open a view, fill its form, submit it and wait for the answer."""
    page.click(f"#tab-{view}")
    for name, value in (values or {}).items():
        field = f"#{view}-form [name={name}]"
        if page.get_attribute(field, "type") == "checkbox":
            page.set_checked(field, value == "on")
        elif page.evaluate(f"document.querySelector('{field}').tagName") == "SELECT":
            page.select_option(field, value)
        else:
            page.fill(field, value)
    page.click(f"#{view}-form [type=submit]")
    return wait_done(page, view)


def api(base: str, path: str) -> httpx.Response:
    response = httpx.get(
        base + path, headers={"Authorization": f"Bearer {AUDITOR_TOKEN}"}, timeout=60
    )
    response.raise_for_status()
    return response


# Fixtures the page's test modules import: one ledger and server per module, one browser.
@pytest.fixture(scope="module")
def site(stack: StackConfig) -> Iterator[tuple[str, LedgerEnv]]:
    ledger = build_ledger(stack)
    with serve(ledger) as base:
        yield base, ledger


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


@pytest.fixture
def page(browser: Browser, site: tuple[str, LedgerEnv]) -> Iterator[Page]:
    p = new_page(browser, site[0])
    yield p
    p.close()


def cells(page: Page, table: str, column: str) -> list[str]:
    """The raw values (data-value) of one column of a table the page shows."""
    values = page.eval_on_selector_all(
        f"#{table} tbody td[data-col={column}]", "tds => tds.map(td => td.dataset.value)"
    )
    return [str(v) for v in values]
