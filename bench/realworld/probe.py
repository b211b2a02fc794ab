"""Execute the functions listed in triage.tsv on synthetic inputs and compare with the triage.

For every row of ``triage.tsv`` that can be imported or reconstructed, the probe builds the
callable the way Keras would call it (a factory's inner function from the factory's default
arguments, a ``Loss`` subclass from its default constructor with ``call`` invoked directly, not
through ``Loss.__call__``), feeds it synthetic inputs with batch size 5 and reports the output
shape. A returned value "keeps the batch axis" when its leading dimension is 5 (no other input
dimension is 5); a scalar or any other leading dimension means the batch axis was lost.

Output, one line per row: package, function, input shape(s), output shape, the runtime verdict,
the triage verdict, and whether they agree. Results also go to ``.cache/probe_results.tsv``.

Usage (see README.md for the environment)::

    python bench/realworld/probe.py                     # every package
    python bench/realworld/probe.py --package keras-unet
    python bench/realworld/probe.py --annotate          # also write "ran: ..." into triage.tsv

Rows are run in one subprocess per (package, Keras flavour): packages written for Keras 2 run
with ``TF_USE_LEGACY_KERAS=1`` (``tf.keras`` is then tf_keras 2.21), the others with Keras 3.
``keras`` and ``tf-keras`` are imported from the installed distributions, which must be the
pinned versions (the probe checks); every other package is imported from
``.cache/src/<name>-<version>/``, with its parent packages created empty so that heavy
``__init__`` modules (model zoos, optional dependencies) are not executed.
"""

from __future__ import annotations

import argparse
import csv
import functools
import importlib
import importlib.util
import json
import os
import re
import subprocess
import sys
import traceback
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from fetch import load_packages, src_dir  # noqa: E402

TRIAGE = HERE / "triage.tsv"
RESULTS = HERE / ".cache" / "probe_results.tsv"
B = 5  # batch size; no other synthetic dimension is 5
RAN_RE = re.compile(r"\s*(;\s*)?ran: [^;]*$")

# --------------------------------------------------------------------------------------------
# Synthetic inputs. Every maker takes a numpy Generator and returns (y_true, y_pred) as numpy.
# --------------------------------------------------------------------------------------------


def _u(rng, *shape):
    return rng.uniform(0.05, 0.95, size=shape).astype("float32")


def _onehot(rng, n, c, extra=()):
    import numpy as np

    idx = rng.integers(0, c, size=(n, *extra))
    return np.eye(c, dtype="float32")[idx]


def _softmax(x, axis=-1):
    import numpy as np

    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return (e / e.sum(axis=axis, keepdims=True)).astype("float32")


def _boxes(rng, *lead):
    """Valid yxyx boxes in [0, 1]."""
    import numpy as np

    a = rng.uniform(0.0, 0.5, size=(*lead, 2))
    b = a + rng.uniform(0.1, 0.5, size=(*lead, 2))
    return np.concatenate([a, b], axis=-1).astype("float32")


def _groups(n=B):
    """Integer labels with every class present at least twice: [0, 0, 1, 1, 1]."""
    import numpy as np

    return np.array([0, 0, 1, 1, 1][:n], dtype="int32")


def _gram_onehot():
    import numpy as np

    return np.eye(2, dtype="float32")[_groups()]


INPUTS: dict[str, Callable[[Any], tuple[Any, Any]]] = {
    # (5, 7) regression / multi-label
    "dense": lambda r: (_u(r, B, 7), _u(r, B, 7)),
    # (5, 7) binary targets, probabilities
    "binary": lambda r: (r.integers(0, 2, size=(B, 7)).astype("float32"), _u(r, B, 7)),
    # one-hot targets over 7 classes, softmax probabilities
    "onehot": lambda r: (_onehot(r, B, 7), _softmax(r.normal(size=(B, 7)))),
    # integer class ids (5,), softmax probabilities (5, 7)
    "sparse": lambda r: (
        r.integers(0, 7, size=(B,)).astype("int32"),
        _softmax(r.normal(size=(B, 7))),
    ),
    # per-pixel masks (5, 8, 8, 2)
    "seg": lambda r: (r.integers(0, 2, size=(B, 8, 8, 2)).astype("float32"), _u(r, B, 8, 8, 2)),
    # binary masks (5, 8, 8, 1)
    "seg1": lambda r: (r.integers(0, 2, size=(B, 8, 8, 1)).astype("float32"), _u(r, B, 8, 8, 1)),
    # one-hot masks over 3 classes (5, 8, 8, 3), softmax probabilities
    "seg_onehot": lambda r: (_onehot(r, B, 3, (8, 8)), _softmax(r.normal(size=(B, 8, 8, 3)))),
    # boxes (5, 4) in yxyx
    "boxes": lambda r: (_boxes(r, B), _boxes(r, B)),
    # 3 boxes per image (5, 3, 4)
    "boxes3": lambda r: (_boxes(r, B, 3), _boxes(r, B, 3)),
    # integer labels with repeats (5,), embeddings (5, 6)
    "embed": lambda r: (_groups(), r.normal(size=(B, 6)).astype("float32")),
    # two views of embeddings (self-supervised losses take (za, zb))
    "views": lambda r: (
        r.normal(size=(B, 6)).astype("float32"),
        r.normal(size=(B, 6)).astype("float32"),
    ),
    # one-hot labels (5, 2) and a batch-by-batch similarity matrix (5, 5)
    "gram": lambda r: (_gram_onehot(), _u(r, B, B)),
    # time series (5, 6, 3)
    "seq": lambda r: (_u(r, B, 6, 3), _u(r, B, 6, 3)),
    # depth maps (5, 8, 8, 1), strictly positive
    "depth": lambda r: (_u(r, B, 8, 8, 1) + 0.5, _u(r, B, 8, 8, 1) + 0.5),
}


# --------------------------------------------------------------------------------------------
# How to obtain each callable.
# --------------------------------------------------------------------------------------------


@dataclass
class Spec:
    inputs: str | Callable[[Any], tuple[Any, Any]] = "dense"
    factory_kwargs: dict = field(default_factory=dict)  # for factory.<locals>.inner
    init_kwargs: dict = field(default_factory=dict)  # for Class.call / Class.__call__
    call_kwargs: dict = field(default_factory=dict)  # extra arguments after (y_true, y_pred)
    get: Callable[[types.ModuleType], Callable] | None = None  # custom acquisition
    numpy: bool = False  # pass numpy arrays instead of tensors
    graph: bool = False  # run inside tf.function (as model.fit does)
    no_run: str = ""  # why the row cannot be executed here


@dataclass
class PackageSetup:
    mode: str  # "k3" (Keras 3) or "k2" (TF_USE_LEGACY_KERAS=1, tf.keras is tf_keras)
    installed: bool = False  # import the installed distribution (keras, tf-keras)
    prepare: Callable[[Path], None] | None = None  # run in the worker before any import
    # parent packages created empty instead of running their __init__ (default: top level)
    synthetic: tuple[str, ...] | None = None


def _stub(name: str, **attrs) -> types.ModuleType:
    m = types.ModuleType(name)
    m.__dict__.update(attrs)
    sys.modules[name] = m
    return m


def _prepare_segmentation_models(root: Path) -> None:
    # segmentation_models' classes receive `backend` etc. through KerasObject.set_submodules,
    # which set_framework() calls; do what set_framework("tf.keras") does, without the model zoo.
    import tensorflow as tf

    objects = _load(root, "segmentation_models/base/objects.py")
    k = tf.keras
    objects.KerasObject.set_submodules(
        backend=k.backend, layers=k.layers, models=k.models, utils=k.utils
    )


