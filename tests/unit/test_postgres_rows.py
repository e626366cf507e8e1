"""json_records(): COPY rows as the JSON records json_populate_recordset() reads."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from procledger.adapters.postgres.rows import json_records

VALUES = st.one_of(
    st.none(),
    st.text(),
    st.binary(max_size=40),
    st.integers(-(2**63), 2**63 - 1),
    st.decimals(allow_nan=False, allow_infinity=False, places=2),
)


def _copy_text(value: object) -> str | None:
    """What a column's input function gets from COPY for the same value."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return "\\x" + value.hex()
    return str(value)


@given(st.lists(st.lists(VALUES, min_size=3, max_size=3), max_size=5))
def test_each_value_reaches_postgresql_as_the_text_copy_sends(rows: list[list[object]]) -> None:
    records = json.loads(json_records(["a", 'b "quoted"', "c\\d"], rows))
    assert records == [
        {"a": _copy_text(r[0]), 'b "quoted"': _copy_text(r[1]), "c\\d": _copy_text(r[2])}
        for r in rows
    ]


def test_the_raw_column_goes_as_the_json_it_holds() -> None:
    payload = '{"amount":"1.50","ids":["x"],"note":"a \\"quote\\""}'
    [record] = json.loads(json_records(["payload", "id"], [[payload, "e-1"]], raw="payload"))
    assert record == {"payload": json.loads(payload), "id": "e-1"}
    assert json.loads(json_records(["payload"], [[None]], raw="payload")) == [{"payload": None}]


def test_a_row_of_another_width_is_refused() -> None:
    with pytest.raises(ValueError, match="zip"):
        json_records(["a", "b"], [["x", Decimal(1), "extra"]])
