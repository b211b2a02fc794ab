"""Runtime mode on the project shapes that used to make real code inconclusive, with real
TensorFlow (and tf_keras): `fixtures/runtime_projects/<cause>/`, all run in one CLI process."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from typing import Any

import pytest
from conftest import copy_case

from losslint.runtime import tensorflow_available
from losslint.runtime.bridge import _has_module

pytestmark = [
    pytest.mark.slow,
    pytest.mark.runtime,
    pytest.mark.skipif(not tensorflow_available(), reason="runtime mode needs TensorFlow"),
]


JSON = ("--format", "json", ".")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("projects")
    root = copy_case("runtime_projects", tmp)
    stats = tmp / "stats.json"
    proc = subprocess.run(
        [sys.executable, "-m", "losslint", "--no-cache", "--runtime", "--show-refuted", *JSON],
        cwd=root,
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "NO_COLOR": "1",
            "LOSSLINT_RUNTIME_STATS": str(stats),
            # what a developer's shell may hold: the worker must not see it
            "LOSSLINT_TEST_TOKEN": "s3cr3t",
            "AWS_SECRET_ACCESS_KEY": "s3cr3t",
        },
        timeout=900,
    )
    assert proc.returncode == 1, proc.stderr
    by: dict[str, dict[str, Any]] = {}
    for finding in json.loads(proc.stdout):
        by[finding["function"]] = finding["runtime"]
    return {"by": by, "stderr": proc.stderr, "stats": json.loads(stats.read_text())}


def _confirmed(run: dict[str, Any], function: str) -> dict[str, Any]:
    runtime = run["by"].get(function)
    assert runtime is not None, f"no finding for {function}: {sorted(run['by'])}"
    assert runtime["verdict"] == "confirmed", runtime["detail"]
    assert runtime["reason"] is None
    return runtime


def test_keras2_backend_code_runs_through_the_compatibility_layer(run: dict[str, Any]) -> None:
    """`K.flatten`/`K.sum` do not exist in Keras 3's `keras.backend`."""
    runtime = _confirmed(run, "legacy.losses.dice_loss")
    assert runtime["keras"] == "compat"
    assert runtime["output_shape"] == []


@pytest.mark.skipif(not _has_module("tf_keras"), reason="needs tf-keras (runtime-legacy extra)")
def test_keras2_only_api_runs_under_tf_keras(run: dict[str, Any]) -> None:
    """`keras.losses.Reduction.AUTO` as a default argument: only tf_keras has it."""
    runtime = _confirmed(run, "legacy.losses.WeightedMSE.call")
    assert runtime["keras"] == "tf_keras"
    assert runtime["fix_verified"] is True, runtime["detail"]  # the fix ran under tf_keras too
    assert any(s.get("legacy") for s in run["stats"]["starts"])


@pytest.mark.parametrize(
    "function", ["legacy.old_paths.Tagger.tag_accuracy", "legacy.old_paths.smoothed_crossentropy"]
)
def test_keras2_0_module_paths_run_under_tf_keras(run: dict[str, Any], function: str) -> None:
    """`from keras.engine import Layer`, `from keras.objectives import ...`: the class fails
    on a name its failed import left undefined, and that is traced back to the import."""
    assert _confirmed(run, function)["keras"] == "tf_keras"


def test_a_keras2_class_imported_by_another_module_runs_under_tf_keras(
    run: dict[str, Any],
) -> None:
    """`models.py` imports `Tagger`, whose module failed on `keras.engine`: the failure is
    traced to that import through the class, so the loss is tried under tf_keras."""
    assert _confirmed(run, "tagging.layers.Tagger.tag_accuracy")["keras"] == "tf_keras"


def test_keras3_code_runs_under_keras3(run: dict[str, Any]) -> None:
    assert _confirmed(run, "legacy.losses.keras3_mse")["keras"] == "3"


def test_project_package_named_like_the_standard_library(run: dict[str, Any]) -> None:
    """`code/` (stdlib `code`) importing `utils/` and the real stdlib `types`."""
    runtime = _confirmed(run, "code.losses.weighted_loss")
    assert runtime["output_shape"] == [] and runtime["input_shape"] == [5, 7]


