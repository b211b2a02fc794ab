"""The flake8 plugin, through real `flake8` processes, against `losslint --format json`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import copy_case, run_subprocess

pytestmark = pytest.mark.slow

Finding = tuple[str, int, int, str, str]

BAD = (
    "import tensorflow as tf\n\n\ndef mse(y_true, y_pred):\n"
    "    return tf.reduce_mean(tf.square(y_true - y_pred))\n"
)


def flake8(
    args: list[str], cwd: Path, stdin: bytes | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flake8", "--select", "LL", *args],
        cwd=cwd,
        input=stdin.decode() if stdin is not None else None,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
        timeout=300,
    )


def parse_flake8(output: str) -> set[Finding]:
    findings = set()
    for line in output.splitlines():
        path, row, col, rest = line.split(":", 3)
        code, _, message = rest.strip().partition(" ")
        findings.add((os.path.normpath(path), int(row), int(col), code, message))
    return findings


def parse_json(output: str, cwd: Path) -> set[Finding]:
    return {
        (
            os.path.relpath(d["filename"], cwd) if d["filename"] != "-" else "-",
            d["location"]["row"],
            d["location"]["column"],
            d["code"],
            d["message"],
        )
        for d in json.loads(output)
    }


@pytest.mark.parametrize(
    "case", ["keras_project", "layout", "realworld_patterns", "src_layout", "runtime"]
)
def test_same_findings_as_the_cli(tmp_path: Path, case: str) -> None:
    root = copy_case(case, tmp_path)
    plugin = flake8(["."], root)
    cli = run_subprocess(["--format", "json", "--no-cache", "."], root)
    assert cli.returncode == 1, cli.stderr
    expected = parse_json(cli.stdout.decode(), root)
    assert expected  # every fixture project has findings
    assert plugin.returncode == 1, plugin.stderr
    assert parse_flake8(plugin.stdout) == expected


def test_columns_are_not_off_by_one(project: Path) -> None:
    (project / "losses.py").write_text(BAD)
    result = flake8(["losses.py"], project)
    column = BAD.splitlines()[4].index("tf.reduce_mean") + 1
    assert result.stdout.startswith(f"losses.py:5:{column}: LL001 loss `mse` returns")
    cli = run_subprocess(["losses.py"], project)
    assert cli.stdout.decode().startswith(f"losses.py:5:{column}: LL001 [*] loss `mse`")


def test_stdin_uses_flakes8_lines_not_the_file(project: Path) -> None:
    (project / "losses.py").write_text(BAD.replace("y_pred))", "y_pred), axis=-1)"))
    unicode = BAD.replace("    return", '    s = "é😀"; return')
    plugin = flake8(["--stdin-display-name", "losses.py", "-"], project, stdin=unicode.encode())
    cli = run_subprocess(
        ["--format", "json", "--stdin-filename", "losses.py", "-"], project, stdin=unicode.encode()
    )
    expected = parse_json(cli.stdout.decode(), project)
    assert len(expected) == 1
    assert parse_flake8(plugin.stdout) == expected
    assert flake8(["losses.py"], project).stdout == ""  # the saved file is fine


def test_noqa_and_disable_noqa(project: Path) -> None:
    (project / "losses.py").write_text(BAD.rstrip("\n") + "  # noqa: LL001\n")
    assert flake8(["losses.py"], project).stdout == ""
    assert "LL001" in flake8(["--disable-noqa", "losses.py"], project).stdout


def test_project_config_applies(project: Path) -> None:
    (project / "pyproject.toml").write_text("[tool.losslint]\nignore = ['LL001']\n")
    (project / "losses.py").write_text(BAD)
    result = flake8(["losses.py"], project)
    assert result.returncode == 0 and result.stdout == ""


def test_broken_config_fails_loudly(project: Path) -> None:
    (project / "pyproject.toml").write_text("[tool.losslint]\nbogus = 1\n")
    (project / "losses.py").write_text(BAD)
    result = flake8(["losses.py"], project)
    assert result.returncode != 0
    assert "bogus" in result.stdout + result.stderr
