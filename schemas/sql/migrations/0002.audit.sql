-- The auditor's window on the ledger: read-only views in schema `audit`, the only objects the
-- role procledger_auditor may read. The views are owned by the migration owner and read the
-- ledger tables with its rights, so the auditor needs (and gets) no privilege on `ledger`.
-- docs/audit-sql.md documents every view and column.

CREATE SCHEMA IF NOT EXISTS audit;

-- Hashes and record digests stay bytea: `procledger audit verify` recomputes them byte for byte.
CREATE VIEW audit.journal AS
SELECT id, event_id, event_type, order_id, payload, writer_fingerprint, schema_version,
       occurred_at, recorded_at, topic, kafka_partition, kafka_offset, kafka_timestamp,
       record_sha256, prev_hash, hash
FROM ledger.journal;
COMMENT ON VIEW audit.journal IS
    'Every accepted event, append-only: business time (occurred_at), record time (recorded_at), '
    'Kafka coordinates (topic, kafka_partition, kafka_offset), writer schema, SHA-256 of the '
    'Kafka record value, and the hash chain per (topic, kafka_partition): hash = '
    'sha256(prev_hash || canonical row), starting from 32 zero bytes.';

CREATE VIEW audit.postings AS
SELECT id, event_id, order_id, account, side, amount, currency, amount_usd
FROM ledger.postings;
COMMENT ON VIEW audit.postings IS
    'Double-entry postings, one row per leg (side D or C); per event, debits equal credits '
    'in the order currency (amount) and in USD (amount_usd).';

CREATE VIEW audit.rejections AS
SELECT id, topic, kafka_partition, kafka_offset, kafka_timestamp, event_id, event_type,
       order_id, reason_code, error, payload, raw_value, record_sha256, recorded_at
FROM ledger.rejections;
COMMENT ON VIEW audit.rejections IS
    'Every consumed Kafka record that was not applied, with its reason code, the error text, '
    'its coordinates and the SHA-256 of the record value. Each offset of each partition is in '
    'exactly one of audit.journal and audit.rejections.';

CREATE VIEW audit.positions AS
SELECT topic, kafka_partition, next_offset, chain_head, journal_rows, rejected_rows, updated_at
FROM ledger.positions;
COMMENT ON VIEW audit.positions IS
    'Per (topic, kafka_partition): the next offset to apply (offsets 0..next_offset-1 are all '
    'accounted for) and the head of the hash chain (the hash of the last journal row).';

CREATE VIEW audit.orders AS
SELECT order_id, buyer, supplier, supplier_country, item_description, caliber_mm, purpose,
       currency, usd_rate, unit_price, quantity, value, value_usd, delivered_quantity,
       delivered_value, delivered_value_usd, paid, paid_usd, status, placed_at, updated_at,
       destination, delivery_ids, payment_ids
FROM ledger.orders;
COMMENT ON VIEW audit.orders IS
    'Current state of each order (projection of the journal): committed quantity and value, '
    'delivered quantity and value, paid amount (USD at each payment''s rate), status.';

CREATE VIEW audit.stockpile_targets AS
SELECT country, caliber_mm, target_quantity, authority, set_at
FROM ledger.stockpile_targets;
COMMENT ON VIEW audit.stockpile_targets IS
    'Each country''s stockpile target per calibre in force (latest business time wins).';

CREATE VIEW audit.order_totals AS
SELECT buyer, supplier, caliber_mm, purpose, currency, month, ordered_quantity,
       ordered_value_usd, delivered_quantity, paid_usd, orders
FROM ledger.order_totals;
COMMENT ON VIEW audit.order_totals IS
    'Order totals grouped by buyer, supplier, calibre, purpose, currency and UTC month of '
    'placement: ordered quantity and USD value, delivered quantity, USD paid, order count.';

CREATE VIEW audit.stockpile AS
SELECT t.country, t.caliber_mm, t.target_quantity, t.authority, t.set_at,
       coalesce(sum(o.quantity), 0)::bigint           AS ordered_quantity,
       coalesce(sum(o.delivered_quantity), 0)::bigint AS delivered_quantity,
       (t.target_quantity - coalesce(sum(o.delivered_quantity), 0))::bigint AS gap
FROM ledger.stockpile_targets t
LEFT JOIN ledger.orders o ON o.buyer = t.country AND o.caliber_mm = t.caliber_mm
GROUP BY t.country, t.caliber_mm, t.target_quantity, t.authority, t.set_at;
COMMENT ON VIEW audit.stockpile IS
    'Per country and calibre: the target in force, the quantity that country ordered and '
    'received of that calibre (all its orders), and the gap = target - delivered.';

-- Nothing but reading the views: no ledger table, no function, no sequence.
REVOKE ALL ON SCHEMA ledger FROM procledger_auditor;
REVOKE ALL ON ALL TABLES IN SCHEMA ledger FROM procledger_auditor;
GRANT USAGE ON SCHEMA audit TO procledger_auditor;
GRANT SELECT ON audit.journal, audit.postings, audit.rejections, audit.positions, audit.orders,
    audit.stockpile_targets, audit.order_totals, audit.stockpile TO procledger_auditor;