def _prepare_segmodels_keras(root: Path) -> None:
    import keras

    objects = _load(root, "segmodels_keras/base/objects.py")
    objects.KerasObject.set_submodules(
        backend=keras.backend, layers=keras.layers, models=keras.models, utils=keras.utils
    )


def _prepare_keras_unet(root: Path) -> None:
    # keras_unet/__init__.py decides between keras and tf.keras at import time and imports
    # its models; only the TF flag is needed by losses/metrics.
    pkg = _stub("keras_unet", TF=True)
    pkg.__path__ = [str(root / "keras_unet")]


def _prepare_yolov2keras(root: Path) -> None:
    # yolov2keras.config keeps the anchors as module globals that yolov2keras.set_config() and
    # set_anchors() fill in; do what they do (5 anchors, 416/32 = 13 grid) without importing the
    # package __init__ (dataset parsing, model zoo).
    import numpy as np
    import tensorflow as tf

    pkg = _stub("yolov2keras")
    pkg.__path__ = [str(root / "yolov2keras")]
    cfg = _load(root, "yolov2keras/config.py")
    anchors = np.array([[1.0, 1.5], [2.0, 2.0], [3.0, 1.0], [0.5, 0.8], [1.2, 2.5]], "float32")
    cfg.anchors = anchors
    cfg.tf_anchors = tf.reshape(tf.constant(anchors), [1, 1, 1, 5, 2])
    cfg.output_size = 416 / 32
    cfg.num_anchors = 5
    pkg.config = cfg
    pkg.utils = _load(root, "yolov2keras/utils/__init__.py")


def _prepare_tfa(root: Path) -> None:
    # tensorflow_addons/utils/types.py imports keras_tensor from `keras.src.engine`, the layout
    # of Keras 2.13-2.15 installed as `keras`; TF 2.21 ships that Keras 2 as tf_keras.
    import tf_keras.src.engine as engine
    import tf_keras.src.engine.keras_tensor as keras_tensor

    sys.modules.setdefault("keras.src.engine", engine)
    sys.modules.setdefault("keras.src.engine.keras_tensor", keras_tensor)


SETUPS: dict[str, PackageSetup] = {
    "keras": PackageSetup("k3", installed=True),
    "tf-keras": PackageSetup("k2", installed=True),
    # keras_cv/src/__init__.py imports every sub-package (datasets need tensorflow_datasets).
    "keras-cv": PackageSetup("k3", synthetic=("keras_cv", "keras_cv.src")),
    "keras-hub": PackageSetup("k3"),
    "tensorflow-addons": PackageSetup("k2", prepare=_prepare_tfa),
    "tensorflow-similarity": PackageSetup("k2"),
    "segmentation-models": PackageSetup("k2", prepare=_prepare_segmentation_models),
    "segmodels-keras": PackageSetup("k3", prepare=_prepare_segmodels_keras),
    "keras-unet-collection": PackageSetup("k2"),
    "keras-unet": PackageSetup("k2", prepare=_prepare_keras_unet),
    "tf-semantic-segmentation": PackageSetup("k2"),
    "focal-loss": PackageSetup("k2"),
    "keras-retinanet": PackageSetup("k2"),
    "keras-swin-unet": PackageSetup("k3"),
    "tf-extra": PackageSetup("k3"),
    "keras-fsl": PackageSetup("k2"),
    # funkeras' rcnn/layers and resnet __init__s import Keras-1/2-only modules (keras.engine,
    # keras.wrappers) for the models, not for the losses.
    "funkeras": PackageSetup(
        "k2", synthetic=("funkeras", "funkeras.models.rcnn.layers", "funkeras.models.resnet")
    ),
    "yolov2keras": PackageSetup("k2", prepare=_prepare_yolov2keras),
}


def _with_backend(name: str, flavour: str):
    """segmentation_models' functional API needs backend=... (its Loss classes pass it)."""

    def get(mod):
        if flavour == "tf.keras":
            import tensorflow as tf

            backend = tf.keras.backend
        else:
            import keras

            backend = keras.backend
        fn = getattr(mod, name)
        return lambda yt, yp: fn(yt, yp, backend=backend)

    return get


# Per-row specs, keyed by (package, path, function); a key with path None matches any path.
S: dict[tuple[str, str | None, str], Spec] = {}


def spec(package: str, function: str, path: str | None = None, **kw) -> None:
    S[(package, path, function)] = Spec(**kw)


def _yolo_inputs(r):
    """YOLOv2 targets (5, 13, 13, 5, 5+3): [conf, x, y, w, h, classes...]."""
    import numpy as np

    t = np.zeros((B, 13, 13, 5, 8), "float32")
    for b in range(B):
        for _ in range(2):
            i, j, a = r.integers(0, 13), r.integers(0, 13), r.integers(0, 5)
            t[b, i, j, a, 0] = 1.0
            t[b, i, j, a, 1:3] = r.uniform(0.1, 0.9, 2)
            t[b, i, j, a, 3:5] = r.uniform(0.5, 3.0, 2)
            t[b, i, j, a, 5 + r.integers(0, 3)] = 1.0
    p = r.normal(size=(B, 13, 13, 5, 8)).astype("float32") * 0.5
    return t, p


def _retina_cls(r):
    import numpy as np

    labels = (r.uniform(size=(B, 9, 3)) > 0.7).astype("float32")
    state = r.integers(-1, 2, size=(B, 9, 1)).astype("float32")
    return np.concatenate([labels, state], -1), _u(r, B, 9, 3)


def _retina_reg(r):
    import numpy as np

    state = r.integers(-1, 2, size=(B, 9, 1)).astype("float32")
    return np.concatenate([_u(r, B, 9, 4), state], -1), _u(r, B, 9, 4)


def _rpn_regr(r):
    # num_anchors=9: y_true (B, H, W, 4*9 valid flags + 4*9 targets), y_pred (B, H, W, 36)
    import numpy as np

    flags = r.integers(0, 2, size=(B, 4, 4, 36)).astype("float32")
    return np.concatenate([flags, _u(r, B, 4, 4, 36)], -1), _u(r, B, 4, 4, 36)


def _rpn_cls(r):

    flags = r.integers(0, 2, size=(B, 4, 4, 18)).astype("float32")
    return flags, _u(r, B, 4, 4, 9)


def _cls_regr(r):
    # num_classes=3: y_true (B, R, 4*3 flags + 4*3 targets), y_pred (B, R, 12)
    import numpy as np

    flags = r.integers(0, 2, size=(B, 6, 12)).astype("float32")
    return np.concatenate([flags, _u(r, B, 6, 12)], -1), _u(r, B, 6, 12)


def _cls_cls(r):
    return _onehot(r, B, 4, (6,)), _softmax(r.normal(size=(B, 6, 4)))


def _ranked(r):
    import numpy as np

    return np.eye(7, dtype="float32")[r.integers(0, 7, B)], _softmax(r.normal(size=(B, 7)))


def _ctc(r):
    # labels (5, 4) in 1..6 (0 is the mask/blank index), logits (5, 9, 7)
    return r.integers(1, 7, size=(B, 4)).astype("int32"), r.normal(size=(B, 9, 7)).astype("float32")


