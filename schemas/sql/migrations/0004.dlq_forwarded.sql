-- The dead-letter outbox: which rejections the consumer has seen confirmed by Kafka on the
-- dead-letter topic. A rejection is committed with its batch; its copy is sent after the
-- commit and marked here in a later transaction, so a crash in between leaves it unmarked and
-- the partition's next owner sends it again (at least once; the copy's `procledger.dlq.id`
-- header lets a reader drop repeats). ledger.rejections itself stays append-only.

CREATE TABLE ledger.dlq_forwarded (
    topic            text        NOT NULL,
    kafka_partition  integer     NOT NULL,
    kafka_offset     bigint      NOT NULL,
    forwarded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, kafka_partition, kafka_offset),
    FOREIGN KEY (topic, kafka_partition, kafka_offset)
        REFERENCES ledger.rejections (topic, kafka_partition, kafka_offset)
);

-- Rejections recorded before this table existed were sent by the old post-commit path (best
-- effort, with no record of it): they count as forwarded rather than flooding the topic again.
INSERT INTO ledger.dlq_forwarded (topic, kafka_partition, kafka_offset, forwarded_at)
SELECT topic, kafka_partition, kafka_offset, recorded_at FROM ledger.rejections;

CREATE TRIGGER dlq_forwarded_append_only BEFORE UPDATE OR DELETE ON ledger.dlq_forwarded
    FOR EACH ROW EXECUTE FUNCTION ledger.refuse_change();
CREATE TRIGGER dlq_forwarded_no_truncate BEFORE TRUNCATE ON ledger.dlq_forwarded
    FOR EACH STATEMENT EXECUTE FUNCTION ledger.refuse_change();

-- A mark is only ever added.
GRANT SELECT, INSERT ON ledger.dlq_forwarded TO procledger_app;
