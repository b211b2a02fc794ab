"""LL004 batch-reduced-metric."""

from __future__ import annotations

from typing import TYPE_CHECKING

from losslint.rules.base import Example, Rule, describe_origin, when

if TYPE_CHECKING:
    from losslint.analysis.losses import Issue


class BatchReducedMetric(Rule):
    """A metric function returns a value reduced over the batch axis.

    ## What it does
    The same check as LL001, for functions passed in `compile(metrics=...)` (or
    `weighted_metrics=...`) and for loss-shaped functions whose name says they are metrics
    (`*_acc`, `*_coef`, `*_score`, ...).

    ## Why is this bad?
    Keras wraps a metric function in `MeanMetricWrapper`, which averages the per-sample
    values over the whole epoch. A scalar per batch is averaged with equal weight per batch,
    so a smaller last batch is over-weighted (27.136 expected, 43.318 reported with 10
    samples and batch size 4) and `sample_weight` is ignored.

    ## Example
    ```python
    def rmse(y_true, y_pred):
        return tf.sqrt(tf.reduce_mean(tf.square(y_true - y_pred)))

    model.compile(loss="mse", metrics=[rmse])
    ```

    ## Use instead
    ```python
    model.compile(loss="mse", metrics=[keras.metrics.RootMeanSquaredError()])
    ```

    ## Fix safety
    As for LL001: `axis=-1` on a mean of a full-rank value is safe, everything else unsafe
    or not fixed.
    """

    code = "LL004"
    name = "batch-reduced-metric"

    VALID = (
        Example(
            "import tensorflow as tf\n\n"
            "def mae_metric(y_true, y_pred):\n"
            "    return tf.reduce_mean(tf.abs(y_true - y_pred), axis=-1)\n\n"
            "model.compile(loss='mse', metrics=[mae_metric])\n",
        ),
    )
    INVALID = (
        Example(
            "import tensorflow as tf\n\n"
            "def mean_abs(y_true, y_pred):\n"
            "    return tf.reduce_mean(tf.abs(y_true - y_pred))\n\n"
            "model.compile(loss='mse', metrics=[mean_abs])\n",
            ("LL004",),
            fixed="import tensorflow as tf\n\n"
            "def mean_abs(y_true, y_pred):\n"
            "    return tf.reduce_mean(tf.abs(y_true - y_pred), axis=-1)\n\n"
            "model.compile(loss='mse', metrics=[mean_abs])\n",
        ),
        Example(
            "from keras import backend as K\n\n"
            "def binary_acc(y_true, y_pred):\n"
            "    return K.mean(K.equal(y_true, K.round(y_pred)))\n",
            ("LL004",),
            fixed="from keras import backend as K\n\n"
            "def binary_acc(y_true, y_pred):\n"
            "    return K.mean(K.equal(y_true, K.round(y_pred)), axis=-1)\n",
            note="named like a metric",
        ),
    )

    def claims(self, issue: Issue) -> bool:
        return issue.candidate.role == "metric" and not issue.mixed

    def message(self, issue: Issue) -> str:
        return (
            f"metric `{issue.loss_name}` returns a value reduced over the batch axis{when(issue)}: "
            f"{describe_origin(issue)}; Keras averages per-batch metric values with equal weight"
        )
