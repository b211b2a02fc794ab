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


UTILS = "import tensorflow as tf\n\n\ndef l1(a, b):\n    return tf.reduce_mean(tf.abs(a - b))\n"
MODEL = (
    "from myproj.utils import l1\n\n\n"
    "def build(model):\n"
    "    model.compile(optimizer='adam', loss=l1)\n"
    "    return model\n"
)


@pytest.mark.slow
def test_a_commit_of_only_the_loss_or_only_the_compile_site_is_stopped(tmp_path: Path) -> None:
    """pre-commit passes only the staged files: the rest of the project still counts."""
    home = tmp_path / "pre-commit-home"
    user = tmp_path / "user"
    (user / "myproj").mkdir(parents=True)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(["git", "init", "-q"], cwd=user, check=True)
    (user / "myproj" / "__init__.py").write_text("")
    (user / "myproj" / "utils.py").write_text(UTILS)
    (user / "myproj" / "model.py").write_text(MODEL)
    subprocess.run(["git", "add", "."], cwd=user, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "start"], cwd=user, check=True)
    hook = [sys.executable, "-m", "pre_commit", "try-repo", str(REPO), "losslint"]

    (user / "myproj" / "utils.py").write_text(UTILS + "# touched\n")
    subprocess.run(["git", "add", "myproj/utils.py"], cwd=user, check=True)
    only_loss = _run(hook, user, home)
    assert only_loss.returncode == 1, only_loss.stdout + only_loss.stderr
    assert "myproj/utils.py:5:12: LL001" in only_loss.stdout
    assert "myproj/model.py" not in only_loss.stdout
    subprocess.run([*git, "commit", "-q", "-m", "utils", "--no-verify"], cwd=user, check=True)

    (user / "myproj" / "model.py").write_text(MODEL + "# touched\n")
    subprocess.run(["git", "add", "myproj/model.py"], cwd=user, check=True)
    only_site = _run(hook, user, home)
    assert only_site.returncode == 1, only_site.stdout + only_site.stderr
    assert (
        "myproj/model.py:5:42: LL001 `compile(loss=l1)`: `l1` (myproj/utils.py:5) returns a value"
        " reduced over the batch axis" in only_site.stdout
    )
