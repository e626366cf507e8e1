-- Checkpoints for time travel on record time: the orders projection as it stood at sealed
-- instants, so that `--known-at T` re-folds only the orders with journal rows recorded
-- between T and the nearest checkpoint, instead of the whole journal on one side of T.
-- They are derived data, like the projections: `procledger ledger checkpoint` writes them
-- from the journal alone, and they can be dropped and written again.
--
-- A checkpoint is sealed before it is built: once `sealed_until` is committed no batch may
-- record a journal row at or before it (ledger.refuse_sealed, called in every batch's
-- transaction right after its positions are locked), and the builder waits for the transactions
-- that were running at the seal. So what a checkpoint folded is every row it will ever see.
CREATE TABLE ledger.checkpoints (
    checkpoint_id  integer     GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sealed_until   timestamptz NOT NULL UNIQUE,
    built_at       timestamptz,   -- NULL: sealed, its orders not written yet
    orders         bigint,        -- orders written at this checkpoint
    events         bigint,        -- journal rows folded to write them
    CHECK ((built_at IS NULL) = (orders IS NULL) AND (built_at IS NULL) = (events IS NULL))
);
COMMENT ON TABLE ledger.checkpoints IS
    'Sealed record-time instants at which the orders projection was written (checkpoint_orders).';

-- Incremental: a checkpoint holds the orders with journal rows recorded after the one before
-- it (all orders, for the first). An order stands at checkpoint k as its row with the
-- largest checkpoint_id <= k; the key's order makes that one index scan.
CREATE TABLE ledger.checkpoint_orders (
    checkpoint_id integer NOT NULL REFERENCES ledger.checkpoints,
    LIKE ledger.orders,
    PRIMARY KEY (order_id, checkpoint_id)
);
CREATE INDEX checkpoint_orders_checkpoint_idx ON ledger.checkpoint_orders (checkpoint_id);

CREATE FUNCTION ledger.refuse_sealed(recorded timestamptz) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    sealed timestamptz;
BEGIN
    SELECT max(sealed_until) INTO sealed FROM ledger.checkpoints;
    IF recorded <= sealed THEN
        -- A serialization failure: the batch is retried, with a new record time.
        RAISE EXCEPTION 'journal rows recorded at % fall at or before the checkpoint sealed until %',
            recorded, sealed
            USING ERRCODE = 'serialization_failure', CONSTRAINT = 'checkpoint_seal',
                  HINT = 'the batch is retried with a new record time';
    END IF;
END
$$;

GRANT SELECT, INSERT, UPDATE, DELETE ON ledger.checkpoints, ledger.checkpoint_orders
    TO procledger_app;
GRANT EXECUTE ON FUNCTION ledger.refuse_sealed(timestamptz) TO procledger_app;

CREATE VIEW audit.checkpoints AS
SELECT checkpoint_id, sealed_until, built_at, orders, events FROM ledger.checkpoints;
COMMENT ON VIEW audit.checkpoints IS
    'Record-time checkpoints of the orders projection: built ones (built_at set) serve '
    '`--known-at` time travel; they are derived from the journal like every projection.';

CREATE VIEW audit.checkpoint_orders AS
SELECT checkpoint_id, order_id, buyer, supplier, supplier_country, item_description,
       caliber_mm, purpose, currency, usd_rate, unit_price, quantity, value, value_usd,
       delivered_quantity, delivered_value, delivered_value_usd, paid, paid_usd, status,
       placed_at, updated_at, destination, delivery_ids, payment_ids, fx_difference_usd
FROM ledger.checkpoint_orders;
COMMENT ON VIEW audit.checkpoint_orders IS
    'Each order as it stood at a checkpoint, written at the first checkpoint after its journal '
    'rows changed it; at checkpoint k an order is its row with the largest checkpoint_id <= k.';

GRANT SELECT ON audit.checkpoints, audit.checkpoint_orders TO procledger_auditor;
