"""The ledger at a past moment: journal rows up to either clock, folded by the pure domain."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from procledger.adapters.postgres.audit_reader import (
    JOURNAL_SELECT,
    Connection,
    JournalRow,
    journal_row,
)
from procledger.audit.filters import Clocks
from procledger.codec.textformats import event_from_json_dict
from procledger.domain.events import Event
from procledger.domain.replay import replay
from procledger.domain.state import LedgerState


def set_conditions(params: list[Any], *optional: tuple[str, object]) -> list[str]:
    """The (condition, value) pairs' conditions whose value is set (not None), in order; each
    binds its value into `params` once per %s placeholder."""
    conditions = []
    for condition, value in optional:
        if value is not None:
            conditions.append(condition)
            params += [value] * condition.count("%s")
    return conditions


def clock_where(clocks: Clocks, params: list[Any], prefix: str = "") -> list[str]:
    """SQL conditions (parameterised into `params`) for the two clocks on journal rows."""
    return set_conditions(
        params,
        (f"{prefix}occurred_at <= %s", clocks.as_of),
        (f"{prefix}recorded_at <= %s", clocks.known_at),
    )


def journal_rows(
    conn: Connection,
    clocks: Clocks,
    *,
    order_id: str | None = None,
    before_id: int | None = None,
    extra: tuple[str, list[Any]] | None = None,
) -> Iterator[JournalRow]:
    """Journal rows in application order (id), restricted by the clocks and optional filters."""
    params: list[Any] = []
    conditions = clock_where(clocks, params)
    conditions += set_conditions(params, ("order_id = %s", order_id), ("id <= %s", before_id))
    if extra is not None:
        conditions.append(extra[0])
        params.extend(extra[1])
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    # A named (server-side) cursor streams a large journal instead of loading it whole.
    with conn.cursor(name="audit_journal") as cur:
        cur.itersize = 5000
        cur.execute(f"{JOURNAL_SELECT}{where} ORDER BY id", params)
        for row in cur:
            yield journal_row(row)


def event_of(row: JournalRow) -> Event:
    """The event a journal payload records (validated when it was consumed)."""
    return event_from_json_dict(row.event_type, row.payload, check=False)


def fold_rows(rows: Iterable[JournalRow]) -> LedgerState:
    """The orders and targets a replay of these rows reaches (bounded memory, no event ids)."""
    replayed = replay(event_of(r) for r in rows)
    return LedgerState(replayed.orders, replayed.targets, frozenset())


def state_at(
    conn: Connection,
    clocks: Clocks,
    order_id: str | None = None,
    extra: tuple[str, list[Any]] | None = None,
) -> LedgerState:
    """The ledger (or one order's part of it, or the rows `extra` selects) as the clocks see it."""
    return fold_rows(journal_rows(conn, clocks, order_id=order_id, extra=extra))


@dataclass(frozen=True, slots=True)
class Unseen:
    """The orders with a journal row the clocks do not see yet, as SQL, and how many rows."""

    orders_sql: str  # SELECT DISTINCT order_id ..., parameterised by `params`
    params: list[Any]
    rows: int
    journal_rows: int


def unseen(conn: Connection, clocks: Clocks) -> Unseen:
    """Which orders changed after the clocks: rows with occurred_at or recorded_at past them.

    Every other order's journal rows are all seen, so the clocks see it as it stands live
    (an order's fold depends only on its own events): time travel re-folds only the rest.
    Both columns are indexed, so this costs what lies past the clocks.
    """
    params: list[Any] = []
    past = []
    if clocks.as_of is not None:
        past.append("occurred_at > %s")
        params.append(clocks.as_of)
    if clocks.known_at is not None:
        past.append("recorded_at > %s")
        params.append(clocks.known_at)
    where = f"({' OR '.join(past) or 'false'})"
    found = conn.execute(f"SELECT count(*) FROM audit.journal WHERE {where}", params).fetchone()
    total = conn.execute("SELECT coalesce(sum(journal_rows), 0) FROM audit.positions").fetchone()
    return Unseen(
        orders_sql=(
            f"SELECT DISTINCT order_id FROM audit.journal WHERE order_id IS NOT NULL AND {where}"
        ),
        params=params,
        rows=0 if found is None else int(found[0]),
        journal_rows=0 if total is None else int(total[0]),
    )
