"""Shared helpers: run the real CLI in-process (CliRunner) or as a subprocess."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

# losslint's dataclasses are truly frozen under test (losslint/frozen.py): an assignment to a
# field fails the test that reaches it; subprocesses inherit it
os.environ.setdefault("LOSSLINT_STRICT", "1")

from losslint.cli import main

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"


@dataclass
class Run:
    exit_code: int
    stdout: str
    stderr: str


def run_cli(args: list[str], cwd: Path, stdin: bytes | str | None = None) -> Run:
    """Invoke `losslint` in-process with click's CliRunner, in `cwd`."""
    runner = CliRunner()
    old = os.getcwd()
    os.chdir(cwd)
    try:
        result = runner.invoke(main, args, input=stdin, catch_exceptions=False, color=False)
    finally:
        os.chdir(old)
    return Run(result.exit_code, result.stdout, result.stderr)


def run_subprocess(
    args: list[str], cwd: Path, stdin: bytes | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run `python -m losslint` as a real process."""
    return subprocess.run(
        [sys.executable, "-m", "losslint", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        env={**os.environ, "NO_COLOR": "1", **(env or {})},
        timeout=300,
    )


def copy_case(name: str, dest: Path) -> Path:
    """Copy a fixture project (without its `expected/` folder) into `dest`."""
    target = dest / name
    shutil.copytree(
        FIXTURES / name,
        target,
        ignore=shutil.ignore_patterns("expected", "__pycache__", ".losslint_cache"),
        symlinks=True,
    )
    return target


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    """An empty project folder with a pyproject.toml (so it is its own root)."""
    root = tmp_path / "proj"
    root.mkdir()
    (root / "pyproject.toml").write_text('[project]\nname = "proj"\n')
    yield root
