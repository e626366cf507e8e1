"""`audit verify`: hash chains, offset accounting, balanced postings, re-folded projections."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from psycopg.rows import dict_row

from procledger.adapters.postgres_store import order_from_row
from procledger.audit.db import JOURNAL_SELECT, Connection, journal_row
from procledger.audit.filters import Clocks
from procledger.audit.queries import _ALL_ORDER_COLUMNS
from procledger.audit.timetravel import event_of, journal_rows
from procledger.codec.errors import InvalidEventData
from procledger.domain.chain import GENESIS, entry_hash
from procledger.domain.events import Event
from procledger.domain.ledger import empty_state, fold
from procledger.domain.state import StockpileTarget

Progress = Callable[[int], None]


@dataclass
class VerifyReport:
    """Every discrepancy found (empty: everything holds) and what was checked."""

    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    discrepancies: list[str] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.discrepancies

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "started_at": self.started_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "checked": self.checked,
            "discrepancies": self.discrepancies,
        }


def _tp(topic: str, partition: int) -> str:
    return f"{topic}[{partition}]"


def _positions(conn: Connection) -> dict[tuple[str, int], tuple[int, bytes]]:
    rows = conn.execute(
        "SELECT topic, kafka_partition, next_offset, chain_head FROM audit.positions"
    ).fetchall()
    return {(t, p): (int(n), bytes(h)) for t, p, n, h in rows}


def check_chains(conn: Connection, report: VerifyReport, progress: Progress) -> None:
    """Recompute every row's hash from its columns and its predecessor's hash, per partition."""
    heads = _positions(conn)
    last: dict[tuple[str, int], bytes] = {}
    rows = 0
    with conn.cursor(name="audit_chain") as cur:
        cur.itersize = 5000
        cur.execute(f"{JOURNAL_SELECT} ORDER BY topic, kafka_partition, kafka_offset")
        for raw in cur:
            row = journal_row(raw)
            tp = (row.topic, row.partition)
            expected_prev = last.get(tp, GENESIS)
            if row.prev_hash != expected_prev:
                report.discrepancies.append(
                    f"{row.where()}: chain link broken (prev_hash {row.prev_hash.hex()[:16]}… "
                    f"but the previous row's hash is {expected_prev.hex()[:16]}…)"
                )
            if entry_hash(row.prev_hash, **row.hashed_fields()) != row.hash:
                report.discrepancies.append(f"{row.where()}: hash mismatch")
            last[tp] = row.hash
            rows += 1
            progress(1)
    for tp, (_, head) in sorted(heads.items()):
        if last.get(tp, GENESIS) != head:
            report.discrepancies.append(
                f"{_tp(*tp)}: chain head {head.hex()[:16]}… does not match the last journal "
                f"row's hash {last.get(tp, GENESIS).hex()[:16]}…"
            )
    for tp in sorted(set(last) - set(heads)):
        report.discrepancies.append(f"{_tp(*tp)}: journal rows but no position")
    report.checked["journal_rows"] = rows


def check_offsets(conn: Connection, report: VerifyReport) -> None:
    """Every offset 0..next_offset-1 is in exactly one of journal and rejections."""
    heads = _positions(conn)
    seen: dict[tuple[str, int], int] = {}
    with conn.cursor(name="audit_offsets") as cur:
        cur.itersize = 20000
        cur.execute(
            "SELECT topic, kafka_partition, kafka_offset, count(*), "
            "string_agg(source, ' and ') FROM ("
            "SELECT topic, kafka_partition, kafka_offset, 'journal' AS source FROM audit.journal "
            "UNION ALL SELECT topic, kafka_partition, kafka_offset, 'rejections' "
            "FROM audit.rejections) o GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
        )
        for topic, partition, offset, count, sources in cur:
            tp = (topic, partition)
            expected = seen.get(tp, 0)
            name = _tp(*tp)
            _missing(report, name, expected, offset)
            if count > 1:
                report.discrepancies.append(f"{name}: offset {offset} recorded twice ({sources})")
            limit = heads.get(tp, (0, b""))[0]
            if offset >= limit:
                report.discrepancies.append(
                    f"{name}: offset {offset} is at or past the position's next_offset {limit}"
                )
            seen[tp] = offset + 1
    for tp, (next_offset, _) in sorted(heads.items()):
        _missing(report, _tp(*tp), seen.get(tp, 0), next_offset)
    report.checked["partitions"] = len(heads)
    report.checked["offsets"] = sum(n for n, _ in heads.values())


def _missing(report: VerifyReport, name: str, start: int, stop: int) -> None:
    if stop - start == 1:
        report.discrepancies.append(f"{name}: offset {start} missing")
    elif stop - start > 1:
        report.discrepancies.append(f"{name}: offsets {start}..{stop - 1} missing")


def check_postings(conn: Connection, report: VerifyReport) -> None:
    """Per event, debits equal credits in the order currency and in USD."""
    rows = conn.execute(
        "SELECT event_id, "
        "sum(CASE side WHEN 'D' THEN amount ELSE -amount END), "
        "sum(CASE side WHEN 'D' THEN amount_usd ELSE -amount_usd END), count(*) "
        "FROM audit.postings GROUP BY event_id ORDER BY event_id"
    ).fetchall()
    for event_id, diff, diff_usd, _ in rows:
        if diff != 0 or diff_usd != 0:
            report.discrepancies.append(
                f"postings of event {event_id} do not balance: Dr - Cr = {diff} in the order "
                f"currency, {diff_usd} USD"
            )
    orphans = conn.execute(
        "SELECT p.event_id FROM audit.postings p LEFT JOIN audit.journal j USING (event_id) "
        "WHERE j.event_id IS NULL GROUP BY 1 ORDER BY 1 LIMIT 100"
    ).fetchall()
    for (event_id,) in orphans:
        report.discrepancies.append(f"postings of event {event_id} have no journal row")
    report.checked["posted_events"] = len(rows)


def _compare(report: VerifyReport, kind: str, key: str, live: Any, folded: Any) -> None:
    if live == folded:
        return
    if live is None or folded is None:
        where = "missing from the live projection" if live is None else "not in the journal"
        report.discrepancies.append(f"{kind} {key}: {where}")
        return
    for name in live.__dataclass_fields__:
        a, b = getattr(live, name), getattr(folded, name)
        if a != b:
            report.discrepancies.append(
                f"{kind} {key}: {name} is {_show(a)} live but {_show(b)} by the journal"
            )


def _show(value: object) -> str:
    if isinstance(value, frozenset):
        return str(sorted(value))
    if isinstance(value, Decimal | datetime):
        return str(value)
    return repr(value)


def check_projections(conn: Connection, report: VerifyReport, progress: Progress) -> None:
    """Fold the whole journal from scratch and compare orders and targets, every column."""

    def events() -> Iterator[Event]:
        for row in journal_rows(conn, Clocks()):
            progress(1)
            try:
                yield event_of(row)
            except InvalidEventData as err:
                # A payload altered into something no event can be: name the row, fold the rest.
                where = f"{_tp(row.topic, row.partition)}@{row.offset}, event {row.event_id}"
                kind = row.event_type
                report.discrepancies.append(
                    f"journal row {row.id} ({where}): payload is not a valid {kind}: {err}"
                )

    state = fold(empty_state(), events()).state
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(f"SELECT {_ALL_ORDER_COLUMNS} FROM audit.orders")
        live_orders = {r["order_id"]: order_from_row(r) for r in cur.fetchall()}
        cur.execute(
            "SELECT country, caliber_mm, target_quantity, authority, set_at "
            "FROM audit.stockpile_targets"
        )
        live_targets = {(r["country"], r["caliber_mm"]): StockpileTarget(**r) for r in cur}
    for oid in sorted(set(live_orders) | set(state.orders)):
        _compare(report, "order", oid, live_orders.get(oid), state.orders.get(oid))
    for key in sorted(set(live_targets) | set(state.targets)):
        name = f"{key[0]}/{key[1]}mm"
        _compare(report, "stockpile target", name, live_targets.get(key), state.targets.get(key))
    report.checked["orders"] = len(live_orders)
    report.checked["stockpile_targets"] = len(live_targets)


def verify(conn: Connection, progress: Progress | None = None) -> VerifyReport:
    """Run every database check in one snapshot; progress(n) is told of rows processed."""
    tick: Progress = progress or (lambda _n: None)
    report = VerifyReport()
    check_chains(conn, report, tick)
    check_offsets(conn, report)
    check_postings(conn, report)
    check_projections(conn, report, tick)
    return report


def journal_count(conn: Connection) -> int:
    """Rows verify walks twice (chains, then the fold): the progress bar's scale."""
    found = conn.execute("SELECT count(*) FROM audit.journal").fetchone()
    return 0 if found is None else int(found[0])
