"""`procledger audit ...`: command-line options only (handlers live in audit_handlers)."""

from __future__ import annotations

import argparse

from procledger.entrypoints.cli.support import Command, lazy

_CLOCKS_HELP = (
    "Time travel: --as-of T keeps events that occurred (business time) at or before T, "
    "--known-at T keeps journal rows recorded at or before T; T is ISO-8601 with a zone."
)


AUDIT = Command(
    "audit",
    "read-only audit queries, verification and evidence bundles",
    "Answers auditors' questions with the read-only role (AUDIT_DATABASE_URL), reading "
    "AUDIT_READ_DATABASE_URL instead when set (e.g. a streaming replica: each command "
    "then says on stderr how far it has replayed). "
    + _CLOCKS_HELP
    + " Exit codes: 0 ok, 1 not found or verification failed, 2 invalid input.",
)


def _common(parser: argparse.ArgumentParser, clocks: bool = True) -> None:
    parser.add_argument(
        "--format",
        choices=("table", "json", "csv"),
        help="output format (default: table on a terminal, json otherwise)",
    )
    if clocks:
        parser.add_argument("--as-of", metavar="T", help="business time: occurred_at <= T")
        parser.add_argument("--known-at", metavar="T", help="record time: recorded_at <= T")


def _order_filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--buyer", help="buyer country code, e.g. DEU")
    parser.add_argument("--caliber-mm", type=int, metavar="MM", help="calibre in mm, e.g. 155")
    parser.add_argument("--year", type=int, help="placed in this UTC year")
    parser.add_argument("--from", dest="placed_from", metavar="DATE", help="placed on/after (UTC)")
    parser.add_argument("--to", dest="placed_to", metavar="DATE", help="placed on/before (UTC)")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:  # noqa: PLR0915
    audit = AUDIT.add_to(sub)
    cmds = audit.add_subparsers(dest="audit_command", metavar="QUERY", required=True)

    p = cmds.add_parser("totals", help="ordered, delivered and paid, grouped by dimensions")
    p.add_argument(
        "--by",
        default="",
        help="comma-separated subset of buyer,supplier,caliber_mm,purpose,currency,month",
    )
    _order_filters(p)
    _common(p)
    p.set_defaults(func=lazy("procledger.entrypoints.cli.audit_handlers:totals"))

    p = cmds.add_parser("orders", help="orders with their current (or past) state")
    _order_filters(p)
    p.add_argument("--status", help="OPEN, FULFILLED or CANCELLED")
    p.add_argument("--limit", type=int, help="at most this many rows")
    p.add_argument("--offset", type=int, default=0, help="skip this many rows")
    _common(p)
    p.set_defaults(func=lazy("procledger.entrypoints.cli.audit_handlers:orders"))

    p = cmds.add_parser("order", help="one order: state and full history with provenance")
    p.add_argument("order_id", metavar="ORDER_ID")
    _common(p)
    p.set_defaults(func=lazy("procledger.entrypoints.cli.audit_handlers:order"))

    p = cmds.add_parser("stockpile", help="targets per country and calibre against deliveries")
    p.add_argument("--buyer", help="country code")
    p.add_argument("--caliber-mm", type=int, metavar="MM")
    _common(p)
    p.set_defaults(func=lazy("procledger.entrypoints.cli.audit_handlers:stockpile"))

    p = cmds.add_parser("trace", help="where an entry came from and what it changed")
    p.add_argument("event_id", metavar="EVENT_ID")
    _common(p, clocks=False)
    p.set_defaults(func=lazy("procledger.entrypoints.cli.audit_handlers:trace"))

    p = cmds.add_parser("rejections", help="records that were not applied, and why")
    p.add_argument("--reason", help="reason code, e.g. OVER_DELIVERY")
    p.add_argument("--topic", help="Kafka topic")
    p.add_argument("--known-at", metavar="T", help="recorded at or before T")
    p.add_argument("--limit", type=int)
    p.add_argument("--offset", type=int, default=0)
    _common(p, clocks=False)
    p.set_defaults(func=lazy("procledger.entrypoints.cli.audit_handlers:rejections"))

    p = cmds.add_parser(
        "verify",
        help="recompute hash chains, offsets, postings and projections (exit 1 on discrepancy)",
    )
    p.add_argument(
        "--against-kafka",
        action="store_true",
        help="also compare each row's record_sha256 with the record in Kafka",
    )
    p.add_argument("--result-file", metavar="FILE", help="also write the JSON report here")
    _common(p, clocks=False)
    p.set_defaults(func=lazy("procledger.entrypoints.cli.audit_handlers:verify"))

    p = cmds.add_parser("export", help="write an evidence bundle (zip: JSON Lines + manifest)")
    p.add_argument("--out", required=True, metavar="FILE", help="the zip file to write")
    p.add_argument("--order", help="one order's entries")
    p.add_argument("--buyer", help="a buyer's orders and stockpile targets")
    p.add_argument("--from", dest="placed_from", metavar="DATE", help="occurred on/after (UTC)")
    p.add_argument("--to", dest="placed_to", metavar="DATE", help="occurred on/before (UTC)")
    p.add_argument("--as-of", metavar="T", help="business time: rows that occurred at or before T")
    p.add_argument("--known-at", metavar="T", help="record time: rows recorded at or before T")
    p.epilog = (
        "The manifest records both clocks, the ledger's chain heads and the export time. With "
        "AUDIT_SIGNING_KEY_FILE set (an Ed25519 private key in PEM), manifest.json is signed "
        "into manifest.sig.json."
    )
    p.set_defaults(func=lazy("procledger.entrypoints.cli.audit_handlers:export"))

    p = cmds.add_parser("check-bundle", help="verify an evidence bundle offline (no database)")
    p.add_argument("bundle", metavar="FILE")
    p.add_argument(
        "--public-key",
        metavar="PEM",
        help="Ed25519 public key the manifest must be signed with (default AUDIT_VERIFY_KEY_FILE);"
        " given, an unsigned or wrongly signed bundle fails",
    )
    _common(p, clocks=False)
    p.set_defaults(func=lazy("procledger.entrypoints.cli.audit_handlers:check_bundle"))
