-- Event status (GET /v1/events/{event_id}, `procledger events status`, `publish --wait`)
-- looks rejections up by event_id; the journal already has a unique index on it.
CREATE INDEX IF NOT EXISTS rejections_event_idx ON ledger.rejections (event_id);
