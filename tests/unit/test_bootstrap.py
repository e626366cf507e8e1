"""scripts/bootstrap.sh: off Debian/Ubuntu it installs nothing and prints the exact list."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Only what the script itself runs; no java, mvn, prometheus, kcat, chromium, docker-compose.
TOOLS = ("bash", "dirname", "id", "sort", "grep")


def test_on_another_system_it_prints_every_missing_package_and_stops(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in TOOLS:
        found = shutil.which(tool)
        assert found, tool
        os.symlink(found, bin_dir / tool)
    os_release = tmp_path / "os-release"
    os_release.write_text('ID=fedora\nID_LIKE="rhel centos"\n')
    result = subprocess.run(
        [str(bin_dir / "bash"), str(ROOT / "scripts" / "bootstrap.sh"), "system"],
        env={"PATH": str(bin_dir), "PYTHON": sys.executable, "OS_RELEASE": str(os_release)},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert "not Debian or Ubuntu" in result.stderr
    listed = {line.split()[0] for line in result.stderr.splitlines() if line.startswith("  ")}
    expected = {
        "openjdk-17-jre-headless", "maven", "prometheus", "prometheus-postgres-exporter",
        "kcat", "chromium", "docker-compose",
    }  # fmt: skip
    assert expected <= listed
    assert "installing" not in result.stdout  # nothing was attempted


def test_an_unknown_step_is_a_usage_error() -> None:
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "bootstrap.sh"), "everything"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "usage: scripts/bootstrap.sh [all|system|venv]" in result.stderr
