"""The classes of research code the GitHub corpus taught: each found (or left alone) as a class.

The fixture project `fixtures/research_patterns` holds one file per class, with golden findings
(`expected/`); these tests state what each class must and must not do.
"""

from __future__ import annotations

import json
from pathlib import Path

from conftest import copy_case, run_cli


def _findings(root: Path, *args: str) -> dict[str, dict[str, object]]:
    result = run_cli(["--format", "json", "--no-cache", *args, "."], root)
    return {str(f["function"]): f for f in json.loads(result.stdout)}


def test_each_class_is_found(tmp_path: Path) -> None:
    root = copy_case("research_patterns", tmp_path)
    found = _findings(root)
    expected = {
        "plain_class.SegmentationLosses.dice_loss",  # a method calling a sibling through self
        "plain_class.SegmentationLosses.mean_abs",  # any method name
        "plain_class.Trainer.squared",  # compile(loss=self.squared)
        "spellings.masked_loss",  # (real, pred)
        "metric_objects.iou_loss",  # module-level Metric object
        "metric_objects.AccuracyPenalty.call",  # Metric object built in __init__
        "metric_objects.error_loss",  # a project Metric subclass, inline
        "collected.multi_channel_dice",  # per-channel scalars stacked
        "combinators.Sum.__call__",  # parts known at the construction site
        "branches.huber_like",  # robust=True only
        "custom_loop.shared_mse",  # compiled, and a loop objective
        "arrays.psnr",  # NumPy
        "arrays.jax_mse",  # JAX's NumPy
        "arrays.rmse",  # scikit-learn's metric: one value for all samples
        "fallbacks.root_mean_squared_error",  # defined in an `except ImportError:` fallback
        "arrays.per_class_iou",  # per-class scores written into an array
        "arrays.iou.<locals>.f",  # run through tf.numpy_function; `.sum()` methods
        "layers.MaximumEntropyMarkovModel.basic_loss",  # loss methods of a Keras layer
        "reshapes.per_class_dice",  # reshaped to (-1, 4), then summed over the rows
        "reshapes.pixel_crossentropy",  # reshaped to (n * h * w, q), then mean of the rows
        "reshapes.masked_bce",  # x[mask] with a mask of every axis: one flat axis
        "unknown_rank.volume_dice",  # axis=[-3, -2, -1] of unknown rank, then axis=[0, 1]
        "choices.make_loss.<locals>.loss",  # one of the losses a factory may return
        "choices.warmup_loss",  # tf.cond of two batch-reduced branches
        "contractions.agreement",  # einsum("ij,ij->"): the batch letter summed away
        "contractions.flat_hinge",  # tensordot of two flattened batches
        "choices.stage_losses.<locals>._euclidean",  # dict.fromkeys(keys, loss) compiled
        "choices.head_losses.<locals>._absolute",  # dict(boxes=loss, classes=loss) compiled
        "graph_metrics.abs_error",  # graph-mode module, but compiled elsewhere
        "spellings.short_bce",  # (y, p)
        "spellings.flat_hinge",  # (logits, labels)
        "loop_script.smooth_l1",  # a custom-loop script's function, compiled elsewhere
        "counting.pixel_accuracy",  # np.bincount through a helper; `.flatten()`, `.reshape`
        "counting.class_iou",  # tf.math.confusion_matrix
        "tf_numpy.smape",  # tnp.nanmean
        "tf_numpy.mae",  # tf.experimental.numpy.mean
        "warmup_terms.Detector.detection_loss",  # ratio terms under tf.cond
        "alternative_constructors.build_losses.<locals>.total",  # Loss objects from from_config
        "prefixed_spellings.keypoint_loss",  # (y_gt, y_pr): (gt, pr) with the `y_` prefix
        "factory_call_sites.wrap_streaming_metric.<locals>.metric",  # its factory's one call
        "bound_tensors.relativistic_loss",  # partial-bound Keras tensors, K.mean(axis=0)
        "weighted_losses.RankHinge.call",  # compute_weighted_loss, self.reduction from __init__
        "gradient_penalty.l1_loss",  # K.gradients in a sibling loss makes no training loop
        "gradient_penalty.gradient_penalty_loss",
        "normalised_options.token_error",  # default "mean" through `(reduction or "mean").lower()`
        "weighted_reduction.weighted_bce",  # a `weight` coefficient: still a loss
        "snippet_solution.perplexity",  # `np` never imported: a `%load`ed snippet's NumPy
        "keras2_paths.flat_bce",  # `keras.objectives.binary_crossentropy` of flattened batches
        "keras2_paths.mean_error",  # `keras.backend.tensorflow_backend.mean`
        "zipped_terms.weighted_terms",  # sum(w * t for w, t in zip(WEIGHTS, terms))
        "zipped_terms.enumerated_terms",  # for i, term in enumerate(terms)
        "redefined.nll",  # the definition before the compile site, not the later one
        "tf_internals.squared_error",  # tensorflow.python.ops.math_ops
        "token_spellings.wasserstein_loss",  # (trueY, predY): the words of (true, pred)
        "token_spellings.hamming_loss",  # (true_targets, predictions)
        "token_spellings.ssim_loss",  # (gt, y_pred): the words of (gt, pred)
        "token_spellings.coverage",  # (y_t, y_p): (yt, yp) spelled with an underscore
        "keras3_bases.StateLoss.call",  # keras.Loss is keras.losses.Loss
        "stacked_lists.mean_of_everything",  # reduce_mean([a, b]): the terms and the samples
        "stacked_lists.summed_terms",  # add_n adds its list's tensors; then reduce_sum
        "absorbed_terms.dice_coeff",  # another loss's term (its fix is unsafe)
        "absorbed_terms.mean_error",
        "function_wrappers.mae_all",  # MeanMetricWrapper(mae_all, name=...)
        "function_wrappers.l1_all",  # LossFunctionWrapper(l1_all)
        "passed_losses.yolo_loss.<locals>.yolo_loss_fn",  # build(model, yolo_loss(5.0))
        "passed_losses.mean_gap",  # build(..., metric=mean_gap)
        "loop_metrics.batch_error",  # compiled, and printed by a custom-loop script
        "tf1_spellings.q_huber",  # TensorFlow 1's `tf.losses.huber_loss`: a scalar
        "tf1_spellings.backend_tf_mse",  # `K.tf.reduce_mean`: Keras 2's `keras.backend.tf`
        "host_values.smape_tensor",  # the tensor twin of an evaluation helper
        "forwarded_compile.forwarded_mae",  # a model's own `compile` passes `loss` on
        "checked_metrics.overlap_loss",  # (with overlap_score, which a test module checks)
        "weight_forwarding.unweighted_mae",  # `sample_weight` only refused, never applied
        "callable_metrics.Recall.__call__",  # a metric by its class's names (LL004)
        "callable_metrics.sensitivity",  # a metric by its name (LL004)
        "keras2_positional.abs_gap",  # Keras 2's compile(optimizer, loss, [metrics])
        "shared_helper.relation_gap",  # called by other code: its fix is unsafe
        "named_outputs.nll_from_outputs",  # y_pred["mu"]: one named output, still a batch
        "weighted_calls.WeightedMae.call",  # Keras' own __call__ never passes the weights
        "wrapper_subclass.pairwise_margin_loss",  # super().__init__(fn) of a wrapper subclass
        "bound_wrappers.squared_gap",  # LossFunctionWrapper(fn) bound to a name, compiled
        "default_losses.pinball",  # `loss or pinball` with loss=None, compiled
        "default_losses.smape",  # `metrics or ["mae", smape]`: a metric (LL004)
    }
    assert set(found) == expected
    assert found["plain_class.Trainer.squared"]["evidence"].startswith("compiled at")
    # `from_config(config)` takes no `reduction`: no fix is offered at such a constructor
    assert found["alternative_constructors.build_losses.<locals>.total"]["fix"] is None
    # the compiled definition is the one above the compile site (row 9), not the later one
    assert found["redefined.nll"]["location"]["row"] == 9
    assert found["callable_metrics.Recall.__call__"]["code"] == "LL004"
    assert found["callable_metrics.sensitivity"]["code"] == "LL004"
    assert found["default_losses.smape"]["code"] == "LL004"
    # a named output is no sample picked from the batch: nothing compares samples here
    assert "by design" not in str(found["named_outputs.nll_from_outputs"]["message"])
    assert found["keras2_positional.abs_gap"]["evidence"].startswith("compiled as a metric")


