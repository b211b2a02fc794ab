"""Reductions (`tf.reduce_*`, `keras.ops.mean`, `K.sum`, ...): which axes they remove, and how
a reduction that removed the batch axis could be fixed."""

from __future__ import annotations

import ast
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from losslint.analysis.catalogue import Entry
from losslint.analysis.context import CallArgs, Scope
from losslint.analysis.transfer.common import (
    UNUSABLE_AXIS,
    axis_tuple,
    callee_label,
    is_literal_expr,
    why,
)
from losslint.analysis.values import (
    FULL_RANK,
    NON_BATCH_AXES,
    UNKNOWN_RANK,
    Alternatives,
    ArgRef,
    Batched,
    Const,
    FixPlan,
    Flat,
    Origin,
    Rank,
    Reduced,
    Unknown,
    Value,
    as_tensor,
    combine,
    literal_of,
    tainted,
)

if TYPE_CHECKING:
    from losslint.analysis.evaluator import Evaluator

_AXIS_KEYWORDS = ("axis", "reduction_indices", "axes")


def reduction(ev: Evaluator, qualname: str, entry: Entry, call: CallArgs, scope: Scope) -> Value:
    if call.starred:
        return Unknown(tainted=any(tainted(v) for v in call.tensors()))
    operand, _ = call.get(0, *ev.catalogue.operand_keywords, "y_true")
    if operand is None:
        return ev.calls.opaque(call)
    value = as_tensor(operand)
    if entry.operands == 2:
        second, _ = call.get(1, "y_pred")
        if second is not None:
            value = combine(value, as_tensor(second), linear=False)
    axis_value, axis_ref = call.get(entry.axis_position, *_AXIS_KEYWORDS)
    keep, _ = call.get(entry.axis_position + 1, "keepdims", "keep_dims")
    keepdims = isinstance(keep, Const) and keep.literal is True
    axes: Any = None if axis_value is None else literal_of(axis_value)
    if isinstance(value, Const):
        return Const()
    if isinstance(value, Reduced):
        return value
    if isinstance(value, Unknown):
        if not value.tainted:
            return Const()
        if axes is None:
            return _reduced(entry, call, scope, why(scope, axis_ref), value, None)
        return Unknown(tainted=True)
    if isinstance(value, Flat):
        return _reduce_flat(entry, call, scope, value, axes, keepdims)
    if not isinstance(value, Batched):
        return Unknown(tainted=tainted(value))
    if value.coupled:
        scope.mark_batch_level()  # batch statistics broadcast into the operand (Pearson, CCC)
    if axes is None:
        return _reduced(entry, call, scope, why(scope, axis_ref), value, axis_ref)
    if axes is NON_BATCH_AXES:
        return replace(value, rank=value.rank if keepdims else Rank(drop=None, exact=1))
    if isinstance(axes, Alternatives):
        return _alternatives(entry, call, scope, axes, value, axis_ref)
    axes = axis_tuple(axes)
    if axes is UNUSABLE_AXIS:
        return Unknown(tainted=True)  # a computed axis: unknown
    if axes is None:
        return _reduced(entry, call, scope, why(scope, axis_ref), value, axis_ref)
    # `mean(keras.losses.mse(...), axis=-1)` reduces the batch axis of rank-2 inputs; after
    # the project's own reductions the inputs may well be sequences or images: unknown
    effects = [
        ("removes" if value.from_loss or value.rank.exact == 1 else "unknown")
        if effect == "maybe"
        else effect
        for effect in (value.rank.axis_effect(a) for a in axes)
    ]
    if "removes" in effects:
        return _reduced(entry, call, scope, why(scope, axis_ref), value, axis_ref)
    if "unknown" in effects:
        # negative axes of a tensor of unknown rank: the batch axis is either still at
        # position 0 or already gone, so a later reduction over axis 0 (or over every axis)
        # removes it in both cases; returned as it is, the value is unknown (no finding)
        return replace(value, rank=UNKNOWN_RANK, from_loss=False)
    if keepdims:
        return value
    return replace(value, rank=value.rank.minus(len(set(axes))))


