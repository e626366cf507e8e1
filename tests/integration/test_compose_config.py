"""docker-compose.yml against the real tools: `docker compose config`, the exporter's version."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from procledger_dev.stack import exporters

ROOT = Path(__file__).resolve().parents[2]


def test_docker_compose_config_validates() -> None:
    tool = shutil.which("docker-compose")
    cmd = [tool, "config", "-q"] if tool else ["docker", "compose", "config", "-q"]
    if not tool and shutil.which("docker") is None:
        pytest.fail("neither docker-compose nor docker is installed (.ci/run installs it)")
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_the_compose_exporter_runs_the_version_the_stack_runs() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    tag = compose["services"]["postgres-exporter"]["image"].rsplit(":v", 1)[1]
    local = subprocess.run(
        [exporters.PG_EXPORTER, "--version"], capture_output=True, text=True, check=False
    )
    assert f"version {tag} " in local.stdout + local.stderr, "same version as Debian's"