def _ctc_legacy(r):
    # tf_keras/keras legacy ctc_batch_cost: labels (5, 4), softmax output (5, 9, 7), blank=6
    return r.integers(0, 6, size=(B, 4)).astype("int32"), _softmax(r.normal(size=(B, 9, 7)))


def _ragged(kind):
    def make(r):
        import tensorflow as tf

        lengths = [3, 1, 4, 2, 3]
        if kind == "sparse":
            yt = tf.ragged.constant([list(r.integers(0, 4, n)) for n in lengths], dtype=tf.int32)
            yp = tf.ragged.constant(
                [[list(_softmax(r.normal(size=4))) for _ in range(n)] for n in lengths],
                ragged_rank=1,
                dtype=tf.float32,
            )
            return yt, yp
        if kind == "onehot":
            rows_t = [[list(_onehot(r, 1, 4)[0]) for _ in range(n)] for n in lengths]
            rows_p = [[list(_softmax(r.normal(size=4))) for _ in range(n)] for n in lengths]
        else:
            rows_t = [[list(_u(r, 4)) for _ in range(n)] for n in lengths]
            rows_p = [[list(_u(r, 4)) for _ in range(n)] for n in lengths]
        return (
            tf.ragged.constant(rows_t, ragged_rank=1, dtype=tf.float32),
            tf.ragged.constant(rows_p, ragged_rank=1, dtype=tf.float32),
        )

    return make


def _centernet(r):
    # 3 boxes per sample; y_true CENTER_XYZ_DXDYDZ_PHI (7), y_pred 3 + 2*bins + 3 with 4 bins
    import numpy as np

    yt = np.concatenate([_u(r, B, 3, 6), r.uniform(0, 6.28, size=(B, 3, 1)).astype("float32")], -1)
    return yt, r.normal(size=(B, 3, 3 + 8 + 3)).astype("float32")


def _extract(qualname: str, **init_kwargs):
    """Re-create a def/class nested in a test method from its source, in the module's globals.

    Used for test helpers that cannot be reached by calling their enclosing test method; only
    works when the nested code needs nothing from the enclosing function's locals.
    """

    def get(mod):
        import ast
        import inspect

        tree = ast.parse(inspect.getsource(mod))
        names = [p for p in qualname.split(".") if p != "<locals>"]
        want_method = names[-1] in ("call", "__call__")
        target = names[-2] if want_method else names[-1]
        node = next(
            n
            for n in ast.walk(tree)
            if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name == target
        )
        ns = dict(mod.__dict__)
        exec(compile(ast.Module(body=[node], type_ignores=[]), mod.__file__, "exec"), ns)
        obj = ns[target]
        if want_method:
            inst = obj(**init_kwargs)
            return inst if names[-1] == "__call__" else getattr(inst, names[-1])
        return obj

    return get


def _smk_keras2_branch(get):
    """segmodels_keras picks `ops = keras.ops` on Keras 3 and `ops = keras.backend` on Keras 2.
    Some of its functions call ops.epsilon()/ops.pow(), which exist only in the Keras-2
    branch (AttributeError on Keras 3). Run them through that branch: functional.ops is set to
    the Keras-2 backend (tf_keras.backend) for the duration of the call."""

    def wrapped(mod):
        import tf_keras

        fn = get(mod)
        functional = sys.modules["segmodels_keras.base.functional"]

        def call(yt, yp):
            saved = functional.ops
            functional.ops = tf_keras.backend
            try:
                return fn(yt, yp)
            finally:
                functional.ops = saved

        return call

    return wrapped


def _ms_ssim(r):
    # tf.image.ssim_multiscale needs images of at least 176 pixels per side for 5 scales
    return _u(r, B, 176, 176, 2), _u(r, B, 176, 176, 2)


def _np_square(r):
    return r.integers(0, 2, size=(B, 8, 8)).astype("float32"), _u(r, B, 8, 8)


def _hamming(r):
    return r.integers(0, 2, size=(B, 7)).astype("float32"), _u(r, B, 7)


# ---- keras 3 -------------------------------------------------------------------------------
for _bk in ("torch", "openvino"):
    for _fn in (
        "categorical_crossentropy",
        "sparse_categorical_crossentropy",
        "binary_crossentropy",
        "ctc_loss",
    ):
        spec(
            "keras",
            _fn,
            f"keras/src/backend/{_bk}/nn.py",
            no_run=f"the {_bk} backend is not installed in the probe environment",
        )
    spec(
        "keras",
        "in_top_k",
        f"keras/src/backend/{_bk}/math.py",
        no_run=f"the {_bk} backend is not installed in the probe environment",
    )
for _bk in ("tensorflow", "numpy", "jax"):
    _np = _bk != "tensorflow"  # the numpy and jax backends take arrays, not tf tensors
    spec(
        "keras",
        "categorical_crossentropy",
        f"keras/src/backend/{_bk}/nn.py",
        inputs="onehot",
        numpy=_np,
    )
    spec(
        "keras",
        "sparse_categorical_crossentropy",
        f"keras/src/backend/{_bk}/nn.py",
        inputs="sparse",
        numpy=_np,
    )
    spec(
        "keras", "binary_crossentropy", f"keras/src/backend/{_bk}/nn.py", inputs="binary", numpy=_np
    )
    spec(
        "keras",
        "ctc_loss",
        f"keras/src/backend/{_bk}/nn.py",
        inputs=_ctc,
        numpy=_np,
        call_kwargs={
            "target_length": __import__("numpy").full(B, 4, "int32"),
            "output_length": __import__("numpy").full(B, 9, "int32"),
        },
    )
    spec(
        "keras",
        "in_top_k",
        f"keras/src/backend/{_bk}/math.py",
        inputs="sparse",
        numpy=_np,
        call_kwargs={"k": 3},
    )
spec("keras", "binary_crossentropy", "keras/src/legacy/backend.py", inputs="binary")
spec("keras", "binary_focal_crossentropy", "keras/src/legacy/backend.py", inputs="binary")
spec("keras", "categorical_crossentropy", "keras/src/legacy/backend.py", inputs="onehot")
spec("keras", "categorical_focal_crossentropy", "keras/src/legacy/backend.py", inputs="onehot")
spec("keras", "sparse_categorical_crossentropy", "keras/src/legacy/backend.py", inputs="sparse")
spec(
    "keras",
    "ctc_batch_cost",
    "keras/src/legacy/backend.py",
    inputs=_ctc_legacy,
    call_kwargs={"input_length": [[9]] * B, "label_length": [[4]] * B},
)
spec("keras", "Loss.__call__", no_run="framework: Loss.__call__ (the reduction step)")
spec("keras", "Loss.call", no_run="abstract: raises NotImplementedError")
spec("keras", "LossFunctionWrapper.call", no_run="wrapper: requires fn")
for _f in ("hinge", "squared_hinge", "categorical_hinge"):
    spec("keras", _f, "keras/src/losses/losses.py", inputs="binary")
for _f in (
    "categorical_crossentropy",
    "categorical_focal_crossentropy",
    "kl_divergence",
    "poisson",
):
    spec("keras", _f, "keras/src/losses/losses.py", inputs="onehot")
