-- ledger.postings (account) served one read: audit totals' FX difference, which aggregated
-- that account's postings until the orders projection kept it (0010). No read filters or
-- joins postings by account since, and an index of six distinct values would not serve one
-- (a whole-ledger balance by account reads every posting anyway). It still cost an index
-- insertion per posting, about 3.2 per event, inside every batch's transaction.
DROP INDEX ledger.postings_account_idx;
