-- An event's postings as one row: ledger.entries holds each event's balanced entry, its legs
-- in four arrays of the same length (legs in the order the fold wrote them), instead of one
-- ledger.postings row per leg. Each posting row cost a heap tuple, two index entries and a
-- transition-table row in every batch's transaction, about 3.2 per event: 22.5 µs of
-- PostgreSQL's CPU per event for the postings, against 10.4 as one row per event (200,000
-- events, docs/benchmarks/stages.md). Auditors see the same legs: audit.postings unnests the
-- entries to one row per leg, numbered by `leg` within the event. Its `id` column (never in
-- docs/audit-sql.md) is gone: a leg is (event_id, leg).
CREATE TABLE ledger.entries (
    event_id     text            PRIMARY KEY,  -- one entry per event, at most
    order_id     text            NOT NULL,
    currency     char(3)         NOT NULL,
    accounts     text[]          NOT NULL,
    sides        char(1)[]       NOT NULL,
    amounts      numeric(20,2)[] NOT NULL,     -- order currency
    amounts_usd  numeric(20,2)[] NOT NULL,
    CONSTRAINT entries_legs_aligned CHECK (
        array_ndims(accounts) = 1 AND cardinality(accounts) > 0
        AND array_ndims(sides) = 1 AND cardinality(sides) = cardinality(accounts)
        AND array_ndims(amounts) = 1 AND cardinality(amounts) = cardinality(accounts)
        AND array_ndims(amounts_usd) = 1 AND cardinality(amounts_usd) = cardinality(accounts)
    ),
    CONSTRAINT entries_legs_not_null CHECK (
        array_position(accounts, NULL) IS NULL AND array_position(sides, NULL) IS NULL
        AND array_position(amounts, NULL) IS NULL AND array_position(amounts_usd, NULL) IS NULL
    ),
    CONSTRAINT entries_sides CHECK (sides <@ '{D,C}'::char(1)[]),
    CONSTRAINT entries_amounts_not_negative CHECK (0 <= ALL (amounts) AND 0 <= ALL (amounts_usd))
);

-- Move every posting, legs in their id order. An event whose legs disagree on order or
-- currency cannot be one entry: the migration stops and names it, and nothing moves.
DO $$
DECLARE
    mixed text;
BEGIN
    SELECT event_id INTO mixed FROM ledger.postings GROUP BY event_id
    HAVING count(DISTINCT order_id) > 1 OR count(DISTINCT currency) > 1 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'postings of event % name more than one order or currency', mixed;
    END IF;
END
$$;

INSERT INTO ledger.entries (event_id, order_id, currency, accounts, sides, amounts, amounts_usd)
SELECT event_id, min(order_id), min(currency), array_agg(account ORDER BY id),
       array_agg(side ORDER BY id), array_agg(amount ORDER BY id),
       array_agg(amount_usd ORDER BY id)
  FROM ledger.postings
 GROUP BY event_id;

DROP VIEW audit.postings;
DROP TABLE ledger.postings;
DROP FUNCTION ledger.postings_reference_journal();

CREATE TRIGGER entries_append_only BEFORE UPDATE OR DELETE ON ledger.entries
    FOR EACH ROW EXECUTE FUNCTION ledger.refuse_change();
CREATE TRIGGER entries_no_truncate BEFORE TRUNCATE ON ledger.entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger.refuse_change();

-- An entry must reference a journal row, checked once per statement over its new rows inside
-- the inserting transaction, by the journal's event_id index whatever the statistics say (as
-- 0009 and 0011 did for the postings): an orphan entry fails the whole batch.
CREATE FUNCTION ledger.entries_reference_journal() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog
    SET enable_hashjoin = off
    SET enable_mergejoin = off
    SET enable_seqscan = off
AS $$
DECLARE
    orphan text;
BEGIN
    SELECT e.event_id INTO orphan
      FROM new_entries e
     WHERE NOT EXISTS (SELECT 1 FROM ledger.journal j WHERE j.event_id = e.event_id)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'entry references event_id % which is not in ledger.journal', orphan
            USING ERRCODE = 'foreign_key_violation',
                  TABLE = 'entries', SCHEMA = 'ledger';
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER entries_reference_journal
    AFTER INSERT ON ledger.entries
    REFERENCING NEW TABLE AS new_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger.entries_reference_journal();

GRANT SELECT, INSERT ON ledger.entries TO procledger_app;

CREATE VIEW audit.postings AS
SELECT e.event_id, l.leg::integer AS leg, e.order_id, l.account, l.side, l.amount, e.currency,
       l.amount_usd
  FROM ledger.entries e
 CROSS JOIN LATERAL unnest(e.accounts, e.sides, e.amounts, e.amounts_usd)
       WITH ORDINALITY AS l (account, side, amount, amount_usd, leg);
COMMENT ON VIEW audit.postings IS
    'Double-entry postings, one row per leg (side D or C), numbered by leg within the event; '
    'per event, debits equal credits in the order currency (amount) and in USD (amount_usd).';
GRANT SELECT ON audit.postings TO procledger_auditor;
