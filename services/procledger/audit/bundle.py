"""Evidence bundles: a zip of JSON Lines and a manifest, exported, then checked offline."""

from __future__ import annotations

import hashlib
import json
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from procledger.adapters.postgres.audit_reader import (
    JOURNAL_SELECT,
    Connection,
    JournalRow,
    journal_json,
    journal_row,
    money,
    ts,
)
from procledger.audit.filters import Clocks, FilterError
from procledger.audit.signing import SIGNATURE_FILE, Signer
from procledger.audit.timetravel import clock_where, set_conditions
from procledger.domain.chain import GENESIS, entry_hash

FORMAT = "procledger-evidence-bundle/1"
# A buyer's rows: its orders' events, and the stockpile targets of its country.
_OF_BUYER = (
    "(order_id IN (SELECT order_id FROM audit.orders WHERE buyer = %s) OR "
    "(event_type = 'StockpileTargetSet' AND payload->>'country' = %s))"
)
NOTE = (
    "journal.jsonl holds the selected journal rows with every hashed field, prev_hash and hash; "
    "recompute hash = sha256(prev_hash || canonical row) with procledger.domain.chain.entry_hash. "
    "chain_prev_offset is the offset of the row's predecessor in its partition's chain: the link "
    "can be checked offline only when that predecessor is in the bundle too. chain_heads are the "
    "partitions' heads when the bundle was made; a head can be checked when its row is included. "
    "clocks pin the rows: as_of keeps rows that occurred (business time) at or before it, "
    "known_at rows recorded at or before it. When signature is set, manifest.sig.json holds an "
    "Ed25519 signature of this file's exact bytes by the key whose raw public key has that "
    "SHA-256 (procledger audit check-bundle --public-key checks it)."
)


@dataclass(frozen=True, slots=True)
class BundleFilter:
    """Which journal rows go in: one order, one buyer's orders and targets, a business period."""

    order_id: str | None = None
    buyer: str | None = None
    occurred_from: datetime | None = None
    occurred_to: datetime | None = None  # exclusive

    def as_dict(self) -> dict[str, str | None]:
        return {
            "order": self.order_id,
            "buyer": self.buyer,
            "from": ts(self.occurred_from),
            "to_exclusive": ts(self.occurred_to),
        }


def _row_json(row: JournalRow, prev_offset: int | None) -> dict[str, Any]:
    return {**journal_json(row), "chain_prev_offset": prev_offset}


def _jsonl(items: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(i, ensure_ascii=False, sort_keys=True) + "\n" for i in items).encode()


def export(  # noqa: PLR0917 - the CLI and the API pass the same five things
    conn: Connection,
    flt: BundleFilter,
    out: Path,
    progress: Callable[[int], None] | None = None,
    clocks: Clocks = Clocks(),  # noqa: B008 - frozen, so one shared default is safe
    signer: Signer | None = None,
) -> dict[str, Any]:
    """Write the bundle zip to `out` (signed when a signer is given); returns its manifest."""
    params: list[Any] = []
    conditions = ["true", *clock_where(clocks, params)]
    conditions += set_conditions(
        params,
        ("order_id = %s", flt.order_id),
        (_OF_BUYER, flt.buyer),
        ("occurred_at >= %s", flt.occurred_from),
        ("occurred_at < %s", flt.occurred_to),
    )
    # The predecessor is found over the whole chain, before the filter drops rows.
    query = (
        f"SELECT * FROM (SELECT j.*, lag(kafka_offset) OVER (PARTITION BY topic, kafka_partition "
        f"ORDER BY kafka_offset) AS chain_prev_offset FROM ({JOURNAL_SELECT}) j) c "
        f"WHERE {' AND '.join(conditions)} ORDER BY topic, kafka_partition, kafka_offset"
    )
    rows: list[dict[str, Any]] = []
    event_ids: list[str] = []
    for raw in conn.execute(query, params):
        row = journal_row(raw[:16])
        rows.append(_row_json(row, raw[16]))
        event_ids.append(row.event_id)
        if progress:
            progress(1)
    postings = [
        {
            "event_id": e,
            "order_id": o,
            "account": a,
            "side": s,
            "amount": money(m),
            "currency": c.strip(),
            "amount_usd": money(u),
        }
        # In the journal rows' order, each event's legs in theirs.
        for e, o, a, s, m, c, u in conn.execute(
            "SELECT p.event_id, p.order_id, p.account, p.side, p.amount, p.currency, "
            "p.amount_usd FROM unnest(%s::text[]) WITH ORDINALITY AS b (event_id, n) "
            "JOIN audit.postings p USING (event_id) ORDER BY b.n, p.leg",
            (event_ids,),
        )
    ]
    heads = [
        {
            "topic": t,
            "partition": p,
            "next_offset": n,
            "chain_head": bytes(h).hex(),
            "head_offset": last,
        }
        for t, p, n, h, last in conn.execute(
            "SELECT p.topic, p.kafka_partition, p.next_offset, p.chain_head, "
            "(SELECT max(kafka_offset) FROM audit.journal j WHERE j.topic = p.topic "
            "AND j.kafka_partition = p.kafka_partition) FROM audit.positions p ORDER BY 1, 2"
        )
    ]
    files = {"journal.jsonl": _jsonl(rows), "postings.jsonl": _jsonl(postings)}
    manifest = {
        "format": FORMAT,
        "exported_at": ts(datetime.now(UTC)),
        "clocks": {"as_of": ts(clocks.as_of), "known_at": ts(clocks.known_at)},
        "signature": None
        if signer is None
        else {"algorithm": "Ed25519", "key_sha256": signer.key_sha256, "file": SIGNATURE_FILE},
        "filter": flt.as_dict(),
        "files": {
            name: {"sha256": hashlib.sha256(data).hexdigest(), "rows": data.count(b"\n")}
            for name, data in files.items()
        },
        "chain_heads": heads,
        "note": NOTE,
    }
    manifest_bytes = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
        zf.writestr("manifest.json", manifest_bytes)
        if signer is not None:
            zf.writestr(SIGNATURE_FILE, signer.sign(manifest_bytes))
    return manifest


