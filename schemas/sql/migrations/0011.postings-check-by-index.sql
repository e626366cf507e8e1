-- The postings' reference check (0009) probes ledger.journal's unique index on event_id once
-- per new posting, whatever the planner believes of the journal's size. With statistics
-- from when the journal was small, it hashed the whole journal for every COPY instead: on a
-- fresh ledger taking 1,000 events/s that was 3.4-4.0 ms per 20-event batch, most of the
-- batch's write time, and it grew with the journal until the next ANALYZE. A nested loop
-- over the index costs what the batch holds.
ALTER FUNCTION ledger.postings_reference_journal()
    SET enable_hashjoin = off
    SET enable_mergejoin = off
    SET enable_seqscan = off;
