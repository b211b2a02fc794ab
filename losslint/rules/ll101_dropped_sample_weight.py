"""LL101 dropped-sample-weight."""

from __future__ import annotations

from typing import TYPE_CHECKING

from losslint.rules.base import Example, Rule

if TYPE_CHECKING:
    from losslint.analysis.losses import Issue
    from losslint.analysis.sample_weight import DroppedWeight


class DroppedSampleWeight(Rule):
    """A loss drops the sample weights Keras passes, or expects weights Keras never passes (off by default).

    ## What it does
    Finds two ways a loss loses its weights:

    - a `keras.losses.Loss` subclass (any spelling: `keras`, `tf.keras`, `tf_keras`,
      subclasses of project subclasses) overrides `__call__(self, y_true, y_pred,
      sample_weight=None)` and never applies `sample_weight`: the name is never read (a
      `super().__call__(y_true, y_pred)` that leaves it out included), or `**kwargs`, where it
      arrives when there is no such parameter, is never read. Passing it on
      (`super().__call__(y_true, y_pred, sample_weight)`, `**kwargs`) or using it in the
      computation is applying it. A `__call__` with neither parameter is not reported: Keras
      passes `sample_weight` to it, so it fails loudly with a `TypeError`;
    - a function passed to `compile(loss=...)` or `compile(metrics=...)` (a name, a lambda, a
      `functools.partial`, a factory's product, a bound method, a list or dict of them; a
      `Loss` object's `call` when its class does not override `__call__`; a plain object's
      `__call__`) has a `sample_weight`, `sample_weights` or `mask` parameter with a default,
      after `y_true, y_pred`, that its body uses. Keras calls a loss function with
      `(y_true, y_pred)` only, so the parameter is always its default and the code that uses
      it never runs. Only functions a compile call in the project reaches are reported: a
      custom training loop may well pass the argument. A parameter the body never reads, one
      bound by `functools.partial`, or one without a default (Keras' call fails loudly) is
      not reported.

    This rule is off by default, like every LL1xx rule until it is measured precise: its
    evidence is structural (a parameter that is never read, a parameter Keras never fills),
    but the real-world corpora hold no instance of it, so its precision is not measured yet.
    Enable it with `--extend-select LL101` (or `extend-select = ["LL101"]`).

    ## Why is this bad?
    Keras applies `sample_weight`, `class_weight` (turned into sample weights) and masks by
    calling a `Loss` object as `loss(y_true, y_pred, sample_weight)`; an override that drops
    the argument trains as if every sample had weight 1, with no warning. A loss function
    never receives a weight or mask: Keras applies them to the per-sample values the function
    returns, and a `mask=None` parameter only suggests that masking happens in the loss.

    ## Example
    ```python
    class ScaledMSE(keras.losses.Loss):
        def call(self, y_true, y_pred):
            return tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)

        def __call__(self, y_true, y_pred, sample_weight=None):
            return 2.0 * super().__call__(y_true, y_pred)
    ```

    ## Use instead
    ```python
    class ScaledMSE(keras.losses.Loss):
        def call(self, y_true, y_pred):
            return tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)

        def __call__(self, y_true, y_pred, sample_weight=None):
            return 2.0 * super().__call__(y_true, y_pred, sample_weight)
    ```

    For a loss function, drop the parameter and pass the weights or masks to `fit`
    (`sample_weight=`), or compute the mask from `y_true` inside the loss.

    ## Fix safety
    There is no automatic fix: where the weights should go is the author's decision.
    """

    code = "LL101"
    name = "dropped-sample-weight"

    VALID = (
        Example(
            "import tensorflow as tf\n\n"
            "class ScaledMSE(tf.keras.losses.Loss):\n"
            "    def call(self, y_true, y_pred):\n"
            "        return tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)\n\n"
            "    def __call__(self, y_true, y_pred, sample_weight=None):\n"
            "        return 2.0 * super().__call__(y_true, y_pred, sample_weight=sample_weight)\n",
            note="the override forwards `sample_weight`",
        ),
        Example(
            "import tensorflow as tf\n\n"
            "def masked_mse(y_true, y_pred, mask=None):\n"
            "    error = tf.square(y_true - y_pred)\n"
            "    if mask is not None:\n"
            "        error = error * mask\n"
            "    return tf.reduce_mean(error, axis=-1)\n\n"
            "def train_step(model, optimizer, x, y, mask):\n"
            "    with tf.GradientTape() as tape:\n"
            "        loss = tf.reduce_mean(masked_mse(y, model(x), mask))\n"
            "    grads = tape.gradient(loss, model.trainable_variables)\n"
            "    optimizer.apply_gradients(zip(grads, model.trainable_variables))\n",
            note="a custom loop passes the mask: the function is never compiled",
        ),
    )
    INVALID = (
        Example(
            "import tensorflow as tf\n\n"
            "class ScaledMSE(tf.keras.losses.Loss):\n"
            "    def call(self, y_true, y_pred):\n"
            "        return tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)\n\n"
            "    def __call__(self, y_true, y_pred, sample_weight=None):\n"
            "        return 2.0 * super().__call__(y_true, y_pred)\n",
            ("LL101",),
        ),
        Example(
            "import tensorflow as tf\n\n"
            "def masked_mse(y_true, y_pred, mask=None):\n"
            "    error = tf.square(y_true - y_pred)\n"
            "    if mask is not None:\n"
            "        error = error * mask\n"
            "    return tf.reduce_mean(error, axis=-1)\n\n"
            "def build(model):\n"
            '    model.compile(optimizer="adam", loss=masked_mse)\n',
            ("LL101",),
        ),
    )

    # LL101 findings come from `analysis/sample_weight.py`, not from the batch-axis analysis.
    def claims(self, issue: Issue) -> bool:
        return False

    def message(self, issue: Issue) -> str:
        return ""

    def describe(self, dropped: DroppedWeight, site: str | None) -> str:
        """The message at the parameter; `site` is "`compile(loss=l1)` at train.py:12"."""
        name = dropped.function.qualname
        if dropped.kind == "override":
            if dropped.how == "kwargs":
                what = f"never reads `**{dropped.node.arg}`, where Keras passes `sample_weight`"
            elif dropped.how == "super":
                what = f"calls `super().__call__` without its `{dropped.parameter}`"
            else:
                what = f"never applies its `{dropped.parameter}`"
            return (
                f"`{name}` overrides `Loss.__call__` and {what}: sample weights, class weights"
                " and masks Keras passes are silently ignored"
            )
        return (
            f"{_role(dropped)} `{name}` never receives `{dropped.parameter}`: Keras calls it"
            f" with `(y_true, y_pred)` only ({site}), so there `{dropped.parameter}` is always"
            f" `{dropped.default}` and the code that uses it never runs"
        )

    def site_message(self, dropped: DroppedWeight, code: str, where: str) -> str:
        """The message at the compile site (`code`: `compile(loss=l1)`; `where`: file:line)."""
        return (
            f"`{code}`: `{dropped.function.qualname}` ({where}) has a `{dropped.parameter}`"
            f" parameter that Keras never passes (it calls the {_role(dropped)} with"
            f" `(y_true, y_pred)` only), so it is always `{dropped.default}`"
        )


def _role(dropped: DroppedWeight) -> str:
    return dropped.candidate.role if dropped.candidate is not None else "loss"
