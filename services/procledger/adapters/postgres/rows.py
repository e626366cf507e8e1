"""The ledger's rows as PostgreSQL takes them: one mapping per table, from the domain's
values to the text each column parses (COPY rows, or JSON records), and back for orders."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import fields, replace
from datetime import datetime
from itertools import groupby
from json.encoder import encode_basestring as _json_string
from operator import attrgetter
from typing import Any

import psycopg
from psycopg.adapt import PyFormat

from procledger.domain.chain import canonical_payload, instant_text
from procledger.domain.events import Purpose
from procledger.domain.postings import Posting
from procledger.domain.state import Order, OrderStatus
from procledger.ledger.ports import JOURNAL_FIELD_COLUMNS, JournalEntry

ORDER_COLUMNS = tuple(f.name for f in fields(Order))
ORDER_COLUMN_LIST = ", ".join(ORDER_COLUMNS)  # as SQL names them

JOURNAL_COLUMNS = ", ".join(JOURNAL_FIELD_COLUMNS.values())
# A journal entry's COPY row, by field name; the payload and occurred_at go as the texts the
# batch already rendered (JournalEntry.payload_text, .occurred_text).
_AS_TEXT = {"payload": "payload_text", "occurred_at": "occurred_text"}
_JOURNAL_ROW = attrgetter(*(_AS_TEXT.get(f, f) for f in JOURNAL_FIELD_COLUMNS))
# The other instants go as instant_text() too, which timestamptz parses to the same value:
# psycopg's datetime dumper took about 2 µs a value, and a batch's rows share their record
# time and mostly their Kafka milliseconds, rendered once per batch.
_JOURNAL_INSTANTS = tuple(
    i for i, f in enumerate(JOURNAL_FIELD_COLUMNS) if f in {"recorded_at", "kafka_timestamp"}
)
REJECTION_COLUMNS = (
    "topic, kafka_partition, kafka_offset, kafka_timestamp, event_id, event_type, order_id, "
    "reason_code, error, payload, raw_value, record_sha256, recorded_at"
)
ENTRY_COLUMNS = "event_id, order_id, currency, accounts, sides, amounts, amounts_usd"
# The COPY column types, in column order (text COPY: they pick each column's dumper).
JOURNAL_TYPES = ("text", "text", "text", "text", "text", "int4", "text", "text",
                 "text", "int4", "int8", "text", "bytea", "bytea", "bytea")  # fmt: skip
ENTRY_TYPES = ("text",) * 7
# The dumper psycopg picks for a bytes value: its C one, with psycopg's binary package.
_BYTES_DUMPER = psycopg.adapters.get_dumper(bytes, PyFormat.TEXT)


def set_copy_types(copy: psycopg.Copy, types: Sequence[str]) -> None:
    """Fix a COPY's dumpers by column (`types`): psycopg then skips its per-value lookup.

    set_types() finds each dumper by type oid, and for bytea that is the one registered last:
    psycopg.dbapi20's, for its Binary wrapper, written in Python. The dumper for bytes values
    goes back in front first, on this cursor only: a journal row's formatting fell from 1.50
    to 0.82 µs (timeit, 5,000 rows).
    """
    copy.cursor.adapters.register_dumper(bytes, _BYTES_DUMPER)
    copy.set_types(types)


def order_from_row(row: Mapping[str, Any]) -> Order:
    values = dict(row)
    values["purpose"] = Purpose(values["purpose"])
    values["status"] = OrderStatus(values["status"])
    values["currency"] = values["currency"].strip()
    values["delivery_ids"] = frozenset(values["delivery_ids"])
    values["payment_ids"] = frozenset(values["payment_ids"])
    return Order(**values)


def text_array(values: Iterable[str]) -> str:
    """A text[] literal of the values in the order given, each quoted: {"a","b"}.

    Ids and account names seldom hold a quote or a backslash: one scan of them all decides
    whether any needs escaping, and the quotes go in with one join. 0.017 µs per id for
    5,000 ids (timeit), against 0.14 escaping each value, and 1.9 with psycopg's list dumper.
    """
    values = list(values)
    if not values:
        return "{}"
    joined = "".join(values)
    if "\\" in joined or '"' in joined:
        values = [v.replace("\\", "\\\\").replace('"', '\\"') for v in values]
    return '{"' + '","'.join(values) + '"}'


def _id_set(ids: frozenset[str]) -> str:
    return text_array(sorted(ids))


def _enum_value(member: Purpose | OrderStatus) -> str:
    return member.value


# How each column that psycopg would dump slowly goes into a COPY row instead, by the Order
# field's type: instants as instant_text() and id sets as array literals, which PostgreSQL
# parses to the same values (psycopg's datetime and list dumpers were most of this row's
# cost: about 2 µs a datetime).
_ORDER_TEXT_BY_TYPE: dict[str, Callable[[Any], str]] = {
    "datetime": instant_text,
    "frozenset[str]": _id_set,
    "Purpose": _enum_value,
    "OrderStatus": _enum_value,
}
_ORDER_ROW = attrgetter(*ORDER_COLUMNS)
_ORDER_TEXTS = tuple(
    (i, _ORDER_TEXT_BY_TYPE[str(f.type)])
    for i, f in enumerate(fields(Order))
    if str(f.type) in _ORDER_TEXT_BY_TYPE
)


def order_to_row(order: Order) -> list[object]:
    """An order as its COPY row, in ORDER_COLUMNS' order."""
    row = list(_ORDER_ROW(order))
    for i, text in _ORDER_TEXTS:
        row[i] = text(row[i])
    return row


