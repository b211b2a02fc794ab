"""Batch-axis reasoning and loss discovery on small multi-file projects (real files, real parses)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from losslint.config import Config
from losslint.discovery import discover
from losslint.engine import LintOptions, lint_paths


def lint(
    root: Path, files: dict[str, str], only: list[str] | None = None, fix: bool = False
) -> list[tuple]:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    config = Config(root=root)
    targets = [root / n for n in only] if only else discover([root], config).files
    results = lint_paths(targets, config, LintOptions(fix=fix))
    found = []
    for result in results:
        for d in result.diagnostics:
            found.append(
                (
                    d.path.relative_to(root).as_posix(),
                    d.location.row,
                    d.code,
                    d.function,
                    None if d.fix is None else d.fix.applicability.value,
                )
            )
    return found


def test_helper_in_another_module_is_reported_at_its_reduction(tmp_path: Path) -> None:
    files = {
        "pkg/__init__.py": "",
        "pkg/helpers.py": """
            import tensorflow as tf

            def soft_dice(a, b, smooth=1.0):
                inter = tf.reduce_sum(a * b)
                return (2 * inter + smooth) / (tf.reduce_sum(a) + tf.reduce_sum(b) + smooth)
        """,
        "pkg/losses.py": """
            from .helpers import soft_dice

            def dice_loss(y_true, y_pred):
                return 1.0 - soft_dice(y_true, y_pred)
        """,
    }
    assert lint(tmp_path, files) == [
        ("pkg/helpers.py", 5, "LL001", "pkg.losses.dice_loss", "unsafe")
    ]


def test_only_the_loss_file_linted_reports_at_the_call_without_fix(tmp_path: Path) -> None:
    files = {
        "pkg/__init__.py": "",
        "pkg/helpers.py": """
            import tensorflow as tf

            def mean_all(x):
                return tf.reduce_mean(x)
        """,
        "pkg/losses.py": """
            import tensorflow as tf
            from pkg.helpers import mean_all

            def mse(y_true, y_pred):
                return mean_all(tf.square(y_true - y_pred))
        """,
    }
    assert lint(tmp_path, files, only=["pkg/losses.py"]) == [
        ("pkg/losses.py", 6, "LL001", "pkg.losses.mse", None)
    ]
    # with the helper linted too, the finding moves to the reduction; the fix is unsafe
    # there because the helper is shared
    assert lint(tmp_path, {}) == [("pkg/helpers.py", 5, "LL001", "pkg.losses.mse", "unsafe")]


@pytest.mark.parametrize(
    "imports",
    [
        "import tensorflow as tf\nreduce = tf.math.reduce_mean",
        "from tensorflow.math import reduce_mean as reduce",
        "import tensorflow.compat.v1 as tf1\nreduce = tf1.reduce_mean",
        "from tensorflow.keras import backend as K\nreduce = K.mean",
        "import tensorflow.keras.backend as K\nreduce = K.mean",
        "from tf_keras import backend as K\nreduce = K.mean",
        "import keras\nreduce = keras.ops.mean",
        "from keras import ops as kops\nreduce = kops.mean",
        "from keras.src.ops import numpy as knp\nreduce = knp.mean",
    ],
)
def test_reduction_aliases(tmp_path: Path, imports: str) -> None:
    source = imports + "\n\ndef loss(y_true, y_pred):\n    return reduce(y_true - y_pred)\n"
    found = lint(tmp_path, {"m.py": source})
    assert [(f[2], f[4]) for f in found] == [("LL001", "safe")]


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        ("tf.reduce_mean(x)", "LL001"),
        ("tf.reduce_mean(x, axis=None)", "LL001"),
        ("tf.reduce_mean(x, 0)", "LL001"),
        ("tf.reduce_mean(x, axis=(0, 1))", "LL001"),
        ("tf.reduce_mean(x, axis=-1)", None),
        ("tf.reduce_mean(x, axis=1)", None),
        ("tf.reduce_mean(x, axis=[1, 2])", None),
        ("tf.reduce_mean(x, axis=AXIS_OK)", None),
        ("tf.reduce_mean(x, axis=AXIS_ALL)", "LL001"),
        ("tf.reduce_mean(x, axis=tuple(range(1, len(x.shape))))", None),
        ("tf.reduce_mean(x, axis=list(range(1, x.shape.rank)))", None),
        ("tf.reduce_mean(x, axis=self_axis)", None),
        ("tf.reduce_mean(tf.reduce_mean(x, axis=-1), axis=-1)", None),  # rank-3+ inputs: per-sample
        ("tf.reduce_mean(tf.reduce_sum(x, axis=[1, 2]), axis=-1)", None),
        ("tf.reduce_mean(tf.reduce_mean(x, axis=-1))", "LL001"),
        ("tf.reduce_mean(tf.image.ssim(x, x, 1.0), axis=-1)", "LL001"),  # exactly (batch,)
        ("tf.reduce_mean(x, keepdims=True)", "LL001"),
        ("tf.reduce_max(x, axis=-1) - tf.reduce_min(x, axis=-1)", None),
        ("tf.norm(x)", "LL003"),
        ("tf.norm(x, axis=-1)", None),
        ("tf.nn.l2_loss(x)", "LL003"),
        ("tf.math.count_nonzero(x)", "LL001"),
        ("keras.losses.mse(y_true, y_pred)", None),
        ("tf.reduce_mean(keras.losses.mse(y_true, y_pred))", "LL001"),
        ("tf.reduce_mean(keras.losses.mse(y_true, y_pred), axis=-1)", "LL001"),
        ("keras.losses.dice(y_true, y_pred)", "LL001"),
        ("keras.losses.dice(y_true, y_pred, axis=(1, 2))", None),
        ("keras.losses.BinaryCrossentropy()(y_true, y_pred)", "LL002"),
        ("keras.losses.BinaryCrossentropy(reduction=None)(y_true, y_pred)", None),
        ("keras.losses.BinaryCrossentropy(reduction='none')(y_true, y_pred)", None),
        (
            "tf.keras.losses.MeanSquaredError(reduction=tf.keras.losses.Reduction.NONE)(y_true, y_pred)",
            None,
        ),
        ("x + 0.1 * tf.reduce_mean(x)", None),
        # a batch-level term in a per-sample loss: LL102, off by default (see test below)
        ("x + keras.losses.BinaryCrossentropy()(y_true, y_pred)", None),
        ("tf.reduce_mean(K.flatten(x))", "LL001"),
        ("tf.reduce_sum(tf.reshape(x, [-1]))", "LL001"),
        ("tf.reduce_sum(K.batch_flatten(x), axis=-1)", None),
        ("tf.reduce_sum(tf.reshape(x, [tf.shape(x)[0], -1]), axis=1)", None),
        ("tf.reduce_mean(x[:, 0])", "LL001"),
        ("tf.reduce_mean(x[..., :3], axis=-1)", None),
        ("tf.reduce_mean(unknown_helper(x))", "LL001"),
        ("unknown_helper(x)", None),
        ("tf.reduce_mean(tf.map_fn(lambda s: s, x), axis=-1)", None),
        ("tf.reduce_mean(tf.einsum('bi,bi->b', x, x))", "LL001"),
        ("tf.einsum('bi,bi->b', x, x)", None),
        ("tf.reduce_sum(tf.square(x), axis=-1) / tf.cast(tf.shape(x)[0], tf.float32)", None),
        ("tf.reduce_sum(tf.square(x)) / tf.cast(tf.shape(x)[0], tf.float32)", "LL001"),
        ("tf.reduce_mean(tf.matmul(x, x, transpose_b=True))", "LL001"),
    ],
)
def test_transfer_rules(tmp_path: Path, call: str, expected: str | None) -> None:
    source = (
        "import tensorflow as tf\nfrom tensorflow import keras\nfrom tensorflow.keras import backend as K\n"
        "from elsewhere import unknown_helper\nAXIS_OK = -1\nAXIS_ALL = None\n\n"
        "def loss(y_true, y_pred, self_axis=compute()):\n"
        "    x = tf.square(y_true - y_pred)\n"
        f"    return {call}\n"
    )
    found = lint(tmp_path, {"m.py": source})
    assert [f[2] for f in found] == ([expected] if expected else [])


def test_a_batch_level_term_is_ll102_when_selected(tmp_path: Path) -> None:
    source = (
        "import tensorflow as tf\nfrom tensorflow import keras\n\n"
        "def loss(y_true, y_pred):\n"
        "    x = tf.square(y_true - y_pred)\n"
        "    return x + keras.losses.BinaryCrossentropy()(y_true, y_pred)\n"
    )
    (tmp_path / "m.py").write_text(source)
    config = Config(root=tmp_path, extend_select=("LL102",))
    (result,) = lint_paths([tmp_path / "m.py"], config, LintOptions())
    assert [(d.code, d.location.row) for d in result.diagnostics] == [("LL102", 6)]
    assert "adds a `BinaryCrossentropy` object's value" in result.diagnostics[0].message


def test_batch_level_losses_are_reported_without_fix(tmp_path: Path) -> None:
    source = """
        import tensorflow as tf

        def contrastive(y_true, y_pred, temperature=0.1):
            z = tf.math.l2_normalize(y_pred, axis=1)
            sim = tf.matmul(z, z, transpose_b=True) / temperature
            batch = tf.shape(y_pred)[0]
            labels = tf.one_hot(tf.range(batch), batch)
            return tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels, sim))

        def center_loss(y_true, y_pred):
            center = tf.reduce_mean(y_pred, axis=0)
            return tf.reduce_mean(tf.square(y_pred - center))
    """
    assert [(f[1], f[2], f[4]) for f in lint(tmp_path, {"m.py": source})] == [
        (9, "LL001", None),
        (13, "LL001", None),
    ]


def test_compile_sites_resolve_every_loss_form(tmp_path: Path) -> None:
    files = {
        "proj/__init__.py": "from .losses import *\n",
        "proj/losses.py": """
            import functools
            import tensorflow as tf

            __all__ = ["plain", "factory", "Scalar", "weighted"]

            def plain(a, b):
                return tf.reduce_mean(a - b)

            def factory(scale=1.0):
                def inner(a, b):
                    return scale * tf.reduce_mean(a - b)
                return inner

            def weighted(a, b, w=None):
                return tf.reduce_mean(w * (a - b))

            class Scalar(tf.keras.losses.Loss):
                def call(self, a, b):
                    return tf.reduce_mean(a - b)

            class Derived(Scalar):
                pass
        """,
        "train.py": """
            import functools
            import tensorflow as tf
            import proj
            import proj.losses as pl
            from proj import losses

            def main(model):
                chosen = pl.factory(2.0)
                model.compile("adam", pl.plain)
                model.compile(optimizer="adam", loss={"a": chosen, "b": [losses.Derived()]})
                model.compile(optimizer="adam", loss=functools.partial(proj.weighted, w=3.0))
                model.compile(optimizer="adam", loss=lambda a, b: tf.reduce_sum(a - b), metrics=[proj.plain])
        """,
    }
    found = lint(tmp_path, files)
    functions = sorted({f[3] for f in found})
    assert functions == [
        "proj.losses.Scalar.call",
        "proj.losses.factory.<locals>.inner",
        "proj.losses.plain",
        "proj.losses.weighted",
        "train.main.<locals>.<lambda>@13",
    ]


def test_names_and_metrics_heuristics(tmp_path: Path) -> None:
    source = """
        import tensorflow as tf

        def not_a_loss(x, y):
            return tf.reduce_mean(x - y)

        def dice_coef(y_true, y_pred):
            return tf.reduce_mean(y_true * y_pred)

        class Wrapper:
            def __call__(self, y_true, y_pred):
                return tf.reduce_mean(y_true - y_pred)

            def helper(self, y_true, y_pred):
                return tf.reduce_mean(y_true - y_pred)

        class Metric(tf.keras.metrics.Metric):
            def update_state(self, y_true, y_pred, sample_weight=None):
                self.total.assign_add(tf.reduce_sum(y_true - y_pred))
    """
    found = lint(tmp_path, {"m.py": source})
    assert [(f[1], f[2], f[3]) for f in found] == [
        (8, "LL004", "m.dice_coef"),
        (12, "LL001", "m.Wrapper.__call__"),
        # a loss-shaped method of a plain class is a loss whatever its name; a Keras metric's
        # update_state is not
        (15, "LL001", "m.Wrapper.helper"),
    ]


def test_loss_objects_bound_in_init_and_module(tmp_path: Path) -> None:
    files = {
        "objs.py": "from tensorflow import keras\nBCE = keras.losses.BinaryCrossentropy()\n",
        "m.py": """
            import tensorflow as tf
            from objs import BCE

            class Combo(tf.keras.losses.Loss):
                def __init__(self):
                    super().__init__()
                    self.mse = tf.keras.losses.MeanSquaredError()
                    self.ok = tf.keras.losses.MeanSquaredError(reduction="none")

                def call(self, y_true, y_pred):
                    return self.mse(y_true, y_pred) + self.ok(y_true, y_pred)

            def uses_global(y_true, y_pred):
                return BCE(y_true, y_pred)
        """,
    }
    found = lint(tmp_path, files)
    assert [(f[0], f[1], f[2], f[4]) for f in found] == [
        # `self.mse(...)` is added to a per-sample term: a batch-level term (LL102, off by
        # default), not a batch-reduced loss
        ("m.py", 15, "LL002", None),  # constructed in another module: no fix here
    ]


def test_recursion_and_cycles_do_not_crash(tmp_path: Path) -> None:
    files = {
        "a.py": "from b import g\nimport tensorflow as tf\n\ndef f(y_true, y_pred):\n    return g(y_true, y_pred)\n",
        "b.py": "from a import f\n\ndef g(y_true, y_pred):\n    return f(y_true, y_pred)\n",
        "c.py": "from c import *\nx = x\n\ndef h(y_true, y_pred):\n    return h(y_true, y_pred)\n",
    }
    assert lint(tmp_path, files) == []


def test_control_flow(tmp_path: Path) -> None:
    source = """
        import tensorflow as tf

        def branches(y_true, y_pred, mode="mean"):
            err = tf.square(y_true - y_pred)
            if mode == "sum":
                return tf.reduce_sum(err, axis=-1)
            elif mode == "none":
                raise ValueError(mode)
            for _ in range(3):
                err = err * 0.5
            try:
                out = tf.reduce_mean(err, axis=-1)
            except Exception:
                out = tf.reduce_mean(err)
            return out

        def loop_accumulates(y_true, y_pred):
            total = 0.0
            for i in range(3):
                total += tf.reduce_mean(y_pred[..., i])
            return total
    """
    assert [(f[1], f[2]) for f in lint(tmp_path, {"m.py": source})] == [
        (15, "LL001"),
        (21, "LL001"),
    ]


def test_split_along_a_feature_axis_keeps_the_batch(tmp_path: Path) -> None:
    source = """
        import tensorflow as tf

        def channel_gap(y_true, y_pred):
            fg, bg = tf.split(y_pred, 2, axis=-1)
            return tf.reduce_mean(tf.square(fg - bg))

        def channel_gap_ok(y_true, y_pred):
            parts = tf.unstack(y_pred, num=2, axis=-1)
            return tf.square(parts[0] - parts[1])

        def halves(y_true, y_pred):
            first, second = tf.split(y_pred, 2, axis=0)
            return tf.reduce_mean(tf.square(first - second), axis=-1)
    """
    found = lint(tmp_path, {"m.py": source})
    # a fixable mean of a full-rank value; nothing for the per-sample one; no finding (unknown)
    # for the batch split into halves
    assert [(f[1], f[2], f[4]) for f in found] == [(6, "LL001", "safe")]


def test_a_generator_is_no_loss_value_but_a_word_yield_in_prose_changes_nothing(
    tmp_path: Path,
) -> None:
    """A loss body that yields returns a generator (unknown); `yield` in a comment or a
    string of an ordinary loss (the quick line test of `is_generator`) is no yield."""
    found = lint(
        tmp_path,
        {
            "losses.py": """
            import tensorflow as tf

            def gen_loss(y_true, y_pred):
                if y_true is None:
                    yield y_true
                return tf.reduce_mean(tf.square(y_true - y_pred))

            def helper(a, b):
                if a is None:
                    yield a
                return tf.reduce_mean(tf.square(a - b))

            def uses_helper(y_true, y_pred):
                return helper(y_true, y_pred)

            def plain_loss(y_true, y_pred):
                # what does this yield? a scalar
                note = "yield"
                return tf.reduce_mean(tf.square(y_true - y_pred))

            def ordinary_loss(y_true, y_pred):
                return tf.reduce_mean(tf.square(y_true - y_pred))
            """
        },
    )
    assert [(f[0], f[2], f[3]) for f in found] == [
        ("losses.py", "LL001", "losses.plain_loss"),
        ("losses.py", "LL001", "losses.ordinary_loss"),
    ]