spec("keras", "sparse_categorical_crossentropy", "keras/src/losses/losses.py", inputs="sparse")
spec("keras", "binary_crossentropy", "keras/src/losses/losses.py", inputs="binary")
spec("keras", "binary_focal_crossentropy", "keras/src/losses/losses.py", inputs="binary")
spec("keras", "ctc", "keras/src/losses/losses.py", inputs=_ctc)
spec("keras", "dice", "keras/src/losses/losses.py", inputs="seg1")
spec("keras", "tversky", "keras/src/losses/losses.py", inputs="seg1")
spec("keras", "circle", "keras/src/losses/losses.py", inputs="embed")
spec(
    "keras",
    "categorical_generalized_cross_entropy",
    "keras/src/losses/losses.py",
    inputs="sparse",
    call_kwargs={"q": 0.5},
)
spec("keras", "accuracy", "keras/src/metrics/accuracy_metrics.py", inputs="binary")
spec("keras", "binary_accuracy", "keras/src/metrics/accuracy_metrics.py", inputs="binary")
spec("keras", "categorical_accuracy", "keras/src/metrics/accuracy_metrics.py", inputs="onehot")
spec(
    "keras", "sparse_categorical_accuracy", "keras/src/metrics/accuracy_metrics.py", inputs="sparse"
)
spec(
    "keras", "top_k_categorical_accuracy", "keras/src/metrics/accuracy_metrics.py", inputs="onehot"
)
spec(
    "keras",
    "sparse_top_k_categorical_accuracy",
    "keras/src/metrics/accuracy_metrics.py",
    inputs="sparse",
)
spec(
    "keras",
    "update_confusion_matrix_variables.<locals>.weighted_assign_add",
    no_run="closure over metric variables; needs a tf.Variable argument",
)
spec(
    "keras",
    "confusion_matrix",
    "keras/src/metrics/metrics_utils.py",
    inputs=lambda r: (r.integers(0, 3, B).astype("int32"), r.integers(0, 3, B).astype("int32")),
    call_kwargs={"num_classes": 3},
)
spec(
    "keras",
    "ModelTest.get_struct_loss.<locals>.loss_fn",
    get=lambda m: m.ModelTest("setUp").get_struct_loss(__import__("keras").KerasTensor((B, 7))),
)
for _q in (
    "TestCase.run_layer_test.<locals>.run_training_step.<locals>.TestLoss.__call__",
    "TestCompileMetrics.test_custom_metric_function.<locals>.my_custom_metric",
    "TestTrainer.test_evaluate_return_list_respect_metrics_order.<locals>.metrics_zero",
    "TestTrainer.test_evaluate_return_list_respect_metrics_order.<locals>.metrics_one",
):
    spec("keras", _q, get=_extract(_q))
spec("keras", "is_binary_or_sparse_categorical", "keras/src/trainers/compile_utils.py")
spec("keras", "CompileLoss.__call__", no_run="framework: aggregates the compiled losses")
spec("keras", "CompileLoss.call", no_run="framework: aggregates the compiled losses")
spec(
    "keras",
    "InTopK.call",
    "keras/src/ops/math.py",
    inputs="sparse",
    get=lambda m: m.InTopK(k=3).call,
)
spec("keras", "in_top_k", "keras/src/ops/math.py", inputs="sparse", call_kwargs={"k": 3})
spec("keras", "BinaryCrossentropy.call", "keras/src/ops/nn.py", inputs="binary")
spec("keras", "binary_crossentropy", "keras/src/ops/nn.py", inputs="binary")
spec("keras", "CategoricalCrossentropy.call", "keras/src/ops/nn.py", inputs="onehot")
spec("keras", "categorical_crossentropy", "keras/src/ops/nn.py", inputs="onehot")
spec("keras", "SparseCategoricalCrossentropy.call", "keras/src/ops/nn.py", inputs="sparse")
spec("keras", "sparse_categorical_crossentropy", "keras/src/ops/nn.py", inputs="sparse")
spec(
    "keras",
    "CTCLoss.call",
    "keras/src/ops/nn.py",
    inputs=_ctc,
    call_kwargs={"target_length": [4] * B, "output_length": [9] * B},
)
spec(
    "keras",
    "ctc_loss",
    "keras/src/ops/nn.py",
    inputs=_ctc,
    call_kwargs={"target_length": [4] * B, "output_length": [9] * B},
)

# ---- tf-keras -------------------------------------------------------------------------------
spec("tf-keras", "categorical_crossentropy", "tf_keras/src/backend.py", inputs="onehot")
spec("tf-keras", "categorical_focal_crossentropy", "tf_keras/src/backend.py", inputs="onehot")
spec("tf-keras", "sparse_categorical_crossentropy", "tf_keras/src/backend.py", inputs="sparse")
spec("tf-keras", "binary_crossentropy", "tf_keras/src/backend.py", inputs="binary")
spec("tf-keras", "binary_focal_crossentropy", "tf_keras/src/backend.py", inputs="binary")
spec(
    "tf-keras",
    "ctc_batch_cost",
    "tf_keras/src/backend.py",
    inputs=_ctc_legacy,
    call_kwargs={"input_length": [[9]] * B, "label_length": [[4]] * B},
)
spec("tf-keras", "LossesContainer.__call__", no_run="framework: aggregates the compiled losses")
spec("tf-keras", "Loss.__call__", no_run="framework: Loss.__call__ (the reduction step)")
spec("tf-keras", "Loss.call", no_run="abstract: raises NotImplementedError")
spec("tf-keras", "LossFunctionWrapper.call", no_run="wrapper: requires fn")
for _f in (
    "squared_hinge",
    "hinge",
    "categorical_hinge",
    "binary_crossentropy",
    "binary_focal_crossentropy",
):
    spec("tf-keras", _f, "tf_keras/src/losses.py", inputs="binary")
for _f in (
    "categorical_crossentropy",
    "categorical_focal_crossentropy",
    "kl_divergence",
    "poisson",
):
    spec("tf-keras", _f, "tf_keras/src/losses.py", inputs="onehot")
spec("tf-keras", "sparse_categorical_crossentropy", "tf_keras/src/losses.py", inputs="sparse")
for _f in (
    "_ragged_tensor_mse",
    "_ragged_tensor_mae",
    "_ragged_tensor_mape",
    "_ragged_tensor_msle",
    "_ragged_tensor_binary_crossentropy",
    "_ragged_tensor_binary_focal_crossentropy",
):
    spec("tf-keras", _f, "tf_keras/src/losses.py", inputs=_ragged("dense"))
for _f in (
    "_ragged_tensor_categorical_crossentropy",
    "_ragged_tensor_categorical_focal_crossentropy",
):
    spec("tf-keras", _f, "tf_keras/src/losses.py", inputs=_ragged("onehot"))
