"""Shape queries and shape changes: `tf.shape`, `len`, constants, flatten/reshape, axes added or
removed (`expand_dims`, `squeeze`, `argmax`), and joins (`concat`, `stack`)."""

from __future__ import annotations

import ast
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from losslint.analysis.catalogue import Entry
from losslint.analysis.context import CallArgs, Scope
from losslint.analysis.transfer.common import axes_argument
from losslint.analysis.values import (
    NO_LITERAL,
    UNKNOWN_RANK,
    ArgRef,
    Batched,
    Const,
    Flat,
    Parts,
    Rank,
    Reduced,
    Seq,
    ShapeOf,
    Unknown,
    Value,
    as_tensor,
    literal_of,
    tainted,
)

if TYPE_CHECKING:
    from losslint.analysis.evaluator import Evaluator


def shape(ev: Evaluator, qualname: str, entry: Entry, call: CallArgs, scope: Scope) -> Value:
    operand = call.args[0] if call.args else None
    batched = operand is not None and tainted(operand) and not isinstance(operand, Reduced)
    if qualname in ev.catalogue.sizes:
        # a count of elements (`reduce_sum(e) / tf.size(e)` is a mean): unlike the batch size
        # read from a shape, no sign of a loss that compares samples by design
        if isinstance(operand, ShapeOf | Seq):
            return Const()
        return Const(batch_size=batched)
    return ShapeOf(batched=batched)


def rank(ev: Evaluator, qualname: str, entry: Entry, call: CallArgs, scope: Scope) -> Value:
    return Const()


def constant(ev: Evaluator, qualname: str, entry: Entry, call: CallArgs, scope: Scope) -> Value:
    if qualname in ev.catalogue.casts and call.args:
        value = call.args[0]
        if isinstance(value, Const):
            return Const(literal=value.literal, batch_size=value.batch_size)
        if isinstance(value, Reduced):
            return value  # `float(intersection)` of a batch-reduced sum is still that value
    return Const()


def flatten(ev: Evaluator, qualname: str, entry: Entry, call: CallArgs, scope: Scope) -> Value:
    value = as_tensor(call.args[0]) if call.args else Unknown()
    if isinstance(value, Batched | Flat):
        return Flat(coupled=value.coupled)
    if isinstance(value, Reduced | Const):
        return value
    return Unknown(tainted=tainted(value))


def batch_flatten(
    ev: Evaluator, qualname: str, entry: Entry, call: CallArgs, scope: Scope
) -> Value:
    value = as_tensor(call.args[0]) if call.args else Unknown()
    if isinstance(value, Batched):
        return replace(value, rank=Rank(drop=None, exact=2))
    return value if isinstance(value, Reduced | Const) else Unknown(tainted=tainted(value))


def reshape(ev: Evaluator, qualname: str, entry: Entry, call: CallArgs, scope: Scope) -> Value:
    """`tf.reshape(x, shape)`: the batch axis stays when the new shape starts with the batch
    size; a leading `-1` (or the batch size times other sizes) merges it into the leading
    axis."""
    value = as_tensor(call.args[0]) if call.args else Unknown()
    new_shape, shape_ref = call.get(1, "shape", "newshape", "new_shape")
    if isinstance(value, Reduced | Const):
        return value
    if not isinstance(value, Batched | Flat) or new_shape is None:
        return Unknown(tainted=tainted(value))
    items: tuple[Value, ...] | None = None
    if len(call.args) > 2 and all(_int_literal(a) for a in call.args[1:]):
        items = tuple(call.args[1:])  # the method form, sizes one by one: `a.reshape(-1, k)`
    elif isinstance(new_shape, Seq):
        items = new_shape.items
    elif isinstance(new_shape, Const) and isinstance(new_shape.literal, int):
        items = (new_shape,)
    if not items:
        return Unknown(tainted=True)
    first = items[0]
    if isinstance(first, Const) and first.batch_size and not _scaled(shape_ref):
        rank = Rank(drop=None, exact=len(items))
        if isinstance(value, Batched):
            return replace(value, rank=rank)
        return Batched(rank=rank, coupled=value.coupled)
    if isinstance(first, Const) and (first.literal == -1 or first.batch_size):
        return Flat(coupled=value.coupled, rank=len(items))
    return Unknown(tainted=True)