def test_loss_call_override_and_per_sample_code_are_left_alone(tmp_path: Path) -> None:
    root = copy_case("research_patterns", tmp_path)
    found = _findings(root)
    for quiet in (
        "loss_call.ScaledMSE.__call__",  # reducing is Loss.__call__'s contract
        "loss_call.SourceSum.__call__",  # the base spelled `keras.src.losses.loss.Loss`
        "plain_class.SegmentationLosses.per_pixel",
        "spellings.hat_loss",
        "collected.per_sample_channels",
        "combinators.Weighted.__call__",  # Weighted(bce, 0.5); Weighted(unknown_loss, 0.5)
        "branches.compiled_with_default",  # its compile site keeps batch_mean=False
        "custom_loop.loss_fn",  # only a loop objective
        "custom_loop.GAN.generator_objective",  # what train_step returns
        "custom_loop.passed_objective",  # given to a function whose loop calls it
        "custom_loop.kl_term",  # add_loss
        "custom_loop.layer_loss",  # computed by a Lambda layer
        "arrays.per_row",
        "layers.MaximumEntropyMarkovModel.per_token",
        "torch_losses.Dice.loss",  # a PyTorch module's losses are scalars by contract
        "torch_losses.mse",
        "reshapes.pixel_scores",  # the reshaped rows returned: not known to be reduced
        "reshapes.back_to_samples",  # reshaped back to (batch, -1) before reducing
        "unknown_rank.per_volume_dice",  # axis=-1 after those: channels or batch, unknown
        "contractions.per_sample_agreement",  # einsum("bi,bi->b")
        "contractions.similarity",  # einsum("ij,kj->ik"): batch-level by design, not reduced
        "registry_loop.dice_objective",  # loop objectives taken from a registry dict
        "registry_loop.l1_objective",
        "registry_loop.hinge_objective",  # ... and from a factory returning one of several
        "registry_loop.squared_objective",
        "graph_loops.content_loss",  # K.gradients(loss, image): a graph-mode objective
        "graph_loops.style_loss",
        "graph_loops.reconstruction_loss",  # TF1 optimizer.compute_gradients
        "graph_loops.critic_loss",  # Keras 2 optimizer.get_updates(loss=...)
        "graph_loops.jax_loss",  # jax.grad of a nested objective
        "graph_loops.agreement_score",  # a layer's add_metric value
        "graph_metrics.smape",  # TF1 graph-mode module without Keras: a fetched metric
        "loop_script.l2_loss",  # a helper of a script that trains with its own loop
        "objective_terms.sequence_nll",  # a term of a train step's objective, in another file
        "objective_terms.margin_loss",
        "prefixed_spellings.keypoint_error",
        "layer_terms.BoxLoss.call",  # a Keras layer's forward pass: its term goes to add_loss
        "bound_tensors.feature_gap",  # axis=-1 of the bound tensors: one value per sample
        "weighted_losses.PerSampleHinge.call",  # reduction=Reduction.NONE reaches the base
        "normalised_options.TokenError.call",  # reduction="None", lower-cased: no reduction
        "weighted_reduction.weighted_objective.<locals>.weighted",  # requires `weights`
        "keras2_paths.per_sample_bce",
        "zipped_terms.per_sample_terms",
        "redefined.gap",  # compiled per-sample; its reducing redefinition comes after
        "jax_objective.nll",  # jax.grad of a module-level function
        "tf_internals.per_sample_error",
        "token_spellings.scaled_mean",  # (y_train, p_value): letters of (y, p), not words
        "token_spellings.check",  # (y_pred, y_true): reversed, a helper's order
        "token_spellings.pose_error",  # (pose_true, pose_pred): `pose` is no loss word
        "function_wrappers.scaled_error",  # the wrapper passes per_sample=True on to it
        "filled_logs.wasserstein_score",  # logs.update({...: score}) returned by train_step
        "filled_logs.critic_gap",  # logs["gap"] = critic_gap(...)
        "attribute_losses.surface_loss",  # self.loss_fn set in create_model, a tape's objective
        "attribute_losses.boundary_loss",
        "loop_metrics.real_acc",  # printed by a custom-loop script that imports it
        "nested_objective.Translator.compile.<locals>.get_loss",  # a nested add_loss term
        "stacked_lists.shifted_accuracy",  # equal(p, [t - 1, t, t + 1]), then axis 0: the list
        "stacked_lists.mean_of_terms",  # reduce_mean([a, b], axis=0): the terms, per sample
        "tf1_spellings.box_huber",  # TF1 loss with reduction=Reduction.NONE: per element
        "tf1_spellings.box_l1",  # ... and with reduction="none"
        "host_values.smape_score",  # float(...): cannot run inside `fit`
        "host_values.accuracy_check.<locals>.check",  # metric.result().numpy()
        "overridden_compile.edge_loss",  # a model's own `compile` keeps it for train_step
        "overridden_compile.pixel_loss",  # ... given by another keyword it keeps
        "constructor_objective.recon_loss",  # given to the model's constructor
        "imported_trainer.feature_loss",  # ... of a model class imported from another module
        "step_only_compile.denoise_loss",  # compile(optimizer=...) only: a loop script
        "evaluation_np.iou_np",  # NumPy only, in a module without TensorFlow or Keras
        "evaluation_np.auc_score",  # scikit-learn's metric there
        "evaluation_np.pixel_accuracy",  # an array's own `.mean()` there
        "weight_forwarding.total_loss",  # passes Keras' sample_weight on: the reduction itself
        "named_outputs.per_sample_nll",
        "mapped_helpers.image_score",  # tf.map_fn applies it to each image (in a lambda)
        "mapped_helpers.pair_error",  # vectorized_map applies it to each pair
        "mapped_helpers.per_image_loss",  # the map keeps the batch axis
        "weighted_calls.GroupGap.call",  # its own __call__ hands call the weights it applies
    ):
        assert quiet not in found