def test_framework_modules_through_kwargs(run: dict[str, Any]) -> None:
    runtime = _confirmed(run, "segkit.functional.jaccard_loss")
    assert any("backend=keras.backend" in a for a in runtime["arguments"]), runtime
    assert runtime["keras"] == "compat"  # `backend.sum` is Keras 2's


def test_framework_modules_as_class_attributes(run: dict[str, Any]) -> None:
    runtime = _confirmed(run, "segkit.losses.SquaredErrorLoss.__call__")
    assert any("_backend" in a for a in runtime["arguments"]), runtime


@pytest.mark.parametrize(
    ("function", "shape"),
    [
        ("losses.split_loss", [5, 8]),  # an even split of the last axis
        ("losses.masked_mse", [5, 7]),  # y_true packs a mask channel
        ("losses.volume_loss", [5, 4, 6, 8, 2]),  # rank 5 only
    ],
)
def test_input_shapes_are_searched(run: dict[str, Any], function: str, shape: list[int]) -> None:
    runtime = _confirmed(run, function)
    assert runtime["input_shape"] == shape
    if function == "losses.masked_mse":
        assert "packed1 labels" in runtime["detail"]


@pytest.mark.parametrize(
    ("function", "arguments"),
    [
        ("losses.CELoss.call", "CELoss(2, 3, name='ce_2_3') (model.py:5)"),  # module-level instance
        ("losses.SmoothL1Loss.call", "SmoothL1Loss(beta=1.0) (searched)"),  # annotation: float
        ("losses.TemperatureLoss.call", "TemperatureLoss(0.5) (`# losslint: args=` hint)"),
        ("losses.make_loss.<locals>.class_loss", "make_loss(num_classes=7) (searched)"),
        ("losses.triplet_loss", "triplet_loss(n=2) (searched)"),  # a parameter of the loss
    ],
)
def test_required_arguments_are_found(run: dict[str, Any], function: str, arguments: str) -> None:
    runtime = _confirmed(run, function)
    assert arguments in runtime["arguments"], runtime["arguments"]
    assert arguments in runtime["detail"]


@pytest.mark.parametrize(
    "function",
    ["deep.nets.heads.losses.head_loss", "losses.flat_loss"],
)
def test_relative_imports_and_names_computed_at_import_time(
    run: dict[str, Any], function: str
) -> None:
    """`from ...common.ops import KERAS_3` (computed from `keras.__version__` and used only by
    an `if` in another module); `from .helpers import ...` in a folder without `__init__.py`."""
    _confirmed(run, function)


@pytest.mark.parametrize("function", ["gan-mnist-2.1.critic_loss", "train-v2.absolute_error"])
def test_scripts_named_like_no_module_are_loaded(run: dict[str, Any], function: str) -> None:
    """`gan-mnist-2.1.py`: its dots are no packages and its hyphens no names."""
    _confirmed(run, function)


def test_a_method_that_never_reads_self_runs_without_an_instance(run: dict[str, Any]) -> None:
    """`WGAN(input_dim, optimisers, z_dim)` cannot be built from literals; `wasserstein` never
    reads `self`, so no constructor is needed; `scaled` reads `self.z_dim`, so it is not run."""
    _confirmed(run, "gan.WGAN.wasserstein")
    assert run["by"]["gan.WGAN.scaled"]["verdict"] == "inconclusive"


def test_label_equality_metrics_get_binary_labels(run: dict[str, Any]) -> None:
    """With 0/1 labels the accuracy is neither 0 nor 1, so "same mean" is a real check."""
    runtime = _confirmed(run, "metrics.binary_accuracy_batch")
    assert "(binary labels)" in runtime["detail"]
    assert runtime["fix_verified"] is True, runtime["detail"]
    mean = float(re.search(r"same mean ([0-9.e-]+)", runtime["detail"]).group(1))
    assert 0.0 < mean < 1.0


def test_worker_sees_no_secrets_and_an_empty_directory(run: dict[str, Any]) -> None:
    """The loss raises if it sees a token-like variable or a non-empty working directory."""
    _confirmed(run, "losses.environment_loss")


