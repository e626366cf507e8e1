"""The events' JSON form: the journal's JSONB payload and the bytes the hash chain hashes."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Context, Decimal, DecimalException, Inexact, InvalidOperation
from enum import Enum
from functools import cache

from procledger.codec.schemas import FieldKind, SchemaRegistry, default_registry
from procledger.domain.chain import canonical_payload, instant_text
from procledger.domain.events import EVENT_TYPES, Event

# Wide enough for any decimal the schemas accept; a wider value is written with its own
# exact digits instead (it is invalid anyway, but a rejection still journals it truthfully).
_JSON_CONTEXT = Context(prec=100, traps=[InvalidOperation, Inexact])


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    kind: FieldKind
    quantum: Decimal | None


@cache
def _layouts(registry: SchemaRegistry) -> dict[type[Event], tuple[_Field, ...]]:
    layouts: dict[type[Event], tuple[_Field, ...]] = {}
    for event_type, cls in EVENT_TYPES.items():
        fields = registry.current(event_type).fields
        layouts[cls] = tuple(
            _Field(f.name, f.kind, Decimal(1).scaleb(-f.scale) if f.kind == "decimal" else None)
            for f in fields
        )
    return layouts


def decimal_text(value: Decimal, quantum: Decimal) -> str:
    """Plain notation at the schema's scale ("3000.0000"); digits past it are kept, not rounded."""
    try:
        scaled = value.quantize(quantum, context=_JSON_CONTEXT)
    except DecimalException:
        return format(value, "f")
    # -0 and 0 are the same amount and must hash the same.
    return format(scaled.copy_abs() if scaled.is_zero() else scaled, "f")


def event_to_json_dict(event: Event, registry: SchemaRegistry | None = None) -> dict[str, object]:
    """Every field of the current schema: decimals as strings, instants as UTC text, enums by
    name, None as null. Built only from str, int and None, so JSONB stores it unchanged."""
    layout = _layouts(registry if registry is not None else default_registry())[type(event)]
    out: dict[str, object] = {}
    for field in layout:
        value = getattr(event, field.name)
        if value is None:
            out[field.name] = None
        elif field.quantum is not None:
            if not isinstance(value, Decimal):
                raise TypeError(f"{field.name}: expected Decimal, got {type(value).__name__}")
            out[field.name] = decimal_text(value, field.quantum)
        elif field.kind == "timestamp":
            out[field.name] = instant_text(value)
        elif isinstance(value, Enum):
            out[field.name] = value.name
        else:
            out[field.name] = value
    return out


def canonical_json(event: Event) -> bytes:
    """Deterministic UTF-8 JSON of an event: equal events give equal bytes."""
    return canonical_payload(event_to_json_dict(event)).encode("utf-8")
