"""Calls with a meaning of their own: `range`, `tuple()`/`list()`, `functools.partial`,
batch-free builtins, and functions mapped over the batch (`tf.map_fn`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from losslint.analysis.context import CallArgs, Scope
from losslint.analysis.values import (
    NON_BATCH_AXES,
    UNKNOWN_RANK,
    Batched,
    Const,
    FunctionRef,
    Mapping,
    Parts,
    Seq,
    Symbol,
    Unknown,
    Value,
    as_tensor,
    combine,
    join_all,
    tainted,
)

if TYPE_CHECKING:
    from losslint.analysis.evaluator import Evaluator


def range_call(ev: Evaluator, call: CallArgs, scope: Scope) -> Value:
    """`range(1, ndim)` is every axis but the batch axis."""
    if len(call.args) == 2 and isinstance(call.args[0], Const) and call.args[0].literal == 1:
        return Const(literal=NON_BATCH_AXES)
    return Const()


def sequence(ev: Evaluator, call: CallArgs, scope: Scope) -> Value:
    if len(call.args) == 1:
        value = call.args[0]
        if isinstance(value, Const | Seq):
            return value
        return Unknown(tainted=tainted(value))
    return Const()


def mapping(ev: Evaluator, call: CallArgs, scope: Scope) -> Value:
    """`dict(a=f, b=g)` (or `dict(other, c=h)`): a mapping of those values."""
    if call.starred:
        return Unknown()
    items = list(call.kwargs.values())
    if call.args:
        first = call.args[0]
        if not isinstance(first, Mapping):
            return Unknown(tainted=tainted(first))
        items = [*first.items, *items]
    return Mapping(tuple(items))


def fromkeys(ev: Evaluator, call: CallArgs, scope: Scope) -> Value:
    """`dict.fromkeys(keys, f)`: every value is f (None without one)."""
    if call.starred or len(call.args) < 2:
        return Const(literal=None) if len(call.args) == 1 else Unknown()
    return Mapping((call.args[1],))


def total(ev: Evaluator, call: CallArgs, scope: Scope) -> Value:
    """`sum(values)`: a linear combination of the elements (and of `start`)."""
    if not call.args or call.starred:
        return ev.calls.opaque(call)
    items = call.args[0]
    parts: list[Value]
    if isinstance(items, Seq):
        parts = list(items.items)
    elif isinstance(items, Parts):
        parts = [items.item]
    else:
        return ev.calls.opaque(call)
    start, _ = call.get(1, "start")
    if start is not None:
        parts.append(start)
    if not parts:
        return Const()
    result = as_tensor(parts[0])
    for part in parts[1:]:
        result = combine(result, as_tensor(part), linear=True)
    return result


def zipped(ev: Evaluator, call: CallArgs, scope: Scope) -> Value:
    """`zip(weights, losses)` of known lists: the list of their element tuples."""
    if call.starred or call.kwargs or not call.args:
        return ev.calls.opaque(call)
    if not all(isinstance(a, Seq) for a in call.args):
        return Unknown(tainted=any(tainted(a) for a in call.args))
    columns = [a.items for a in call.args if isinstance(a, Seq)]
    return Seq(tuple(Seq(row) for row in zip(*columns, strict=False)))


def enumerated(ev: Evaluator, call: CallArgs, scope: Scope) -> Value:
    """`enumerate(losses)`: (index, element) pairs; the indices are literals for a list."""
    if call.starred or len(call.args) != 1:
        return ev.calls.opaque(call)
    items = call.args[0]
    if isinstance(items, Seq):
        return Seq(tuple(Seq((Const(literal=i), v)) for i, v in enumerate(items.items)))
    if isinstance(items, Parts):
        return Parts(Seq((Const(), items.item)))
    return Unknown(tainted=tainted(items))


def partial(ev: Evaluator, call: CallArgs, scope: Scope) -> Value:
    if not call.args:
        return Unknown()
    func = call.args[0]
    if isinstance(func, FunctionRef):
        return FunctionRef(
            module=func.module,
            node=func.node,
            qualname=func.qualname,
            closure=func.closure,
            bound_args=(*func.bound_args, *call.args[1:]),
            bound_kwargs=(*func.bound_kwargs, *call.kwargs.items()),
            self_value=func.self_value,
            cls=func.cls,
        )
    if isinstance(func, Symbol):
        return func
    return Unknown()


def foreign(ev: Evaluator, call: CallArgs, scope: Scope) -> Value:
    """`tf.numpy_function(f, [y_true, y_pred], tf.float32)` (and `py_function`): f's value."""
    func, _ = call.get(0, "func")
    inputs, _ = call.get(1, "inp")
    if not isinstance(func, FunctionRef) or not isinstance(inputs, Seq):
        return ev.calls.opaque(call)
    return ev.calls.call_function(func, list(inputs.items), {}, scope, call.node)


def cond(ev: Evaluator, call: CallArgs, scope: Scope) -> Value:
    """`tf.cond(pred, true_fn, false_fn)`: what either branch function returns."""
    branches = [call.get(1, "true_fn")[0], call.get(2, "false_fn")[0]]
    if not all(isinstance(branch, FunctionRef) for branch in branches):
        return ev.calls.opaque(call)
    called = [
        ev.calls.call_function(branch, [], {}, scope, call.node)
        for branch in branches
        if isinstance(branch, FunctionRef)
    ]
    return join_all(called, Unknown())


def constant(ev: Evaluator, call: CallArgs, scope: Scope) -> Value:
    return Const()


def map_fn(ev: Evaluator, call: CallArgs, scope: Scope) -> Value:
    elems, _ = call.get(1, "elems")
    if elems is not None and isinstance(as_tensor(elems), Batched):
        return Batched(rank=UNKNOWN_RANK)
    return Unknown(tainted=any(tainted(v) for v in call.tensors()))
