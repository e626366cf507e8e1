"""The contract files shipped inside the package (Avro schemas, SQL migrations).

They live in the repository's top-level schemas/ folder, which setup.py maps onto the package
procledger.schemas, so a wheel, an sdist and an editable install all find them the same way:
through importlib.resources, never by walking up from a source file.
"""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

PACKAGE = "procledger.schemas"
SCHEMAS_DIR_ENV = "PROCLEDGER_SCHEMAS_DIR"
MIGRATIONS_DIR_ENV = "PROCLEDGER_MIGRATIONS_DIR"


def _packaged(*parts: str) -> Path:
    folder = files(PACKAGE).joinpath(*parts)
    # Wheels and editable installs are unpacked on disk; yoyo and the schema loader need a
    # real folder, and a zipped install would have to be extracted first.
    if not isinstance(folder, Path):
        raise RuntimeError(f"{PACKAGE} is not installed on a file system: {folder}")
    return folder


def avro_schemas_dir() -> Path:
    """PROCLEDGER_SCHEMAS_DIR if set (an operator's override), else the packaged avro/."""
    configured = os.environ.get(SCHEMAS_DIR_ENV)
    return Path(configured) if configured else _packaged("avro")


def migrations_dir() -> Path:
    """PROCLEDGER_MIGRATIONS_DIR if set (an operator's override), else the packaged SQL."""
    configured = os.environ.get(MIGRATIONS_DIR_ENV)
    return Path(configured) if configured else _packaged("sql", "migrations")