def test_a_loss_failing_on_its_second_call_is_reported(run: dict[str, Any]) -> None:
    runtime = run["by"]["losses.second_call_fails"]
    assert runtime["verdict"] == "inconclusive"
    assert runtime["reason"] == "later-call"
    assert "second call on the same batch raised RuntimeError: called twice" in runtime["detail"]
    assert "to run it: " in runtime["detail"]
    # the worker survived: one Keras 3 worker for the whole run (plus tf_keras for WeightedMSE)
    assert sum(1 for s in run["stats"]["starts"] if not s.get("legacy")) == 1


def test_summary_lists_inconclusive_reasons(run: dict[str, Any]) -> None:
    lines = run["stderr"].splitlines()
    index = lines.index("runtime: inconclusive, by reason (what to do):")
    reasons = []
    for line in lines[index + 1 :]:
        if not line.startswith(" "):
            break
        reasons.append(line.split()[:2])
    assert ["1", "later-call"] in reasons
    assert any(line.startswith("runtime probe [1/") for line in lines)
    assert any(line.startswith("runtime fix [1/") for line in lines)


def test_loss_methods_of_a_layer_run_on_the_built_layer(run: dict[str, Any]) -> None:
    """`tagger.sparse_loss` reads the weights `TransitionTagger.build` creates."""
    runtime = _confirmed(run, "tagger.TransitionTagger.sparse_loss")
    assert "layer `TransitionTagger.build((5, 7))` run first" in runtime["arguments"], runtime
    assert runtime["output_shape"] == []


def test_an_error_raised_while_handling_a_shape_error_does_not_end_the_search(
    run: dict[str, Any],
) -> None:
    """On rank 2 the loss's fallback raises AttributeError: rank 3 is still tried."""
    runtime = _confirmed(run, "pairs.pair_loss")
    assert runtime["input_shape"] == [5, 6, 7]


def test_tensorflow1_names_come_from_tf_compat_v1(run: dict[str, Any]) -> None:
    """`tf.to_float` runs as `tf.compat.v1.to_float` in the compatibility layer."""
    runtime = _confirmed(run, "old_losses.log_mse")
    assert runtime["keras"] == "compat"
    assert runtime["fix_verified"] is True, runtime["detail"]


def test_last_axis_size_is_derived_from_the_loss_constant_slices(run: dict[str, Any]) -> None:
    """`tf.split(y_pred, [4, 5])` needs 9 channels; `y_true[..., 4:9]` says so."""
    runtime = _confirmed(run, "rotated.rotated_box_loss")
    assert runtime["input_shape"][-1] == 9


def test_a_batch_split_into_equal_parts_gets_a_batch_that_splits(run: dict[str, Any]) -> None:
    """`tf.shape(y_pred)[0] // 3`: anchors, positives and negatives need a batch of 3k."""
    runtime = _confirmed(run, "triplets.triplet_loss")
    assert runtime["input_shape"][0] % 3 == 0 and runtime["output_shape"] == []


def test_parameters_defaulting_to_none_get_batches_when_none_fails(run: dict[str, Any]) -> None:
    """`relativistic_loss(y_true, y_pred, real=None, fake=None)`, compiled through
    `partial(..., real=D(x), fake=D(G(z)))`: alone it fails on None; with batches it runs."""
    runtime = _confirmed(run, "relativistic.relativistic_loss")
    assert any("real=<a batch like y_pred>" in a for a in runtime["arguments"]), runtime
    assert runtime["output_shape"] == [runtime["input_shape"][-1]]


def test_a_loss_its_factory_renames_is_still_built(run: dict[str, Any]) -> None:
    """`f.__name__ = "Masked MSE"` before `return f`: the factory still returns `f`."""
    runtime = _confirmed(run, "masked.masked_mse_loss.<locals>.f")
    assert runtime["output_shape"] == []


