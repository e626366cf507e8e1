-- Postings must reference a journal row. The row-level foreign key ran one nested
-- `SELECT ... FOR KEY SHARE` per posting (about 3.2 per event), half of PostgreSQL's CPU per
-- event. A statement-level check over the statement's new rows does the same job with one
-- anti-join per COPY, still inside the inserting transaction, so an orphan posting is
-- refused and the whole batch rolls back, as before. Journal rows are never deleted or
-- updated (journal_append_only), which the foreign key's other half used to guard.
ALTER TABLE ledger.postings DROP CONSTRAINT postings_event_id_fkey;

CREATE FUNCTION ledger.postings_reference_journal() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog
AS $$
DECLARE
    orphan text;
BEGIN
    SELECT p.event_id INTO orphan
      FROM new_postings p
     WHERE NOT EXISTS (SELECT 1 FROM ledger.journal j WHERE j.event_id = p.event_id)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'posting references event_id % which is not in ledger.journal', orphan
            USING ERRCODE = 'foreign_key_violation',
                  TABLE = 'postings', SCHEMA = 'ledger';
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER postings_reference_journal
    AFTER INSERT ON ledger.postings
    REFERENCING NEW TABLE AS new_postings
    FOR EACH STATEMENT EXECUTE FUNCTION ledger.postings_reference_journal();
