"""Synthetic `y_true`/`y_pred` batches for runtime mode, and the order they are tried in.

NumPy only (no TensorFlow): imported by the worker. The batch size (5 unless a hint says
otherwise) differs from every other dimension, so that an output without a leading batch-size
axis has lost the batch axis.
"""

from __future__ import annotations

import ast
import re
import textwrap
from typing import Any

# ranks 2 to 5, odd and even last dimensions, one channel, boxes (N, 4)
DEFAULT_SHAPES: tuple[tuple[int, ...], ...] = (
    (5, 7),
    (5, 8),
    (5, 6, 7),
    (5, 6, 8),
    (5, 16, 12, 3),
    (5, 8, 8, 2),
    (5, 8, 8, 1),
    (5, 3, 4),
    (5, 1),
    (5, 4, 6, 8, 2),
)
# How `y_true` is made for a shape (y_pred is always float in (0.05, 0.95) of that shape):
#   float   floats in (0.05, 0.95), same shape
#   binary  0/1 floats, same shape (metrics that compare labels: accuracy, rounding)
#   onehot  one-hot floats along the last axis
#   int     class ids, shape without the last axis (sparse losses)
#   int1    class ids with a trailing 1
#   packed  two targets packed on the last axis: y_true has twice y_pred's channels
#   packed1 y_true has one channel more than y_pred (a weight or mask channel)
#   gram    y_pred is a (batch, batch) similarity matrix, y_true one-hot labels
#   multi2  several predictions per target (quantiles, mean and log-variance): float y_true of
#   multi3  the shape, y_pred with 2 (3) times its channels on the last axis
LABELS = (
    "float",
    "binary",
    "onehot",
    "int",
    "int1",
    "packed",
    "packed1",
    "gram",
    "multi2",
    "multi3",
)
SHAPE_COMMENT = re.compile(r"#\s*losslint:\s*shape\s*=\s*\(([^)]*)\)")
_SPARSE = re.compile(r"sparse", re.IGNORECASE)
_EQUALITY = re.compile(r"round|equal|argmax|accuracy|_acc\b|\bacc_|\bacc\b", re.IGNORECASE)


def parse_shape_comment(line: str) -> tuple[int, ...] | None:
    """`# losslint: shape=(None, 8, 8, 2)` on a line -> a full shape with a distinct batch size."""
    match = SHAPE_COMMENT.search(line)
    if not match:
        return None
    items = [item.strip() for item in match.group(1).split(",") if item.strip()]
    dims: list[int | None] = []
    for item in items:
        if item == "None":
            dims.append(None)
        elif item.isdigit() and int(item) > 0:
            dims.append(int(item))
        else:
            return None
    if not dims or any(d is None for d in dims[1:]):
        return None
    rest = [d for d in dims[1:] if d is not None]
    batch = dims[0]
    if batch is None:
        batch = 5
        while batch in rest:
            batch += 1
    return (batch, *rest)


def label_order(source: str) -> list[str]:
    """The label kinds to try, most likely first, from the loss' source text."""
    if _SPARSE.search(source):
        first = ["int", "int1", "float", "onehot"]
    elif _EQUALITY.search(source):
        first = ["binary", "onehot", "float", "int", "int1"]
    else:
        first = ["float", "binary", "onehot", "int", "int1"]
    return [*first, *(kind for kind in LABELS if kind not in first)]


def attempts(
    declared: tuple[int, ...] | None, shapes: list[tuple[int, ...]], source: str
) -> list[tuple[tuple[int, ...], str]]:
    """(shape, labels) pairs in the order they are tried: a `# losslint: shape=` hint alone,
    else the configured shapes (or the defaults), the simplest first, each with every label
    kind (the likeliest first)."""
    order = label_order(source)
    if declared is not None:
        candidates = [declared]
    else:
        candidates = [*shapes, *(s for s in derived_shapes(source) if s not in shapes)]
    return [(shape, labels) for shape in candidates for labels in order if _fits(shape, labels)]


def _fits(shape: tuple[int, ...], labels: str) -> bool:
    if labels in ("int", "int1", "onehot", "gram") and shape[-1] < 2:
        return False
    return not (labels == "gram" and len(shape) != 2)


