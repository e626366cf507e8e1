"""`make demo`: migrate, create topics, publish the 155mm story, fold it, print the ledger."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal

import psycopg

from procledger.adapters.kafka.publisher import KafkaOrderPublisher
from procledger.adapters.kafka.topics import ensure_topics
from procledger.adapters.postgres.migrations import migrate
from procledger.domain.money import cents_str
from procledger.scenario.story import story_events
from procledger.settings import DatabaseSettings, Env, KafkaSettings, Topics

HEADLINE = Decimal("1000000000.00")


def _step(text: str) -> None:
    print(f"\n== {text}", flush=True)


def main() -> int:
    env = Env()
    kafka, topics, database = (
        KafkaSettings.from_env(env),
        Topics.from_env(env),
        DatabaseSettings.from_env(env, admin=True),
    )
    _step("database and topics")
    report = migrate(database)
    print(f"database {report.database}: applied {', '.join(report.applied) or 'nothing new'}")
    for name, state in ensure_topics(kafka, topics).items():
        print(f"{name}: {state}")

    _step("publishing the June 2023 story (NATO 155mm orders, stockpile targets)")
    events = story_events()
    publisher = KafkaOrderPublisher(kafka, topics, source_system="demo")
    try:
        published = publisher.publish(events)
    finally:
        publisher.close()
    for kind, count in sorted(published.counts.items()):
        print(f"  {kind:<20} {count:>5}")
    print(f"  {published.total} events confirmed by the broker in {published.seconds:.2f}s")

    _step("folding into the ledger (procledger consume --until-idle 3)")
    subprocess.run(
        [sys.executable, "-m", "procledger", "--log-level", "WARNING", "consume",
         "--until-idle", "3", "--metrics-port", "0"],
        check=True,
    )  # fmt: skip

    _step("ledger summary")
    _summary(database.admin_url)
    return 0


def _summary(url: str) -> None:
    with psycopg.connect(url) as conn:
        journal, rejected = conn.execute(
            "SELECT (SELECT count(*) FROM ledger.journal), (SELECT count(*) FROM ledger.rejections)"
        ).fetchone() or (0, 0)
        print(f"journal rows {journal}, rejected records {rejected}")
        for reason, count in conn.execute(
            "SELECT reason_code, count(*) FROM ledger.rejections GROUP BY 1 ORDER BY 1"
        ):
            # A second `make demo` republishes the story: the ledger refuses every duplicate.
            print(f"  rejected {reason}: {count}")
        rows = conn.execute(
            "SELECT buyer, sum(ordered_quantity), sum(ordered_value_usd), sum(delivered_quantity),"
            " sum(paid_usd) FROM ledger.order_totals WHERE caliber_mm = 155"
            " AND month BETWEEN '2023-01' AND '2023-06' GROUP BY buyer ORDER BY 3 DESC"
        ).fetchall()
        print("\n155mm orders placed January to June 2023, by buyer (USD at placement rates)")
        print(f"{'buyer':<6} {'shells':>10} {'ordered USD':>18} {'delivered':>10} {'paid USD':>18}")
        for buyer, qty, value, delivered, paid in rows:
            print(f"{buyer:<6} {qty:>10} {cents_str(value):>18} {delivered:>10} "
                  f"{cents_str(paid):>18}")  # fmt: skip
        mid_june = conn.execute(
            "SELECT coalesce(sum(value_usd), 0) FROM ledger.orders WHERE caliber_mm = 155"
            " AND placed_at >= '2023-01-01' AND placed_at < '2023-06-16'"
        ).fetchone()
        total = mid_june[0] if mid_june else Decimal(0)
        mark = "matches" if total == HEADLINE else "DOES NOT match"
        headline = f"USD {cents_str(total)} ({mark} the $1bn headline)"
        print(f"\n155mm ordered 1 Jan - 15 Jun 2023: {headline}")
        targets = conn.execute(
            "SELECT country, caliber_mm, target_quantity, authority FROM ledger.stockpile_targets"
            " ORDER BY country, caliber_mm LIMIT 12"
        ).fetchall()
        print("\nstockpile targets (first 12)")
        for country, caliber, target, authority in targets:
            print(f"  {country} {caliber}mm: {target:>9}  ({authority})")


if __name__ == "__main__":
    sys.exit(main())
