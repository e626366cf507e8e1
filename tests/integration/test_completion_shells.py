"""The generated bash and zsh completion scripts, run in the real shells."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from procledger.entrypoints.cli.completion import bash_script, zsh_script
from procledger.entrypoints.cli.main import build_parser

# (words typed so far, the last one being completed) -> what the shell must offer.
CASES = [
    (["procledger", "ev"], ["events"]),
    (["procledger", "events", "status", "--f"], ["--format"]),
    (["procledger", "events", "status", "--format", ""], ["table", "json", "csv"]),
    (["procledger", "--log-level", "DEBUG", "pub"], ["publish"]),
    (["procledger", "publish", "x.jsonl", "--wa"], ["--wait"]),
    (["procledger", "completion", ""], ["--help", "bash", "zsh"]),
]


def _shell(name: str) -> str:
    found = shutil.which(name)
    assert found, f"{name} is needed for this test (.ci/run installs it)"
    return found


@pytest.mark.parametrize(("typed", "offered"), CASES)
def test_bash_completes(typed: list[str], offered: list[str], tmp_path: Path) -> None:
    script = tmp_path / "procledger.bash"
    script.write_text(bash_script(build_parser()))
    words = " ".join(f"'{w}'" for w in typed)
    probe = (f'source {script}; COMP_WORDS=({words}); COMP_CWORD={len(typed) - 1}; '
             '_procledger; printf "%s\\n" "${COMPREPLY[@]}"')  # fmt: skip
    result = subprocess.run([_shell("bash"), "-c", probe], capture_output=True, text=True,
                            check=True)  # fmt: skip
    assert result.stdout.split() == offered, result.stderr


@pytest.mark.parametrize(("typed", "offered"), CASES)
def test_zsh_completes(typed: list[str], offered: list[str], tmp_path: Path) -> None:
    script = tmp_path / "_procledger"
    script.write_text(zsh_script(build_parser()))
    words = " ".join(f"'{w}'" for w in typed)
    # compadd and _files stand in for the completion system's builtins: they print what the
    # script offers; zsh itself parses and runs the generated function.
    probe = (f"compdef(){{}}; source {script}; compadd(){{ shift; print -l -- $@; }}; "
             f"_files(){{}}; words=({words}); CURRENT={len(typed)}; _procledger")  # fmt: skip
    result = subprocess.run([_shell("zsh"), "-c", probe], capture_output=True, text=True,
                            check=True)  # fmt: skip
    current = typed[-1]
    assert [w for w in result.stdout.split() if w.startswith(current)] == offered, result.stderr
