"""LL003 scalar-only-op."""

from __future__ import annotations

from typing import TYPE_CHECKING

from losslint.rules.base import Example, Rule, batch_level_note, when

if TYPE_CHECKING:
    from losslint.analysis.losses import Issue


class ScalarOnlyOp(Rule):
    """An op that always returns a scalar is used in a loss's result.

    ## What it does
    Finds `tf.nn.l2_loss`, `tf.norm` / `keras.ops.norm` without `axis`,
    `tf.nn.compute_average_loss` and the `tf.compat.v1.losses.*` functions (whose default
    reduction is a scalar) in the value a custom loss returns.

    ## Why is this bad?
    These ops reduce every axis, the batch axis included, so the loss returns one value for
    the whole batch and Keras' sample weights, class weights and masks stop working.

    ## Example
    ```python
    def l2(y_true, y_pred):
        return tf.nn.l2_loss(y_true - y_pred)
    ```

    ## Use instead
    ```python
    def l2(y_true, y_pred):
        return 0.5 * tf.reduce_sum(tf.square(y_true - y_pred), axis=-1)
    ```

    ## Fix safety
    `tf.norm(x)` / `keras.ops.norm(x)` can become `axis=-1`: a per-sample norm, which is a
    different value (unsafe). The other ops have no automatic fix.
    """

    code = "LL003"
    name = "scalar-only-op"

    VALID = (
        Example(
            "import tensorflow as tf\n\n"
            "def l2(y_true, y_pred):\n"
            "    return tf.norm(y_true - y_pred, axis=-1)\n",
        ),
        Example(
            "import tensorflow as tf\n\n"
            "def loss(y_true, y_pred, weights=None):\n"
            "    return tf.reduce_mean(tf.square(y_true - y_pred), axis=-1) + 1e-4 * tf.nn.l2_loss(weights)\n",
            note="l2_loss of a weight tensor does not involve the batch",
        ),
    )
    INVALID = (
        Example(
            "import tensorflow as tf\n\n"
            "def l2(y_true, y_pred):\n"
            "    return tf.nn.l2_loss(y_true - y_pred)\n",
            ("LL003",),
        ),
        Example(
            "from keras import ops\n\n"
            "def dist(y_true, y_pred):\n"
            "    return ops.norm(y_true - y_pred)\n",
            ("LL003",),
            unsafe_fixed="from keras import ops\n\n"
            "def dist(y_true, y_pred):\n"
            "    return ops.norm(y_true - y_pred, axis=-1)\n",
        ),
        Example(
            "import tensorflow as tf\n\n"
            "def v1_mse(y_true, y_pred):\n"
            "    return tf.compat.v1.losses.mean_squared_error(y_true, y_pred)\n",
            ("LL003",),
        ),
    )

    def claims(self, issue: Issue) -> bool:
        return issue.candidate.role == "loss" and issue.kind == "scalar_op" and not issue.mixed

    def message(self, issue: Issue) -> str:
        origin = issue.origins[0]
        where = f" in `{origin.function}`" if origin.function != issue.loss_name else ""
        return (
            f"loss `{issue.loss_name}` uses `{origin.label}`{where}{when(issue)}, which always returns"
            " a scalar;"
            f" Keras expects one loss per sample{batch_level_note(issue)}"
        )
