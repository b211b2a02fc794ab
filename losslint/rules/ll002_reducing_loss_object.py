"""LL002 reducing-loss-object."""

from __future__ import annotations

from typing import TYPE_CHECKING

from losslint.rules.base import Example, Rule, batch_level_note, when

if TYPE_CHECKING:
    from losslint.analysis.losses import Issue


class ReducingLossObject(Rule):
    """A `keras.losses.Loss` object with the default reduction is called inside a loss.

    ## What it does
    Finds calls of Keras loss objects (`keras.losses.BinaryCrossentropy()(y_true, y_pred)`,
    also when the object is bound to a name, a module global or `self.bce` in `__init__`, and
    instances of the project's own `Loss` subclasses) inside a custom loss, when the object
    was constructed without `reduction="none"`.

    ## Why is this bad?
    Calling a Loss object applies its reduction: it returns one scalar for the whole batch.
    The enclosing loss then returns a batch-reduced value, so Keras' `sample_weight`,
    `class_weight` and masks no longer act per sample. This is common in "BCE + dice"
    losses.

    ## Example
    ```python
    bce = keras.losses.BinaryCrossentropy()

    def bce_dice_loss(y_true, y_pred):
        return bce(y_true, y_pred) + dice_loss(y_true, y_pred)
    ```

    ## Use instead
    ```python
    def bce_dice_loss(y_true, y_pred):
        return keras.losses.binary_crossentropy(y_true, y_pred) + dice_loss(y_true, y_pred)
    ```
    or construct the object with `reduction="none"`.

    ## Fix safety
    The fix adds `reduction="none"` where the object is constructed. It is unsafe: the
    object may be shared with code that relies on the scalar, and weights passed to the
    object itself are then applied per sample.
    """

    code = "LL002"
    name = "reducing-loss-object"

    VALID = (
        Example(
            "from tensorflow import keras\n\n"
            "bce = keras.losses.BinaryCrossentropy(reduction='none')\n\n"
            "def loss(y_true, y_pred):\n"
            "    return bce(y_true, y_pred)\n",
            note="reduction='none' keeps one value per sample",
        ),
        Example(
            "from tensorflow import keras\n\n"
            "model.compile(loss=keras.losses.BinaryCrossentropy())\n",
            note="a Loss object passed to compile is how Keras wants it",
        ),
    )
    INVALID = (
        Example(
            "from tensorflow import keras\n\n"
            "def bce_loss(y_true, y_pred):\n"
            "    return keras.losses.BinaryCrossentropy(from_logits=False)(y_true, y_pred)\n",
            ("LL002",),
            unsafe_fixed="from tensorflow import keras\n\n"
            "def bce_loss(y_true, y_pred):\n"
            '    return keras.losses.BinaryCrossentropy(from_logits=False, reduction="none")(y_true, y_pred)\n',
        ),
        Example(
            "import tensorflow as tf\n\n"
            "class BceDice(tf.keras.losses.Loss):\n"
            "    def __init__(self):\n"
            "        super().__init__()\n"
            "        self.bce = tf.keras.losses.BinaryCrossentropy()\n\n"
            "    def call(self, y_true, y_pred):\n"
            "        return self.bce(y_true, y_pred) + 0.5\n",
            ("LL002",),
            unsafe_fixed="import tensorflow as tf\n\n"
            "class BceDice(tf.keras.losses.Loss):\n"
            "    def __init__(self):\n"
            "        super().__init__()\n"
            '        self.bce = tf.keras.losses.BinaryCrossentropy(reduction="none")\n\n'
            "    def call(self, y_true, y_pred):\n"
            "        return self.bce(y_true, y_pred) + 0.5\n",
        ),
    )

    def claims(self, issue: Issue) -> bool:
        return issue.candidate.role == "loss" and issue.kind == "loss_object" and not issue.mixed

    def message(self, issue: Issue) -> str:
        origin = issue.origins[0]
        where = ""
        if origin.function != issue.loss_name:
            where = f" in `{origin.function}`"
        return (
            f"loss `{issue.loss_name}` calls a `{origin.label}` object{where}{when(issue)}, which"
            " reduces to one"
            f" value for the whole batch; Keras expects one loss per sample{batch_level_note(issue)}"
        )
