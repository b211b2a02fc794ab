"""LL101 dropped-sample-weight on the fixture project `fixtures/dropped_sample_weight`.

Each class of loss that drops (or never receives) its weights is found; each that applies them,
or that Keras never calls with weights, is left alone. The golden findings are in `expected/`.
"""

from __future__ import annotations

import json
from pathlib import Path

from conftest import copy_case, run_cli


def _findings(root: Path, *args: str) -> dict[str, list[dict[str, object]]]:
    result = run_cli(["--format", "json", "--no-cache", *args], root)
    found: dict[str, list[dict[str, object]]] = {}
    for finding in json.loads(result.stdout):
        found.setdefault(str(finding["function"]), []).append(finding)
    return found


def test_each_dropped_weight_is_found_and_the_rest_left_alone(tmp_path: Path) -> None:
    root = copy_case("dropped_sample_weight", tmp_path)
    found = _findings(root, ".")
    assert {f["code"] for fs in found.values() for f in fs} == {"LL101"}
    assert set(found) == {
        "losses.ScaledMSE.__call__",  # super().__call__(y_true, y_pred) leaves it out
        "losses.ClippedMSE.__call__",  # a subclass of a project Loss subclass; never read
        "losses.LoggedBCE.__call__",  # **kwargs never read
        "functions.masked_mse",  # compile(loss=masked_mse)
        "functions.weighted_mae",  # a dict of losses
        "functions.masked_accuracy",  # compile(metrics=[...])
    }
    # left alone: WeightedScaledMSE and ForwardingBCE forward the weights, FocalMSE overrides
    # only `call`, ExplicitWeights applies them itself, unused_weights never reads its
    # parameter, loop_weighted is called by a custom loop (not compiled), PINNED binds the mask
    (masked,) = found["functions.masked_mse"]
    assert masked["location"] == {"row": 8, "column": 32}  # the `mask=None` parameter
    assert "(`compile(loss=masked_mse)` at train.py:10)" in str(masked["message"])
    assert masked["fix"] is None


def test_the_compile_site_names_the_function_when_only_it_is_linted(tmp_path: Path) -> None:
    root = copy_case("dropped_sample_weight", tmp_path)
    found = _findings(root, "train.py")
    (weighted,) = found["functions.weighted_mae"]
    assert weighted["filename"].endswith("train.py")
    assert weighted["message"] == (
        "`compile(loss=weighted_mae)`: `weighted_mae` (functions.py:15) has a `sample_weight`"
        " parameter that Keras never passes (it calls the loss with `(y_true, y_pred)` only),"
        " so it is always `None`"
    )
    # the Loss classes' overrides are reported in their own file only
    assert not any(name.startswith("losses.") for name in found)


def test_ll101_is_off_by_default(tmp_path: Path) -> None:
    root = copy_case("dropped_sample_weight", tmp_path)
    (root / "pyproject.toml").write_text('[project]\nname = "weights"\n')
    assert _findings(root, ".") == {}
    selected = _findings(root, "--extend-select", "LL101", ".")
    assert len([f for fs in selected.values() for f in fs]) == 6


def test_a_noqa_comment_silences_it(tmp_path: Path) -> None:
    root = copy_case("dropped_sample_weight", tmp_path)
    path = root / "functions.py"
    text = path.read_text()
    path.write_text(
        text.replace(
            "def masked_mse(y_true, y_pred, mask=None):",
            "def masked_mse(y_true, y_pred, mask=None):  # noqa: LL101",
        )
    )
    assert "functions.masked_mse" not in _findings(root, ".")


def test_one_file_run_reports_at_the_parameter(tmp_path: Path) -> None:
    """Linting only the loss's file still finds the compile site in the file importing it."""
    root = copy_case("dropped_sample_weight", tmp_path)
    found = _findings(root, "functions.py")
    assert set(found) == {
        "functions.masked_mse",
        "functions.weighted_mae",
        "functions.masked_accuracy",
    }
    assert all(f["filename"].endswith("functions.py") for fs in found.values() for f in fs)


def test_a_loop_objective_note_is_not_added(tmp_path: Path) -> None:
    """A function compiled and also a custom loop's objective: Keras still never passes the
    mask, and the finding says nothing about scalar objectives (that note is for LL001)."""
    (tmp_path / "pyproject.toml").write_text('[tool.losslint]\nextend-select = ["LL101"]\n')
    (tmp_path / "train.py").write_text(
        "import tensorflow as tf\n\n"
        "def masked_mse(y_true, y_pred, mask=None):\n"
        "    error = tf.square(y_true - y_pred)\n"
        "    if mask is not None:\n"
        "        error = error * mask\n"
        "    return tf.reduce_mean(error, axis=-1)\n\n"
        "def build(model):\n"
        '    model.compile(optimizer="adam", loss=masked_mse)\n\n'
        "def train_step(model, optimizer, x, y):\n"
        "    with tf.GradientTape() as tape:\n"
        "        loss = masked_mse(y, model(x))\n"
        "    grads = tape.gradient(loss, model.trainable_variables)\n"
        "    optimizer.apply_gradients(zip(grads, model.trainable_variables))\n"
    )
    (finding,) = _findings(tmp_path, ".")["train.masked_mse"]
    assert finding["code"] == "LL101"
    assert "custom training loop" not in str(finding["message"])
