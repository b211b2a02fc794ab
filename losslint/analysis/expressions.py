"""Expressions: the abstract value of every kind of Python expression in a loss body."""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from losslint.analysis.context import CallArgs, Scope
from losslint.analysis.values import (
    NO_LITERAL,
    UNKNOWN_RANK,
    Alternatives,
    ArgRef,
    Batched,
    ClassRef,
    Const,
    Flat,
    FunctionRef,
    Instance,
    LossObject,
    Mapping,
    MetricObject,
    ModuleRef,
    Origin,
    Parts,
    Reduced,
    Seq,
    ShapeOf,
    Symbol,
    Unknown,
    Value,
    as_tensor,
    combine,
    elements,
    join,
    join_all,
    literal_of,
    tainted,
)

MAX_UNROLLED = 16

if TYPE_CHECKING:
    from losslint.analysis.evaluator import Evaluator


def is_const(value: Value) -> bool:
    return isinstance(as_tensor(value), Const)


def subscript_items(node: ast.Subscript) -> list[ast.expr]:
    """The indices of `x[a, b:c]` as a list (one item for `x[a]`)."""
    index = node.slice
    if isinstance(index, ast.Tuple):
        return list(index.elts)
    return [index]


def _is_ellipsis(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is Ellipsis


def _is_full_slice(node: ast.expr) -> bool:
    return isinstance(node, ast.Slice) and node.lower is None and node.upper is None


def _flat_subscript(base: Flat, items: list[ast.expr]) -> Flat:
    """`x_flat[:, 1:]` keeps its axes, `x_flat[:, 0]` drops one; anything else: unknown rank."""
    if base.rank is None or _is_ellipsis(items[0]):
        return replace(base, rank=None) if len(items) > 1 else base
    dropped = 0
    for item in items[1:]:
        if isinstance(item, ast.Slice | ast.List):
            continue  # a slice, or a list of indices (`x_flat[:, [1, 3]]`), keeps the axis
        number = item.operand if isinstance(item, ast.UnaryOp) else item
        if isinstance(number, ast.Constant) and type(number.value) is int:
            dropped += 1
            continue
        return replace(base, rank=None)  # an ellipsis, a new axis, a tensor index
    return replace(base, rank=max(1, base.rank - dropped))


def _sequence_arithmetic(op: ast.operator, left: Value, right: Value) -> Value | None:
    """Python lists: `[a] + [b]` concatenates, `[None] * n` repeats (None: not list arithmetic)."""
    if isinstance(op, ast.Add) and isinstance(left, Seq) and isinstance(right, Seq):
        return Seq((*left.items, *right.items))
    if isinstance(op, ast.Add) and isinstance(left, Seq | Parts) and isinstance(right, Seq | Parts):
        return join(left, right) if left != right else left
    if isinstance(op, ast.Mult):
        sequence, count = (left, right) if isinstance(left, Seq | Parts) else (right, left)
        if not isinstance(count, Const):
            return None
        literal = count.literal
        if isinstance(sequence, Seq) and isinstance(literal, int) and literal <= MAX_UNROLLED:
            return Seq(sequence.items * max(literal, 0))
        item = elements(sequence)
        return Parts(item) if item is not None else None
    return None


class Expressions:
    """Evaluates expressions; calls are handed to `Calls`, conditions to `truth`."""

    def __init__(self, ev: Evaluator) -> None:
        self.ev = ev
        self._dispatch: dict[type, Callable[[ast.expr, Scope], Value]] = {
            ast.Constant: self._constant,
            ast.JoinedStr: self._const,
            ast.Name: self._name,
            ast.Tuple: self._sequence,
            ast.List: self._sequence,
            ast.Dict: self._dict,
            ast.UnaryOp: self._unary,
            ast.BinOp: self._binary,
            ast.BoolOp: self._boolean,
            ast.Compare: self._compare,
            ast.IfExp: self._if_exp,
            ast.NamedExpr: self._named,
            ast.Lambda: self._lambda,
            ast.Attribute: self._attribute,
            ast.Subscript: self._subscript,
            ast.Call: self._call,
            ast.Starred: self._starred,
            ast.ListComp: self._comprehension,
            ast.SetComp: self._comprehension,
            ast.GeneratorExp: self._comprehension,
            ast.DictComp: self._comprehension,
        }

    def eval(self, expr: ast.expr, scope: Scope) -> Value:
        handler = self._dispatch.get(type(expr))
        if handler is None:
            return Unknown(tainted=self._refs_tainted(expr, scope))
        return handler(expr, scope)

    def _refs_tainted(self, node: ast.AST, scope: Scope) -> bool:
        for current in ast.walk(node):
            if isinstance(current, ast.Name):
                value = scope.env.get(current.id)
                if value is not None and tainted(value):
                    return True
        return False

    # -- literals and names -------------------------------------------------------------------

    @staticmethod
    def _constant(expr: ast.expr, scope: Scope) -> Value:
        assert isinstance(expr, ast.Constant)
        value = expr.value
        if value is Ellipsis or isinstance(value, complex):
            return Const()
        return Const(literal=value)

    @staticmethod
    def _const(expr: ast.expr, scope: Scope) -> Value:
        return Const()

    def _name(self, expr: ast.expr, scope: Scope) -> Value:
        assert isinstance(expr, ast.Name)
        return self.ev.names.lookup(expr.id, scope)

    def _sequence(self, expr: ast.expr, scope: Scope) -> Value:
        assert isinstance(expr, ast.Tuple | ast.List)
        return Seq(tuple(self.eval(e, scope) for e in expr.elts))

    def _starred(self, expr: ast.expr, scope: Scope) -> Value:
        assert isinstance(expr, ast.Starred)
        return self.eval(expr.value, scope)

    def _dict(self, expr: ast.expr, scope: Scope) -> Value:
        assert isinstance(expr, ast.Dict)
        return Mapping(
            tuple(
                self.eval(value, scope)
                for key, value in zip(expr.keys, expr.values, strict=True)
                if key is not None
            )
        )

    def _comprehension(self, expr: ast.expr, scope: Scope) -> Value:
        """`[f(x) for x in xs]`: per element when `xs` is a short known sequence, else a
        sequence of unknown length whose elements are `f` of any element."""
        assert isinstance(expr, ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp)
        element = expr.value if isinstance(expr, ast.DictComp) else expr.elt
        generators = expr.generators
        iterable = self.eval(generators[0].iter, scope)
        inner = replace(scope, env=dict(scope.env), returns=[])
        assign = self.ev.stmts.assign
        if (
            len(generators) == 1
            and not generators[0].ifs
            and isinstance(iterable, Seq)
            and 0 < len(iterable.items) <= MAX_UNROLLED
        ):
            values = []
            for item in iterable.items:
                assign(generators[0].target, item, inner)
                values.append(self.eval(element, inner))
            result: Value = Seq(tuple(values))
        else:
            for index, generator in enumerate(generators):
                source = iterable if index == 0 else self.eval(generator.iter, inner)
                item = elements(source)
                if item is None:
                    item = (
                        Const() if isinstance(source, Const) else Unknown(tainted=tainted(source))
                    )
                assign(generator.target, item, inner)
            result = Parts(self.eval(element, inner))
        return Mapping((result,)) if isinstance(expr, ast.DictComp) else result

    # -- operators ------------------------------------------------------------------------------

    def _unary(self, expr: ast.expr, scope: Scope) -> Value:
        assert isinstance(expr, ast.UnaryOp)
        value = self.eval(expr.operand, scope)
        if isinstance(expr.op, ast.Not):
            return Unknown(tainted=True) if tainted(value) else Const()
        if isinstance(value, Const) and isinstance(value.literal, int | float):
            if isinstance(expr.op, ast.USub):
                return Const(literal=-value.literal)
            return value
        return as_tensor(value)

    def _binary(self, expr: ast.expr, scope: Scope) -> Value:
        assert isinstance(expr, ast.BinOp)
        left = self.eval(expr.left, scope)
        right = self.eval(expr.right, scope)
        op = expr.op
        if isinstance(left, Seq | Parts) or isinstance(right, Seq | Parts):
            sequence = _sequence_arithmetic(op, left, right)
            if sequence is not None:
                return sequence
        if isinstance(op, ast.MatMult):
            return self.ev.mixing([left, right], scope)
        if isinstance(op, ast.Add | ast.Sub):
            return combine(left, right, linear=True)
        if isinstance(op, ast.Mult):
            return combine(left, right, linear=is_const(left) or is_const(right))
        if isinstance(op, ast.Div):
            return combine(left, right, linear=is_const(right))
        return combine(left, right, linear=False)

    def _boolean(self, expr: ast.expr, scope: Scope) -> Value:
        assert isinstance(expr, ast.BoolOp)
        values = [self.eval(v, scope) for v in expr.values]
        if isinstance(expr.op, ast.Or):
            # `loss or default_loss` with `loss=None`: the first value not known to be false
            for value in values[:-1]:
                literal = literal_of(value) if isinstance(value, Const) else NO_LITERAL
                if isinstance(value, Const) and literal is not NO_LITERAL and not literal:
                    continue  # None, False, 0, "": the next one
                if isinstance(value, FunctionRef | ClassRef):
                    return value  # a function or a class is true
                break
            else:
                return values[-1]
        if all(isinstance(v, Const) for v in values):
            # `reduction or "mean"`: Python's short circuit, while the literals are known
            for value in values[:-1]:
                literal = literal_of(value)
                if literal is NO_LITERAL or isinstance(literal, Alternatives):
                    return Const()
                if bool(literal) == isinstance(expr.op, ast.Or):
                    return value
            return values[-1]
        return Unknown(tainted=any(tainted(v) for v in values))

    def _compare(self, expr: ast.expr, scope: Scope) -> Value:
        assert isinstance(expr, ast.Compare)
        value = self.eval(expr.left, scope)
        for op, comparator in zip(expr.ops, expr.comparators, strict=True):
            if isinstance(op, ast.Is | ast.IsNot | ast.In | ast.NotIn):
                return Const()
            value = combine(value, self.eval(comparator, scope), linear=False)
        return value

    def _if_exp(self, expr: ast.expr, scope: Scope) -> Value:
        assert isinstance(expr, ast.IfExp)
        known = self.ev.truth(expr.test, scope)
        if known is True:
            return self.eval(expr.body, scope)
        if known is False:
            return self.eval(expr.orelse, scope)
        return join(self.eval(expr.body, scope), self.eval(expr.orelse, scope))

    def _named(self, expr: ast.expr, scope: Scope) -> Value:
        assert isinstance(expr, ast.NamedExpr)
        value = self.eval(expr.value, scope)
        scope.env[expr.target.id] = value
        return value

    def _lambda(self, expr: ast.expr, scope: Scope) -> Value:
        assert isinstance(expr, ast.Lambda)
        line = scope.module.line_of(expr)
        prefix = "" if scope.function == "<module>" else f"{scope.function}.<locals>."
        self.ev.closures[expr] = dict(scope.env)
        return FunctionRef(
            module=scope.module,
            node=expr,
            qualname=f"{prefix}<lambda>@{line}",
            closure=dict(scope.env),
            cls=scope.cls,
            self_value=None,
        )

    # -- attributes and subscripts --------------------------------------------------------------

    def _attribute(self, expr: ast.expr, scope: Scope) -> Value:
        assert isinstance(expr, ast.Attribute)
        attr = expr.attr
        if isinstance(expr.value, ast.Name) and expr.value.id == "self":
            key = f"self.{attr}"
            if key in scope.env:
                return scope.env[key]
        base = self.eval(expr.value, scope)
        names = self.ev.names
        if isinstance(base, ModuleRef):
            return names.attribute_of_module(base.module, attr)
        if isinstance(base, Symbol):
            return Symbol(f"{base.qualname}.{attr}")
        if isinstance(base, Instance):
            return names.instance_attribute(base, attr)
        if isinstance(base, ClassRef):
            found = names.find_method(base, attr)
            if found is not None:
                return names.bound_method(base, found, None)
            value = names.class_attribute(base, attr)
            constructor = attr in self.ev.catalogue.alternative_constructors
            if value is None and constructor and names.framework_class(base):
                return base  # Keras' own `from_config`: builds the class it is called on
            return value if value is not None else Const()
        if isinstance(base, Batched | Flat | Reduced | Unknown):
            if attr == "shape":
                return ShapeOf(batched=tainted(base) and not isinstance(base, Reduced))
            if attr in ("dtype", "ndim", "name", "device"):
                return Const()
            if attr == "T":
                return self.ev.mixing([base], scope)
            return Unknown(tainted=tainted(base))
        if isinstance(base, MetricObject) and attr == "result":
            return base  # `metric.result()`: calling it gives the running value
        if isinstance(base, Const):
            return Const()
        return Unknown()

    def _subscript(self, expr: ast.expr, scope: Scope) -> Value:
        assert isinstance(expr, ast.Subscript)
        base = self.eval(expr.value, scope)
        items = subscript_items(expr)
        if isinstance(base, ShapeOf):
            first = items[0]
            if not isinstance(first, ast.Slice):
                index = self.eval(first, scope)
                if isinstance(index, Const) and index.literal == 0:
                    if base.batched:
                        scope.mark_batch_level()
                    return Const(batch_size=base.batched)
            return Const()
        if isinstance(base, Seq):
            if len(items) == 1 and not isinstance(items[0], ast.Slice):
                index = self.eval(items[0], scope)
                if (
                    isinstance(index, Const)
                    and isinstance(index.literal, int)
                    and -len(base.items) <= index.literal < len(base.items)
                ):
                    return base.items[index.literal]
            return join_all(base.items, Unknown())
        if isinstance(base, Parts):
            return base.item
        if isinstance(base, Mapping):
            return join_all(base.items, Unknown())
        if isinstance(base, Batched):
            return self._subscript_batched(base, items, scope)
        if isinstance(base, Flat) and (_is_full_slice(items[0]) or _is_ellipsis(items[0])):
            return _flat_subscript(base, items)  # x_flat[:, 0] keeps the merged leading axis
        if isinstance(base, Reduced | Const):
            return base
        if isinstance(base, Instance | ClassRef | Symbol | FunctionRef | ModuleRef | LossObject):
            return Unknown()
        return Unknown(tainted=tainted(base))

    def masked(self, scope: Scope, node: ast.AST, whole: bool = False) -> Flat:
        """A boolean-mask selection across the batch (`x[mask]`, `tf.boolean_mask`); `whole`:
        the mask has every axis of the tensor, so the selection is one flat axis."""
        scope.mark_batch_level()
        origin = Origin(
            kind="reduction",
            module=scope.module,
            node=node,
            op="mask",
            label=scope.module.code_for(node),
            why="selects elements of the whole batch with a boolean mask",
            function=scope.function,
        )
        return Flat(masked=origin, rank=1 if whole else None)

    def _subscript_batched(self, base: Batched, items: list[ast.expr], scope: Scope) -> Value:
        first = items[0]
        rest = items[1:]
        if _is_ellipsis(first):
            pass
        elif isinstance(first, ast.Slice):
            if first.lower is not None or first.upper is not None or first.step is not None:
                scope.mark_batch_level()  # y_pred[:half]: pairs samples of the batch
                return Unknown(tainted=True)
        else:
            index = self.eval(first, scope)
            if isinstance(index, Const) and index.literal is None:
                return Unknown(tainted=True)
            if isinstance(index, Const) and isinstance(index.literal, str) and not rest:
                # `y_pred["mu"]`: one output of a model with named outputs, still a batch
                return replace(base, rank=UNKNOWN_RANK)
            if isinstance(index, Batched) and not rest:
                # x[mask]: selected elements of all samples; one axis when the mask has them all
                return self.masked(scope, first, whole=index.rank == base.rank)
            scope.mark_batch_level()  # x[0] picks one sample; x[mask] mixes samples
            return Unknown(tainted=True)
        dropped = 0
        for item in rest:
            if _is_ellipsis(item) or isinstance(item, ast.Slice):
                continue
            index = self.eval(item, scope)
            if isinstance(index, Const) and index.literal is None:
                dropped -= 1
            elif isinstance(index, Const) and isinstance(index.literal, int):
                dropped += 1
            else:
                return replace(base, rank=UNKNOWN_RANK)
        return replace(base, rank=base.rank.minus(dropped) if dropped else base.rank)

    # -- calls ----------------------------------------------------------------------------------

    def _call(self, expr: ast.expr, scope: Scope) -> Value:
        assert isinstance(expr, ast.Call)
        func = expr.func
        if (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Call)
            and isinstance(func.value.func, ast.Name)
            and func.value.func.id == "super"
        ):
            return self.ev.calls.super_call(func.attr, self.arguments(expr, scope), scope)
        method = self._tensor_method(expr, scope) or self._string_method(expr, scope)
        if method is not None:
            return method
        callee = self.eval(func, scope)
        call = self.arguments(expr, scope)
        duck = self._duck_backend(func, callee)
        if duck is not None:
            callee = duck
        return self.ev.calls.call_value(callee, call, scope)

    def _tensor_method(self, expr: ast.Call, scope: Scope) -> Value | None:
        """`(a * b).sum(axis)`: an array method, read as the NumPy function (the array first)."""
        func = expr.func
        if not isinstance(func, ast.Attribute):
            return None
        name = self.ev.catalogue.tensor_methods.get(func.attr)
        if name is None:
            return None
        base = self.eval(func.value, scope)
        if not isinstance(base, Batched | Flat | Reduced) and not (
            isinstance(base, Unknown) and base.tainted
        ):
            return None
        call = self.arguments(expr, scope)
        call.args.insert(0, base)
        call.arg_refs.insert(0, ArgRef(func.value))
        return self.ev.calls.call_value(Symbol(name), call, scope)

    def _string_method(self, expr: ast.Call, scope: Scope) -> Value | None:
        """`reduction.lower()` of a known string: that string, normalised."""
        func = expr.func
        if (
            not isinstance(func, ast.Attribute)
            or func.attr not in self.ev.catalogue.string_methods
            or expr.args
            or expr.keywords
        ):
            return None
        base = self.eval(func.value, scope)
        if isinstance(base, Const) and isinstance(base.literal, str):
            return Const(literal=getattr(base.literal, func.attr)())
        return None

    def arguments(self, expr: ast.Call, scope: Scope) -> CallArgs:
        call = CallArgs(expr, [], {}, [], {}, False)
        for arg in expr.args:
            if isinstance(arg, ast.Starred):
                value = self.eval(arg.value, scope)
                call.starred = True
                if isinstance(value, Seq):
                    ref = ArgRef(arg)
                    call.args.extend(value.items)
                    call.arg_refs.extend(ref for _ in value.items)
                continue
            call.args.append(self.eval(arg, scope))
            call.arg_refs.append(ArgRef(arg))
        for keyword in expr.keywords:
            value = self.eval(keyword.value, scope)
            if keyword.arg is None:
                call.starred = True
                continue
            call.kwargs[keyword.arg] = value
            call.kwarg_refs[keyword.arg] = ArgRef(keyword.value, keyword.arg)
        return call

    def _duck_backend(self, func: ast.expr, callee: Value) -> Symbol | None:
        """`backend.mean(...)` where `backend` is a parameter: read as Keras' backend."""
        if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)):
            return None
        catalogue = self.ev.catalogue
        module = catalogue.duck_backends.get(func.value.id)
        if module is None:
            return None
        if isinstance(callee, Symbol):
            # `from somelib import BACKEND as K`: an unknown library's name under the
            # backend's conventional name (a known API keeps its own meaning)
            known = catalogue.canonical(callee.qualname)
            if catalogue.is_framework(known) or catalogue.lookup(known) is not None:
                return None
        elif not isinstance(callee, Const | Unknown):
            return None
        return Symbol(f"{module}.{func.attr}")