class InstantTexts(dict[datetime | None, str | None]):
    """instant_text() of each instant asked for, rendered once; None stays None."""

    def __missing__(self, value: datetime | None) -> str | None:
        text = self[value] = None if value is None else instant_text(value)
        return text


def journal_to_row(entry: JournalEntry, texts: InstantTexts) -> list[object]:
    """A journal entry as its COPY row (JOURNAL_TYPES), its instants rendered through `texts`.

    The payload goes as the canonical JSON text the hash chain already rendered; JSONB parses
    it into the same value Jsonb(payload) would give. An entry built without those texts gets
    them rendered here.
    """
    if entry.payload_text is None or entry.occurred_text is None:
        entry = replace(
            entry,
            payload_text=entry.payload_text or canonical_payload(entry.payload),
            occurred_text=entry.occurred_text or instant_text(entry.occurred_at),
        )
    row = list(_JOURNAL_ROW(entry))
    for i in _JOURNAL_INSTANTS:
        row[i] = texts[row[i]]
    return row


_EVENT_ID = attrgetter("event_id")


def entry_rows(postings: Iterable[Posting]) -> Iterator[tuple[str, ...]]:
    """A batch's postings as ledger.entries COPY rows (ENTRY_TYPES): one per event, its legs
    as array literals in the order given.

    An event's postings come together and share its order and currency (one EntryRef made
    them); two runs of one event's postings would be two rows for one key, which the primary
    key refuses. Accounts are quoted like any text; sides are D or C, amounts Decimal text.
    """
    for event_id, group in groupby(postings, _EVENT_ID):
        legs = list(group)
        first = legs[0]
        yield (
            event_id,
            first.order_id,
            first.currency,
            text_array([p.account for p in legs]),
            "{" + ",".join([p.side for p in legs]) + "}",
            "{" + ",".join([str(p.amount) for p in legs]) + "}",
            "{" + ",".join([str(p.amount_usd) for p in legs]) + "}",
        )


def json_records(columns: Iterable[str], rows: Iterable[Iterable[object]], raw: str = "") -> str:
    """Rows as the COPY mappings give them, as a JSON array of objects keyed by column, for
    json_populate_recordset().

    Each value goes as a JSON string, which the column's input function parses as it parses
    the same text in COPY: str as is, numbers and Decimals as str(), bytes as bytea hex
    (\\x...), None as null. The column named `raw` holds JSON text already (the payload) and
    goes unquoted: json_populate_recordset keeps a jsonb column's JSON value as it is, so a
    string there would be stored as a JSON string.
    """
    names = [_json_string(c) for c in columns]
    raw_name = _json_string(raw)
    records = []
    for row in rows:
        fields = []
        for name, value in zip(names, row, strict=True):
            if value is None:
                text = "null"
            elif name == raw_name:
                text = str(value)
            elif type(value) is str:
                text = _json_string(value)
            elif type(value) is bytes:
                text = f'"\\\\x{value.hex()}"'
            else:
                text = f'"{value}"'
            fields.append(f"{name}:{text}")
        records.append("{" + ",".join(fields) + "}")
    return "[" + ",".join(records) + "]"
