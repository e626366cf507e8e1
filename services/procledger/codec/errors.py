"""Codec failures, each carrying the reason code the consumer journals with a rejection."""

from __future__ import annotations

from procledger.domain.validation import FieldError


class CodecError(Exception):
    """Base of every codec failure; `code` is the stable reason code (e.g. UNDECODABLE)."""

    code: str = "UNDECODABLE"


class NotSingleObject(CodecError):
    """The bytes are too short or lack the C3 01 single-object marker."""

    code = "UNDECODABLE"


class WrongFraming(NotSingleObject):
    """Another framing's header (e.g. Confluent's 00 + schema id): the sender must re-frame."""

    code = "WRONG_FRAMING"


class UnknownSchema(CodecError):
    """A well-formed header whose writer fingerprint no known schema version has."""

    code = "UNKNOWN_SCHEMA"

    def __init__(self, fingerprint: str) -> None:
        super().__init__(f"no schema with fingerprint {fingerprint}")
        self.fingerprint = fingerprint


class MalformedBody(CodecError):
    """The header is fine but the Avro body is not a valid record of the writer schema."""

    code = "UNDECODABLE"


class EncodeError(CodecError):
    """An event value does not fit its schema (type, long range, decimal precision/scale)."""

    code = "UNENCODABLE"


class InvalidEventData(CodecError):
    """Field data (JSON, CSV) that does not make a valid event; `errors` names each field."""

    code = "INVALID_EVENT"

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.reason}" for e in errors))
        self.errors = tuple(errors)


class SchemaRegistryError(Exception):
    """The schema files are inconsistent; raised at load time, never while decoding."""
