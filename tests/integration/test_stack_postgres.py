"""The real PostgreSQL of the stack: a round trip of exact decimals and JSON."""

from __future__ import annotations

from decimal import Decimal

import psycopg
from psycopg.types.json import Jsonb


def test_round_trip_through_real_postgres(
    superuser: psycopg.Connection[tuple[object, ...]], unique: str
) -> None:
    table = f"rt_{unique}"
    superuser.execute(f"CREATE TEMP TABLE {table} (id int, amount numeric(20,2), doc jsonb)")
    superuser.execute(
        f"INSERT INTO {table} VALUES (%s, %s, %s)",
        (1, Decimal("1000000000.00"), Jsonb({"caliber_mm": 155})),
    )
    row = superuser.execute(f"SELECT id, amount, doc FROM {table}").fetchone()
    assert row == (1, Decimal("1000000000.00"), {"caliber_mm": 155})
    version = superuser.execute("SHOW server_version_num").fetchone()
    assert version is not None and str(version[0]).startswith("15")