spec(
    "tf-keras",
    "_ragged_tensor_sparse_categorical_crossentropy",
    "tf_keras/src/losses.py",
    inputs=_ragged("sparse"),
)
spec(
    "tf-keras",
    "<lambda>@169",
    "tf_keras/src/metrics/accuracy_metrics.py",
    inputs="onehot",
    get=lambda m: m.CategoricalAccuracy()._fn,
)
spec("tf-keras", "accuracy", "tf_keras/src/metrics/accuracy_metrics.py", inputs="binary")
spec("tf-keras", "binary_accuracy", "tf_keras/src/metrics/accuracy_metrics.py", inputs="binary")
spec(
    "tf-keras", "categorical_accuracy", "tf_keras/src/metrics/accuracy_metrics.py", inputs="onehot"
)
spec(
    "tf-keras",
    "sparse_categorical_accuracy",
    "tf_keras/src/metrics/accuracy_metrics.py",
    inputs="sparse",
)
spec(
    "tf-keras",
    "top_k_categorical_accuracy",
    "tf_keras/src/metrics/accuracy_metrics.py",
    inputs="onehot",
)
spec(
    "tf-keras",
    "sparse_top_k_categorical_accuracy",
    "tf_keras/src/metrics/accuracy_metrics.py",
    inputs="sparse",
)
spec(
    "tf-keras",
    "PyMetric.__new__.<locals>.update_state_on_cpu",
    no_run="Metric.update_state wrapper; updates variables and returns their assign op",
)
spec("tf-keras", "remove_squeezable_dimensions", "tf_keras/src/utils/losses_utils.py")
spec(
    "tf-keras",
    "update_confusion_matrix_variables.<locals>.weighted_assign_add",
    no_run="closure over metric variables; needs a tf.Variable argument",
)
spec("tf-keras", "binary_matches", "tf_keras/src/utils/metrics_utils.py", inputs="binary")
spec(
    "tf-keras", "sparse_categorical_matches", "tf_keras/src/utils/metrics_utils.py", inputs="sparse"
)
spec(
    "tf-keras",
    "sparse_top_k_categorical_matches",
    "tf_keras/src/utils/metrics_utils.py",
    inputs="sparse",
)

# ---- keras-cv -------------------------------------------------------------------------------
spec(
    "keras-cv",
    "CenterNetBoxLoss.call",
    inputs=_centernet,
    init_kwargs={"num_heading_bins": 4, "anchor_size": [1.0, 1.0, 1.0]},
)
spec("keras-cv", "CIoULoss.call", inputs="boxes3", init_kwargs={"bounding_box_format": "yxyx"})
spec("keras-cv", "FocalLoss.call", inputs="binary")
spec("keras-cv", "GIoULoss.call", inputs="boxes3", init_kwargs={"bounding_box_format": "yxyx"})
spec("keras-cv", "IoULoss.call", inputs="boxes3", init_kwargs={"bounding_box_format": "yxyx"})
spec("keras-cv", "BinaryPenaltyReducedFocalCrossEntropy.call", inputs="binary")
spec("keras-cv", "SimCLRLoss.call", inputs="views", init_kwargs={"temperature": 0.5})
spec("keras-cv", "BinaryCrossentropy.call", inputs="binary")
spec(
    "keras-cv",
    "compute_pycocotools_metric",
    no_run="takes dicts of boxes/classes and needs pycocotools",
)
spec("keras-cv", "iou_3d", no_run="custom TF op (.so) not shipped in the wheel")

# ---- keras-hub ------------------------------------------------------------------------------
spec("keras-hub", "silog", inputs="depth")
spec(
    "keras-hub",
    "SigLIPLoss.call",
    inputs=lambda r: (
        2 * __import__("numpy").eye(B, dtype="float32") - 1,
        r.normal(size=(B, B)).astype("float32"),
    ),
)

# ---- tensorflow-addons ---------------------------------------------------------------------
spec(
    "tensorflow-addons",
    "contrastive_loss",
    inputs=lambda r: (r.integers(0, 2, B).astype("float32"), _u(r, B)),
)
spec("tensorflow-addons", "sigmoid_focal_crossentropy", inputs="binary")
spec("tensorflow-addons", "giou_loss", inputs="boxes")
spec("tensorflow-addons", "WeightedKappaLoss.call", inputs="onehot", init_kwargs={"num_classes": 7})
spec(
    "tensorflow-addons",
    "npairs_loss",
    inputs=lambda r: (_groups(), r.normal(size=(B, B)).astype("float32")),
)
spec(
    "tensorflow-addons",
    "npairs_multilabel_loss",
    inputs=lambda r: (_gram_onehot(), r.normal(size=(B, B)).astype("float32")),
)
spec(
    "tensorflow-addons",
    "NpairsLoss.call",
    inputs=lambda r: (_groups(), r.normal(size=(B, B)).astype("float32")),
)
spec(
    "tensorflow-addons",
    "NpairsMultilabelLoss.call",
    inputs=lambda r: (_gram_onehot(), r.normal(size=(B, B)).astype("float32")),
)
spec("tensorflow-addons", "pinball_loss")
spec("tensorflow-addons", "SparsemaxLoss.call", inputs="onehot")
spec("tensorflow-addons", "triplet_semihard_loss", inputs="embed")
spec("tensorflow-addons", "triplet_hard_loss", inputs="embed")
spec(
    "tensorflow-addons",
    "hamming_loss_fn",
    inputs=_hamming,
    call_kwargs={"threshold": 0.5, "mode": "multilabel"},
)
spec(
    "tensorflow-addons",
    "SequenceLoss.__call__",
    inputs=lambda r: (
        r.integers(0, 7, size=(B, 6)).astype("int32"),
        r.normal(size=(B, 6, 7)).astype("float32"),
    ),
    get=lambda m: (
        lambda yt, yp: m.SequenceLoss()(yt, yp, __import__("numpy").ones((B, 6), "float32"))
    ),
)
spec("tensorflow-addons", "SequenceLoss.call", inputs="seq")
spec("tensorflow-addons", "LossFunctionWrapper.call", no_run="wrapper: requires fn")

# ---- tensorflow-similarity ------------------------------------------------------------------
spec("tensorflow-similarity", "Barlow.call", inputs="views")
spec("tensorflow-similarity", "MetricLoss.call", no_run="wrapper: requires fn")
spec("tensorflow-similarity", "MultiNegativesRankLoss.call", inputs="views")
spec("tensorflow-similarity", "SimCLRLoss.call", inputs="views")
spec("tensorflow-similarity", "SimSiamLoss.call", inputs="views")
spec("tensorflow-similarity", "VicReg.call", inputs="views")
spec(
    "tensorflow-similarity",
    "XBM.call",
    inputs=lambda r: (_groups().reshape(B, 1), r.normal(size=(B, 6)).astype("float32")),
    get=lambda m: (
        m.XBM(
            importlib.import_module("tensorflow_similarity.losses.triplet_loss").TripletLoss(),
            memory_size=12,
        ).call
    ),
)

# ---- segmentation-models / segmodels-keras --------------------------------------------------
for _pkg, _p, _flavour in (
    ("segmentation-models", "segmentation_models", "tf.keras"),
    ("segmodels-keras", "segmodels_keras", "keras"),
):
    for _f in (
        "iou_score",
        "f_score",
        "precision",
        "recall",
        "categorical_crossentropy",
        "binary_crossentropy",
        "categorical_focal_loss",
        "binary_focal_loss",
    ):
        _inp = "seg_onehot" if "categorical" in _f else "seg"
        spec(_pkg, _f, f"{_p}/base/functional.py", inputs=_inp, get=_with_backend(_f, _flavour))
    spec(_pkg, "MultipliedLoss.__call__", no_run="combinator: requires a wrapped loss")
    spec(_pkg, "SumOfLosses.__call__", no_run="combinator: requires two wrapped losses")
    for _c in (
        "JaccardLoss",
        "DiceLoss",
        "BinaryCELoss",
        "BinaryFocalLoss",
        "IOUScore",
        "FScore",
        "Precision",
        "Recall",
    ):
        spec(_pkg, f"{_c}.__call__", inputs="seg")
    for _c in ("CategoricalCELoss", "CategoricalFocalLoss"):
        spec(_pkg, f"{_c}.__call__", inputs="seg_onehot")