def test_a_factory_returning_one_of_several_losses_reports_the_reducing_one(
    tmp_path: Path,
) -> None:
    """`compile(loss=make_loss(name))` whose branches return different functions: each is
    analysed; the finding lands in the reducing one's helper, the per-sample one is quiet."""
    root = copy_case("research_patterns", tmp_path)
    finding = _findings(root)["choices.make_loss.<locals>.loss"]
    assert finding["location"] == {"row": 8, "column": 12}  # smooth_l1's K.mean
    assert str(finding["evidence"]).startswith("returned by `make_loss(name)`, compiled at")
    lines = run_cli(["--no-cache", "choices.py"], root).stdout.splitlines()
    assert [line.split(": ")[0] for line in lines if "LL00" in line] == [
        "choices.py:8:12",
        "choices.py:30:13",
        "choices.py:40:16",
        "choices.py:47:16",
    ]


def _package(root: Path, *names: str) -> Path:
    """Nested packages `root/a/b/c`, each with an empty `__init__.py`; returns the innermost."""
    folder = root
    for name in names:
        folder = folder / name
        folder.mkdir(exist_ok=True)
        (folder / "__init__.py").write_text("")
    return folder


def test_keras_own_base_classes_when_keras_or_tf_keras_sources_are_linted(
    tmp_path: Path,
) -> None:
    """Linting Keras' sources: `keras.src.losses.loss.Loss` is the Loss base, whose `__call__` may reduce."""
    package = _package(tmp_path, "keras", "src", "losses")
    (package / "loss.py").write_text(
        "class Loss:\n"
        "    def __call__(self, y_true, y_pred, sample_weight=None):\n"
        "        return self.call(y_true, y_pred)\n"
    )
    (tmp_path / "keras" / "src" / "helper.py").write_text(
        "from keras.src import ops\n"
        "from keras.src.losses.loss import Loss\n\n\n"
        "class SumLoss(Loss):\n"
        "    def __call__(self, y_true, y_pred, sample_weight=None):\n"
        "        return ops.sum(y_pred)\n\n\n"
        "class Plain:\n"
        "    def __call__(self, y_true, y_pred):\n"
        "        return ops.sum(y_pred)\n\n\n"
        "def train(model):\n"
        "    model.compile(loss=SumLoss())\n"
        "    model.compile(loss=Plain())\n"
    )
    # tf_keras' sources: Metric subclasses defined there, whose `update_state` is never a loss
    metrics = _package(tmp_path, "tf_keras", "src", "metrics")
    (metrics / "base_metric.py").write_text(
        "import tensorflow as tf\n\n\n"
        "class Metric:\n"
        "    pass\n\n\n"
        "class Mean(Metric):\n"
        "    def update_state(self, y_true, y_pred, sample_weight=None):\n"
        "        return tf.reduce_sum(y_true - y_pred)\n"
    )
    found = _findings(tmp_path)
    assert set(found) == {"keras.src.helper.Plain.__call__"}


