"""The audit page for an auditor who relies on the keyboard and on contrast, and its exact
arithmetic: tabs and forms without a mouse, a label on every control, WCAG AA text contrast."""

from __future__ import annotations

from playwright.sync_api import Page

from .audit_page_support import browser, cells, page, sign_in, site, submit, wait_done

__all__ = ["browser", "page", "site"]  # fixtures used by name


def test_keyboard_reaches_every_view_and_every_control_has_a_label(page: Page) -> None:
    sign_in(page)
    page.focus("#tab-totals")
    for view in ("orders", "order", "stockpile", "trace", "rejections", "verify", "export"):
        page.keyboard.press("ArrowRight")
        assert page.evaluate("document.activeElement.id") == f"tab-{view}"
        assert page.is_visible(f"#view-{view}") and page.is_hidden("#view-totals")
    page.keyboard.press("Home")
    assert page.evaluate("document.activeElement.id") == "tab-totals"
    # Enter in a field submits its form, without a mouse.
    page.click("#tab-stockpile")
    page.focus("#stockpile-form [name=caliber_mm]")
    page.keyboard.type("155")
    page.keyboard.press("Enter")
    wait_done(page, "stockpile")
    assert set(cells(page, "stockpile-table", "caliber_mm")) == {"155"}
    # The clocks apply to the open view with Enter too: before 2023 no 155mm target existed.
    page.focus("#clocks-form [name=as_of]")
    page.keyboard.type("2022-01-01T00:00:00Z")
    page.keyboard.press("Enter")
    assert wait_done(page, "stockpile") == "empty"
    assert cells(page, "stockpile-table", "caliber_mm") == []
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input, select, button')].filter(e =>
             !(e.labels && e.labels.length) && !e.getAttribute('aria-label')
             && !e.textContent.trim()).map(e => e.outerHTML)"""
    )
    assert unlabelled == []


# WCAG 2 contrast of every visible text against the background it sits on.
LOW_CONTRAST = r"""() => {
  const lum = (c) => c.match(/[0-9.]+/g).slice(0, 3).map(Number).map((v) => {
    v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  }).reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
  const back = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = getComputedStyle(e).backgroundColor;
      if (c !== "transparent" && !/, 0\)$/.test(c)) return c;
    }
    return "rgb(255, 255, 255)";
  };
  const low = [];
  for (const el of document.querySelectorAll("body *")) {
    if (el.closest("svg") || !el.getClientRects().length) continue;
    if (![...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim())) continue;
    const [a, b] = [lum(getComputedStyle(el).color), lum(back(el))];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const text = el.textContent.trim().slice(0, 30);
    if (ratio < 4.5) low.push(el.tagName + " " + text + " " + ratio.toFixed(2));
  }
  return low;
}"""


def test_text_contrast_is_at_least_aa_on_every_view(page: Page) -> None:
    sign_in(page)
    for view in ("totals", "orders", "stockpile", "rejections", "verify", "export"):
        page.click(f"#tab-{view}")
        if view != "totals":
            submit(page, view)
        assert page.evaluate(LOW_CONTRAST) == [], view


def test_the_page_adds_money_exactly(page: Page) -> None:
    """The page's grand total sums money as exact cents (BigInt), never as floats."""
    sign_in(page)
    cases = [
        (["0.10", "0.20"], 2, "0.30"),
        (["-1.05", "2.00"], 2, "0.95"),
        (["999999999999999.99", "0.01"], 2, "1000000000000000.00"),
        (["7", "8"], 0, "15"),
    ]
    for values, places, expected in cases:
        got = page.evaluate(
            "async ([v, p]) => (await import('/static/render.js')).sumExact(v, p)", [values, places]
        )
        assert got == expected
    grouped = page.evaluate(
        "async () => (await import('/static/render.js')).grouped('-1234567.50')"
    )
    assert grouped == "-1,234,567.50"
