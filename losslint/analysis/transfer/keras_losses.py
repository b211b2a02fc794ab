"""Keras' own losses and metrics: functional losses (one value per sample), image metrics
(one value per image), Loss classes (their instances reduce), scalar-only ops, and Keras'
symbolic tensors (`keras.Input`, and what models and layers give for a batch)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from losslint.analysis.catalogue import Entry
from losslint.analysis.context import CallArgs, Scope
from losslint.analysis.transfer.common import (
    callee_label,
    lost_at,
    per_sample_result,
    reduction_is_none,
)
from losslint.analysis.values import (
    UNKNOWN_RANK,
    Batched,
    Const,
    Flat,
    LayerObject,
    LossObject,
    MetricObject,
    Origin,
    Rank,
    Reduced,
    Seq,
    Unknown,
    Value,
    as_tensor,
    nonlinear,
    tainted,
)

if TYPE_CHECKING:
    from losslint.analysis.evaluator import Evaluator


def per_sample(ev: Evaluator, qualname: str, entry: Entry, call: CallArgs, scope: Scope) -> Value:
    values = list(call.args[:2])
    for name in ev.catalogue.loss_tensor_keywords:
        if name in call.kwargs:
            values.append(call.kwargs[name])
    if not values:
        return ev.calls.opaque(call)
    flat = _on_flat(values, call, scope)
    return flat if flat is not None else per_sample_result(values)


def _on_flat(values: list[Value], call: CallArgs, scope: Scope) -> Value | None:
    """A functional loss on tensors whose leading axis merges the batch with other axes: it
    removes the last axis, which is that merged axis when it is the only one."""
    tensors = [as_tensor(v) for v in values]
    flats = [v for v in tensors if isinstance(v, Flat)]
    if not flats or not all(isinstance(v, Flat | Const) for v in tensors):
        return None
    rank = Flat.common_rank(flats)
    if rank == 1:
        reason = "averages over a tensor flattened with its batch axis"
        return lost_at(call, scope, "loss", reason)
    if rank is None:
        return Unknown(tainted=True)
    return Flat(coupled=any(v.coupled for v in flats), rank=rank - 1)


def per_image(ev: Evaluator, qualname: str, entry: Entry, call: CallArgs, scope: Scope) -> Value:
    values = [as_tensor(v) for v in call.args[:2]]
    reduced = [v for v in values if isinstance(v, Reduced)]
    if reduced:
        return nonlinear(reduced[0])
    if values and all(isinstance(v, Batched) for v in values):
        coupled = any(isinstance(v, Batched) and v.coupled for v in values)
        return Batched(rank=Rank(drop=None, exact=1), coupled=coupled)
    return ev.calls.opaque(call)


def loss_class(ev: Evaluator, qualname: str, entry: Entry, call: CallArgs, scope: Scope) -> Value:
    """Constructing a Keras Loss object: calling it later reduces unless reduction="none"."""
    reduction = call.kwargs.get("reduction")
    is_none = reduction_is_none(reduction)
    if is_none is None:
        return Unknown()
    return LossObject(
        name=qualname,
        per_sample=is_none,
        ctor=call.node,
        ctor_module=scope.module,
        reduction_given=reduction is not None,
    )


def metric_class(ev: Evaluator, qualname: str, entry: Entry, call: CallArgs, scope: Scope) -> Value:
    """Constructing a Keras Metric object."""
    return MetricObject(entry.op)


def metric_result(name: str, call: CallArgs, scope: Scope) -> Value:
    """Calling a Metric object (or its `result()`): its running value, whatever the inputs."""
    origin = Origin(
        kind="reduction",
        module=scope.module,
        node=call.node,
        op="metric",
        label=callee_label(scope, call.node),
        why=f"calls a `{name}` metric object, which returns its running value over every"
        " batch seen, not one value per sample",
        function=scope.function,
    )
    return Reduced.of(origin)


def scalar_op(ev: Evaluator, qualname: str, entry: Entry, call: CallArgs, scope: Scope) -> Value:
    """One value for all samples; TensorFlow 1's losses with `reduction="none"` (or
    `Reduction.NONE`) give one value per element instead, an unknown reduction anything."""
    if not any(tainted(v) for v in call.tensors()):
        return Const()
    if qualname.startswith(ev.catalogue.reduction_keyword_prefixes):
        is_none = reduction_is_none(call.kwargs.get("reduction"))
        if is_none is None:
            return Unknown(tainted=True)
        if is_none:
            batched = any(isinstance(as_tensor(v), Batched) for v in call.tensors())
            return Batched(rank=UNKNOWN_RANK) if batched else Unknown(tainted=True)
    origin = Origin(
        kind="scalar_op",
        module=scope.module,
        node=call.node,
        op=entry.op,
        label=callee_label(scope, call.node),
        why="always returns a scalar",
        function=scope.function,
    )
    return Reduced.of(origin)


def keras_input(ev: Evaluator, qualname: str, entry: Entry, call: CallArgs, scope: Scope) -> Value:
    """`keras.Input(shape)`: a batch of the model's samples, of a rank not told here."""
    return Batched(rank=UNKNOWN_RANK)


def layer_class(ev: Evaluator, qualname: str, entry: Entry, call: CallArgs, scope: Scope) -> Value:
    """Constructing a Keras model or layer: calling the object later maps a batch to a batch."""
    return LayerObject(qualname)


def layer_call(call: CallArgs) -> Value | None:
    """A model or layer called on a batch (or a list of batches): a batch of unknown rank;
    None when no argument is a batch."""
    values = [as_tensor(v) for v in call.tensors()]
    for value in call.args[:1]:
        if isinstance(value, Seq):
            values += [as_tensor(item) for item in value.items]
    if any(isinstance(v, Batched) for v in values) and not any(
        isinstance(v, Reduced | Flat) for v in values
    ):
        return Batched(rank=UNKNOWN_RANK)
    return None


def weighted_loss(
    ev: Evaluator, qualname: str, entry: Entry, call: CallArgs, scope: Scope
) -> Value:
    """`compute_weighted_loss(values, sample_weight, reduction=...)`: the weighted values with
    `reduction="none"`, else (the default too) one scalar for the whole batch."""
    values = as_tensor(call.args[0]) if call.args else None
    if values is None or not tainted(values):
        return ev.calls.opaque(call)
    reduction = call.kwargs.get("reduction")
    if reduction is None and len(call.args) > 2 and not qualname.startswith("tf1losses."):
        reduction = call.args[2]
    is_none = reduction_is_none(reduction)
    if is_none or isinstance(values, Reduced):
        return values  # weighted, not reduced; or already reduced
    if is_none is None:
        return Unknown(tainted=True)
    return lost_at(
        call,
        scope,
        entry.op,
        'reduces the weighted values to one scalar (its `reduction` is not "none")',
    )