# Keras-3 AttributeError (keras.ops has no epsilon / pow): run the package's Keras-2 branch.
for _f in ("categorical_crossentropy", "categorical_focal_loss", "binary_focal_loss"):
    _inp = "seg_onehot" if "categorical" in _f else "seg"
    spec(
        "segmodels-keras",
        _f,
        "segmodels_keras/base/functional.py",
        inputs=_inp,
        get=_smk_keras2_branch(_with_backend(_f, "keras")),
    )
for _c, _inp in (
    ("CategoricalCELoss", "seg_onehot"),
    ("CategoricalFocalLoss", "seg_onehot"),
    ("BinaryFocalLoss", "seg"),
):
    spec(
        "segmodels-keras",
        f"{_c}.__call__",
        "segmodels_keras/losses.py",
        inputs=_inp,
        get=_smk_keras2_branch((lambda c: lambda m: getattr(m, c)())(_c)),
    )

# ---- keras-unet-collection ------------------------------------------------------------------
for _p in ("keras_unet_collection/loss.py", "keras_unet_collection/losses.py"):
    spec("keras-unet-collection", "_crps_tf", _p, inputs="seg1")
    spec("keras-unet-collection", "crps2d_tf", _p, inputs="seg1")
    spec("keras-unet-collection", "_crps_np", _p, inputs="seg1", numpy=True)
    spec("keras-unet-collection", "crps2d_np", _p, inputs="seg1", numpy=True)
spec(
    "keras-unet-collection",
    "triplet1d",
    "keras_unet_collection/loss.py",
    inputs=lambda r: (_u(r, B, 1), r.normal(size=(B, 18)).astype("float32")),
    call_kwargs={"N": 6},
)
spec(
    "keras-unet-collection",
    "triplet_1d",
    "keras_unet_collection/losses.py",
    inputs=lambda r: (_u(r, B, 1), r.normal(size=(B, 18)).astype("float32")),
    call_kwargs={"N": 6},
)
for _f in ("dice_coef", "dice", "tversky_coef", "tversky", "focal_tversky", "iou_seg"):
    spec("keras-unet-collection", _f, "keras_unet_collection/losses.py", inputs="seg")
spec(
    "keras-unet-collection",
    "ms_ssim",
    "keras_unet_collection/losses.py",
    inputs=_ms_ssim,
    call_kwargs={"max_val": 1.0},
)
spec("keras-unet-collection", "iou_box_coef", "keras_unet_collection/losses.py", inputs="boxes")
spec("keras-unet-collection", "iou_box", "keras_unet_collection/losses.py", inputs="boxes")

# ---- keras-unet -----------------------------------------------------------------------------
for _f in ("jaccard_distance", "iou", "jaccard_coef", "iou_thresholded", "dice_coef"):
    spec("keras-unet", _f, inputs="seg1")
spec("keras-unet", "iou_np", inputs="seg1", numpy=True)
spec("keras-unet", "iou_thresholded_np", inputs="seg1", numpy=True)
spec("keras-unet", "iou_thresholded_np_imgwise", inputs=_np_square, numpy=True)

# ---- tf-semantic-segmentation ---------------------------------------------------------------
for _f in (
    "ce_label_smoothing_loss.<locals>.ce_label_smoothing_fixed",
    "categorical_crossentropy_loss.<locals>.categorical_crossentropy",
    "categorical_crossentropy_ssim_loss.<locals>.categorical_crossentropy_ssim",
    "dice_categorical_crossentropy_loss.<locals>.dice_categorical_crossentropy",
    "dice_ssim_categorical_crossentropy_loss.<locals>.dice_ssim_categorical_crossentropy",
    "categorical_focal_loss.<locals>.categorical_focal",
    "categorical_lovasz.<locals>.categorical_lovasz",
):
    spec("tf-semantic-segmentation", _f, inputs="seg_onehot")
spec("tf-semantic-segmentation", "binary_lovasz.<locals>.binary_lovasz", inputs="seg1")
for _f in (
    "f1_score.<locals>.f1_score",
    "f2_score.<locals>.f2_score",
    "iou_score.<locals>.iou_score",
    "precision.<locals>.precision",
    "recall.<locals>.recall",
    "_f_score",
):
    spec("tf-semantic-segmentation", _f, inputs="seg_onehot")
spec("tf-semantic-segmentation", "mae")
spec("tf-semantic-segmentation", "binary_accuracy", inputs="binary")
spec("tf-semantic-segmentation", "categorical_accuracy", inputs="onehot")
_TFSS_SEG = (
    "binary_crossentropy_loss.<locals>.binary_crossentropy",
    "binary_crossentropy_ssim_loss.<locals>.binary_crossentropy_ssim",
    "dice_ssim_loss.<locals>.dice_ssim",
    "dice_binary_crossentropy_loss.<locals>.dice_binary_crossentropy",
    "dice_ssim_binary_crossentropy_loss.<locals>.dice_ssim_binary_crossentropy",
    "dice_loss.<locals>.dice_loss",
    "tversky_loss.<locals>.tversky_loss",
    "focal_tversky_loss.<locals>.focal_tversky",
    "binary_focal_loss.<locals>.binary_focal",
    "smooth_l1.<locals>.smooth_l1",
    "ssim_loss.<locals>.ssim",
    "psnr.<locals>.psnr",
    "ssim.<locals>.ssim",
)
for _f in _TFSS_SEG:
    spec("tf-semantic-segmentation", _f, inputs="seg1")

# ---- focal-loss -----------------------------------------------------------------------------
spec("focal-loss", "binary_focal_loss", inputs="binary", call_kwargs={"gamma": 2.0})
spec("focal-loss", "BinaryFocalLoss.call", inputs="binary", init_kwargs={"gamma": 2.0})
spec("focal-loss", "sparse_categorical_focal_loss", inputs="sparse", call_kwargs={"gamma": 2.0})
spec("focal-loss", "SparseCategoricalFocalLoss.call", inputs="sparse", init_kwargs={"gamma": 2.0})

# ---- keras-retinanet / funkeras -------------------------------------------------------------
for _pkg in ("keras-retinanet", "funkeras"):
    spec(_pkg, "focal.<locals>._focal", inputs=_retina_cls)
    spec(_pkg, "smooth_l1.<locals>._smooth_l1", inputs=_retina_reg)
spec(
    "funkeras",
    "rpn_loss_regr.<locals>.rpn_loss_regr_fixed_num",
    inputs=_rpn_regr,
    factory_kwargs={"num_anchors": 9},
)
spec(
    "funkeras",
    "rpn_loss_cls.<locals>.rpn_loss_cls_fixed_num",
    inputs=_rpn_cls,
    factory_kwargs={"num_anchors": 9},
)
spec(
    "funkeras",
    "class_loss_regr.<locals>.class_loss_regr_fixed_num",
    inputs=_cls_regr,
    factory_kwargs={"num_classes": 3},
)
spec("funkeras", "class_loss_cls", inputs=_cls_cls)
spec("funkeras", "top_1_categorical_error", inputs=_ranked)
spec("funkeras", "top_5_categorical_error", inputs=_ranked)

# ---- keras-swin-unet / tf-extra -------------------------------------------------------------
for _c in (
    "FocalLoss",
    "DiceLoss",
    "BCELoss",
    "TverskyLoss",
    "BCEDiceLoss",
    "FocalDiceLoss",
    "FocalTverskyLoss",
):
    spec("keras-swin-unet", f"{_c}.call", inputs="seg1")