def _int_literal(value: Value) -> bool:
    return isinstance(value, Const) and isinstance(value.literal, int) and value.literal is not True


def _scaled(shape: ArgRef | None) -> bool:
    """Whether a literal shape's first size is a product (`(n * h * w, q)`): the batch size
    times other sizes."""
    node = shape.value if shape is not None else None
    if not isinstance(node, ast.Tuple | ast.List) or not node.elts:
        return False
    first = node.elts[0]
    return isinstance(first, ast.BinOp) and isinstance(first.op, ast.Mult)


def axis_change(ev: Evaluator, qualname: str, entry: Entry, call: CallArgs, scope: Scope) -> Value:
    operand, _ = call.get(0, *ev.catalogue.operand_keywords, "indices")
    if operand is None:
        return ev.calls.opaque(call)
    value = as_tensor(operand)
    axes = axes_argument(entry, call)
    if not isinstance(value, Batched):
        if isinstance(value, Reduced):
            return value
        if isinstance(value, Const):
            return Const()
        return Unknown(tainted=tainted(value))
    if entry.delta < 0:
        if axes is None:
            if entry.arg_reduction:
                scope.mark_batch_level()
                return Unknown(tainted=True)
            return replace(value, rank=UNKNOWN_RANK)
        if not isinstance(axes, int) or value.rank.axis_effect(axes) != "keeps":
            if isinstance(axes, int) and value.rank.axis_effect(axes) == "removes":
                scope.mark_batch_level()
            return Unknown(tainted=True)
        return replace(value, rank=value.rank.minus(1))
    if isinstance(axes, int) and axes != 0:
        return replace(value, rank=value.rank.minus(-1))
    return Unknown(tainted=True)


def _join_flat(values: list[Flat], axes: Any, delta: int) -> Value:
    """Concatenating or stacking tensors whose leading axis holds the batch merged with other
    axes: along another axis, the result's leading axis still does."""
    rank = Flat.common_rank(values)
    if rank is None or not isinstance(axes, int) or isinstance(axes, bool):
        return Unknown(tainted=True)
    result = Flat(coupled=any(v.coupled for v in values), rank=rank + delta)
    if result.leading_axis(axes) is not False:
        return Unknown(tainted=True)
    return result


def join_values(ev: Evaluator, qualname: str, entry: Entry, call: CallArgs, scope: Scope) -> Value:
    items, _ = call.get(0, "values", "xs", "tensors")
    axis_value, _ = call.get(entry.axis_position, "axis")
    if axis_value is None:
        axes: Any = entry.default_axis if entry.has_default_axis else NO_LITERAL
    else:
        axes = literal_of(axis_value)
    if isinstance(items, Parts):
        items = Seq((items.item,))  # a list of unknown length: every element is this
    if not isinstance(items, Seq) or not items.items:
        return Unknown(tainted=items is not None and tainted(items))
    values = [as_tensor(v) for v in items.items]
    if all(isinstance(v, Const) for v in values):
        return Const()
    if any(isinstance(v, Flat) for v in values) and all(isinstance(v, Flat) for v in values):
        return _join_flat([v for v in values if isinstance(v, Flat)], axes, entry.delta)
    if not all(isinstance(v, Batched) for v in values):
        if any(isinstance(v, Reduced) for v in values) and all(
            isinstance(v, Reduced | Const) for v in values
        ):
            total = [v for v in values if isinstance(v, Reduced)]
            result = total[0]
            for other in total[1:]:
                result = result.plus(other)
            return result
        return Unknown(tainted=True)
    joined = values[0].rank  # type: ignore[union-attr]
    for v in values[1:]:
        assert isinstance(v, Batched)
        joined = joined.join(v.rank)
    coupled = any(isinstance(v, Batched) and v.coupled for v in values)
    if isinstance(axes, int) and axes != 0 and joined.axis_effect(axes) == "keeps":
        return Batched(rank=joined.minus(-entry.delta) if entry.delta else joined, coupled=coupled)
    if axes == 0:
        scope.mark_batch_level()
    return Unknown(tainted=True)
