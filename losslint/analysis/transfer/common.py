"""Helpers shared by the transfer functions."""

from __future__ import annotations

import ast
from collections.abc import Sequence
from typing import Any

from losslint.analysis.catalogue import Entry
from losslint.analysis.context import CallArgs, Scope
from losslint.analysis.values import (
    ArgRef,
    Batched,
    Const,
    Origin,
    Reduced,
    Symbol,
    Unknown,
    Value,
    as_tensor,
    combine,
    literal_of,
    nonlinear,
    tainted,
)


class _Unusable:
    """An axis literal losslint cannot read (a string, a computed value)."""


UNUSABLE_AXIS: Any = _Unusable()


def axis_tuple(axes: Any) -> Any:
    """Integer axes as a tuple; None for 'all axes'; UNUSABLE_AXIS for anything else."""
    if axes is None:
        return None
    if isinstance(axes, bool):
        return UNUSABLE_AXIS
    if isinstance(axes, int):
        return (axes,)
    if isinstance(axes, tuple) and all(
        isinstance(a, int) and not isinstance(a, bool) for a in axes
    ):
        return axes
    return UNUSABLE_AXIS


def why(scope: Scope, axis_ref: ArgRef | None) -> str:
    """How a reduction was given its axis, for the message: "without `axis`", ..."""
    if axis_ref is None:
        return "without `axis`"
    code = scope.module.code_for(axis_ref.value)
    if axis_ref.keyword is None:
        return f"with axis `{code}`"
    return f"with `{axis_ref.keyword}={code}`"


def callee_label(scope: Scope, call: ast.Call) -> str:
    return scope.module.code_for(call.func)


def is_literal_expr(expr: ast.expr) -> bool:
    """A number, string, None/True/False, or a tuple/list of them (possibly negated)."""
    if isinstance(expr, ast.Constant):
        return expr.value is not Ellipsis and not isinstance(expr.value, complex)
    if isinstance(expr, ast.UnaryOp):
        return is_literal_expr(expr.operand)
    if isinstance(expr, ast.Tuple | ast.List):
        return all(is_literal_expr(e) for e in expr.elts)
    return False


def per_sample_result(values: Sequence[Value]) -> Value:
    """The value of a Keras functional loss on these inputs: one value per sample."""
    tensors = [as_tensor(v) for v in values]
    if any(isinstance(v, Reduced) for v in tensors):
        result = tensors[0]
        for other in tensors[1:]:
            result = combine(result, other, linear=False)
        return nonlinear(result)
    batched = [v for v in tensors if isinstance(v, Batched)]
    if batched and len(batched) == len([v for v in tensors if not isinstance(v, Const)]):
        rank = batched[-1].rank
        return Batched(rank=rank.minus(1), coupled=any(v.coupled for v in batched), from_loss=True)
    if all(isinstance(v, Const) for v in tensors):
        return Const()
    return Unknown(tainted=any(tainted(v) for v in tensors))


def lost_at(call: CallArgs, scope: Scope, op: str, reason: str) -> Reduced:
    """The batch axis is removed by this call, in a way no fix can repair."""
    origin = Origin(
        kind="reduction",
        module=scope.module,
        node=call.node,
        op=op,
        label=callee_label(scope, call.node),
        why=reason,
        function=scope.function,
    )
    return Reduced.of(origin)


def mixing(values: Sequence[Value], scope: Scope) -> Value:
    """An op that mixes samples: unknown, and the loss is batch-level by design."""
    if any(tainted(v) for v in values):
        scope.mark_batch_level()
        return Unknown(tainted=True)
    return Const()


def reduction_is_none(reduction: Value | None) -> bool | None:
    """True for reduction="none"/None/Reduction.NONE, False for the default, None if unknown."""
    if reduction is None:
        return False
    if isinstance(reduction, Const):
        if reduction.literal is None or reduction.literal == "none":
            return True
        if isinstance(reduction.literal, str):
            return False
        return None
    if isinstance(reduction, Symbol):
        if reduction.qualname.endswith("Reduction.NONE"):
            return True
        if ".Reduction." in reduction.qualname:
            return False
    return None


def axes_argument(entry: Entry, call: CallArgs, unset: Any = None) -> Any:
    """The literal axes a call gives (`axis=`/`dim=` or its position in the catalogue entry);
    without one, the entry's default axis, or `unset` when the op has none."""
    axis_value, _ = call.get(entry.axis_position, "axis", "dim")
    if axis_value is None:
        return entry.default_axis if entry.has_default_axis else unset
    return literal_of(axis_value)
