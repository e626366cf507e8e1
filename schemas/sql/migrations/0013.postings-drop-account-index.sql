-- ledger.postings (account) served one read: audit totals' FX difference, which aggregated
-- that account's postings until the orders projection kept it (0010). No read filters or
-- joins postings by account since; an ad hoc query for one account now reads the postings
-- whole, as a balance by account always did. The index still cost an insertion per posting
-- (about 3.2 per event) in every batch's transaction: about 2.4 microseconds of
-- PostgreSQL's time per posting, measured (docs/benchmarks/stages.md).
DROP INDEX ledger.postings_account_idx;
