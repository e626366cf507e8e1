"""How a Kafka value carries its writer schema: one adapter per framing, behind one Protocol."""

from __future__ import annotations

from typing import Protocol

from procledger.codec.schemas import HEADER_LENGTH, MAGIC
from procledger.domain.values import immutable

__all__ = [
    "CONFLUENT",
    "DEFAULT_FRAMINGS",
    "SINGLE_OBJECT",
    "ConfluentFraming",
    "Frame",
    "Framing",
    "SingleObjectFraming",
]


@immutable
class Frame:
    """A value split into its writer schema's identity and where the Avro body starts.

    `fingerprint` (8 wire bytes of CRC-64-AVRO) is what the codec's readers are keyed by; a
    framing that cannot tell it (a registry id with no registry to ask) leaves it None and
    the codec rejects the value as WRONG_FRAMING, naming `schema_id`.
    """

    framing: str
    fingerprint: bytes | None
    body_start: int
    schema_id: int | None = None


class Framing(Protocol):
    """One framing: recognises its header and resolves the writer schema it refers to.

    A second readable framing is one more adapter: e.g. a Confluent framing backed by a
    registry client would map the schema id to the registered schema's fingerprint.
    """

    name: str

    def frame(self, data: bytes) -> Frame | None:
        """The value's frame, or None if the bytes are not in this framing."""
        ...


class SingleObjectFraming:
    """Avro single-object encoding: C3 01, the 8-byte CRC-64-AVRO fingerprint, the body."""

    name = "Avro single-object encoding"

    def frame(self, data: bytes) -> Frame | None:
        if len(data) < HEADER_LENGTH or data[:2] != MAGIC:
            return None
        return Frame(self.name, data[2:HEADER_LENGTH], HEADER_LENGTH)


class ConfluentFraming:
    """Confluent Schema Registry's wire format: 00, a 4-byte big-endian schema id, the body.

    Recognised, not read: the id means nothing without that registry (see
    docs/decisions/0003-schema-registry.md), so the fingerprint stays unknown.
    """

    name = "Confluent Schema Registry framing"
    MAGIC = b"\x00"
    LENGTH = 5

    def frame(self, data: bytes) -> Frame | None:
        if len(data) < self.LENGTH or data[:1] != self.MAGIC:
            return None
        schema_id = int.from_bytes(data[1 : self.LENGTH], "big")
        return Frame(self.name, None, self.LENGTH, schema_id)


SINGLE_OBJECT = SingleObjectFraming()
CONFLUENT = ConfluentFraming()
# What the ledger's codec tries, in order: the first framing that recognises a value wins.
DEFAULT_FRAMINGS: tuple[Framing, ...] = (SINGLE_OBJECT, CONFLUENT)
