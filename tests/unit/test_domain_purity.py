"""The domain package stays pure: no module in it imports I/O, transport or web libraries."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import procledger.domain

DOMAIN = Path(procledger.domain.__file__).parent
FORBIDDEN = {"kafka", "psycopg", "fastapi", "uvicorn", "prometheus_client", "yoyo", "socket"}
MODULES = sorted(DOMAIN.rglob("*.py"))


def imported_roots(source: str) -> set[str]:
    """Top-level package names of every import, including ones nested in functions."""
    roots: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_the_domain_has_modules() -> None:
    assert {"events.py", "ledger.py", "postings.py", "errors.py"} <= {m.name for m in MODULES}


@pytest.mark.parametrize("module", MODULES, ids=lambda m: str(m.relative_to(DOMAIN)))
def test_domain_module_imports_nothing_impure(module: Path) -> None:
    roots = imported_roots(module.read_text(encoding="utf-8"))
    assert not roots & FORBIDDEN, f"{module.name} imports {sorted(roots & FORBIDDEN)}"


def test_the_check_sees_nested_and_dotted_imports() -> None:
    source = "def f():\n    import psycopg.rows\n    from kafka.errors import X\n"
    assert imported_roots(source) >= {"psycopg", "kafka"}
