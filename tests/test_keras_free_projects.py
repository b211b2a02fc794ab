"""A project none of whose files speaks Keras: its loss-shaped functions are not Keras losses.

TensorFlow 1 toolkits, Estimator `model_fn`s and plain TensorFlow code name their losses
`(logits, labels)` or `(true, predicted)` too; when no file of the project names Keras (nor
TensorFlow beside a prediction named `y_pred`, as Keras' documentation names it), nothing
gives those functions to Keras,
and their scalars are right. The fixture `fixtures/keras_free_project` is such a project (its
golden findings are empty); these tests show what turns the findings back on.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from conftest import FIXTURES, run_cli

SMAPE = "toolkit/losses.py:22:18: LL001"


def _toolkit(tmp_path: Path) -> Path:
    root = tmp_path / "toolkit_project"
    shutil.copytree(
        FIXTURES / "keras_free_project", root, ignore=shutil.ignore_patterns("expected")
    )
    return root


def test_a_keras_free_project_reports_no_loss_found_by_its_names(tmp_path: Path) -> None:
    root = _toolkit(tmp_path)
    result = run_cli(["--no-cache", "."], cwd=root)
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "All checks passed!" in result.stderr
    # never silent: the functions held back are counted, with how to check them
    # (`smape`; `balanced_crossentropy` is a custom loop's objective anyway)
    assert "note: 1 loss-shaped function not checked: no file of this project names Keras" in (
        result.stderr
    )


def test_one_file_naming_keras_turns_the_findings_on_and_the_cache_follows(
    tmp_path: Path,
) -> None:
    root = _toolkit(tmp_path)
    assert run_cli(["."], cwd=root).exit_code == 0  # fills the cache
    train = root / "toolkit" / "train.py"
    train.write_text("from tensorflow import keras\n\nMODEL = keras.Sequential()\n")
    found = run_cli(["."], cwd=root)
    assert found.exit_code == 1
    assert found.stdout.startswith(SMAPE)
    # only the Keras-free toolkit's own file linted: the project decides, not the file
    alone = run_cli(["toolkit/losses.py"], cwd=root)
    assert alone.stdout.startswith(SMAPE)
    train.write_text("import tensorflow as tf\n\nSTEP = tf.Variable(0)\n")
    assert run_cli(["."], cwd=root).stdout == ""


def test_a_prediction_named_as_keras_names_it_keeps_the_finding(tmp_path: Path) -> None:
    root = _toolkit(tmp_path)
    (root / "toolkit" / "metrics.py").write_text(
        "import tensorflow as tf\n\n\n"
        "def mae(y_true, y_pred):\n"
        "    return tf.reduce_mean(tf.abs(y_true - y_pred))\n"
    )
    result = run_cli(["--no-cache", "."], cwd=root)
    assert "toolkit/metrics.py:5:12: LL001" in result.stdout
    assert SMAPE in result.stdout  # the project now speaks Keras


def test_a_numpy_and_scikit_learn_project_naming_y_pred_is_no_keras_project(
    tmp_path: Path,
) -> None:
    """scikit-learn's documentation names predictions `y_pred` too: in a project that never
    names TensorFlow nor Keras, a NumPy `rmse(y_true, y_pred)` is an evaluation metric (held
    back, and counted); the same file beside TensorFlow is reported."""
    root = tmp_path / "ridge_project"
    root.mkdir()
    (root / "pyproject.toml").write_text("[project]\nname = 'ridge'\n")
    (root / "metrics.py").write_text(
        "def rmse(y_true, y_pred):\n    return (((y_true - y_pred) ** 2).mean()) ** 0.5\n"
    )
    (root / "fit.py").write_text(
        "from sklearn.linear_model import Ridge\n\nfrom metrics import rmse\n\n"
        "y_pred = Ridge().fit([[0.0], [1.0]], [0.0, 1.0]).predict([[2.0]])\n"
        "print(rmse([2.0], y_pred))\n"
    )
    quiet = run_cli(["--no-cache", "."], cwd=root)
    assert (quiet.exit_code, quiet.stdout) == (0, "")
    assert "note: 1 loss-shaped function not checked" in quiet.stderr
    (root / "fit.py").write_text("import tensorflow as tf\n\ny_pred = tf.zeros(3)\n")
    found = run_cli(["--no-cache", "."], cwd=root)
    assert "metrics.py:2:13: LL001" in found.stdout


def test_a_file_outside_any_project_is_still_reported(tmp_path: Path) -> None:
    lone = tmp_path / "lone"
    lone.mkdir()
    source = (FIXTURES / "keras_free_project" / "toolkit" / "losses.py").read_text()
    (lone / "losses.py").write_text(source)
    result = run_cli(["--no-cache", "losses.py"], cwd=lone)
    assert result.exit_code == 1
    assert "losses.py:22:18: LL001" in result.stdout


def test_spellings_the_project_configures_are_losses_wherever_they_are(tmp_path: Path) -> None:
    root = _toolkit(tmp_path)
    (root / "pyproject.toml").write_text(
        '[project]\nname = "toolkit"\n\n[tool.losslint]\nloss-arg-names = [["true", "predicted"]]\n'
    )
    result = run_cli(["--no-cache", "."], cwd=root)
    assert result.stdout.startswith(SMAPE)