def test_numpy_function_and_layer_losses_list_every_loss(tmp_path: Path) -> None:
    root = copy_case("research_patterns", tmp_path)
    found = _findings(root)
    assert "arrays.iou" in found["arrays.iou.<locals>.f"]["losses"]
    sparse = found["layers.MaximumEntropyMarkovModel.basic_loss"]["losses"]
    assert "layers.MaximumEntropyMarkovModel.sparse_loss" in sparse


def test_a_batch_level_term_is_off_by_default_and_ll102_when_selected(tmp_path: Path) -> None:
    """`self.bce(y_true, y_pred) + dice_per_image`: the loss keeps the batch axis, one term
    does not: not a batch-reduced loss (LL002), but LL102 when asked for."""
    root = copy_case("keras_project", tmp_path)
    default = run_cli(["--no-cache", "."], root).stdout
    assert "segmentation.py:58" not in default
    selected = run_cli(["--no-cache", "--extend-select", "LL102", "."], root).stdout
    assert "mlproj/segmentation.py:58:16: LL102 loss `BCEDiceLoss.call` adds a" in selected


def test_a_non_default_branch_names_its_condition(tmp_path: Path) -> None:
    root = copy_case("research_patterns", tmp_path)
    finding = _findings(root)["branches.huber_like"]
    assert "when robust=True" in str(finding["message"])
    assert finding["location"] == {"row": 10, "column": 16}  # the reduction in that branch