spec(
    "keras-swin-unet",
    "compute_binary_metrics",
    no_run="sklearn report over 1-D label arrays; needs y_prob, returns a dict",
)
spec(
    "keras-swin-unet",
    "compute_multiclass_metrics",
    no_run="sklearn report over 1-D label arrays; needs num_classes, returns a dict",
)
spec("tf-extra", "FocalLoss.call", inputs="binary")
spec("tf-extra", "DiceLoss.call", inputs="seg1")
spec("tf-extra", "TverskyLoss.call", inputs="seg1")
spec("tf-extra", "LabelSmoothingCrossEntropy.call", inputs="onehot")
spec(
    "tf-extra",
    "ContrastiveLoss.call",
    inputs=lambda r: (r.integers(0, 2, B).astype("float32"), _u(r, B)),
)
spec(
    "tf-extra",
    "TripletLoss.call",
    inputs=lambda r: (_u(r, B), r.normal(size=(B, 18)).astype("float32")),
)

# ---- keras-fsl ------------------------------------------------------------------------------
for _f in (
    "MeanScoreClassificationLoss.call",
    "class_consistency_loss",
    "ClassConsistencyLoss.call",
    "BinaryCrossentropy.call",
    "max_crossentropy",
    "std_crossentropy",
    "TripletLoss.call",
    "classification_accuracy.<locals>.top_score_classification_accuracy",
    "mean_score_classification_accuracy",
    "accuracy.<locals>._accuracy",
):
    spec("keras-fsl", _f, inputs="gram")

# ---- yolov2keras ----------------------------------------------------------------------------
for _f in ("obj_loss", "noobj_loss", "box_loss", "class_loss", "yolo_loss", "iou_acc", "class_acc"):
    spec("yolov2keras", _f, inputs=_yolo_inputs)
spec("yolov2keras", "GetIoU", inputs=lambda r: (_u(r, B, 4), _u(r, B, 4)))
spec(
    "yolov2keras",
    "calculate_MAP_for_class",
    no_run="python lists of detections; needs class_idx; returns recall/precision curves",
)
spec(
    "yolov2keras",
    "calculate_MAP",
    no_run="python lists of detections; returns a list of per-class APs",
)


def find_spec(package: str, path: str, function: str) -> Spec:
    return S.get((package, path, function)) or S.get((package, None, function)) or Spec()


# --------------------------------------------------------------------------------------------
# Worker: runs inside the subprocess with the right Keras flavour.
# --------------------------------------------------------------------------------------------


def _dotted(relpath: str) -> str:
    parts = relpath[: -len(".py")].split("/")
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _load(root: Path, relpath: str, synthetic: tuple[str, ...] | None = None) -> types.ModuleType:
    """Import ``relpath`` from the unpacked tree ``root``.

    Parent packages listed in ``synthetic`` (default: the top-level package only) are created
    as empty modules whose ``__path__`` points into ``root``, so that heavy ``__init__`` modules
    (model zoos, optional dependencies, framework selection) do not run; every other parent
    package is imported from its own ``__init__.py`` as usual.
    """
    name = _dotted(relpath)
    if name in sys.modules:
        return sys.modules[name]
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    parts = name.split(".")
    if synthetic is None:
        synthetic = (parts[0],)
    for i in range(1, len(parts)):
        pkg = ".".join(parts[:i])
        if pkg in sys.modules:
            continue
        if pkg in synthetic or not root.joinpath(*parts[:i], "__init__.py").exists():
            m = types.ModuleType(pkg)
            m.__path__ = [str(root.joinpath(*parts[:i]))]
            m.__package__ = pkg
            sys.modules[pkg] = m
            if i > 1:
                setattr(sys.modules[".".join(parts[: i - 1])], parts[i - 1], m)
        else:
            _load(root, "/".join(parts[:i]) + "/__init__.py", synthetic)
    if name in sys.modules:  # a parent's __init__ imported it
        return sys.modules[name]
    is_pkg = relpath.endswith("__init__.py")
    spec_ = importlib.util.spec_from_file_location(
        name,
        root / relpath,
        submodule_search_locations=[str((root / relpath).parent)] if is_pkg else None,
    )
    mod = importlib.util.module_from_spec(spec_)
    sys.modules[name] = mod
    try:
        spec_.loader.exec_module(mod)
    except BaseException:
        del sys.modules[name]
        raise
    if len(parts) > 1:
        setattr(sys.modules[".".join(parts[:-1])], parts[-1], mod)
    return mod


def _resolve(mod: types.ModuleType, function: str, sp: Spec) -> Callable:
    if sp.get is not None:
        return sp.get(mod)
    if function.startswith("<lambda>"):
        raise LookupError("lambda needs a custom getter")
    parts = function.split(".")
    if "<locals>" in parts:
        i = parts.index("<locals>")
        outer = mod
        for p in parts[:i]:
            outer = getattr(outer, p)
        if i != len(parts) - 2:
            raise LookupError("nested closure needs a custom getter")
        fn = outer(**sp.factory_kwargs)
        if not callable(fn) or getattr(fn, "__name__", None) != parts[-1]:
            raise LookupError(f"factory returned {fn!r}, not {parts[-1]}")
        return fn
    obj = mod
    for p in parts[:-1]:
        obj = getattr(obj, p)
    last = parts[-1]
    if isinstance(obj, type):  # Class.call / Class.__call__
        inst = obj(**sp.init_kwargs)
        return inst if last == "__call__" else getattr(inst, last)
    return getattr(obj, last)


def _shape_of(out) -> tuple[str, str]:
    """(shape text, verdict) for a returned value."""
    import numpy as np

    if isinstance(out, (tuple, list, dict)) or out is None:
        return type(out).__name__, "n/a"
    if isinstance(out, (bool, int, float, np.generic)) and not hasattr(out, "shape"):
        return "python scalar", "reduced"
    shape = getattr(out, "shape", None)
    if shape is None:
        return type(out).__name__, "n/a"
    try:
        dims = [None if d is None else int(d) for d in shape]
    except TypeError:
        dims = list(shape)
    text = (
        "("
        + ", ".join("?" if d is None else str(d) for d in dims)
        + ("," if len(dims) == 1 else "")
        + ")"
    )
    if len(dims) == 0:
        return "()", "reduced"
    return text, "per-sample" if dims[0] == B else "reduced"


def _fmt_in(x) -> str:
    s = getattr(x, "shape", None)
    if s is None:
        return type(x).__name__
    try:
        dims = [int(d) if d is not None else None for d in s]
    except TypeError:
        return str(s)
    if type(x).__name__ == "RaggedTensor":
        return "ragged(" + ", ".join("?" if d is None else str(d) for d in dims) + ")"
    return (
        "("
        + ", ".join("?" if d is None else str(d) for d in dims)
        + ("," if len(dims) == 1 else "")
        + ")"
    )


