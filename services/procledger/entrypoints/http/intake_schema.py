"""The intake API's documented shapes: request body (from the Avro schemas) and responses."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from procledger.codec.schemas import FieldSpec, default_registry
from procledger.domain.events import EVENT_TYPES
from procledger.domain.reference import COUNTRIES_ALPHA3, CURRENCIES
from procledger.domain.validation import MAX_ID_LENGTH, MAX_TEXT_LENGTH

# The rules of domain.validation, stated as JSON Schema so clients (and schemathesis) can
# build valid events; the server still applies validate() itself.
_COUNTRY = {"type": "string", "enum": sorted(COUNTRIES_ALPHA3)}
_IDENT = {"type": "string", "minLength": 1, "maxLength": MAX_ID_LENGTH, "pattern": r"^\S(.*\S)?$"}
_TEXT = {"type": "string", "minLength": 1, "maxLength": MAX_TEXT_LENGTH, "pattern": r"\S"}
_BY_NAME: dict[str, dict[str, Any]] = {
    "event_id": {
        "type": "string",
        "pattern": "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
        "description": "lowercase canonical UUID",
    },
    "buyer": _COUNTRY,
    "country": _COUNTRY,
    "destination": _COUNTRY,
    "supplier_country": _COUNTRY,
    "currency": {"type": "string", "enum": sorted(CURRENCIES)},
    "order_id": _IDENT,
    "delivery_id": _IDENT,
    "payment_id": _IDENT,
    "contract_ref": _IDENT,
    "supplier": _TEXT,
    "item_description": _TEXT,
    "reason": _TEXT,
    "authority": _TEXT,
    "nsn": {"type": "string", "pattern": "^[0-9]{4}-?[0-9]{2}-?[0-9]{3}-?[0-9]{4}$"},
    "quantity": {"type": "integer", "minimum": 1},
    "caliber_mm": {"type": "integer", "minimum": 1},
    "target_quantity": {"type": "integer", "minimum": 0},
}


class AcceptedEvent(BaseModel):
    event_id: str
    event_type: str
    topic: str
    partition: int
    offset: int


class Outcome(BaseModel):
    """What the ledger made of one event: applied (with where it read it), rejected (with
    the reason code and message), or unknown (not folded yet, or never seen)."""

    event_id: str
    status: Literal["applied", "rejected", "unknown"]
    event_type: str | None = None
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    recorded_at: str | None = None
    reason: str | None = None
    message: str | None = None


class Accepted(BaseModel):
    """Every event of the request, as the broker confirmed it; with ?wait=, each outcome."""

    accepted: list[AcceptedEvent]
    outcomes: list[Outcome] | None = None


def _field_schema(spec: FieldSpec) -> dict[str, Any]:
    schema: dict[str, Any]
    if spec.name in _BY_NAME:
        schema = dict(_BY_NAME[spec.name])
    elif spec.kind == "long":
        schema = {"type": "integer"}
    elif spec.kind == "decimal":
        # Strings keep decimals exact; JSON numbers with a fraction are refused.
        digits = spec.precision - spec.scale
        schema = {
            "type": "string",
            "pattern": rf"^[0-9]{{1,{digits}}}(\.[0-9]{{1,{spec.scale}}})?$",
            "description": f"decimal({spec.precision},{spec.scale}) > 0 as a string, "
            'e.g. "3000.50"',
        }
    elif spec.kind == "timestamp":
        schema = {"type": "string", "format": "date-time", "description": "with a time zone"}
    elif spec.kind == "enum":
        schema = {"type": "string", "enum": list(spec.symbols)}
    else:
        schema = {"type": "string"}
    return {"anyOf": [schema, {"type": "null"}]} if spec.nullable else schema


def event_schema(kind: str) -> dict[str, Any]:
    """JSON Schema of one event object of type `kind` (current Avro schema's fields)."""
    fields = default_registry().current(kind).fields
    return {
        "type": "object",
        "title": kind,
        "properties": {
            "type": {"type": "string", "const": kind},
            **{spec.name: _field_schema(spec) for spec in fields},
        },
        "required": ["type", *(spec.name for spec in fields if not spec.nullable)],
        "additionalProperties": False,
    }


def request_body(max_batch: int) -> dict[str, Any]:
    """The OpenAPI requestBody of POST /v1/events: one event, or a batch of them."""
    one = {"oneOf": [event_schema(kind) for kind in EVENT_TYPES]}
    batch = {
        "type": "object",
        "title": "Batch",
        "properties": {
            "events": {"type": "array", "items": one, "minItems": 1, "maxItems": max_batch}
        },
        "required": ["events"],
        "additionalProperties": False,
    }
    return {
        "required": True,
        "content": {"application/json": {"schema": {"oneOf": [*one["oneOf"], batch]}}},
    }