def test_fix_never_touches_a_custom_loop_objective(tmp_path: Path) -> None:
    root = copy_case("research_patterns", tmp_path)
    before = (root / "custom_loop.py").read_text()
    run_cli(["--fix", "."], root)
    assert (root / "custom_loop.py").read_text() == before  # the shared one's fix is unsafe
    run_cli(["--fix", "--unsafe-fixes", "."], root)
    after = (root / "custom_loop.py").read_text()
    objective = (
        "def loss_fn(y_true, y_pred):\n    return tf.reduce_mean(tf.square(y_true - y_pred))\n"
    )
    assert objective in before and objective in after
    assert "return tf.reduce_mean(tf.abs(real - pred))" in after  # train_step's objective
    shared = _findings(root)
    assert "custom_loop.shared_mse" not in shared


def test_shared_objective_fix_is_unsafe_and_says_why(tmp_path: Path) -> None:
    root = copy_case("research_patterns", tmp_path)
    finding = _findings(root)["custom_loop.shared_mse"]
    assert finding["fix"]["applicability"] == "unsafe"
    assert "custom training loop's objective" in str(finding["message"])


def test_a_loss_another_loss_absorbs_as_a_term_gets_an_unsafe_fix(tmp_path: Path) -> None:
    """`loss` subtracts `log(dice_coeff(...))` from a per-pixel value: a per-sample
    `dice_coeff` would no longer broadcast there, so `--fix` leaves it alone; a wrapper that
    returns what it calls keeps the called loss's fix safe."""
    root = copy_case("research_patterns", tmp_path)
    found = _findings(root)
    absorbed = found["absorbed_terms.dice_coeff"]["fix"]
    assert isinstance(absorbed, dict) and absorbed["applicability"] == "unsafe"
    assert "other code uses the scalar `dice_coeff` returns" in absorbed["message"]
    returned = found["absorbed_terms.mean_error"]["fix"]
    assert isinstance(returned, dict) and returned["applicability"] == "safe"
    before = (root / "absorbed_terms.py").read_text()
    run_cli(["--fix", "."], root)
    after = (root / "absorbed_terms.py").read_text()
    assert "return K.mean((2.0 * inter + 1.0) / (union + 1.0), axis=0)" in before
    assert "return K.mean((2.0 * inter + 1.0) / (union + 1.0), axis=0)" in after
    assert "tf.reduce_mean(tf.abs(y_true - y_pred), axis=-1)" in after


def test_the_text_gate_admits_every_custom_loop_call_the_catalogue_names() -> None:
    """The gate decides from the text which files are parsed for their loops; a loop call the
    catalogue knows but the gate does not would leave its objectives unseen. (`training` calls
    are only read in files parsed for their losses anyway.)"""
    from losslint.analysis.catalogue import load
    from losslint.index.gate import has_loop_sink

    catalogue = load()
    for name in catalogue.objective_calls:
        assert has_loop_sink(f"value = owner.{name}(objective)\n"), name
    for name in catalogue.loop_wrappers:
        assert has_loop_sink(f"layer = module.{name}(function)\n"), name
    for name in catalogue.step_methods:
        assert has_loop_sink(f"class M:\n    def {name}(self, data):\n        pass\n"), name


