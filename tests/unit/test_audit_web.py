"""The audit page's hardening: headers on every response, no inline script, assets shipped."""

from __future__ import annotations

import argparse
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from procledger.entrypoints.audit_service import run
from procledger.entrypoints.http.audit import create_app
from procledger.entrypoints.http.audit_page import ASSETS, _asset
from procledger.settings.audit import AuditSettings
from procledger.settings.tokens import TokenSettings


def _client() -> TestClient:
    settings = AuditSettings(verify_interval_s=0, tokens=TokenSettings(auditor=frozenset({"t"})))
    return TestClient(create_app(settings, CollectorRegistry()))


def test_every_response_carries_the_security_headers() -> None:
    client = _client()
    for path, status in (("/", 200), ("/static/app.js", 200), ("/static/nope.js", 404),
                         ("/v1/totals", 401), ("/healthz", 200), ("/metrics", 200)):  # fmt: skip
        response = client.get(path)
        assert response.status_code == status, path
        h = response.headers
        csp = h["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self';" in csp, path
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert h["X-Content-Type-Options"] == "nosniff"
        assert h["Referrer-Policy"] == "no-referrer"
        assert h["X-Frame-Options"] == "DENY"
    assert client.get("/v1/totals").headers["Cache-Control"] == "no-store"
    assert client.get("/static/app.js").headers["Content-Type"].startswith("text/javascript")


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.inline: list[str] = []
        self.controls: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "script":
            self.scripts.append(named)
        self.inline += [f"{tag} {k}" for k in named if k.startswith("on") or k == "style"]

    def handle_data(self, data: str) -> None:
        if self.scripts and self.scripts[-1].get("src") is None and data.strip():
            self.inline.append("inline script")


def test_the_page_has_no_inline_script_style_or_handler_and_ships_its_assets() -> None:
    html = _asset("index.html").decode()
    parsed = _Page()
    parsed.feed(html)
    assert parsed.scripts == [{"type": "module", "src": "/static/app.js"}]
    assert parsed.inline == []
    assert "<style" not in html
    # Every asset the page or its modules import is one the server serves.
    wanted = set(re.findall(r"/static/([\w.]+)", html))
    for name in [n for n in ASSETS if n.endswith(".js")]:
        wanted |= set(re.findall(r'from "\./([\w.]+)"', _asset(name).decode()))
    assert wanted <= set(ASSETS)
    # No third-party script and no remote URL anywhere in what the page loads.
    for name in ASSETS:
        assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", _asset(name).decode()), name
    for js in (n for n in ASSETS if n.endswith(".js")):
        text = _asset(js).decode()
        assert "innerHTML" not in text and "insertAdjacentHTML" not in text, js
        assert "eval(" not in text and "new Function" not in text, js


def test_a_bad_signing_key_stops_the_service_at_start_naming_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    not_a_key = tmp_path / "key.pem"
    not_a_key.write_text("not a key\n")
    monkeypatch.setenv("AUDIT_SIGNING_KEY_FILE", str(not_a_key))
    assert run(argparse.Namespace(host=None, port=None)) == 2
    assert "AUDIT_SIGNING_KEY_FILE" in capsys.readouterr().err
