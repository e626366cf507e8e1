-- Each order's FX_DIFFERENCE balance (USD, Dr - Cr) kept in the order projection, so that
-- totals read one row per order instead of aggregating that account's postings, which lie
-- scattered over the whole postings table (0.65 of 0.72 s of `audit totals` on a
-- 1,000,000-event ledger). The fold keeps it from here on, in each batch's transaction;
-- existing orders take it from their postings, which is what the fold would give.
ALTER TABLE ledger.orders ADD COLUMN fx_difference_usd numeric(20,2) NOT NULL DEFAULT 0;

UPDATE ledger.orders o
   SET fx_difference_usd = f.fx
  FROM (SELECT order_id, sum(CASE side WHEN 'D' THEN amount_usd ELSE -amount_usd END) AS fx
          FROM ledger.postings
         WHERE account = 'FX_DIFFERENCE'
         GROUP BY order_id) f
 WHERE o.order_id = f.order_id;

CREATE OR REPLACE VIEW audit.orders AS
SELECT order_id, buyer, supplier, supplier_country, item_description, caliber_mm, purpose,
       currency, usd_rate, unit_price, quantity, value, value_usd, delivered_quantity,
       delivered_value, delivered_value_usd, paid, paid_usd, status, placed_at, updated_at,
       destination, delivery_ids, payment_ids, fx_difference_usd
FROM ledger.orders;
COMMENT ON COLUMN audit.orders.fx_difference_usd IS
    'USD paid beyond the placement rate: each payment at its own rate minus the same payment '
    'at the placement rate, each rounded to cents (the order''s FX_DIFFERENCE balance, Dr - Cr).';
