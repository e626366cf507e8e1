"""The chart routes and the pinned export over HTTP: same token, filters and clocks as /v1."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from procledger.entrypoints.http.audit import create_app
from procledger.settings import Env
from procledger.settings.audit import AuditSettings
from procledger_dev.stack.config import StackConfig

from .audit_support import AUDITOR_TOKEN, story_ledger

AUTH = {"Authorization": f"Bearer {AUDITOR_TOKEN}"}
MID_JUNE = "2023-06-15T23:59:59Z"


@pytest.fixture
def client(stack: StackConfig) -> Iterator[TestClient]:
    story = story_ledger(stack)
    app = create_app(AuditSettings.from_env(Env(story.ledger.env)), CollectorRegistry())
    with TestClient(app) as test_client:
        yield test_client


def _values(svg: str, series: str | None = None) -> list[str]:
    return [
        str(e.get("data-value"))
        for e in ET.fromstring(svg).iter()
        if "data-value" in e.attrib and series in (None, e.get("data-series"))
    ]


def test_charts_answer_with_the_queries_numbers_on_either_clock(client: TestClient) -> None:
    assert client.get("/v1/charts/buyers").status_code == 401
    assert client.get("/v1/charts/pie", headers=AUTH).status_code == 422
    bad = client.get("/v1/charts/buyers?as_of=yesterday", headers=AUTH)
    assert bad.status_code == 422
    for clock in ("", f"&as_of={MID_JUNE}"):
        svg = client.get(
            f"/v1/charts/cumulative-155mm?year=2023&to=2023-06-15{clock}", headers=AUTH
        )
        assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
        assert _values(svg.text)[-1] == "1000000000.00"
    # Later in the year the running total passes the billion; before it began, nothing.
    whole_year = client.get("/v1/charts/cumulative-155mm?year=2023", headers=AUTH).text
    assert Decimal(_values(whole_year)[-1]) > Decimal(1_000_000_000)
    early = client.get("/v1/charts/cumulative-155mm?as_of=2022-01-01T00:00:00Z", headers=AUTH)
    assert _values(early.text) == []
    totals = client.get("/v1/totals?by=buyer&year=2023", headers=AUTH).json()["items"]
    buyers = client.get("/v1/charts/buyers?year=2023", headers=AUTH).text
    assert _values(buyers, "ordered") == [str(r["ordered_quantity"]) for r in totals]
    stock = client.get("/v1/stockpile", headers=AUTH).json()["items"]
    chart = client.get("/v1/charts/stockpile", headers=AUTH).text
    assert _values(chart, "gap") == [str(max(0, r["gap"])) for r in stock]
    rejected = client.get("/v1/charts/rejections", headers=AUTH)
    assert rejected.status_code == 200  # the story has no rejections: an empty, valid chart
    assert (
        sum(int(v) for v in _values(rejected.text))
        == client.get("/v1/rejections", headers=AUTH).json()["total"]
    )


def test_the_api_export_is_pinned_to_the_clocks(client: TestClient) -> None:
    response = client.get(f"/v1/export?buyer=DEU&as_of={MID_JUNE}", headers=AUTH)
    assert response.status_code == 200
    with zipfile.ZipFile(io.BytesIO(response.content)) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        rows = [json.loads(line) for line in zf.read("journal.jsonl").splitlines()]
    assert manifest["clocks"] == {"as_of": "2023-06-15T23:59:59.000000Z", "known_at": None}
    assert rows and max(r["occurred_at"] for r in rows) <= "2023-06-15T23:59:59.000000Z"
