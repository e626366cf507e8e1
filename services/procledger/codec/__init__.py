"""Event codecs: Avro single-object records for Kafka, canonical JSON, JSON Lines and CSV."""
