"""Safe fixes, run under real TensorFlow: per-sample output, same mean on an unweighted batch.

TensorFlow is imported by the test that needs it, not when the suite is collected."""

from __future__ import annotations

import ast
import functools
import importlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import copy_case, run_cli

pytestmark = [pytest.mark.slow, pytest.mark.runtime]

# How to obtain each loss with a safe fix in fixtures/keras_project, given its module.
LOSSES: dict[str, Callable[[Any], Callable[..., Any]]] = {
    "mlproj.losses.custom_mean_squared_error": lambda m: m.custom_mean_squared_error,
    "mlproj.losses.bce_outer_mean": lambda m: m.bce_outer_mean,
    "mlproj.losses.row_error": lambda m: m.row_error,
    "mlproj.losses.focal_loss.<locals>.focal_loss_fixed": lambda m: m.focal_loss(gamma=2.0),
    "mlproj.losses.huber_total": lambda m: functools.partial(m.huber_total, delta=2.0),
    "mlproj.losses.CustomMSE.call": lambda m: m.CustomMSE(regularization_factor=0.2).call,
    "mlproj.losses.<lambda>@91": lambda m: m.keras_ops_mae,
    "mlproj.metrics.binary_accuracy_batch": lambda m: m.binary_accuracy_batch,
}
SHAPES = [(5, 7), (5, 4, 4, 3)]


def _import_tree(root: Path) -> dict[str, Any]:
    for name in [m for m in sys.modules if m == "mlproj" or m.startswith("mlproj.")]:
        del sys.modules[name]
    sys.path.insert(0, str(root))
    try:
        return {name: importlib.import_module(f"mlproj.{name}") for name in ("losses", "metrics")}
    finally:
        sys.path.remove(str(root))


def _lambda_from(tf: Any, path: Path, line: int) -> Callable[..., Any]:
    tree = ast.parse(path.read_text())
    node = next(n for n in ast.walk(tree) if isinstance(n, ast.Lambda) and n.lineno == line)
    return eval(compile(ast.Expression(node), str(path), "eval"), {"tf": tf})


def _inputs(tf: Any, shape: tuple[int, ...], binary: bool) -> tuple[Any, Any]:
    rng = np.random.default_rng(sum(shape))
    y_true = rng.uniform(0.05, 0.95, size=shape).astype("float32")
    if binary:
        y_true = (y_true > 0.5).astype("float32")
    y_pred = rng.uniform(0.05, 0.95, size=shape).astype("float32")
    return tf.constant(y_true), tf.constant(y_pred)


def test_every_safe_fix_is_per_sample_and_keeps_the_mean(tmp_path: Path) -> None:
    tf = pytest.importorskip("tensorflow")
    original_root = copy_case("keras_project", tmp_path / "original")
    fixed_root = copy_case("keras_project", tmp_path / "fixed")
    findings = json.loads(run_cli(["--format", "json", "."], fixed_root).stdout)
    safe = {
        (f["function"], f["filename"], f["location"]["row"])
        for f in findings
        if f["fix"] is not None and f["fix"]["applicability"] == "safe"
    }
    assert run_cli(["--fix", "."], fixed_root).exit_code == 1  # unsafe and unfixable ones remain

    originals, fixed = _import_tree(original_root), _import_tree(fixed_root)
    checked = set()
    for function, _filename, _row in sorted(safe):
        if function.startswith("train."):
            line = int(function.rsplit("@", 1)[1])
            before = _lambda_from(tf, original_root / "train.py", line)
            after = _lambda_from(tf, fixed_root / "train.py", line)
        else:
            module = function.split(".")[1]
            before = LOSSES[function](originals[module])
            after = LOSSES[function](fixed[module])
        for shape in SHAPES:
            y_true, y_pred = _inputs(
                tf, shape, binary="accuracy" in function or "focal" in function
            )
            old = before(y_true, y_pred)
            new = after(y_true, y_pred)
            assert old.shape.rank == 0 or old.shape[0] != shape[0], (
                f"{function}: the original was not batch-reduced"
            )
            assert new.shape.rank >= 1 and new.shape[0] == shape[0], (
                f"{function}: {new.shape} is not per-sample"
            )
            np.testing.assert_allclose(
                float(tf.reduce_mean(new)), float(tf.reduce_mean(old)), rtol=1e-5, err_msg=function
            )
        checked.add(function)
    assert checked == set(LOSSES) | {f for f, _, _ in safe if f.startswith("train.")}