def make_inputs(shape: tuple[int, ...], labels: str, seed: int = 1234) -> tuple[Any, Any]:
    """(`y_true`, `y_pred`) as NumPy arrays for a shape and a label kind (see `LABELS`)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    batch, classes = shape[0], shape[-1]
    pred_shape = (batch, batch) if labels == "gram" else shape
    if labels in ("multi2", "multi3"):
        pred_shape = (*shape[:-1], int(labels[-1]) * classes)
    y_pred = rng.uniform(0.05, 0.95, size=pred_shape).astype(np.float32)
    if labels in ("float", "multi2", "multi3"):
        y_true = rng.uniform(0.05, 0.95, size=shape).astype(np.float32)
    elif labels == "binary":
        y_true = (rng.uniform(0.0, 1.0, size=shape) > 0.5).astype(np.float32)
    elif labels in ("onehot", "gram"):
        ids = rng.integers(0, classes, size=shape[:-1])
        y_true = np.eye(classes, dtype=np.float32)[ids]
    elif labels in ("int", "int1"):
        size = shape[:-1] if labels == "int" else (*shape[:-1], 1)
        y_true = rng.integers(0, classes, size=size).astype(np.int32)
    elif labels in ("packed", "packed1"):
        extra = classes if labels == "packed" else 1
        size = (*shape[:-1], classes + extra)
        y_true = rng.uniform(0.05, 0.95, size=size).astype(np.float32)
    else:
        raise ValueError(f"unknown label kind {labels!r}")
    return y_true, y_pred


def perturb(array: Any, index: int, labels: str | None, classes: int) -> Any:
    """A copy of `array` (`y_pred` when `labels` is None) with only sample `index` changed,
    still a valid input of its kind."""
    import numpy as np

    changed = array.copy()
    if labels in ("int", "int1"):
        changed[index] = (changed[index] + 1) % max(classes, 2)
    elif labels in ("onehot", "gram"):
        changed[index] = np.roll(changed[index], 1, axis=-1)
    else:  # floats in (0.05, 0.95) and 0/1 labels: 1 - x changes every value
        changed[index] = 1.0 - changed[index]
    return changed


MAX_DERIVED_CHANNELS = 64


def last_axis_size(source: str) -> int | None:
    """The smallest last-axis size that every constant index and slice of the last axis in
    `source` fits (`y[..., :4]`, `y[..., 4:9]`, `y[..., 8]` -> 9), when it exceeds 2."""
    try:
        tree = ast.parse(textwrap.dedent(source))
    except (SyntaxError, ValueError):
        return None
    needed = 0
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Tuple)):
            continue
        items = node.slice.elts
        if len(items) < 2:
            continue
        last = items[-1]
        if _is_int(last):
            needed = max(needed, last.value + 1)  # type: ignore[attr-defined]
        elif isinstance(last, ast.Slice):
            for bound, extra in ((last.lower, 1), (last.upper, 0)):
                if bound is not None and _is_int(bound):
                    needed = max(needed, bound.value + extra)  # type: ignore[attr-defined]
    return needed if 2 < needed <= MAX_DERIVED_CHANNELS else None


def _is_int(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Constant)
        and isinstance(node.value, int)
        and not isinstance(node.value, bool)
        and node.value >= 0
    )


# the batch size divided into equal parts: `K.shape(y_pred)[0] // 3` (anchors, positives and
# negatives of a triplet loss), `batch_size // 2`
_BATCH_PARTS = re.compile(
    r"(?:shape\([^()]*\)\s*\[\s*0\s*\]|\.shape\s*\[\s*0\s*\]|batch\w*)\s*//\s*[234]\b"
)
PARTS_BATCH = 12  # divisible into 2, 3 or 4 equal parts, and unlike the other dimensions


def derived_shapes(source: str) -> list[tuple[int, ...]]:
    """Shapes tried after the default ones: a batch that splits into equal parts when the
    loss divides its batch size (`shape[0] // 3`), and shapes of ranks 2 to 4 whose last
    axis fits the loss's own constant indices (boxes with 9 channels, `y[..., 4:9]`)."""
    shapes: list[tuple[int, ...]] = []
    if _BATCH_PARTS.search(source):
        shapes += [(PARTS_BATCH, 7), (PARTS_BATCH, 8)]
    channels = last_axis_size(source)
    if channels is None:
        return shapes
    for inner in ((), (6,), (8, 8)):
        batch = 5
        while batch in (*inner, channels):
            batch += 1
        shapes.append((batch, *inner, channels))
    return shapes
