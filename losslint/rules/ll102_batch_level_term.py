"""LL102 batch-level-term."""

from __future__ import annotations

from typing import TYPE_CHECKING

from losslint.rules.base import Example, Rule, when

if TYPE_CHECKING:
    from losslint.analysis.losses import Issue


class BatchLevelTerm(Rule):
    """A per-sample loss adds a term computed for the whole batch (off by default).

    ## What it does
    Finds losses whose returned value keeps the batch axis but adds (or multiplies in) a term
    that is one value for the whole batch and that the author probably meant per sample: a
    `keras.losses.Loss` object called with its default reduction, a Keras `Metric` object, or
    an op that always returns a scalar. Plain reductions added as regularisers
    (`per_sample + 0.01 * tf.reduce_mean(y_pred)`) are not reported.

    This rule is off by default: the loss has the shape Keras expects, and only the term is
    batch-level. Enable it with `--extend-select LL102` (or `extend-select = ["LL102"]`).

    ## Why is this bad?
    Keras applies `sample_weight`, `class_weight` and masks to the per-sample values a loss
    returns; a term computed for the whole batch is broadcast to every sample, so those weights
    do not act on it.

    ## Example
    ```python
    bce = keras.losses.BinaryCrossentropy()

    def bce_plus_ssim(y_true, y_pred):
        return bce(y_true, y_pred) + (1.0 - tf.image.ssim(y_true, y_pred, 1.0))
    ```

    ## Use instead
    ```python
    def bce_plus_ssim(y_true, y_pred):
        bce = keras.losses.binary_crossentropy(y_true, y_pred)
        return tf.reduce_mean(bce, axis=[1, 2]) + (1.0 - tf.image.ssim(y_true, y_pred, 1.0))
    ```

    ## Fix safety
    A Loss object constructed in the same file can be constructed with `reduction="none"`,
    which makes its term per-sample: the loss value changes (unsafe). Other terms have no
    automatic fix.
    """

    code = "LL102"
    name = "batch-level-term"

    VALID = (
        Example(
            "import tensorflow as tf\n\n"
            "def mse_with_penalty(y_true, y_pred):\n"
            "    per_sample = tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)\n"
            "    return per_sample + 0.01 * tf.reduce_mean(y_pred)\n",
            note="a plain reduction added as a regulariser is left alone",
        ),
    )
    INVALID = (
        Example(
            "from tensorflow import keras\n\n"
            "bce = keras.losses.BinaryCrossentropy()\n\n"
            "def weighted(y_true, y_pred):\n"
            "    per_sample = keras.losses.mean_squared_error(y_true, y_pred)\n"
            "    return per_sample + bce(y_true, y_pred)\n",
            ("LL102",),
            unsafe_fixed="from tensorflow import keras\n\n"
            'bce = keras.losses.BinaryCrossentropy(reduction="none")\n\n'
            "def weighted(y_true, y_pred):\n"
            "    per_sample = keras.losses.mean_squared_error(y_true, y_pred)\n"
            "    return per_sample + bce(y_true, y_pred)\n",
        ),
    )

    def claims(self, issue: Issue) -> bool:
        return issue.mixed

    def message(self, issue: Issue) -> str:
        origin = issue.origins[0]
        where = f" in `{origin.function}`" if origin.function != issue.loss_name else ""
        if issue.kind == "loss_object":
            term = f"a `{origin.label}` object's value"
        elif origin.op == "metric":
            term = f"a metric object's running value (`{origin.label}`)"
        else:
            term = f"`{origin.label}`, which always returns a scalar"
        return (
            f"{issue.candidate.role} `{issue.loss_name}` adds {term}{where}{when(issue)} to its"
            " per-sample value: one value for the whole batch, which sample and class weights"
            " do not reach"
        )
