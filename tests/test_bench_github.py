"""The GitHub corpus tooling in bench/realworld: enumeration, naive matcher, fetching, scoring."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "realworld"
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent))

import enumerate_github  # noqa: E402
import evaluate  # noqa: E402
import fetch_github  # noqa: E402
import runtime_realworld  # noqa: E402

LOSSES = """\
import tensorflow as tf
from tensorflow import keras

def dice(y_true, y_pred):
    return tf.reduce_mean(y_true * y_pred)

def loss_function(real, pred):
    return tf.reduce_mean(real - pred)

class Losses:
    def mean_loss(self, gt, pr):
        return tf.reduce_mean(gt - pr, axis=-1)

class MyLoss(keras.losses.Loss):
    def call(self, a, b):
        return a - b

def make(scale):
    def inner(y, y_hat):
        return scale * (y - y_hat)
    return inner

def train_loss(model, x, labels):
    return 0.0

def weird(first, second):
    return first

def test_dice(y_true, y_pred):
    return 0

model = keras.Sequential()
model.compile(loss=weird, metrics=[lambda t, o: t])
"""

NOTEBOOK = {
    "cells": [
        {"cell_type": "markdown", "source": ["# title"]},
        {"cell_type": "code", "source": ["%matplotlib inline\n", "import tensorflow as tf"]},
        {"cell_type": "code", "source": ["print 'python 2'"]},
        {
            "cell_type": "code",
            "source": ["def nb_loss(labels, logits):\n", "    return tf.reduce_sum(logits)\n"],
        },
    ],
    "metadata": {},
    "nbformat": 4,
    "nbformat_minor": 5,
}


def _repo(tmp_path: Path) -> Path:
    root = tmp_path / "owner+name"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "losses.py").write_text(LOSSES)
    (root / "nb.ipynb").write_text(json.dumps(NOTEBOOK))
    (root / "torch_only.py").write_text("import torch\ndef loss(y_true, y_pred):\n    return 0\n")
    return root


def test_enumeration_is_wider_than_losslint(tmp_path: Path) -> None:
    found, _ = enumerate_github.enumerate_repo(_repo(tmp_path))
    names = {(f.path, f.function): f.why for f in found}
    assert names[("pkg/losses.py", "dice")] == {"pair"}
    assert names[("pkg/losses.py", "loss_function")] == {"pair", "named"}  # (real, pred)
    assert "pair" in names[("pkg/losses.py", "Losses.mean_loss")]  # plain-class method
    assert names[("pkg/losses.py", "MyLoss.call")] == {"loss-class"}  # any parameter names
    assert names[("pkg/losses.py", "make.<locals>.inner")] == {"pair"}
    assert names[("pkg/losses.py", "train_loss")] == {"named"}
    assert names[("pkg/losses.py", "weird")] == {"compiled"}
    lambda_line = LOSSES.splitlines().index("model.compile(loss=weird, metrics=[lambda t, o: t])")
    assert names[("pkg/losses.py", f"<lambda>@{lambda_line + 1}")] == {"compiled"}
    assert names[("nb.ipynb", "nb_loss")] == {"pair", "named"}  # after a magic and a Python 2 cell
    assert ("pkg/losses.py", "test_dice") not in names
    assert not any(path == "torch_only.py" for path, _ in names)


def test_notebook_source_keeps_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(NOTEBOOK))
    lines = enumerate_github.notebook_source(path).split("\n")
    assert lines[0] == "pass"  # the magic, kept as a statement
    assert lines[2] == ""  # the Python 2 cell, blanked
    assert lines[3] == "def nb_loss(labels, logits):"


@pytest.mark.parametrize(
    ("source", "flagged"),
    [
        ("def f(a, b):\n    return tf.reduce_mean(a - b)", True),
        ("def f(a, b):\n    return K.mean(a - b, axis=-1)", False),
        ("def f(a, b):\n    return K.sum(a - b, -1)", False),
        ("def f(a, b):\n    return ops.sum(a * b)", True),
        ("def f(a, b):\n    return a - b", False),
    ],
)
def test_naive_matcher(source: str, flagged: bool) -> None:
    node = ast.parse(source).body[0]
    assert evaluate.naive_flags(node) is flagged


def test_function_node_resolves_qualified_names() -> None:
    tree = ast.parse(LOSSES)
    assert evaluate._function_node(tree, "Losses.mean_loss").name == "mean_loss"
    assert evaluate._function_node(tree, "make.<locals>.inner").name == "inner"
    assert evaluate._function_node(tree, "missing") is None


def test_score_counts_and_line() -> None:
    score = evaluate.Score()
    assert [score.add(e, f) for e, f in [("reduced", True), ("reduced", False)]] == ["TP", "FN"]
    assert [score.add(e, f) for e, f in [("per-sample", True), ("scalar-ok", False)]] == [
        "FP",
        "TN",
    ]
    assert score.line("x").split()[1:] == ["1", "1", "1", "1", "0.500", "0.500"]


def test_every_repository_is_in_a_split_evaluate_accepts() -> None:
    repos = fetch_github.load_repos()
    splits = {repo["split"] for repo in repos}
    assert splits == set(evaluate.GITHUB_SPLITS)
    assert runtime_realworld.GITHUB_SPLITS == evaluate.GITHUB_SPLITS
    labelled = {row["repo"] for row in evaluate.read_tsv(BENCH / "github.tsv")}
    for split in evaluate.GITHUB_SPLITS[2:]:  # the splits after dev and test
        names = [r["name"] for r in repos if evaluate.in_split(r, split)]
        assert len(names) >= 12
        assert all(r["split"] == split for r in repos if r["name"] in names)
        assert set(names) <= labelled
    assert all(evaluate.in_split(r, "all") for r in repos)


@pytest.mark.slow
def test_fetch_extracts_the_pinned_commit_from_a_mirror(tmp_path: Path) -> None:
    work = tmp_path / "src"
    work.mkdir()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(work)]
    subprocess.run(["git", "init", "-q", str(work)], check=True)
    (work / "a.py").write_text("first\n")
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "one"], check=True)
    pinned = subprocess.run(
        [*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    (work / "a.py").write_text("second\n")
    (work / "run.sh").write_text("echo\n")
    (work / "run.sh").chmod(0o755)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "two"], check=True)
    mirror = tmp_path / "mirror" / "owner+name" / "repo"
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(mirror)], check=True)

    dest = tmp_path / "out"
    written, missing = fetch_github.extract_commit(
        fetch_github.find_mirror(tmp_path / "mirror", "owner/name", pinned), pinned, dest
    )
    assert (written, missing) == (1, 0)
    assert (dest / "a.py").read_text() == "first\n"  # the pinned commit, not HEAD
    assert not (dest / "run.sh").exists()
    assert fetch_github.find_mirror(tmp_path / "mirror", "owner/name", "0" * 40) is None


def test_lambda_findings_match_the_manifests_lambda_names(tmp_path: Path) -> None:
    """losslint names a lambda after its scope (`outer.<locals>.<lambda>@L`) and, in a
    notebook, its cell (`<lambda>@cell N:ROW`); the manifest names it `<lambda>@LINE` in the
    module, counting a notebook's lines in its joined code cells."""
    script = tmp_path / "train.py"
    script.write_text("x = 1\n")
    assert evaluate.lambda_alias("train.build.<locals>.<lambda>@7", script) == "train.<lambda>@7"
    assert evaluate.lambda_alias("train.build", script) is None
    assert evaluate.lambda_alias("other.<lambda>@7", script) is None
    notebook = tmp_path / "demo.ipynb"
    cells = [
        {"cell_type": "code", "source": ["import keras\n", "from keras import ops"]},
        {"cell_type": "markdown", "source": ["# the model"]},
        {
            "cell_type": "code",
            "source": ["m = keras.Sequential()\n", "m.compile(loss=lambda t, p: ops.mean(p))"],
        },
    ]
    notebook.write_text(json.dumps({"cells": cells, "nbformat": 4, "nbformat_minor": 5}))
    joined = enumerate_github.notebook_source(notebook).splitlines()
    assert "lambda t, p" in joined[3]  # line 4 of the joined code
    assert evaluate.lambda_alias("demo.<lambda>@cell 3:2", notebook) == "demo.<lambda>@4"
