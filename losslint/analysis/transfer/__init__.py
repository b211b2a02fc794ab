"""Transfer functions: the value of a call to a catalogued API, one module per family.

`CATEGORIES` maps a catalogue category to the function that evaluates calls of that category;
`SPECIAL` maps the catalogue's `[special]` rules (Python builtins and a few library calls) to
theirs. Every function takes the evaluator, the call's evaluated arguments and the scope.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from losslint.analysis.transfer import (
    builtins,
    elementwise,
    keras_losses,
    mixing,
    reductions,
    shapes,
)
from losslint.analysis.transfer.common import per_sample_result

if TYPE_CHECKING:
    from losslint.analysis.catalogue import Entry
    from losslint.analysis.context import CallArgs, Scope
    from losslint.analysis.evaluator import Evaluator
    from losslint.analysis.values import Value

    Transfer = Callable[[Evaluator, str, Entry, CallArgs, Scope], Value]

CATEGORIES: dict[str, Any] = {
    "reduction": reductions.reduction,
    "elementwise": elementwise.elementwise,
    "normalize": elementwise.normalize,
    "per_sample": keras_losses.per_sample,
    "per_image": keras_losses.per_image,
    "loss_class": keras_losses.loss_class,
    "metric_class": keras_losses.metric_class,
    "scalar_op": keras_losses.scalar_op,
    "keras_input": keras_losses.keras_input,
    "weighted_loss": keras_losses.weighted_loss,
    "layer_class": keras_losses.layer_class,
    "shape": shapes.shape,
    "rank": shapes.rank,
    "constant": shapes.constant,
    "flatten": shapes.flatten,
    "batch_flatten": shapes.batch_flatten,
    "reshape": shapes.reshape,
    "axis_change": shapes.axis_change,
    "join": shapes.join_values,
    "batch_mixing": mixing.batch_mixing,
    "scatter": mixing.scatter,
    "counting": mixing.counting,
    "diagonal": mixing.diagonal,
}

SPECIAL: dict[str, Any] = {
    "range": builtins.range_call,
    "sequence": builtins.sequence,
    "mapping": builtins.mapping,
    "fromkeys": builtins.fromkeys,
    "partial": builtins.partial,
    "total": builtins.total,
    "zipped": builtins.zipped,
    "enumerated": builtins.enumerated,
    "foreign": builtins.foreign,
    "cond": builtins.cond,
    "constant": builtins.constant,
    "map": builtins.map_fn,
}

__all__ = ["CATEGORIES", "SPECIAL", "per_sample_result"]
