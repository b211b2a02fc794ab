"""Partial runs see the whole project: one file, pre-commit's file list, or stdin."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import run_cli
from test_cli import BAD, write

UTILS = "import tensorflow as tf\n\n\ndef l1(a, b):\n    return tf.reduce_mean(tf.abs(a - b))\n"
MODEL = (
    "from myproj.utils import l1\n\n\n"
    "def build(model):\n"
    "    model.compile(optimizer='adam', loss=l1)\n"
    "    return model\n"
)
AT_LOSS = (
    "myproj/utils.py:5:12: LL001 [*] loss `l1` returns a value reduced over the batch axis: "
    "`tf.reduce_mean` without `axis`; Keras expects one loss per sample\n"
)
AT_SITE = (
    "myproj/model.py:5:42: LL001 `compile(loss=l1)`: `l1` (myproj/utils.py:5) returns a value"
    " reduced over the batch axis; Keras expects one loss per sample\n"
)


@pytest.fixture
def five_modules(project: Path) -> Path:
    write(project, "myproj/__init__.py", "")
    write(project, "myproj/utils.py", UTILS)
    write(project, "myproj/model.py", MODEL)
    write(project, "myproj/data.py", "def load():\n    return [1, 2, 3]\n")
    write(project, "myproj/train.py", "from myproj.model import build\n")
    return project


def test_whole_project_reports_at_the_loss(five_modules: Path) -> None:
    result = run_cli(["."], five_modules)
    assert (result.exit_code, result.stdout) == (1, AT_LOSS)


def test_only_the_loss_file(five_modules: Path) -> None:
    """A commit that changes only utils.py: its loss is compiled in the unchanged model.py."""
    result = run_cli(["myproj/utils.py"], five_modules)
    assert (result.exit_code, result.stdout) == (1, AT_LOSS)


def test_only_the_compile_site_file(five_modules: Path) -> None:
    result = run_cli(["myproj/model.py"], five_modules)
    assert (result.exit_code, result.stdout) == (1, AT_SITE)
    assert "[*]" not in result.stdout  # the fix belongs to utils.py


def test_unrelated_file_alone_is_clean(five_modules: Path) -> None:
    result = run_cli(["myproj/data.py"], five_modules)
    assert (result.exit_code, result.stdout) == (0, "")


@pytest.mark.parametrize(("name", "expected"), [("utils.py", AT_LOSS), ("model.py", AT_SITE)])
def test_stdin_sees_the_project(five_modules: Path, name: str, expected: str) -> None:
    path = five_modules / "myproj" / name
    result = run_cli(
        ["--stdin-filename", f"myproj/{name}", "--no-cache", "-"],
        five_modules,
        stdin=path.read_text(),
    )
    assert (result.exit_code, result.stdout) == (1, expected)


def test_stdin_buffer_wins_over_the_file_on_disk(five_modules: Path) -> None:
    fixed = UTILS.replace("tf.abs(a - b))", "tf.abs(a - b), axis=-1)")
    result = run_cli(["--stdin-filename", "myproj/utils.py", "-"], five_modules, stdin=fixed)
    assert (result.exit_code, result.stdout) == (0, "")


def test_a_crash_in_one_file_is_that_files_problem(
    five_modules: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unexpected exception analysing one file: an LL000 on it, the rest reported, exit 2."""
    write(five_modules, "myproj/other.py", BAD)
    from losslint.analysis.losses import LossFinder

    real = LossFinder.candidates

    def flaky(self: LossFinder, module: object) -> object:
        if str(getattr(module, "path", "")).endswith("other.py"):
            raise RecursionError("maximum recursion depth exceeded")
        return real(self, module)  # type: ignore[arg-type]

    monkeypatch.setattr(LossFinder, "candidates", flaky)
    result = run_cli(["--no-cache", "."], five_modules)
    assert result.exit_code == 2
    assert result.stdout == (
        "myproj/other.py:1:1: LL000 internal error: RecursionError: maximum recursion depth"
        " exceeded (LOSSLINT_DEBUG=1 prints the traceback)\n" + AT_LOSS
    )


def test_a_repository_nested_under_another_projects_config_is_its_own_project(
    tmp_path: Path,
) -> None:
    """The configuration comes from the nearest `[tool.losslint]`, the project (what is
    analysed, where the cache goes) from the nearest root marker."""
    outer = tmp_path / "outer"
    write(outer, "pyproject.toml", '[tool.losslint]\nignore = ["LL003"]\n')
    write(outer, "util.py", UTILS)  # a module of the outer project, not of the nested one
    inner = outer / "vendor" / "inner"
    (inner / ".git").mkdir(parents=True)
    write(inner, "model.py", "from util import l1\n\nmodel.compile(loss=l1)\n")
    write(inner, "losses.py", BAD)
    result = run_cli(["."], inner)
    assert result.stdout.startswith("losses.py:5:12: LL001")
    assert "model.py" not in result.stdout  # `util` is not part of this project
    assert (inner / ".losslint_cache").is_dir() and not (outer / ".losslint_cache").exists()


COLLECTED_LOSSES = """\
import tensorflow as tf


def first(a, b):
    return tf.reduce_mean(tf.abs(a - b))


def second(a, b):
    return tf.reduce_sum(tf.square(a - b))


def third(a, b):
    return tf.reduce_max(a - b)
"""
COLLECTING_MODEL = """\
from losses import first, second, third


def build(model):
    heads = [first]
    extra = (second,)
    by_output = {"out": third}
    model.compile(optimizer="adam", loss=heads)
    model.compile(optimizer="adam", loss=[*extra])
    model.compile(optimizer="adam", loss={"aux": by_output})
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    return model
"""


def test_compile_site_findings_point_into_collections_named_before_the_call(
    project: Path,
) -> None:
    """A compile argument that is a name (or holds one: a list, a starred tuple, a dict value)
    assigned a collection before the call: the finding is at the collection's element."""
    write(project, "losses.py", COLLECTED_LOSSES)
    write(project, "model.py", COLLECTING_MODEL)
    result = run_cli(["--no-cache", "model.py"], project)
    sites = [line.split(" LL001 ")[0] for line in result.stdout.splitlines() if "LL001" in line]
    assert sites == ["model.py:5:14:", "model.py:6:14:", "model.py:7:25:"]
