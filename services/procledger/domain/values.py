"""Immutable value classes of the hot path: frozen for the type checker, plain slots at run time.

A frozen dataclass sets each field through object.__setattr__ in its __init__, which made
building an event, an order, a posting or a journal row 2-4x slower than a plain slotted
class (measured in the consumer's per-event profile, once per event or more). `value`
classes are ordinary slotted dataclasses at run time, hashable like frozen ones
(`unsafe_hash`: the hash is over the fields, as a frozen dataclass's is). Immutability is
enforced where it costs nothing: mypy --strict (run by `make lint`) sees them as frozen,
through `dataclass_transform(frozen_default=True)`, and refuses any assignment to a field;
tests/unit/test_values.py proves that it does, class by class, and that every immutable class
of the hot path is one of these.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar, dataclass_transform, overload

T = TypeVar("T")

# Set on each immutable class: how a test finds them without a registry of its own.
MARKER = "__procledger_value__"


@overload
def immutable(cls: type[T], /) -> type[T]: ...


@overload
def immutable(*, kw_only: bool = False) -> Callable[[type[T]], type[T]]: ...


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
def immutable(
    cls: type[T] | None = None, /, *, kw_only: bool = False
) -> type[T] | Callable[[type[T]], type[T]]:
    """Make `cls` a slotted dataclass that mypy treats as frozen (see the module docstring)."""

    def make(target: type[T]) -> type[T]:
        made = dataclass(slots=True, unsafe_hash=True, kw_only=kw_only)(target)
        setattr(made, MARKER, True)
        return made

    return make if cls is None else make(cls)
