-- The ledger: an append-only, hash-chained journal with Kafka provenance, double-entry
-- postings, rejections, per-partition positions, and projections kept in the same transaction.
-- Applied by `procledger db migrate` (yoyo-migrations); roles are created before this runs.

CREATE SCHEMA IF NOT EXISTS ledger;

-- One row per accepted event. Never updated or deleted (see the trigger and grants below).
CREATE TABLE ledger.journal (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id           text        NOT NULL UNIQUE,
    event_type         text        NOT NULL,
    order_id           text,
    payload            jsonb       NOT NULL,
    writer_fingerprint text        NOT NULL,
    schema_version     integer     NOT NULL,
    occurred_at        timestamptz NOT NULL,
    recorded_at        timestamptz NOT NULL,
    topic              text        NOT NULL,
    kafka_partition    integer     NOT NULL,
    kafka_offset       bigint      NOT NULL,
    kafka_timestamp    timestamptz,
    record_sha256      bytea       NOT NULL,
    prev_hash          bytea       NOT NULL,
    hash               bytea       NOT NULL,
    UNIQUE (topic, kafka_partition, kafka_offset)
);
CREATE INDEX journal_order_idx ON ledger.journal (order_id, kafka_offset);
CREATE INDEX journal_occurred_idx ON ledger.journal (occurred_at);
CREATE INDEX journal_recorded_idx ON ledger.journal (recorded_at);

-- Balanced postings: per event, debits equal credits in the order currency and in USD.
CREATE TABLE ledger.postings (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id    text          NOT NULL REFERENCES ledger.journal (event_id),
    order_id    text          NOT NULL,
    account     text          NOT NULL,
    side        char(1)       NOT NULL CHECK (side IN ('D', 'C')),
    amount      numeric(20,2) NOT NULL CHECK (amount >= 0),
    currency    char(3)       NOT NULL,
    amount_usd  numeric(20,2) NOT NULL CHECK (amount_usd >= 0)
);
CREATE INDEX postings_event_idx ON ledger.postings (event_id);
CREATE INDEX postings_account_idx ON ledger.postings (account);

-- Every consumed record that was not applied, with why and where it came from.
CREATE TABLE ledger.rejections (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    topic            text        NOT NULL,
    kafka_partition  integer     NOT NULL,
    kafka_offset     bigint      NOT NULL,
    kafka_timestamp  timestamptz,
    event_id         text,
    event_type       text,
    order_id         text,
    reason_code      text        NOT NULL,
    error            text        NOT NULL,
    payload          jsonb,
    raw_value        bytea,
    record_sha256    bytea       NOT NULL,
    recorded_at      timestamptz NOT NULL,
    UNIQUE (topic, kafka_partition, kafka_offset)
);
CREATE INDEX rejections_reason_idx ON ledger.rejections (reason_code);

-- Where each partition stands: the next offset to apply and the head of its hash chain.
-- The consumer updates a row only if next_offset is still the one it started from.
CREATE TABLE ledger.positions (
    topic            text    NOT NULL,
    kafka_partition  integer NOT NULL,
    next_offset      bigint  NOT NULL CHECK (next_offset >= 0),
    chain_head       bytea   NOT NULL,
    journal_rows     bigint  NOT NULL DEFAULT 0,
    rejected_rows    bigint  NOT NULL DEFAULT 0,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, kafka_partition)
);

-- Projection: the current state of each order.
CREATE TABLE ledger.orders (
    order_id            text PRIMARY KEY,
    buyer               text          NOT NULL,
    supplier            text          NOT NULL,
    supplier_country    text,
    item_description    text          NOT NULL,
    caliber_mm          integer,
    purpose             text          NOT NULL,
    currency            char(3)       NOT NULL,
    usd_rate            numeric(30,8) NOT NULL,
    unit_price          numeric(30,4) NOT NULL,
    quantity            bigint        NOT NULL,
    value               numeric(30,2) NOT NULL,
    value_usd           numeric(30,2) NOT NULL,
    delivered_quantity  bigint        NOT NULL,
    delivered_value     numeric(30,2) NOT NULL,
    delivered_value_usd numeric(30,2) NOT NULL,
    paid                numeric(30,2) NOT NULL,
    paid_usd            numeric(30,2) NOT NULL,
    status              text          NOT NULL,
    placed_at           timestamptz   NOT NULL,
    updated_at          timestamptz   NOT NULL,
    destination         text,
    delivery_ids        text[]        NOT NULL,
    payment_ids         text[]        NOT NULL,
    CHECK (delivered_quantity <= quantity),
    CHECK (paid <= value OR status = 'CANCELLED')
);
CREATE INDEX orders_buyer_idx ON ledger.orders (buyer, caliber_mm);

-- Projection: each country's latest stockpile target per calibre (latest business time).
CREATE TABLE ledger.stockpile_targets (
    country          text    NOT NULL,
    caliber_mm       integer NOT NULL,
    target_quantity  bigint  NOT NULL,
    authority        text    NOT NULL,
    set_at           timestamptz NOT NULL,
    PRIMARY KEY (country, caliber_mm)
);

-- Projection: totals by the dimensions auditors and dashboards read. A view over the order
-- projection is always in step with it, and two consumers never contend on shared rows.
CREATE VIEW ledger.order_totals AS
SELECT buyer, supplier, caliber_mm, purpose, currency,
       to_char(placed_at AT TIME ZONE 'UTC', 'YYYY-MM') AS month,
       sum(quantity)::bigint           AS ordered_quantity,
       sum(value_usd)                  AS ordered_value_usd,
       sum(delivered_quantity)::bigint AS delivered_quantity,
       sum(paid_usd)                   AS paid_usd,
       count(*)::bigint                AS orders
FROM ledger.orders
GROUP BY 1, 2, 3, 4, 5, 6;

-- The database itself refuses to alter history, whoever asks (short of disabling triggers).
CREATE FUNCTION ledger.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger.% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER journal_append_only BEFORE UPDATE OR DELETE ON ledger.journal
    FOR EACH ROW EXECUTE FUNCTION ledger.refuse_change();
CREATE TRIGGER journal_no_truncate BEFORE TRUNCATE ON ledger.journal
    FOR EACH STATEMENT EXECUTE FUNCTION ledger.refuse_change();
CREATE TRIGGER postings_append_only BEFORE UPDATE OR DELETE ON ledger.postings
    FOR EACH ROW EXECUTE FUNCTION ledger.refuse_change();
CREATE TRIGGER postings_no_truncate BEFORE TRUNCATE ON ledger.postings
    FOR EACH STATEMENT EXECUTE FUNCTION ledger.refuse_change();
CREATE TRIGGER rejections_append_only BEFORE UPDATE OR DELETE ON ledger.rejections
    FOR EACH ROW EXECUTE FUNCTION ledger.refuse_change();
CREATE TRIGGER rejections_no_truncate BEFORE TRUNCATE ON ledger.rejections
    FOR EACH STATEMENT EXECUTE FUNCTION ledger.refuse_change();

-- The application role appends to history and maintains projections and positions.
GRANT USAGE ON SCHEMA ledger TO procledger_app;
GRANT SELECT, INSERT ON ledger.journal, ledger.postings, ledger.rejections TO procledger_app;
GRANT SELECT, INSERT, UPDATE ON ledger.positions TO procledger_app;
-- DELETE only so that `procledger ledger rebuild --replace` can swap projections wholesale.
GRANT SELECT, INSERT, UPDATE, DELETE ON ledger.orders, ledger.stockpile_targets TO procledger_app;
GRANT SELECT ON ledger.order_totals TO procledger_app;
