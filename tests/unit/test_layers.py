"""The ledger's core (ledger/) talks to Kafka and PostgreSQL only through its ports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import procledger.ledger

LEDGER = Path(procledger.ledger.__file__).parent
MODULES = sorted(LEDGER.rglob("*.py"))
# The technologies live in adapters/; the wiring of adapters to the core in entrypoints/.
FORBIDDEN = ("kafka", "psycopg", "fastapi", "uvicorn", "yoyo", "procledger.adapters",
             "procledger.entrypoints")  # fmt: skip


def imported_modules(source: str) -> set[str]:
    """Full dotted names of every import, including ones nested in functions."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def breaks_layer(name: str) -> bool:
    return any(name == f or name.startswith(f + ".") for f in FORBIDDEN)


def test_the_core_has_its_modules() -> None:
    assert {"ports.py", "apply.py", "batch.py", "loop.py"} <= {m.name for m in MODULES}


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.name)
def test_ledger_module_imports_no_adapter(module: Path) -> None:
    bad = sorted(n for n in imported_modules(module.read_text(encoding="utf-8")) if breaks_layer(n))
    assert not bad, f"ledger/{module.name} imports {bad}"


def test_the_check_sees_adapters_and_nested_imports() -> None:
    source = (
        "def f():\n    from procledger.adapters.postgres.store import X\n    import kafka.errors\n"
    )
    assert {n for n in imported_modules(source) if breaks_layer(n)} == {
        "procledger.adapters.postgres.store",
        "kafka.errors",
    }
    assert not breaks_layer("procledger.adapters_like") and not breaks_layer("kafkaesque")
