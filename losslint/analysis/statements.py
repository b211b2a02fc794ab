"""Statements and control flow: one suite runner, branches joined, loops run to a fixpoint."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from losslint.analysis.context import Scope
from losslint.analysis.expressions import is_const
from losslint.analysis.values import (
    NO_LITERAL,
    Alternatives,
    Batched,
    ClassRef,
    Const,
    Flat,
    FunctionRef,
    Mapping,
    Parts,
    Reduced,
    Seq,
    ShapeOf,
    Unknown,
    Value,
    combine,
    elements,
    join,
    literal_of,
    tainted,
)
from losslint.index.modules import import_bindings

if TYPE_CHECKING:
    from losslint.analysis.evaluator import Evaluator

MAX_LOOP_PASSES = 6
_TRY_STAR: type = getattr(ast, "TryStar", ast.Try)


def merge_envs(envs: list[dict[str, Value]]) -> dict[str, Value]:
    """The environment after control-flow paths meet: each name joins its values."""
    merged = dict(envs[0])
    for env in envs[1:]:
        for name, value in env.items():
            merged[name] = join(merged[name], value) if name in merged else value
    return merged


def _grown(current: Value, method: str, values: list[Value]) -> Value:
    """A list after `append`/`insert`/`extend` with values that are not all literals."""
    if method == "append" and len(values) == 1 and isinstance(current, Seq):
        return Seq((*current.items, values[0]))
    if method == "insert" and len(values) == 2 and isinstance(current, Seq):
        return join(current, Seq((*current.items, values[1])))  # position unknown: any element
    if method == "extend" and len(values) == 1:
        added = values[0]
        if isinstance(current, Seq) and isinstance(added, Seq):
            return Seq((*current.items, *added.items))
        if isinstance(current, Seq | Parts) and isinstance(added, Seq | Parts):
            return join(current, added) if current != added else current
    if isinstance(current, Parts) and method in ("append", "insert") and values:
        return Parts(join(current.item, values[-1]))
    items = current.items if isinstance(current, Seq) else ()
    return Unknown(tainted=any(tainted(v) for v in [*values, *items]))


class Statements:
    """Runs statements in a scope: assignments bind names, returns are collected."""

    def __init__(self, ev: Evaluator) -> None:
        self.ev = ev

    def block(self, statements: list[ast.stmt], scope: Scope) -> None:
        for stmt in statements:
            if not scope.alive:
                return
            self.statement(stmt, scope)

    def statement(self, stmt: ast.stmt, scope: Scope) -> None:
        ev = self.ev
        if isinstance(stmt, ast.Return):
            value = ev.eval_expr(stmt.value, scope) if stmt.value is not None else Const(None)
            scope.returns.append((value, stmt))
            scope.alive = False
        elif isinstance(stmt, ast.Raise):
            scope.alive = False
        elif isinstance(stmt, ast.Assign):
            value = ev.eval_expr(stmt.value, scope)
            for target in stmt.targets:
                self.assign(target, value, scope)
        elif isinstance(stmt, ast.AnnAssign):
            if stmt.value is not None:
                self.assign(stmt.target, ev.eval_expr(stmt.value, scope), scope)
        elif isinstance(stmt, ast.AugAssign):
            self._augmented(stmt, scope)
        elif isinstance(stmt, ast.Expr):
            if isinstance(stmt.value, ast.NamedExpr):
                ev.eval_expr(stmt.value, scope)
            elif isinstance(stmt.value, ast.Call):
                self._mutation(stmt.value, scope)
        elif isinstance(stmt, ast.If):
            self._if(stmt, scope)
        elif isinstance(stmt, ast.For | ast.AsyncFor | ast.While):
            self._loop(stmt, scope)
        elif isinstance(stmt, ast.Try | _TRY_STAR):
            self._try(stmt, scope)
        elif isinstance(stmt, ast.With | ast.AsyncWith):
            for item in stmt.items:
                ev.eval_expr(item.context_expr, scope)
                if item.optional_vars is not None:
                    self.assign(item.optional_vars, Unknown(), scope)
            self.block(stmt.body, scope)
        elif isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            prefix = "" if scope.function == "<module>" else f"{scope.function}.<locals>."
            closure = dict(scope.env)
            if scope.self_value is not None:
                closure.setdefault("self", scope.self_value)
            ev.closures[stmt] = closure
            scope.env[stmt.name] = FunctionRef(
                module=scope.module,
                node=stmt,
                qualname=f"{prefix}{stmt.name}",
                closure=closure,
                cls=scope.cls,
            )
        elif isinstance(stmt, ast.ClassDef):
            scope.env[stmt.name] = ClassRef(scope.module, stmt, stmt.name)
        elif isinstance(stmt, ast.Import | ast.ImportFrom):
            for name, binding in import_bindings(stmt):
                if name != "*":
                    scope.env[name] = ev.names.resolve_binding(scope.module, name, binding)
        elif isinstance(stmt, ast.Match):
            self._branches(scope, [case.body for case in stmt.cases] + [[]])

    def _augmented(self, stmt: ast.AugAssign, scope: Scope) -> None:
        old = self.ev.eval_expr(stmt.target, scope)
        new = self.ev.eval_expr(stmt.value, scope)
        op = stmt.op
        if isinstance(op, ast.Add | ast.Sub):
            linear = True
        elif isinstance(op, ast.Mult):
            linear = is_const(old) or is_const(new)
        elif isinstance(op, ast.Div):
            linear = is_const(new)
        else:
            linear = False
        self.assign(stmt.target, combine(old, new, linear=linear), scope)

    def _if(self, stmt: ast.If, scope: Scope) -> None:
        known = self.ev.truth(stmt.test, scope)
        if known is True:
            self.block(stmt.body, scope)
        elif known is False:
            self.block(stmt.orelse, scope)
        else:
            self._branches(scope, [stmt.body, stmt.orelse])

    def _branches(self, scope: Scope, branches: list[list[ast.stmt]]) -> None:
        """Run each branch from the same state; the paths that fall through are joined."""
        base = scope.env
        outcomes: list[dict[str, Value]] = []
        for branch in branches:
            scope.env = dict(base)
            scope.alive = True
            self.block(branch, scope)
            if scope.alive:
                outcomes.append(scope.env)
        if not outcomes:
            scope.env = base
            scope.alive = False
            return
        scope.alive = True
        scope.env = merge_envs(outcomes)

    def _loop(self, stmt: ast.For | ast.AsyncFor | ast.While, scope: Scope) -> None:
        """Run the body until the names it binds stop changing (a loop may run 0..n times)."""
        ev = self.ev
        if isinstance(stmt, ast.For | ast.AsyncFor):
            iterable = ev.eval_expr(stmt.iter, scope)
            if isinstance(iterable, Parts):
                item: Value = iterable.item
            elif isinstance(iterable, Seq) and iterable.items:
                item = iterable.items[0]
                for other in iterable.items[1:]:
                    item = join(item, other)
            elif isinstance(iterable, Const):
                item = Const()
            else:
                item = Unknown(tainted=tainted(iterable))
            self.assign(stmt.target, item, scope)
        else:
            ev.eval_expr(stmt.test, scope)
        before = dict(scope.env)
        for _ in range(MAX_LOOP_PASSES):
            self.block(stmt.body, scope)
            after = scope.env if scope.alive else before
            merged = merge_envs([before, after])
            scope.alive = True
            stable = merged == before
            scope.env = merged
            before = dict(merged)
            if stable:
                break
        self.block(stmt.orelse, scope)

    def _try(self, stmt: ast.Try, scope: Scope) -> None:
        before = dict(scope.env)
        self.block(stmt.body, scope)
        outcomes = [scope.env] if scope.alive else []
        for handler in stmt.handlers:
            assert isinstance(handler, ast.ExceptHandler)
            scope.env = merge_envs([before, *outcomes]) if outcomes else dict(before)
            scope.alive = True
            if handler.name is not None:
                scope.env[handler.name] = Unknown()
            self.block(handler.body, scope)
            if scope.alive:
                outcomes.append(scope.env)
        if stmt.orelse and outcomes:
            scope.env = outcomes[0]
            scope.alive = True
            self.block(stmt.orelse, scope)
            outcomes[0] = scope.env
        scope.alive = bool(outcomes)
        scope.env = merge_envs(outcomes) if outcomes else before
        if stmt.finalbody:
            alive = scope.alive
            scope.alive = True
            self.block(stmt.finalbody, scope)
            scope.alive = scope.alive and alive

    def _mutation(self, call: ast.Call, scope: Scope) -> None:
        """`axes.insert(0, 0)`, `axes.append(3)`, `axes.extend([...])` on a literal list."""
        func = call.func
        if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)):
            return
        name, method = func.value.id, func.attr
        if method not in ("insert", "append", "extend") or name not in scope.env:
            return
        values = [self.ev.eval_expr(a, scope) for a in call.args]
        current = literal_of(scope.env[name])
        args = [literal_of(v) for v in values]
        if NO_LITERAL in args or current is NO_LITERAL:
            # a list of values: `scores.append(dice(y_true[..., c], y_pred[..., c]))`
            scope.env[name] = _grown(scope.env[name], method, values)
            return
        options = current.options if isinstance(current, Alternatives) else (current,)
        results = []
        for option in options:
            if not isinstance(option, tuple):
                scope.env[name] = Unknown()
                return
            items = list(option)
            if method == "append" and len(args) == 1:
                items.append(args[0])
            elif method == "insert" and len(args) == 2 and isinstance(args[0], int):
                items.insert(args[0], args[1])
            elif method == "extend" and len(args) == 1 and isinstance(args[0], tuple):
                items.extend(args[0])
            else:
                scope.env[name] = Unknown()
                return
            results.append(tuple(items))
        unique = tuple(dict.fromkeys(results))
        scope.env[name] = Const(literal=unique[0] if len(unique) == 1 else Alternatives(unique))

    def assign(self, target: ast.expr, value: Value, scope: Scope) -> None:
        if isinstance(target, ast.Name):
            scope.env[target.id] = value
        elif isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name):
            # `parts[i] = value` into a local list: the list now holds that value too
            name = target.value.id
            current = scope.env.get(name)
            if isinstance(current, Seq | Parts):
                known = elements(current)
                scope.env[name] = Parts(value if known is None else join(known, value))
            elif isinstance(current, Mapping):
                scope.env[name] = Mapping((*current.items, value))
            elif isinstance(current, Const | Batched | Flat | Reduced) and tainted(value):
                # `scores[c] = dice_c` into an array: it now holds that value too
                scope.env[name] = combine(current, value, linear=True)
        elif isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name):
            if target.value.id == "self":
                scope.env[f"self.{target.attr}"] = value
        elif isinstance(target, ast.Tuple | ast.List):
            parts = target.elts
            if isinstance(value, Parts):
                for element in parts:
                    self.assign(element, value.item, scope)
            elif isinstance(value, ShapeOf) and not isinstance(parts[0], ast.Starred):
                # `n, h, w, c = y_true.shape`: the first is the batch size, the rest are not
                self.assign(parts[0], Const(batch_size=value.batched), scope)
                for element in parts[1:]:
                    self.assign(element, Const(), scope)
            elif (
                isinstance(value, Seq)
                and len(value.items) == len(parts)
                and not any(isinstance(e, ast.Starred) for e in parts)
            ):
                for element, item in zip(parts, value.items, strict=True):
                    self.assign(element, item, scope)
            else:
                item = Unknown(tainted=tainted(value))
                if isinstance(value, Const):
                    item = Const()
                elif isinstance(value, Reduced):
                    item = value  # the parts of a batch-free value are batch-free
                for element in parts:
                    self.assign(element, item, scope)
        elif isinstance(target, ast.Starred):
            self.assign(target.value, Unknown(tainted=tainted(value)), scope)