def read_contents(path: Path) -> dict[str, bytes] | str:
    """Every member of the bundle zip, or why it cannot be read."""
    try:
        with zipfile.ZipFile(path) as zf:
            return {name: zf.read(name) for name in zf.namelist()}
    # A damaged zip fails in the container (BadZipFile), the inflater (zlib.error) or the CRC.
    except (
        OSError,
        EOFError,
        zipfile.BadZipFile,
        zlib.error,
        ValueError,
        NotImplementedError,
        RuntimeError,
    ) as err:
        return f"{path}: cannot read the bundle: {err}"


def _parse_ts(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _recompute(row: dict[str, Any]) -> bytes:
    return entry_hash(
        bytes.fromhex(row["prev_hash"]),
        event_id=row["event_id"],
        event_type=row["event_type"],
        order_id=row["order_id"],
        payload=row["payload"],
        writer_fingerprint=row["writer_fingerprint"],
        schema_version=row["schema_version"],
        occurred_at=_parse_ts(row["occurred_at"]),  # type: ignore[arg-type]
        recorded_at=_parse_ts(row["recorded_at"]),  # type: ignore[arg-type]
        topic=row["topic"],
        partition=row["partition"],
        offset=row["offset"],
        kafka_timestamp=_parse_ts(row["kafka_timestamp"]),
        record_sha256=bytes.fromhex(row["record_sha256"]),
    )


def check_bundle(path: Path) -> tuple[list[str], dict[str, int]]:
    """Verify a bundle offline: (problems, counts); no problems means it holds."""
    problems: list[str] = []
    contents = read_contents(path)
    if isinstance(contents, str):
        return [contents], {}
    if "manifest.json" not in contents:
        return [f"{path}: manifest.json is missing"], {}
    try:
        manifest = json.loads(contents["manifest.json"])
        files: dict[str, dict[str, Any]] = dict(manifest["files"])
        heads = {(h["topic"], h["partition"]): h for h in manifest["chain_heads"]}
        if not all(isinstance(meta, dict) for meta in files.values()):
            raise TypeError("each file entry must be an object")
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        return [f"manifest.json is not a valid manifest: {err}"], {}
    for name, meta in sorted(files.items()):
        data = contents.get(name)
        if data is None:
            problems.append(f"{name}: listed in the manifest but missing")
        elif hashlib.sha256(data).hexdigest() != meta.get("sha256"):
            problems.append(f"{name}: SHA-256 differs from the manifest")
    rows: list[dict[str, Any]] = []
    for number, line in enumerate(contents.get("journal.jsonl", b"").splitlines(), start=1):
        try:
            row = json.loads(line)
        except ValueError as err:
            problems.append(f"journal.jsonl line {number}: not JSON ({err})")
            continue
        if isinstance(row, dict):
            rows.append(row)
        else:
            problems.append(f"journal.jsonl line {number}: not a JSON object")
    by_offset = {
        (r.get("topic"), r.get("partition"), r.get("offset")): r
        for r in rows
        if isinstance(r.get("offset"), int)
    }
    for r in rows:
        where = (
            f"journal row {r.get('id')} ({r.get('topic')}[{r.get('partition')}]@"
            f"{r.get('offset')}, event {r.get('event_id')})"
        )
        try:
            if _recompute(r) != bytes.fromhex(r["hash"]):
                problems.append(f"{where}: hash mismatch")
            prev_offset = r["chain_prev_offset"]
            if prev_offset is None and bytes.fromhex(r["prev_hash"]) != GENESIS:
                problems.append(f"{where}: first row of its chain but prev_hash is not zero")
            prev = by_offset.get((r["topic"], r["partition"], prev_offset))
            if prev is not None and prev["hash"] != r["prev_hash"]:
                problems.append(f"{where}: chain link to offset {prev_offset} broken")
            head = heads.get((r["topic"], r["partition"]))
            at_head = head is not None and head["head_offset"] == r["offset"]
            if at_head and head["chain_head"] != r["hash"]:  # type: ignore[index]
                problems.append(f"{where}: hash differs from the chain head")
        except (KeyError, ValueError, TypeError, AttributeError) as err:
            problems.append(f"{where}: malformed row ({err!r})")
    return problems, {"journal_rows": len(rows), "files": len(files)}


def day_after(d: date, days: int = 1) -> datetime:
    """UTC midnight `days` after d: 1 gives the exclusive end of an inclusive last day."""
    try:
        return datetime.combine(d + timedelta(days=days), time(), tzinfo=UTC)
    except OverflowError:
        raise FilterError("to", f"date out of range: {d}") from None