def test_a_loss_nested_in_a_script_function_runs_when_it_closes_over_nothing(
    run: dict[str, Any],
) -> None:
    """`def main(): def identity_loss(...)`: compiled at module level alone, `main` never runs;
    a nested loss reading a local of `main` stays inconclusive."""
    runtime = _confirmed(run, "script.main.<locals>.identity_loss")
    assert runtime["output_shape"] == []
    local = run["by"]["script.main.<locals>.scaled_loss"]
    assert (local["verdict"], local["reason"]) == ("inconclusive", "nested")
    computed = run["by"]["script.evaluate.<locals>.weighted_loss"]  # a default that is a call
    assert (computed["verdict"], computed["reason"]) == ("inconclusive", "nested")


def test_a_tf_function_call_method_runs_on_a_live_instance(run: dict[str, Any]) -> None:
    """`@tf.function def call(self, ...)` of a Loss subclass is a method (an instance is
    built, and kept alive: the bound tf.function holds it only weakly)."""
    assert _confirmed(run, "margins.MarginAccuracy.call")["output_shape"] == []


def test_a_snippet_without_imports_gets_the_conventional_modules(run: dict[str, Any]) -> None:
    """`np.` in a solution file `%load`ed into a notebook: NumPy, as the analysis reads it."""
    assert _confirmed(run, "solution_nll.nll")["output_shape"] == []


def test_import_time_patches_of_the_backend_run_and_are_undone(run: dict[str, Any]) -> None:
    """`K.where = where` and `setattr(K, "clipped_log", ...)` at the top level of an imported
    project module run; a later loss that never imports that module does not see them."""
    runtime = _confirmed(run, "patched_losses.masked_where_loss")
    assert runtime["keras"] == "3" and runtime["output_shape"] == []
    leaked = run["by"]["unpatched_losses.unpatched_where_loss"]
    assert leaked["verdict"] == "inconclusive", leaked["detail"]
    assert "has no attribute 'where'" in leaked["detail"]


def test_several_predictions_per_target_and_list_arguments(run: dict[str, Any]) -> None:
    """`quantiles: List[float]` gets `[0.1, 0.5, 0.9]`, and y_pred has 3 times y_true's channels."""
    runtime = _confirmed(run, "multi_losses.PinballLoss.call")
    assert "PinballLoss(quantiles=[0.1, 0.5, 0.9]) (searched)" in runtime["arguments"], runtime
    assert "(multi3 labels)" in runtime["detail"]


def test_shape_parameters_get_broadcastable_ones(run: dict[str, Any]) -> None:
    runtime = _confirmed(run, "multi_losses.FlowPrior.flow_loss")
    assert any("vol_shape=(1, 1)" in a for a in runtime["arguments"]), runtime


def test_a_missing_name_is_explained_by_its_own_notebook(run: dict[str, Any]) -> None:
    """Two notebooks bind `dist`: one by a loop runtime mode does not run, the other by an
    import that fails here. The loss of the second is told about its own failed import."""
    assert _confirmed(run, "a_evaluation.mse")["output_shape"] == []
    runtime = run["by"]["b_missing_module.nll"]
    assert runtime["verdict"] == "inconclusive" and runtime["reason"] == "import", runtime
    assert "(b_missing_module.ipynb:2) failed to load" in runtime["detail"]
    assert "a_evaluation.ipynb" not in runtime["detail"]


def test_a_factory_choosing_its_loss_by_name_gets_the_names_it_compares_with(
    run: dict[str, Any],
) -> None:
    """`compile(loss=make_loss(args.loss))`: the site cannot be evaluated, and the factory
    returns a loss only for "dice", a literal its body compares its parameter with."""
    runtime = _confirmed(run, "losses.make_loss.<locals>.loss")
    assert "built with make_loss(loss_name='dice') (searched)" in runtime["detail"]


def test_a_numpy_score_function_runs_on_arrays(run: dict[str, Any]) -> None:
    """`.astype()` and `.sum()` are NumPy array methods a tensor lacks: such a function is
    run again on the same values as NumPy arrays."""
    assert _confirmed(run, "scores.energy_error")["output_shape"] == []


def test_the_definition_a_finding_is_about_runs_not_a_later_one(run: dict[str, Any]) -> None:
    """The module's final `nll` is a later, per-sample definition: the earlier one, which the
    compile site uses and the finding is about, is the one run (before, it was refuted)."""
    assert _confirmed(run, "redefined_losses.nll")["output_shape"] == []