def worker(package: str, rows: list[dict]) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import warnings

    warnings.filterwarnings("ignore")
    import numpy as np
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    pkg = next(p for p in load_packages() if p["name"] == package)
    setup = SETUPS[package]
    root = src_dir(pkg)
    env_note = ""
    if setup.installed:
        dist = importlib.import_module({"keras": "keras", "tf-keras": "tf_keras"}[package])
        if dist.__version__ != pkg["version"]:
            env_note = f"installed {package} {dist.__version__} != pinned {pkg['version']}"
    prepare_error = None
    if setup.prepare is not None:
        try:
            setup.prepare(root)
        except BaseException as e:
            prepare_error = f"prepare failed: {type(e).__name__}: {e}"

    for row in rows:
        rec = {k: row[k] for k in ("package", "version", "path", "function", "expected")}
        sp = find_spec(package, row["path"], row["function"])
        rec.update(inputs="", output="", ran="", error="", note=env_note)
        if sp.no_run:
            rec["ran"] = "not-run"
            rec["error"] = sp.no_run
            print(json.dumps(rec), flush=True)
            continue
        if env_note or prepare_error:
            rec["ran"] = "error"
            rec["error"] = env_note or prepare_error
            print(json.dumps(rec), flush=True)
            continue
        try:
            if setup.installed:
                # Importing keras.src.backend.numpy.* rebinds the attribute
                # keras.src.backend.numpy (the active backend's numpy ops); put it back.
                kb = sys.modules.get("keras.src.backend")
                saved = getattr(kb, "numpy", None) if kb is not None else None
                mod = importlib.import_module(_dotted(row["path"]))
                if kb is not None and saved is not None:
                    kb.numpy = saved
            else:
                mod = _load(root, row["path"], setup.synthetic)
            fn = _resolve(mod, row["function"], sp)
            rng = np.random.default_rng(0)
            maker = INPUTS[sp.inputs] if isinstance(sp.inputs, str) else sp.inputs
            yt, yp = maker(rng)
            if not sp.numpy and isinstance(yt, np.ndarray):
                yt, yp = tf.constant(yt), tf.constant(yp)
            rec["inputs"] = f"{_fmt_in(yt)} {_fmt_in(yp)}"
            call = functools.partial(fn, **sp.call_kwargs)
            if sp.graph:
                call = tf.function(call)
            out = call(yt, yp)
            if hasattr(out, "numpy") and not isinstance(out, (tuple, list, dict)):
                out.numpy()  # force evaluation
            rec["output"], rec["ran"] = _shape_of(out)
        except BaseException as e:
            msg = f"{type(e).__name__}: {e}".splitlines()[0][:300]
            rec["ran"] = "error"
            rec["error"] = msg
            if os.environ.get("PROBE_TRACEBACK"):
                traceback.print_exc(file=sys.stderr)
        print(json.dumps(rec), flush=True)


# --------------------------------------------------------------------------------------------
# Driver.
# --------------------------------------------------------------------------------------------


def read_triage(path: Path = TRIAGE) -> tuple[list[str], list[dict]]:
    with path.open(newline="", encoding="utf-8") as f:
        r = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        return list(r.fieldnames or []), list(r)


def write_triage(fields: list[str], rows: list[dict], path: Path = TRIAGE) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(
            f,
            fieldnames=fields,
            delimiter="\t",
            quoting=csv.QUOTE_NONE,
            escapechar="\\",
            lineterminator="\n",
        )
        w.writeheader()
        w.writerows(rows)


def run_package(package: str, rows: list[dict], timeout: int) -> list[dict]:
    setup = SETUPS[package]
    env = dict(os.environ)
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    env["PYTHONHASHSEED"] = "0"
    if setup.mode == "k2":
        env["TF_USE_LEGACY_KERAS"] = "1"
    else:
        env.pop("TF_USE_LEGACY_KERAS", None)
    payload = json.dumps({"package": package, "rows": rows})
    try:
        proc = subprocess.run(
            [sys.executable, __file__, "--worker"],
            input=payload,
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
            cwd=str(HERE),
        )
        out = proc.stdout
        err = proc.stderr
        if os.environ.get("PROBE_TRACEBACK"):
            sys.stderr.write(err)
    except subprocess.TimeoutExpired as e:
        out = e.stdout or ""
        out = out.decode() if isinstance(out, bytes) else out
        err = "timeout"
    got = {}
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("{"):
            rec = json.loads(line)
            got[(rec["path"], rec["function"])] = rec
    results = []
    for row in rows:
        rec = got.get((row["path"], row["function"]))
        if rec is None:
            rec = {k: row[k] for k in ("package", "version", "path", "function", "expected")}
            tail = (err or "").strip().splitlines()[-1:] or ["no output"]
            rec.update(
                inputs="", output="", ran="error", error=f"worker died: {tail[0][:200]}", note=""
            )
        results.append(rec)
    return results


def agrees(rec: dict) -> str:
    if rec["ran"] in ("error", "not-run", "n/a"):
        return "n/a"
    if rec["expected"] == "skip":
        return "n/a"
    return "yes" if rec["ran"] == rec["expected"] else "NO"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Run triaged functions on synthetic inputs.")
    ap.add_argument("--package", action="append", help="only these packages")
    ap.add_argument("--function", help="only functions whose name contains this text")
    ap.add_argument(
        "--annotate",
        action="store_true",
        help="write 'ran: <out> on <in>' into the reason column of agreeing rows",
    )
    ap.add_argument("--timeout", type=int, default=900, help="seconds per package")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.worker:
        data = json.loads(sys.stdin.read())
        worker(data["package"], data["rows"])
        return 0

    fields, rows = read_triage()
    by_pkg: dict[str, list[dict]] = {}
    for r in rows:
        if args.package and r["package"] not in args.package:
            continue
        if args.function and args.function not in r["function"]:
            continue
        by_pkg.setdefault(r["package"], []).append(r)

    all_results: list[dict] = []
    for package, prow in by_pkg.items():
        res = run_package(package, prow, args.timeout)
        all_results.extend(res)
        for rec in res:
            print(
                "\t".join(
                    [
                        rec["package"],
                        rec["path"],
                        rec["function"],
                        rec["inputs"] or "-",
                        rec["output"] or "-",
                        rec["ran"],
                        rec["expected"],
                        agrees(rec),
                        rec["error"],
                    ]
                ),
                flush=True,
            )

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    cols = [
        "package",
        "version",
        "path",
        "function",
        "inputs",
        "output",
        "ran",
        "expected",
        "agrees",
        "error",
    ]
    with RESULTS.open("w", encoding="utf-8") as f:
        f.write("\t".join(cols) + "\n")
        for rec in all_results:
            rec["agrees"] = agrees(rec)
            f.write("\t".join(str(rec.get(c, "")).replace("\t", " ") for c in cols) + "\n")

    n_yes = sum(agrees(r) == "yes" for r in all_results)
    n_no = sum(agrees(r) == "NO" for r in all_results)
    n_err = sum(r["ran"] == "error" for r in all_results)
    n_nr = sum(r["ran"] == "not-run" for r in all_results)
    print(
        f"\n{len(all_results)} rows: {n_yes} agree, {n_no} DISAGREE, {n_err} errors, "
        f"{n_nr} not run; results in {RESULTS.relative_to(HERE)}"
    )

    if args.annotate:
        idx = {(r["package"], r["path"], r["function"]): r for r in all_results}
        for r in rows:
            rec = idx.get((r["package"], r["path"], r["function"]))
            if rec is None or agrees(rec) != "yes":
                continue
            base = RAN_RE.sub("", r["reason"]).rstrip()
            yt_in, _, yp_in = rec["inputs"].partition(") ")
            note = f"ran: {rec['output']} on y_true {yt_in})" + (
                f" y_pred {yp_in}" if yp_in else ""
            )
            r["reason"] = f"{base}; {note}" if base else note
        write_triage(fields, rows)
        print("annotated triage.tsv")
    return 1 if n_no else 0


if __name__ == "__main__":
    sys.exit(main())
