"""LL001 batch-axis-reduction."""

from __future__ import annotations

from typing import TYPE_CHECKING

from losslint.rules.base import Example, Rule, batch_level_note, describe_origin, when

if TYPE_CHECKING:
    from losslint.analysis.losses import Issue


class BatchAxisReduction(Rule):
    """A loss's returned value is reduced over the batch axis.

    ## What it does
    Finds custom Keras losses (functions passed to `compile(loss=...)`, `call` of
    `keras.losses.Loss` subclasses, functions with `y_true, y_pred`-like parameters) whose
    returned value no longer has the batch axis: a reduction with no `axis`, `axis=None`,
    `axis=0` or an axis list containing 0 (`tf.reduce_mean`, `tf.math.reduce_*`,
    `keras.ops.*`, `K.mean`/`K.sum`, ...), or an outer reduction over a value that is already
    per-sample, such as `tf.reduce_mean(keras.losses.binary_crossentropy(y_true, y_pred))`.

    ## Why is this bad?
    Keras expects one loss per sample and applies `sample_weight`, `class_weight`, masks and
    the batch reduction itself. A scalar loss still trains, but silently: sample and class
    weights stop working (`sample_weight=[1,0,0,0,0,0,0,0]` gave 0.4430 instead of 0.0743),
    masked timesteps are counted (1663.7 instead of 0.822), `MirroredStrategy` multiplies
    loss and gradient by the number of replicas, and a sum ties the loss to the batch size.

    ## Example
    ```python
    def custom_mse(y_true, y_pred):
        return tf.reduce_mean(tf.square(y_true - y_pred))
    ```

    ## Use instead
    ```python
    def custom_mse(y_true, y_pred):
        return tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)
    ```

    ## Fix safety
    Adding `axis=-1` to a mean of a full-rank elementwise error, and removing an outer mean
    over an already per-sample value, are safe: the loss becomes per-sample and its value on
    an unweighted batch is unchanged. Adding `axis=-1` to a sum, max, min, prod or norm is
    unsafe: it changes the loss value (a sum is divided by the batch size). Reductions
    combined non-linearly (dice, IoU, Tversky ratios, `sqrt(mean(...))`) must reduce over
    every non-batch axis instead: unsafe. Losses that compare samples by design (triplet,
    contrastive, correlation losses) get no fix. A reduction over a flattened tensor
    (`K.flatten`) has no automatic fix.
    """

    code = "LL001"
    name = "batch-axis-reduction"

    VALID = (
        Example(
            "import tensorflow as tf\n\n"
            "def custom_mse(y_true, y_pred):\n"
            "    return tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)\n",
            note="per-sample mean over the last axis",
        ),
        Example(
            "from tensorflow import keras\n\n"
            "def weighted_bce(y_true, y_pred, pos_weight=2.0):\n"
            "    bce = keras.losses.binary_crossentropy(y_true, y_pred)\n"
            "    return bce * (1.0 + (pos_weight - 1.0) * tf.reduce_max(y_true, axis=-1))\n",
            note="Keras functional losses are per-sample",
        ),
        Example(
            "from keras import ops\n\n"
            "def soft_dice_loss(y_true, y_pred, smooth=1.0):\n"
            "    axes = tuple(range(1, len(y_pred.shape)))\n"
            "    inter = ops.sum(y_true * y_pred, axis=axes)\n"
            "    union = ops.sum(y_true, axis=axes) + ops.sum(y_pred, axis=axes)\n"
            "    return 1.0 - (2.0 * inter + smooth) / (union + smooth)\n",
            note="ratio reduced over every non-batch axis: per-sample",
        ),
        Example(
            "import tensorflow as tf\n\n"
            "class Model(tf.keras.Model):\n"
            "    def train_step(self, data):\n"
            "        x, y = data\n"
            "        with tf.GradientTape() as tape:\n"
            "            loss = tf.reduce_mean(tf.square(y - self(x)))\n"
            "        self.add_loss(tf.reduce_mean(self.losses))\n"
            "        return {'loss': loss}\n",
            note="custom training steps and add_loss take scalars",
        ),
        Example(
            "import numpy as np\n\n"
            "def mse(y_true, y_pred):\n"
            "    return np.mean((y_true - y_pred) ** 2, axis=-1)\n",
            note="NumPy reductions count like TensorFlow's: per sample with an axis",
        ),
        Example(
            "import tensorflow as tf\n\n"
            "def mse_with_penalty(y_true, y_pred, model_weights=None):\n"
            "    per_sample = tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)\n"
            "    return per_sample + 0.01 * tf.reduce_mean(y_pred)\n",
            note="a batch-level term added to a per-sample value keeps the batch axis",
        ),
        Example(
            "import tensorflow as tf\n"
            "from mylib import fancy_reduce\n\n"
            "def loss(y_true, y_pred, axis=None):\n"
            "    return fancy_reduce(tf.square(y_true - y_pred))\n",
            note="an unknown helper gives no finding",
        ),
        Example(
            "import tensorflow as tf\n\ndef normalise(x, y):\n    return x / tf.reduce_sum(x)\n",
            note="not a loss",
        ),
    )

    INVALID = (
        Example(
            "import tensorflow as tf\n\n"
            "def custom_mse(y_true, y_pred):\n"
            "    return tf.reduce_mean(tf.square(y_true - y_pred))\n",
            ("LL001",),
            fixed="import tensorflow as tf\n\n"
            "def custom_mse(y_true, y_pred):\n"
            "    return tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)\n",
        ),
        Example(
            "from tensorflow.keras import backend as K\n\n"
            "def bce(y_true, y_pred):\n"
            "    return K.mean(K.binary_crossentropy(y_true, y_pred), axis=0)\n",
            ("LL001",),
            fixed="from tensorflow.keras import backend as K\n\n"
            "def bce(y_true, y_pred):\n"
            "    return K.mean(K.binary_crossentropy(y_true, y_pred), axis=-1)\n",
        ),
        Example(
            "import tensorflow as tf\n"
            "from tensorflow import keras\n\n"
            "def bce_loss(y_true, y_pred):\n"
            "    per_sample = keras.losses.binary_crossentropy(y_true, y_pred)\n"
            "    return tf.reduce_mean(per_sample)\n",
            ("LL001",),
            fixed="import tensorflow as tf\n"
            "from tensorflow import keras\n\n"
            "def bce_loss(y_true, y_pred):\n"
            "    per_sample = keras.losses.binary_crossentropy(y_true, y_pred)\n"
            "    return per_sample\n",
            note="outer mean over a per-sample value: remove it (axis=-1 would still reduce)",
        ),
        Example(
            "import numpy as np\nimport tensorflow as tf\n\n"
            "def mse(y_true, y_pred):\n"
            "    return np.mean(np.square(y_true - y_pred))\n",
            ("LL001",),
            fixed="import numpy as np\nimport tensorflow as tf\n\n"
            "def mse(y_true, y_pred):\n"
            "    return np.mean(np.square(y_true - y_pred), axis=-1)\n",
            note="a NumPy reduction over the whole batch is batch-reduced as surely as TensorFlow's"
            " (in a module without TensorFlow or Keras, a NumPy function found by its parameter"
            " names is an evaluation helper: NumPy cannot run inside `fit`)",
        ),
        Example(
            "import tensorflow as tf\n\n"
            "def sse(y_true, y_pred):\n"
            "    return tf.reduce_sum(\n"
            "        tf.square(y_true - y_pred),\n"
            "    )\n",
            ("LL001",),
            fixed=None,
            unsafe_fixed="import tensorflow as tf\n\n"
            "def sse(y_true, y_pred):\n"
            "    return tf.reduce_sum(\n"
            "        tf.square(y_true - y_pred),\n"
            "        axis=-1,\n"
            "    )\n",
            note="a sum: per-sample changes the value (unsafe); layout with trailing comma kept",
        ),
        Example(
            "from keras import backend as K\n\n"
            "def dice_coef(y_true, y_pred, smooth=1.0):\n"
            "    y_true_f = K.flatten(y_true)\n"
            "    y_pred_f = K.flatten(y_pred)\n"
            "    intersection = K.sum(y_true_f * y_pred_f)\n"
            "    return (2.0 * intersection + smooth) / (K.sum(y_true_f) + K.sum(y_pred_f) + smooth)\n\n"
            "def dice_loss(y_true, y_pred):\n"
            "    return 1.0 - dice_coef(y_true, y_pred)\n",
            ("LL001",),
            note="dice over flattened tensors: reported once (in the loss), no automatic fix",
        ),
        Example(
            "from keras import ops\n\n"
            "def iou_loss(y_true, y_pred, smooth=1e-6):\n"
            "    inter = ops.sum(y_true * y_pred)\n"
            "    union = ops.sum(y_true + y_pred) - inter\n"
            "    return 1.0 - (inter + smooth) / (union + smooth)\n",
            ("LL001",),
            unsafe_fixed="from keras import ops\n\n"
            "def iou_loss(y_true, y_pred, smooth=1e-6):\n"
            "    inter = ops.sum(y_true * y_pred, axis=tuple(range(1, len(y_true.shape))))\n"
            "    union = ops.sum(y_true + y_pred, axis=tuple(range(1, len(y_true.shape)))) - inter\n"
            "    return 1.0 - (inter + smooth) / (union + smooth)\n",
            note="a ratio: every reduction must cover all non-batch axes (unsafe)",
        ),
        Example(
            "import tensorflow as tf\n\n"
            "def focal_loss(gamma=2.0, alpha=0.25):\n"
            "    def focal_loss_fixed(y_true, y_pred):\n"
            "        pt = tf.where(tf.equal(y_true, 1), y_pred, 1 - y_pred)\n"
            "        return -tf.reduce_mean(alpha * tf.pow(1.0 - pt, gamma) * tf.math.log(pt))\n"
            "    return focal_loss_fixed\n\n"
            "model.compile(optimizer='adam', loss=focal_loss(gamma=2.0))\n",
            ("LL001",),
            fixed="import tensorflow as tf\n\n"
            "def focal_loss(gamma=2.0, alpha=0.25):\n"
            "    def focal_loss_fixed(y_true, y_pred):\n"
            "        pt = tf.where(tf.equal(y_true, 1), y_pred, 1 - y_pred)\n"
            "        return -tf.reduce_mean(alpha * tf.pow(1.0 - pt, gamma) * tf.math.log(pt), axis=-1)\n"
            "    return focal_loss_fixed\n\n"
            "model.compile(optimizer='adam', loss=focal_loss(gamma=2.0))\n",
        ),
        Example(
            "import tensorflow as tf\n\n"
            "class CustomMSE(tf.keras.losses.Loss):\n"
            "    def __init__(self, regularization_factor=0.1, name='custom_mse'):\n"
            "        super().__init__(name=name)\n"
            "        self.regularization_factor = regularization_factor\n\n"
            "    def call(self, y_true, y_pred):\n"
            "        mse = tf.math.reduce_mean(tf.square(y_true - y_pred))\n"
            "        reg = tf.math.reduce_mean(tf.square(0.5 - y_pred))\n"
            "        return mse + reg * self.regularization_factor\n",
            ("LL001", "LL001"),
            fixed="import tensorflow as tf\n\n"
            "class CustomMSE(tf.keras.losses.Loss):\n"
            "    def __init__(self, regularization_factor=0.1, name='custom_mse'):\n"
            "        super().__init__(name=name)\n"
            "        self.regularization_factor = regularization_factor\n\n"
            "    def call(self, y_true, y_pred):\n"
            "        mse = tf.math.reduce_mean(tf.square(y_true - y_pred), axis=-1)\n"
            "        reg = tf.math.reduce_mean(tf.square(0.5 - y_pred), axis=-1)\n"
            "        return mse + reg * self.regularization_factor\n",
            note="the Keras guide's CustomMSE, as most public copies write it",
        ),
        Example(
            "import tensorflow as tf\n\n"
            "model.compile(loss=lambda yt, yp: tf.reduce_mean(tf.abs(yt - yp)))\n",
            ("LL001",),
            fixed="import tensorflow as tf\n\n"
            "model.compile(loss=lambda yt, yp: tf.reduce_mean(tf.abs(yt - yp), axis=-1))\n",
        ),
        Example(
            "from keras import ops\n\n"
            "def masked_mae(y_true, y_pred, axis=None):\n"
            "    return ops.mean(ops.abs(y_true - y_pred), axis=axis)\n",
            ("LL001",),
            note="the axis comes from a parameter's default: reported, not fixed",
        ),
        Example(
            "import tensorflow as tf\n\n"
            "def huberish(y_true, y_pred, delta=1.0):\n"
            "    err = tf.abs(y_true - y_pred)\n"
            "    if delta > 0:\n"
            "        loss = tf.reduce_mean(tf.square(err))\n"
            "    else:\n"
            "        loss = tf.reduce_mean(err, axis=-1)\n"
            "    return loss\n",
            ("LL001",),
            fixed="import tensorflow as tf\n\n"
            "def huberish(y_true, y_pred, delta=1.0):\n"
            "    err = tf.abs(y_true - y_pred)\n"
            "    if delta > 0:\n"
            "        loss = tf.reduce_mean(tf.square(err), axis=-1)\n"
            "    else:\n"
            "        loss = tf.reduce_mean(err, axis=-1)\n"
            "    return loss\n",
            note="any path that loses the batch axis counts",
        ),
        Example(
            "import tensorflow as tf\n\n"
            "def batch_hard_triplet(y_true, y_pred, margin=0.5):\n"
            "    dist = tf.reduce_sum(tf.square(y_pred[:, None] - y_pred[None, :]), axis=-1)\n"
            "    same = tf.equal(y_true, tf.transpose(y_true))\n"
            "    pos = tf.reduce_max(dist * tf.cast(same, tf.float32), axis=1)\n"
            "    neg = tf.reduce_min(dist + 1e9 * tf.cast(same, tf.float32), axis=1)\n"
            "    return tf.reduce_mean(tf.maximum(pos - neg + margin, 0.0))\n",
            ("LL001",),
            note="batch-level by design: reported (return per-anchor values), never fixed",
        ),
    )

    def claims(self, issue: Issue) -> bool:
        return issue.candidate.role == "loss" and issue.kind == "reduction" and not issue.mixed

    def message(self, issue: Issue) -> str:
        return (
            f"loss `{issue.loss_name}` returns a value reduced over the batch axis{when(issue)}: "
            f"{describe_origin(issue)}; Keras expects one loss per sample{batch_level_note(issue)}"
        )