def _reduce_flat(
    entry: Entry, call: CallArgs, scope: Scope, value: Flat, axes: Any, keepdims: bool
) -> Value:
    """A reduction of a tensor whose leading axis holds the batch merged with other axes."""
    reason = "over a tensor flattened with its batch axis"
    if axes is None:
        return _reduced(entry, call, scope, reason, value, None)
    if isinstance(axes, Alternatives) or axes is NON_BATCH_AXES:
        return Unknown(tainted=True)
    axes = axis_tuple(axes)
    if axes is UNUSABLE_AXIS:
        return Unknown(tainted=True)
    leading = [value.leading_axis(a) for a in axes]
    if True in leading:
        return _reduced(entry, call, scope, reason, value, None)
    if None in leading or value.rank is None:
        return Unknown(tainted=True)
    return value if keepdims else replace(value, rank=max(1, value.rank - len(set(axes))))


def _alternatives(
    entry: Entry,
    call: CallArgs,
    scope: Scope,
    axes: Alternatives,
    value: Batched,
    axis_ref: ArgRef | None,
) -> Value:
    """An axis that differs between paths (`-1 if per_pixel else None`)."""
    options = [axis_tuple(option) for option in axes.options]
    hits = [
        option is None
        or (
            option is not UNUSABLE_AXIS
            and any(value.rank.axis_effect(a) == "removes" for a in option)
        )
        for option in options
    ]
    if any(hits):
        reason = why(scope, axis_ref) + (
            " (every value it can take includes the batch axis)"
            if all(hits)
            else " (one of the values it can take includes the batch axis)"
        )
        return _reduced(entry, call, scope, reason, value, None, fixable=False)
    if UNUSABLE_AXIS in options:
        return Unknown(tainted=True)
    return replace(value, rank=UNKNOWN_RANK)


def _reduced(
    entry: Entry,
    call: CallArgs,
    scope: Scope,
    reason: str,
    operand: Value,
    axis_ref: ArgRef | None,
    fixable: bool = True,
) -> Reduced:
    operand_full = isinstance(operand, Batched) and operand.rank == FULL_RANK
    plan = None
    if fixable and isinstance(operand, Batched):
        plan = _plan(entry, call, operand, axis_ref)
    all_axes_ref = None
    if operand_full:
        for name in scope.full_params:
            if scope.env.get(name) == Batched(rank=FULL_RANK):
                all_axes_ref = name
                break
    scalar = entry.scalar_without_axis and (
        axis_ref is None
        or (isinstance(axis_ref.value, ast.Constant) and axis_ref.value.value is None)
    )
    origin = Origin(
        kind="scalar_op" if scalar else "reduction",
        module=scope.module,
        node=call.node,
        op=entry.op,
        label=callee_label(scope, call.node),
        why=reason,
        function=scope.function,
        operand_full=operand_full,
        plan=plan,
        all_axes_ref=all_axes_ref,
    )
    return Reduced.of(origin)


def _plan(
    entry: Entry, call: CallArgs, operand: Batched, axis_ref: ArgRef | None
) -> FixPlan | None:
    """How to make this reduction per-sample, when the catalogue says it can be."""
    if axis_ref is not None and not is_literal_expr(axis_ref.value):
        return None  # the axis comes from a name (a parameter default, a constant)
    if operand.rank == FULL_RANK and entry.axis_fix is not None:
        action = "add_axis" if axis_ref is None else "replace_axis"
        return FixPlan(action, safe=entry.axis_fix == "safe", axis_arg=axis_ref)
    if operand.rank.per_sample and entry.drop_fix is not None:
        operand_ref = call.arg_refs[0] if call.arg_refs else None
        if operand_ref is None or len(call.node.args) != 1:
            return None
        for keyword in call.node.keywords:
            if keyword.arg not in ("axis", "keepdims", "keep_dims", "name") or not is_literal_expr(
                keyword.value
            ):
                return None
        return FixPlan("drop_call", safe=entry.drop_fix == "safe", operand_arg=operand_ref)
    return None
