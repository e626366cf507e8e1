"""The ledger's core (ledger/) talks to Kafka and PostgreSQL only through its ports; settings
import no entry point; the audit CLI loads no web framework."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import procledger.ledger
import procledger.settings

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


SETTINGS = sorted(Path(procledger.settings.__file__).parent.glob("*.py"))


@pytest.mark.parametrize("module", SETTINGS, ids=lambda m: m.name)
def test_settings_import_no_entry_point(module: Path) -> None:
    # Entry points read settings; a settings module importing one loads its framework too.
    names = imported_modules(module.read_text(encoding="utf-8"))
    bad = sorted(n for n in names if n.split(".")[0] in {"fastapi", "uvicorn"} or
                 n.startswith("procledger.entrypoints"))  # fmt: skip
    assert not bad, f"settings/{module.name} imports {bad}"


def test_the_audit_cli_loads_neither_fastapi_nor_the_consumer_loop() -> None:
    # Each `procledger audit ...` pays its imports: FastAPI and the consumer loop were 0.4 s
    # of a 0.95 s `audit totals`.
    code = (
        "import sys, procledger.entrypoints.cli.audit_handlers\n"
        "print(sorted(m for m in ('fastapi', 'procledger.ledger.loop') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
