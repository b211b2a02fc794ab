"""Elementwise ops (`tf.square`, `K.clip`, `keras.ops.where`, ...) and normalisations along an
axis (`softmax`, `l2_normalize`, `cumsum`), which couple samples when that axis is the batch."""

from __future__ import annotations

from typing import TYPE_CHECKING

from losslint.analysis.catalogue import Entry
from losslint.analysis.context import CallArgs, Scope
from losslint.analysis.transfer.common import UNUSABLE_AXIS, axes_argument, axis_tuple
from losslint.analysis.values import (
    Batched,
    Const,
    Parts,
    Seq,
    Value,
    as_tensor,
    combine,
    nonlinear,
)

if TYPE_CHECKING:
    from losslint.analysis.evaluator import Evaluator


def _is_const(value: Value) -> bool:
    return isinstance(as_tensor(value), Const)


def _listed(value: Value) -> tuple[Value, ...]:
    """The tensors of a list argument (one element standing for all, for a list of unknown
    length); a tensor argument as itself."""
    if isinstance(value, Seq):
        return value.items
    return (value.item,) if isinstance(value, Parts) else (value,)


def elementwise(ev: Evaluator, qualname: str, entry: Entry, call: CallArgs, scope: Scope) -> Value:
    catalogue = ev.catalogue
    short = qualname.rsplit(".", 1)[-1]
    tensors = call.tensors()
    if short in catalogue.list_sums:  # `tf.add_n([a, b])`: the list's tensors, added
        tensors = [i for v in tensors for i in _listed(v)]
    values = [as_tensor(v) for v in tensors]
    if not values:
        return Const()
    if short in catalogue.scaling and len(values) == 2:
        linear = _is_const(values[1]) or (
            short in catalogue.scaling_either and _is_const(values[0])
        )
    else:
        linear = short in catalogue.linear
    result = values[0]
    for other in values[1:]:
        result = combine(result, other, linear=linear)
    return result if linear else nonlinear(result)


def normalize(ev: Evaluator, qualname: str, entry: Entry, call: CallArgs, scope: Scope) -> Value:
    operand, _ = call.get(0, *ev.catalogue.operand_keywords, "logits")
    if operand is None:
        return ev.calls.opaque(call)
    value = as_tensor(operand)
    axes = axes_argument(entry, call)
    if isinstance(value, Batched):
        axes = axis_tuple(axes)
        if axes is None:
            scope.mark_batch_level()
            return Batched(rank=value.rank, coupled=True)
        if axes is not UNUSABLE_AXIS and any(value.rank.axis_effect(a) == "removes" for a in axes):
            scope.mark_batch_level()
            return Batched(rank=value.rank, coupled=True)
        return value
    return nonlinear(value)
