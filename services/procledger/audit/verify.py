"""`audit verify`: chains, offsets, balanced postings, re-folded projections and checkpoints."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from procledger.adapters.postgres import checkpoints
from procledger.adapters.postgres.audit_reader import JOURNAL_SELECT, Connection, journal_row
from procledger.adapters.postgres.journal import check_journal
from procledger.adapters.postgres.standby import DatabasePosition, read_position
from procledger.domain.chain import GENESIS, entry_hash

Progress = Callable[[int], None]


@dataclass
class VerifyReport:
    """Every discrepancy found (empty: everything holds) and what was checked."""

    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    discrepancies: list[str] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)
    # What was verified: the server (a replica verifies what it has replayed) and each
    # partition's next offset in the snapshot, i.e. offsets 0..n-1 were checked.
    database: DatabasePosition | None = None
    verified_through: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.discrepancies

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "started_at": self.started_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "checked": self.checked,
            "database": None if self.database is None else self.database.as_dict(),
            "verified_through": self.verified_through,
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
    report.verified_through = {_tp(*tp): n for tp, (n, _) in sorted(heads.items())}
    report.checked["partitions"] = len(heads)
    report.checked["offsets"] = sum(n for n, _ in heads.values())


def _missing(report: VerifyReport, name: str, start: int, stop: int) -> None:
    if stop - start == 1:
        report.discrepancies.append(f"{name}: offset {start} missing")
    elif stop - start > 1:
        report.discrepancies.append(f"{name}: offsets {start}..{stop - 1} missing")


def check_postings(conn: Connection, report: VerifyReport) -> None:
    """Per event, debits equal credits in the order currency and in USD."""
    # The server keeps the balanced events to itself: one row per event held in this
    # process was the largest part of a million-event verification's memory.
    per_event = (
        "SELECT event_id, sum(CASE side WHEN 'D' THEN amount ELSE -amount END) AS diff, "
        "sum(CASE side WHEN 'D' THEN amount_usd ELSE -amount_usd END) AS diff_usd "
        "FROM audit.postings GROUP BY event_id"
    )
    found = conn.execute(f"SELECT count(*) FROM ({per_event}) e").fetchone()
    unbalanced = conn.execute(
        f"SELECT event_id, diff, diff_usd FROM ({per_event}) e "
        "WHERE diff <> 0 OR diff_usd <> 0 ORDER BY event_id"
    )
    for event_id, diff, diff_usd in unbalanced:
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
    report.checked["posted_events"] = 0 if found is None else int(found[0])


def check_projections(conn: Connection, report: VerifyReport, progress: Progress) -> None:
    """Re-fold the whole journal from scratch and compare orders and targets, every column.

    Group by group (check_journal): the memory stays bounded whatever the ledger's size.
    """
    done = check_journal(conn, "audit", tick=progress)
    if done.unreadable:
        # A payload altered into something no event can be: name the row, fold the rest.
        where = _coordinates(conn, [row.id for row in done.unreadable])
        for row in done.unreadable:
            report.discrepancies.append(
                f"journal row {row.id} ({where.get(row.id, '?')}): payload is not a valid "
                f"{row.event_type}: {row.error}"
            )
    report.discrepancies.extend(done.differences)
    report.checked["orders"] = _count(conn, "orders")
    report.checked["stockpile_targets"] = _count(conn, "stockpile_targets")


def check_checkpoints(conn: Connection, report: VerifyReport, progress: Progress) -> None:
    """Re-fold what each built checkpoint holds and compare, every column: time travel
    answers from them, so one altered would change its answers with the journal intact."""
    done = checkpoints.check_checkpoints(conn, "audit", tick=progress)
    report.discrepancies.extend(done.differences)
    report.checked["checkpoints"] = done.checkpoints
    report.checked["checkpoint_orders"] = done.orders


def _count(conn: Connection, view: str) -> int:
    found = conn.execute(f"SELECT count(*) FROM audit.{view}").fetchone()  # a fixed name
    return 0 if found is None else int(found[0])


def _coordinates(conn: Connection, ids: list[int]) -> dict[int, str]:
    rows = conn.execute(
        "SELECT id, topic, kafka_partition, kafka_offset, event_id FROM audit.journal "
        "WHERE id = ANY(%s)",
        (ids,),
    ).fetchall()
    return {i: f"{_tp(t, p)}@{o}, event {e}" for i, t, p, o, e in rows}


def verify(conn: Connection, progress: Progress | None = None) -> VerifyReport:
    """Run every database check in one snapshot; progress(n) is told of rows processed."""
    tick: Progress = progress or (lambda _n: None)
    report = VerifyReport()
    # First (when the caller has not queried yet): it dates the snapshot every check reads.
    report.database = read_position(conn)
    check_chains(conn, report, tick)
    check_offsets(conn, report)
    check_postings(conn, report)
    check_projections(conn, report, tick)
    check_checkpoints(conn, report, tick)
    return report


def rows_to_verify(conn: Connection) -> int:
    """Rows verify walks: the journal twice (chains, then the fold), then the rows each
    checkpoint was folded from (the progress bar's scale)."""
    found = conn.execute(
        "SELECT (SELECT count(*) FROM audit.journal) * 2 + "
        "(SELECT coalesce(sum(events), 0) FROM audit.checkpoints)"
    ).fetchone()
    return 0 if found is None else int(found[0])
