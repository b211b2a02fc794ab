"""The pre-commit hooks, for real: `pre-commit try-repo` installs losslint from this repo."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

BAD = "import tensorflow as tf\n\n\ndef mse(y_true, y_pred):\n    return tf.reduce_mean(tf.square(y_true - y_pred))\n"


def _run(args: list[str], cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PRE_COMMIT_HOME": str(home), "NO_COLOR": "1", "PRE_COMMIT_COLOR": "never"}
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=env, timeout=900)


def test_manifest_is_valid() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pre_commit",
            "validate-manifest",
            str(REPO / ".pre-commit-hooks.yaml"),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.slow
def test_try_repo_lint_and_fix_hooks(tmp_path: Path) -> None:
    home = tmp_path / "pre-commit-home"
    user = tmp_path / "user"
    user.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=user, check=True)
    (user / "losses.py").write_text(BAD)
    (user / "clean.py").write_text("x = 1\n")
    subprocess.run(["git", "add", "."], cwd=user, check=True)

    lint = _run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(REPO), "losslint", "--all-files"],
        user,
        home,
    )
    assert lint.returncode == 1, lint.stdout + lint.stderr
    assert "losses.py:5:12: LL001" in lint.stdout
    assert (user / "losses.py").read_text() == BAD

    fix = _run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(REPO), "losslint-fix", "--all-files"],
        user,
        home,
    )
    assert fix.returncode == 1  # pre-commit fails when a hook modified files
    assert "files were modified by this hook" in fix.stdout
    assert "axis=-1" in (user / "losses.py").read_text()

    subprocess.run(["git", "add", "."], cwd=user, check=True)
    again = _run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(REPO), "losslint", "--all-files"],
        user,
        home,
    )
    assert again.returncode == 0, again.stdout


@pytest.mark.slow
def test_try_repo_lints_and_fixes_a_notebook(tmp_path: Path) -> None:
    nbformat = pytest.importorskip("nbformat")
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    home = tmp_path / "pre-commit-home"
    user = tmp_path / "user"
    user.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=user, check=True)
    nb = new_notebook(
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        }
    )
    nb.cells = [
        new_markdown_cell("# Training"),
        new_code_cell("%matplotlib inline\n" + BAD.rstrip("\n"), execution_count=1),
    ]
    path = user / "train.ipynb"
    nbformat.write(nb, str(path))
    original = path.read_text()
    subprocess.run(["git", "add", "."], cwd=user, check=True)

    def try_repo(hook: str) -> subprocess.CompletedProcess[str]:
        return _run(
            [sys.executable, "-m", "pre_commit", "try-repo", str(REPO), hook, "--all-files"],
            user,
            home,
        )

    lint = try_repo("losslint")
    assert lint.returncode == 1, lint.stdout + lint.stderr
    assert "train.ipynb:cell 2:6:12: LL001" in lint.stdout
    assert path.read_text() == original

    fix = try_repo("losslint-fix")
    assert fix.returncode == 1, fix.stdout + fix.stderr  # the hook modified files
    assert "files were modified by this hook" in fix.stdout
    fixed = path.read_text()
    assert fixed == original.replace('y_pred))"', 'y_pred), axis=-1)"')
    nbformat.validate(nbformat.reads(fixed, as_version=nbformat.NO_CONVERT))

    subprocess.run(["git", "add", "."], cwd=user, check=True)
    again = try_repo("losslint")
    assert again.returncode == 0, again.stdout
