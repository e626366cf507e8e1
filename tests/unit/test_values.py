"""The hot path's value classes stay immutable: mypy refuses every assignment to their fields."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest
from mypy import api

import procledger
from procledger.domain.values import MARKER, immutable

# Where the consumer's per-event values live: each dataclass there is frozen or immutable.
PACKAGES = ("procledger.domain", "procledger.codec")
MODULES = ("procledger.ledger.ports", "procledger.ledger.batch")
# The classes built once per event or more: they must be immutable (slotted, cheap to build).
HOT_PATH = {
    "OrderPlaced", "OrderAmended", "OrderCancelled", "DeliveryRecorded", "PaymentRecorded",
    "StockpileTargetSet", "Order", "StockpileTarget", "Posting", "EntryRef", "Applied",
    "Rejected", "KafkaRecord", "JournalEntry", "RejectionEntry", "Decoded", "RefusedRecord",
    "DecodedEvent", "Frame",
}  # fmt: skip


def _dataclasses() -> list[type]:
    found: dict[str, type] = {}
    names = list(MODULES)
    for package_name in PACKAGES:
        package = importlib.import_module(package_name)
        names += [f"{package_name}.{m.name}" for m in pkgutil.iter_modules(package.__path__)]
    for name in names:
        module = importlib.import_module(name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == name and dataclasses.is_dataclass(cls):
                found[f"{name}.{cls.__qualname__}"] = cls
    return list(found.values())


def test_every_value_class_of_the_consumer_is_frozen_or_immutable() -> None:
    params = {c: getattr(c, "__dataclass_params__") for c in _dataclasses()}  # noqa: B009
    mutable = [
        f"{c.__module__}.{c.__qualname__}"
        for c, p in params.items()
        if not p.frozen and not getattr(c, MARKER, False)
    ]
    assert mutable == []


def test_the_hot_path_classes_are_immutable_slotted_and_hashable() -> None:
    classes = {c.__name__: c for c in _dataclasses() if getattr(c, MARKER, False)}
    assert set(classes) >= HOT_PATH, HOT_PATH - set(classes)
    for cls in classes.values():
        assert "__slots__" in vars(cls), cls
        assert cls.__hash__ is not None, cls


def test_an_immutable_instance_hashes_and_compares_by_its_fields() -> None:
    @immutable
    class Pair:
        left: int
        right: str

    assert Pair(1, "a") == Pair(1, "a")
    assert hash(Pair(1, "a")) == hash(Pair(1, "a"))
    assert {Pair(1, "a"), Pair(1, "a"), Pair(2, "a")} == {Pair(1, "a"), Pair(2, "a")}


def test_mypy_refuses_an_assignment_to_any_field_of_any_immutable_class(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    classes = [c for c in _dataclasses() if getattr(c, MARKER, False)]
    lines = ["from typing import Any"]
    expected: dict[int, str] = {}
    for i, cls in enumerate(classes):
        lines.append(f"from {cls.__module__} import {cls.__qualname__} as C{i}")
    for i, cls in enumerate(classes):
        lines.append(f"def mutate{i}(x: C{i}, v: Any) -> None:")
        for f in dataclasses.fields(cls):
            lines.append(f"    x.{f.name} = v")
            expected[len(lines)] = f'"{f.name}" defined in "{cls.__qualname__}" is read-only'
    snippet = tmp_path / "mutate.py"
    snippet.write_text("\n".join(lines) + "\n")
    # The product's own sources, as `make lint` checks them (not an installed copy).
    monkeypatch.setenv("MYPYPATH", str(Path(procledger.__file__).resolve().parents[1]))
    out, _, _ = api.run(
        [
            "--strict",
            "--no-incremental",
            "--follow-imports=silent",
            f"--cache-dir={tmp_path / 'cache'}",
            str(snippet),
        ]
    )
    errors = {
        int(line.split(":")[1]): line
        for line in out.splitlines()
        if line.startswith(str(snippet)) and ": error:" in line
    }
    assert set(errors) == set(expected), out
    for number, message in expected.items():
        assert message in errors[number], errors[number]
