"""The product as a user installs it: a wheel built from the sdist, in a fresh venv, run elsewhere.

Nothing of the checkout is on the path: the wheel must carry the Avro schemas, the SQL
migrations and the audit page, and every command must run from a folder outside the
repository against the real stack, with explicit settings and no development profile.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from procledger_dev.stack.config import REPO_ROOT, StackConfig
from tests.plugins.ledger import ledger_variables

# What the Dockerfile copies into its build stage: the same inputs make the same wheel.
BUILD_INPUTS = ("pyproject.toml", "setup.py", "README.md", "services", "schemas")
# USD 1,000,000,000.00 of 155mm ordered 1 January to 15 June 2023: the story's headline.
HEADLINE = "1000000000.00"


def _run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    result: subprocess.CompletedProcess[str] = subprocess.run(  # type: ignore[call-overload]
        cmd, capture_output=True, text=True, check=False, **kwargs
    )
    assert result.returncode == 0, (
        f"{cmd}: exit {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """sdist from a copy of the build inputs, then the wheel from that sdist (as pip would)."""
    work = tmp_path_factory.mktemp("build")
    source = work / "source"
    source.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for name in BUILD_INPUTS:
        path = REPO_ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=ignore)
        else:
            shutil.copy2(path, source / name)
    _run([sys.executable, "-m", "build", "--outdir", str(work / "dist"), str(source)], timeout=600)
    (built,) = (work / "dist").glob("procledger-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel installed, not editable (pip's cache keeps it quick)."""
    home = tmp_path_factory.mktemp("venv") / "venv"
    _run([sys.executable, "-m", "venv", str(home)], timeout=300)
    _run([str(home / "bin" / "pip"), "install", "--quiet", str(wheel)], timeout=900)
    return home / "bin"


def test_the_wheel_carries_the_contract_and_no_dev_tooling(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    schemas = {n for n in names if n.startswith("procledger/schemas/avro/")}
    assert {p.name for p in (REPO_ROOT / "schemas" / "avro").glob("*.avsc")} <= {
        Path(n).name for n in schemas
    }
    migrations = {Path(n).name for n in names if n.startswith("procledger/schemas/sql/migrations/")}
    assert migrations == {p.name for p in (REPO_ROOT / "schemas/sql/migrations").glob("*.sql")}
    assets = {p.name for p in (REPO_ROOT / "services/procledger/entrypoints/http/static").iterdir()}
    assert assets
    assert {
        Path(n).name for n in names if n.startswith("procledger/entrypoints/http/static/")
    } == assets
    tops = {n.split("/", 1)[0] for n in names}
    assert tops == {
        "procledger",
        f"{wheel.name.split('-')[0]}-{wheel.name.split('-')[1]}.dist-info",
    }
    assert not [n for n in names if "/tests/" in n or "bench" in n or "chaos" in n]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str, deadline_s: float, proc: subprocess.Popen[str]) -> str:
    """GET url once the service answers; fails if it exits first or the deadline passes."""
    deadline = time.monotonic() + deadline_s
    while True:
        assert proc.poll() is None, f"{url}: the service exited with {proc.returncode}"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                assert response.status == 200
                return str(response.read().decode())
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


@pytest.fixture
def product_env(stack: StackConfig, unique: str, venv: Path) -> Iterator[dict[str, str]]:
    # The ledger fixture's settings, but the product migrates and creates topics itself here.
    yield {
        # Only the venv and the system: no checkout on any path, no development profile.
        "PATH": f"{venv}:/usr/bin:/bin",
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
        **ledger_variables(stack, unique, f"pl_inst_{unique}"),
        "INTAKE_TOKENS": f"intake-{unique}",
        "AUDITOR_TOKENS": f"auditor-{unique}",
    }


def test_installed_product_runs_the_whole_flow_outside_the_checkout(
    venv: Path, product_env: dict[str, str], tmp_path: Path
) -> None:
    def procledger(*args: str) -> str:
        return _run(["procledger", *args], env=product_env, cwd=tmp_path, timeout=600).stdout

    where = _run(
        ["python", "-c", "import procledger; print(procledger.__file__)"],
        env=product_env, cwd=tmp_path, timeout=60,
    ).stdout  # fmt: skip
    assert where.startswith(str(venv.parent)), where
    assert procledger("--version").strip().startswith("procledger ")
    migrated = procledger("db", "migrate")
    applied = migrated.split("migrations applied: ", 1)[-1].strip().split(", ")
    shipped = sorted(p.stem for p in (REPO_ROOT / "schemas" / "sql" / "migrations").glob("*.sql"))
    assert applied == shipped, migrated
    assert "created" in procledger("topics", "create")
    procledger("scenario", "--publish")
    procledger("consume", "--until-idle", "3")
    procledger("audit", "verify")
    totals = json.loads(procledger(
        "audit", "totals", "--by", "caliber_mm", "--from", "2023-01-01", "--to", "2023-06-15",
        "--format", "json",
    ))  # fmt: skip
    by_caliber = {row["caliber_mm"]: row["ordered_value_usd"] for row in totals}
    assert by_caliber[155] == HEADLINE, totals

    for service in ("intake", "audit"):
        port = _free_port()
        proc = subprocess.Popen(
            ["procledger", "serve", service, "--port", str(port)],
            env=product_env, cwd=tmp_path, text=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        try:
            health = _get(f"http://127.0.0.1:{port}/healthz", 60, proc)
            assert '"ok"' in health, (service, health)
            if service == "audit":
                assert "<title>procledger audit</title>" in _get(
                    f"http://127.0.0.1:{port}/", 5, proc
                )
        finally:
            proc.terminate()
            proc.wait(timeout=30)
