"""Audit filters and output formats: validation messages name the field; money stays text."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from procledger.audit.filters import FilterError, dimensions, instant, order_filter, text
from procledger.audit.formats import render_rows, to_csv, to_table


def test_placement_range_is_inclusive_days_intersected_with_the_year() -> None:
    flt = order_filter(placed_from="2022-12-01", placed_to="2023-06-15", year=2023)
    assert flt.placed_from == datetime(2023, 1, 1, tzinfo=UTC)
    assert flt.placed_to == datetime(2023, 6, 16, tzinfo=UTC)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"placed_from": "2023-02-30"}, "from"),
        ({"placed_to": "9999-12-31"}, "to"),
        ({"year": 1200}, "year"),
        ({"placed_from": "2023-06-02", "placed_to": "2023-06-01"}, "to"),
        ({"caliber_mm": 0}, "caliber_mm"),
        ({"status": "LOST"}, "status"),
        ({"buyer": "DE\x00U"}, "buyer"),
        ({"buyer": ""}, "buyer"),
    ],
)
def test_bad_order_filters_name_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(FilterError) as err:
        order_filter(**kwargs)  # type: ignore[arg-type]
    assert err.value.field == field


def test_clocks_need_a_zone_and_dimensions_must_be_known() -> None:
    assert instant("as_of", "2023-06-15T23:59:59Z") == datetime(2023, 6, 15, 23, 59, 59, tzinfo=UTC)
    for bad in ("2023-06-15T23:59:59", "soon", "0001-01-01T00:00:00+01:00"):
        with pytest.raises(FilterError, match="as_of"):
            instant("as_of", bad)
    assert dimensions("by", "month, buyer") == ("month", "buyer")
    with pytest.raises(FilterError, match="unknown dimension"):
        dimensions("by", "buyer,colour")
    with pytest.raises(FilterError, match="repeated"):
        dimensions("by", "buyer,buyer")
    assert text("reason", None) is None


def test_formats_share_columns_and_keep_money_exact() -> None:
    rows = [{"buyer": "DEU", "value": "1000000000.00", "orders": 3, "note": None}]
    columns = ("buyer", "value", "orders", "note")
    assert to_csv(columns, rows) == "buyer,value,orders,note\nDEU,1000000000.00,3,\n"
    table = to_table(columns, rows).splitlines()
    assert table[0].split() == ["buyer", "value", "orders", "note"]
    assert table[2].split() == ["DEU", "1000000000.00", "3"]
    # Money is right-aligned under its header, as numbers are.
    assert table[0].index("value") + 5 == table[2].index("1000000000.00") + 13
    assert render_rows("json", columns, rows).startswith("[")
