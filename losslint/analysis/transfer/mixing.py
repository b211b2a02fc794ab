"""Ops that can mix samples: matrix products, transposes, gathers, splits, masks, einsum,
scatters into fixed shapes, counts into fixed bins and diagonals. Unless the catalogue's rules show the batch axis
survives, the result is unknown and the loss is batch-level by design."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from losslint.analysis.catalogue import Entry
from losslint.analysis.context import CallArgs, Scope
from losslint.analysis.transfer.common import lost_at, mixing
from losslint.analysis.values import (
    FULL_RANK,
    NO_LITERAL,
    UNKNOWN_RANK,
    Batched,
    Const,
    Flat,
    Parts,
    Rank,
    Reduced,
    Seq,
    Unknown,
    Value,
    as_tensor,
    literal_of,
    tainted,
)

if TYPE_CHECKING:
    from losslint.analysis.evaluator import Evaluator

_TRANSPOSE_FLAGS = ("transpose_a", "transpose_b", "adjoint_a", "adjoint_b")


def batch_mixing(ev: Evaluator, qualname: str, entry: Entry, call: CallArgs, scope: Scope) -> Value:
    rules = ev.catalogue.mixing
    short = qualname.rsplit(".", 1)[-1]
    values = [as_tensor(v) for v in call.args]
    others = [*values[1:], *(as_tensor(v) for v in call.kwargs.values())]
    first = values[0] if values else None
    if isinstance(first, Reduced) and not any(
        tainted(v) and not isinstance(v, Reduced) for v in others
    ):
        return first.merged()  # already batch-free: masking or transposing keeps it so
    if short in rules.transposed_contraction and len(values) >= 2:
        flags = {
            k: literal_of(call.kwargs[k]) for k in ("transpose_a", "adjoint_a") if k in call.kwargs
        }
        if (
            True in flags.values()
            and isinstance(first, Batched)
            and first.rank == FULL_RANK
            and tainted(values[1])
        ):
            # a^T @ b on (batch, d) inputs sums over the samples (Gram / correlation matrices)
            scope.mark_batch_level()
            return lost_at(call, scope, short, "with `transpose_a=True` contracts the batch axis")
    if short in rules.contraction and len(values) >= 2 and _flat_vectors(values[:2]):
        # `tensordot(flat_a, flat_b, 1)`: the dot product of two flattened batches
        axes, _ = call.get(2, "axes")
        if axes is None or literal_of(axes) in (1, ((0,), (0,)), (0, 0)):
            reason = "contracts two tensors flattened with their batch axis into one value"
            return lost_at(call, scope, short, reason)
    if short in rules.contraction and len(values) >= 2:
        transposed = any(
            isinstance(call.kwargs.get(k), Const) and literal_of(call.kwargs[k]) is True
            for k in _TRANSPOSE_FLAGS
        )
        if isinstance(first, Batched) and isinstance(values[1], Const) and not transposed:
            return replace(first, rank=UNKNOWN_RANK)
    if short in rules.indexing:
        axis, _ = call.get(rules.indexing[short], "axis")
        batch_dims, _ = call.get(99, "batch_dims")
        literal = literal_of(axis) if axis is not None else None
        if isinstance(first, Batched):
            if (
                isinstance(literal, int)
                and literal != 0
                and first.rank.axis_effect(literal) == "keeps"
            ):
                return replace(first, rank=UNKNOWN_RANK)
            if isinstance(batch_dims, Const) and batch_dims.literal == 1:
                return replace(first, rank=UNKNOWN_RANK)
            if short in rules.tiling:
                return Unknown(tainted=True)
    if short in rules.splitting and isinstance(first, Batched):
        axis, _ = call.get(2, "axis")
        literal = literal_of(axis) if axis is not None else 0
        if isinstance(literal, int) and first.rank.axis_effect(literal) == "keeps":
            rank = first.rank.minus(1) if short in rules.unstacking else first.rank
            return Parts(replace(first, rank=rank))
    if short in rules.masking and len(values) >= 2 and isinstance(first, Batched | Flat):
        axis, _ = call.get(2, "axis")
        if axis is None or literal_of(axis) in (0, None):
            mask = as_tensor(values[1])
            whole = isinstance(mask, Batched) and isinstance(first, Batched)
            return ev.exprs.masked(scope, call.node, whole=whole and mask.rank == first.rank)
    if short in rules.batched_indexing:
        batch_dims, _ = call.get(99, "batch_dims")
        if isinstance(first, Batched) and isinstance(batch_dims, Const) and batch_dims.literal == 1:
            return replace(first, rank=UNKNOWN_RANK)
    if short in rules.einsum:
        return _einsum(call, scope)
    if short in rules.transpose and isinstance(first, Batched):
        perm, _ = call.get(1, "perm", "axes")
        literal = literal_of(perm) if perm is not None else NO_LITERAL
        if isinstance(literal, tuple) and literal and literal[0] == 0:
            return first
    if short in rules.constant_makers:
        return Const(batch_size=any(isinstance(v, Const) and v.batch_size for v in values))
    if short in rules.broadcasting and isinstance(first, Const):
        return Const()
    return mixing([*values, *call.kwargs.values()], scope)


def _flat_vectors(values: list[Value]) -> bool:
    """Both operands are one flat axis that holds the batch (`K.flatten(y_true)`)."""
    return all(isinstance(v, Flat) and v.rank == 1 for v in values)


def _einsum(call: CallArgs, scope: Scope) -> Value:
    """`einsum("bi,bi->b", a, b)` keeps the batch when its letter leads every operand."""
    spec = literal_of(call.args[0]) if call.args else NO_LITERAL
    operands = [as_tensor(v) for v in call.args[1:]]
    if not isinstance(spec, str) or "->" not in spec or "." in spec:
        return mixing(operands, scope)
    inputs, output = spec.replace(" ", "").split("->")
    terms = inputs.split(",")
    if len(terms) != len(operands):
        return mixing(operands, scope)
    batch_letters = {
        t[0] for t, v in zip(terms, operands, strict=True) if isinstance(v, Batched) and t
    }
    if (
        len(batch_letters) == 1
        and output[:1] in batch_letters
        and all(isinstance(v, Batched | Const) for v in operands)
        and all(output[0] not in t[1:] for t in terms)
    ):
        coupled = any(isinstance(v, Batched) and v.coupled for v in operands)
        return Batched(rank=Rank(drop=None, exact=len(output)), coupled=coupled)
    if batch_letters and not batch_letters & set(output):
        # `einsum("ij,ij->", a, b)`: every operand's batch letter is summed away
        letters = ", ".join(f"`{letter}`" for letter in sorted(batch_letters))
        reason = f"sums over the batch axis ({letters} is not in its output)"
        return lost_at(call, scope, "einsum", reason)
    return mixing(operands, scope)


def scatter(ev: Evaluator, qualname: str, entry: Entry, call: CallArgs, scope: Scope) -> Value:
    updates, _ = call.get(1, "values", "updates")
    target_shape, _ = call.get(entry.axis_position, "shape")
    if updates is None or target_shape is None or not tainted(updates):
        return ev.calls.opaque(call)
    items = [as_tensor(i) for i in target_shape.items] if isinstance(target_shape, Seq) else None
    if items is None or not all(isinstance(i, Const) and not i.batch_size for i in items):
        return Unknown(tainted=True)
    return lost_at(
        call, scope, "scatter", "into a tensor of fixed shape (the samples are summed together)"
    )


def counting(ev: Evaluator, qualname: str, entry: Entry, call: CallArgs, scope: Scope) -> Value:
    counted = [as_tensor(v) for v in call.args[: entry.operands]]
    if not any(tainted(v) for v in counted):
        return ev.calls.opaque(call)
    axis, _ = call.get(entry.axis_position, "axis") if entry.axis_position >= 0 else (None, None)
    if axis is not None and literal_of(axis) is not None:
        return Unknown(tainted=True)  # counted row by row (or an axis the analysis cannot read)
    short = qualname.rsplit(".", 1)[-1]
    return lost_at(call, scope, short, "counts the values of the whole batch into fixed bins")


def diagonal(ev: Evaluator, qualname: str, entry: Entry, call: CallArgs, scope: Scope) -> Value:
    if not call.args or not tainted(call.args[0]):
        return ev.calls.opaque(call)
    operand = as_tensor(call.args[0])
    first, _ = call.get(2, "axis1")
    second, _ = call.get(3, "axis2")
    axes = (
        literal_of(first) if first is not None else 0,
        literal_of(second) if second is not None else 1,
    )
    if isinstance(operand, Reduced):
        return operand
    if entry.op == "builder" or not all(isinstance(a, int) for a in axes):
        return Unknown(tainted=True)
    if 0 not in axes:
        if isinstance(operand, Batched):
            return replace(operand, rank=operand.rank.minus(1))
        return Unknown(tainted=True)
    return lost_at(call, scope, "diagonal", "takes a diagonal across the batch axis (`axis1=0`)")
