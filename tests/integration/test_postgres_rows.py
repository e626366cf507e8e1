"""The row texts rows.py writes, read back by the real PostgreSQL as the values they stand for."""

from __future__ import annotations

import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from procledger.adapters.postgres.rows import set_copy_types, text_array

# Any text the ledger can hold: UTF-8 (no lone surrogates: an event's strings are decoded
# from UTF-8) without NUL, which PostgreSQL's text refuses.
_TEXTS = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12)
_SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))


@_SETTINGS
@given(values=st.lists(_TEXTS, max_size=8))
def test_a_text_array_literal_reads_back_as_its_values_in_order(
    superuser: psycopg.Connection[tuple[object, ...]], values: list[str]
) -> None:
    """Empty lists, empty strings, quotes, backslashes, braces, commas and NULL-like words."""
    row = superuser.execute("SELECT %s::text[]", (text_array(values),)).fetchone()
    assert row == (values,)


def test_odd_values_in_one_array_are_each_escaped() -> None:
    assert text_array(['a"b', "c\\d", "e"]) == '{"a\\"b","c\\\\d","e"}'
    assert text_array([]) == "{}"
    assert text_array([""]) == '{""}'


@_SETTINGS
@given(rows=st.lists(st.tuples(_TEXTS, st.binary(max_size=40)), min_size=1, max_size=6))
def test_bytea_columns_copied_with_fixed_types_read_back_byte_for_byte(
    superuser: psycopg.Connection[tuple[object, ...]], rows: list[tuple[str, bytes]]
) -> None:
    """set_copy_types() swaps bytea's dumper on the COPY's cursor: the bytes still arrive
    exact, backslashes, NULs and all, and other cursors keep psycopg's own."""
    with superuser.transaction(force_rollback=True), superuser.cursor() as cur:
        cur.execute("CREATE TEMP TABLE copied (n int, t text, b bytea) ON COMMIT DROP")
        with cur.copy("COPY copied (n, t, b) FROM STDIN") as copy:
            set_copy_types(copy, ("int4", "text", "bytea"))
            for n, (text, data) in enumerate(rows):
                copy.write_row((n, text, data))
        back = cur.execute("SELECT t, b FROM copied ORDER BY n").fetchall()
        assert back == rows
        # A Binary wrapper still dumps on a cursor that did not COPY.
        wrapped = superuser.execute("SELECT %s::bytea", (psycopg.Binary(b"\\x00"),)).fetchone()
        assert wrapped == (b"\\x00",)