def test_a_factory_called_more_than_once_binds_no_call(tmp_path: Path) -> None:
    """Only a factory's one call in its module gives its nested loss a closure; with two, the
    nested loss is analysed with the factory's defaults (an unknown `metric_fn`: no finding)."""
    root = copy_case("research_patterns", tmp_path)
    source = (root / "factory_call_sites.py").read_text()
    twice = source + (
        "\n\ndef auc_metric():\n    return wrap_streaming_metric(tf.compat.v1.metrics.auc)\n"
    )
    (root / "factory_call_sites.py").write_text(twice)
    assert "factory_call_sites.wrap_streaming_metric.<locals>.metric" not in _findings(root)


def test_a_model_that_keeps_what_its_own_compile_is_given_is_no_compile_site(
    tmp_path: Path,
) -> None:
    """`upscaler.compile(loss={...})` on a model whose `compile` calls `super().compile()`
    without the loss: Keras never gets it, so its loss is no compiled loss and, used by the
    model's own `train_step`, not a finding at all; an override that passes `loss` on keeps
    the compile site."""
    root = copy_case("research_patterns", tmp_path)
    found = _findings(root)
    assert found["forwarded_compile.forwarded_mae"]["evidence"].startswith("compiled at")
    source = (root / "overridden_compile.py").read_text()
    forwarding = source.replace("super().compile()", "super().compile(loss=loss)")
    (root / "overridden_compile.py").write_text(forwarding)
    edge = _findings(root)["overridden_compile.edge_loss"]
    assert str(edge["evidence"]).startswith("compiled at overridden_compile.py:")


def test_a_host_value_helper_keeps_its_finding_once_compiled(tmp_path: Path) -> None:
    """An evaluation helper returning `float(...)` is left alone for its parameter names only;
    a compile site still makes it a loss Keras calls."""
    root = copy_case("research_patterns", tmp_path)
    source = (root / "host_values.py").read_text()
    (root / "host_values.py").write_text(
        source + "\n\nMODEL = tf.keras.Sequential()\nMODEL.compile(loss=smape_score)\n"
    )
    assert "host_values.smape_score" in _findings(root)


def test_a_test_module_taking_a_gradient_does_not_train_with_what_it_calls(
    tmp_path: Path,
) -> None:
    """test_checked_metrics.py calls `overlap_score` and takes a gradient of something else:
    a test checks what it calls, so `overlap_score` keeps its finding; the same module under
    another name is a training script, whose imported calls are its loop's helpers."""
    root = copy_case("research_patterns", tmp_path)
    losses = _findings(root)["checked_metrics.overlap_loss"]["losses"]
    assert "checked_metrics.overlap_score" in losses
    (root / "test_checked_metrics.py").rename(root / "checked_training.py")
    losses = _findings(root)["checked_metrics.overlap_loss"]["losses"]
    assert "checked_metrics.overlap_score" not in losses


def test_a_numpy_evaluation_helper_is_a_loss_once_compiled_or_beside_tensorflow(
    tmp_path: Path,
) -> None:
    """`iou_np` (NumPy only, in a module that imports neither TensorFlow nor Keras) is left
    alone for its parameter names; a compile site elsewhere, or TensorFlow imported beside
    it, makes it a loss to report (arrays.psnr is such a NumPy twin)."""
    root = copy_case("research_patterns", tmp_path)
    assert "arrays.psnr" in _findings(root)
    (root / "train_np.py").write_text(
        "import tensorflow as tf\nfrom evaluation_np import iou_np\n\n"
        "MODEL = tf.keras.Sequential()\nMODEL.compile(loss=iou_np)\n"
    )
    assert "evaluation_np.iou_np" in _findings(root)
    (root / "train_np.py").unlink()
    source = (root / "evaluation_np.py").read_text()
    (root / "evaluation_np.py").write_text("import tensorflow as tf\n" + source)
    assert "evaluation_np.iou_np" in _findings(root)


def test_a_helper_other_code_calls_gets_an_unsafe_fix(tmp_path: Path) -> None:
    """`relation_gap` is found by its names; `distillation` (no loss: it requires weights)
    also calls it on transposed inputs, where a per-sample value would not fit: `--fix`
    leaves it alone, and without that caller the fix is safe."""
    root = copy_case("research_patterns", tmp_path)
    fix = _findings(root)["shared_helper.relation_gap"]["fix"]
    assert isinstance(fix, dict) and fix["applicability"] == "unsafe"
    assert "other code uses the scalar `relation_gap` returns" in fix["message"]
    source = (root / "shared_helper.py").read_text()
    (root / "shared_helper.py").write_text(source.split("\n\n\ndef distillation")[0] + "\n")
    fix = _findings(root)["shared_helper.relation_gap"]["fix"]
    assert isinstance(fix, dict) and fix["applicability"] == "safe"
