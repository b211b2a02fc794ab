"""Custom training loops: functions whose result is an objective, where a scalar is right.

A loss-shaped function whose result reaches `tape.gradient(...)`, `optimizer.minimize(...)`
(and so `apply_gradients`), graph-mode `K.gradients(...)`, `compute_gradients(...)` and
`get_updates(...)`, `add_loss(...)`, `add_metric(...)`, or what a `train_step`, `test_step` or
`compute_loss` returns, is the objective of a custom training loop (or a model's own loss
term): it must return a scalar, and "fixing" it to one value per sample would scale its
gradient by the batch size. So is a function a `Lambda` layer computes, or `jax.grad`
differentiates. This module finds those
uses, by following, inside each function (and at module level), the assignments that feed such
a sink back to the calls that produced the value; a function the loop receives as an argument
(`def train(model, loss_fn)`) is followed to the calls that pass it, in the same module.
"""

from __future__ import annotations

import ast
import bisect
import re
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, NamedTuple

from losslint.analysis.values import Choice, ClassRef, FunctionRef, Instance, Value
from losslint.index.modules import ModuleInfo, own_nodes, qualified_name, target_names

if TYPE_CHECKING:
    from losslint.analysis.evaluator import Evaluator

_MAX_ALIASES = 4
_TERM_DEPTH = 3  # calls followed from an objective down to its terms


def _word_lines(module: ModuleInfo, pattern: re.Pattern[str]) -> list[int]:
    """The lines (1-based, ascending) that may spell a name `pattern` finds: the lines it
    matches, and every line that is not ASCII (identifiers are NFKC-normalised, so another
    spelling could name one; an identifier never spans lines)."""
    words = pattern.search
    if module.source.text.isascii():
        return [n for n, line in enumerate(module.lines, 1) if words(line)]
    return [n for n, line in enumerate(module.lines, 1) if words(line) or not line.isascii()]


def _may_call(node: ast.AST | None, lines: list[int]) -> bool:
    """Whether the body of `node` (the module's when None) holds one of `lines`."""
    if node is None:
        return bool(lines)
    first, last = getattr(node, "lineno", None), getattr(node, "end_lineno", None)
    if first is None or last is None:
        return True
    start = bisect.bisect_left(lines, first)
    return start < len(lines) and lines[start] <= last


def _sinks(nodes: list[ast.AST], step: bool, calls: dict[str, str]) -> Iterator[ast.expr]:
    """Expressions whose value is an objective, among a body's own nodes: the arguments of
    the catalogue's objective calls (gradient, minimize, ...), and what a train step returns."""
    for node in nodes:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            keyword = calls.get(node.func.attr)
            if keyword is None:
                continue
            if node.args and not isinstance(node.args[0], ast.Starred):
                yield node.args[0]
            for item in node.keywords:
                if item.arg == keyword:
                    yield item.value
        elif step and isinstance(node, ast.Return) and node.value is not None:
            yield node.value


def _wrapped(nodes: list[ast.AST], wrappers: tuple[str, ...]) -> Iterator[ast.expr]:
    """Functions a layer computes or a gradient is taken of, among a body's own nodes:
    `Lambda(fn, ...)`, `jax.grad(fn)`."""
    for node in nodes:
        if isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in wrappers:
                yield node.args[0]


def _assignments(nodes: Iterable[ast.AST], fills: frozenset[str]) -> dict[str, list[ast.expr]]:
    """name -> every value assigned to it among a body's own nodes (augmented assignments
    included), or put into a container assigned there (`logs[key] = v`, `logs.update(v)`:
    a method of `fills`; never a module's `tf.add(a, b)`, whose name no assignment binds)."""
    found: dict[str, list[ast.expr]] = {}
    filled: list[tuple[str, list[ast.expr]]] = []
    for node in nodes:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                for name in target_names(target):
                    found.setdefault(name, []).append(node.value)
                if isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name):
                    filled.append((target.value.id, [node.value]))
        elif isinstance(node, ast.AugAssign | ast.AnnAssign) and node.value is not None:
            for name in target_names(node.target):
                found.setdefault(name, []).append(node.value)
        elif isinstance(node, ast.NamedExpr):
            found.setdefault(node.target.id, []).append(node.value)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.attr in fills
        ):
            filled.append((node.func.value.id, [*node.args, *(k.value for k in node.keywords)]))
    for name, values in filled:
        if name in found:
            found[name].extend(values)
    return found


def _set_by_methods(owner: ClassRef, attr: str) -> Iterator[tuple[ast.expr, list[ast.AST]]]:
    """What the class's methods other than `__init__` (which the evaluator reads) assign to
    `self.<attr>`, with the own nodes of the method that does."""
    for stmt in owner.node.body:
        if not isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef) or stmt.name == "__init__":
            continue
        nodes = list(own_nodes(stmt.body))
        for node in nodes:
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if (
                        isinstance(target, ast.Attribute)
                        and isinstance(target.value, ast.Name)
                        and target.value.id == "self"
                        and target.attr == attr
                    ):
                        yield node.value, nodes


def _local_functions(nodes: list[ast.AST]) -> dict[str, ast.FunctionDef | ast.AsyncFunctionDef]:
    """name -> the functions defined among a body's own nodes."""
    return {n.name: n for n in nodes if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}


class _Body(NamedTuple):
    """A function whose body may hold a loop (None: the module's own body)."""

    function: ast.AST | None
    statements: list[ast.stmt]
    owner: ClassRef | None  # its class, for a method
    step: bool  # a Keras model's train/test step, whose return value is the objective
    locals_prefix: str  # how the defs nested in it are named (`f.<locals>.`)


class LoopObjectives:
    """Finds the functions a module uses as custom-loop objectives."""

    def __init__(self, ev: Evaluator) -> None:
        self.ev = ev
        catalogue = ev.catalogue
        self.calls = catalogue.objective_calls
        self.wrappers = catalogue.loop_wrappers
        self.steps = catalogue.step_methods
        # every name a sink or a wrapper is called by: a body whose lines spell none has neither
        self.words = re.compile("|".join([*self.calls, *self.wrappers]))

    def of_module(self, module: ModuleInfo) -> set[tuple[str, str]]:
        """(file, qualified name) of every function whose result is an objective here, with
        the functions whose results make up what those return (`_with_terms`)."""
        found: list[FunctionRef] = []
        bodies = [_Body(None, module.tree.body, None, False, "")]
        for node, enclosing in module.scan.functions:
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            owner = None
            if enclosing and isinstance(enclosing[-1], ast.ClassDef):
                owner = ClassRef(module, enclosing[-1], enclosing[-1].name)
            step = owner is not None and node.name in self.steps
            prefix = qualified_name(enclosing, node.name) + ".<locals>."
            bodies.append(_Body(node, node.body, owner, step, prefix))
        passed: list[tuple[ast.AST, str]] = []  # (function, parameter) the loop calls
        lines = _word_lines(module, self.words)
        for function, body, owner, step, prefix in bodies:
            if not step and not _may_call(function, lines):
                continue  # no sink and no wrapper: its own nodes need no walk
            nodes = list(own_nodes(body))  # walked once: the helpers below reuse them
            sinks = list(_sinks(nodes, step, self.calls))
            if sinks:
                refs, parameters = self._objectives(module, function, nodes, owner, sinks, prefix)
                found += refs
                passed.extend((function, p) for p in parameters if function is not None)
            for wrapped in _wrapped(nodes, self.wrappers):
                # the wrapped function, or what a wrapped lambda calls
                callees = [wrapped]
                if isinstance(wrapped, ast.Lambda):
                    callees = [c.func for c in ast.walk(wrapped.body) if isinstance(c, ast.Call)]
                elif isinstance(wrapped, ast.Name) and function is not None:
                    # (a module's own function is named as it is: the module scope finds it)
                    local = _local_functions(nodes).get(wrapped.id)
                    if local is not None:  # `jax.grad(objective)` of a nested def: its calls
                        returned = [
                            n.value
                            for n in own_nodes(local.body)
                            if isinstance(n, ast.Return) and n.value
                        ]
                        callees = [
                            c.func
                            for value in returned
                            for c in ast.walk(value)
                            if isinstance(c, ast.Call)
                        ]
                for callee in callees:
                    found += self._callee(module, callee, self._assignments(nodes), owner, 0)
        if passed:
            found += self._passed_in(module, bodies, passed)
        return {(str(ref.module.path), ref.qualname) for ref in self._with_terms(found)}

    def imported_calls(self, module: ModuleInfo) -> set[tuple[str, str]]:
        """(file, qualified name) of the project functions of other modules that a module
        calls through its imports, or module-level names bound to them (`from metrics import
        acc` ... `print(acc(y, p))`; `score = acc` ... `score(y, p)`): in a module that trains
        with its own loop, they serve that loop, which uses their scalar
        (`LossFinder.loop_script` says which modules do)."""
        frameworks = self.ev.catalogue.frameworks
        names = {
            name
            for name, binding in module.bindings.items()
            if binding.kind == "assign"
            or (
                binding.kind in ("import", "from")
                and (binding.level or binding.target.split(".", 1)[0] not in frameworks)
            )
        }
        if not names:
            return set()
        scope = self.ev.module_scope(module)
        found: set[tuple[str, str]] = set()
        for node in ast.walk(module.tree):
            if not isinstance(node, ast.Call):
                continue
            root = node.func
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name) and root.id in names:
                for ref in self._functions(self.ev.eval_expr(node.func, scope)):
                    if ref.module is not module:
                        found.add((str(ref.module.path), ref.qualname))
        return found

    def _assignments(self, nodes: Iterable[ast.AST]) -> dict[str, list[ast.expr]]:
        return _assignments(nodes, self.ev.catalogue.container_fills)

    def _with_terms(self, objectives: list[FunctionRef]) -> list[FunctionRef]:
        """The objectives and their terms: the functions whose results feed what an objective
        returns (`margin = nll(a) - nll(b)`), a few calls deep. A term of a scalar objective
        is a scalar by contract too, wherever it is defined."""
        found: list[FunctionRef] = []
        seen: set[int] = set()
        level = objectives
        for _ in range(_TERM_DEPTH + 1):
            following: list[FunctionRef] = []
            for ref in level:
                if id(ref.node) in seen:
                    continue
                seen.add(id(ref.node))
                found.append(ref)
                node = ref.node
                if isinstance(node, ast.Lambda):
                    nodes, returned = list(own_nodes([node.body])), [node.body]
                else:
                    nodes = list(own_nodes(node.body))
                    returned = [n.value for n in nodes if isinstance(n, ast.Return) and n.value]
                if returned:
                    prefix = "" if isinstance(node, ast.Lambda) else f"{ref.qualname}.<locals>."
                    terms, _ = self._objectives(ref.module, node, nodes, ref.cls, returned, prefix)
                    following += terms
            level = following
        return found

    def _passed_in(
        self,
        module: ModuleInfo,
        bodies: list[_Body],
        passed: list[tuple[ast.AST, str]],
    ) -> list[FunctionRef]:
        """Functions given, in this module, as the argument a loop calls for its objective."""
        wanted: dict[str, list[tuple[int, str]]] = {}
        for function, parameter in passed:
            assert isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef)
            names = [a.arg for a in [*function.args.posonlyargs, *function.args.args]]
            wanted.setdefault(function.name, []).append((names.index(parameter), parameter))
        found: list[FunctionRef] = []
        lines = _word_lines(module, re.compile("|".join(map(re.escape, wanted))))
        for function, body, owner, _step, _prefix in bodies:
            if not _may_call(function, lines):
                continue  # calls none of the loops
            assigned: dict[str, list[ast.expr]] | None = None
            for node in own_nodes(body):
                if not isinstance(node, ast.Call):
                    continue
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                for index, parameter in wanted.get(name, ()):
                    if assigned is None:
                        assigned = self._assignments(own_nodes(body))
                    given = [k.value for k in node.keywords if k.arg == parameter]
                    if index < len(node.args):
                        given.append(node.args[index])
                    for expr in given:
                        found += self._callee(module, expr, assigned, owner, 0)
        return found

    def _objectives(
        self,
        module: ModuleInfo,
        function: ast.AST | None,
        nodes: list[ast.AST],
        owner: ClassRef | None,
        sinks: list[ast.expr],
        locals_prefix: str = "",
    ) -> tuple[list[FunctionRef], set[str]]:
        """The functions whose result feeds the sinks, and the parameters (functions the
        caller passes in) that do; a def nested in `function` is named `locals_prefix` + its
        name."""
        parameters: set[str] = set()
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            parameters = {a.arg for a in [*function.args.posonlyargs, *function.args.args]}
        assigned = self._assignments(nodes)
        local = _local_functions(nodes)
        seen: set[int] = set()
        calls: list[ast.Call] = []
        work: list[ast.AST] = list(sinks)
        while work:
            node = work.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            for sub in ast.walk(node):
                if isinstance(sub, ast.Name) and sub.id in assigned:
                    work.extend(assigned[sub.id])
                elif isinstance(sub, ast.Name) and sub.id in local:
                    # `optimizer.minimize(loss_fn, ...)`: what the nested function returns
                    work.extend(
                        n.value
                        for n in own_nodes(local[sub.id].body)
                        if isinstance(n, ast.Return) and n.value
                    )
                elif isinstance(sub, ast.Call):
                    calls.append(sub)
        found: list[FunctionRef] = []
        given: set[str] = set()
        for call in calls:
            func = call.func
            if isinstance(func, ast.Name) and func.id in parameters and func.id not in assigned:
                given.add(func.id)
                continue
            if isinstance(func, ast.Name) and func.id in local and locals_prefix:
                # `loss = get_loss(output, target)` of a def nested right here
                found.append(
                    FunctionRef(
                        module=module, node=local[func.id], qualname=locals_prefix + func.id
                    )
                )
                continue
            found += self._callee(module, func, assigned, owner, 0)
        return found, given

    def _callee(
        self,
        module: ModuleInfo,
        func: ast.expr,
        assigned: dict[str, list[ast.expr]],
        owner: ClassRef | None,
        depth: int,
    ) -> list[FunctionRef]:
        """The functions a call of `func` may run (several when it is taken from a registry or
        a factory that returns one of several: `LOSSES[name]`, `get_loss(name)`)."""
        if depth > _MAX_ALIASES:
            return []
        if isinstance(func, ast.Name) and func.id in assigned and len(assigned[func.id]) == 1:
            return self._callee(module, assigned[func.id][0], assigned, owner, depth + 1)
        if (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id == "self"
        ):
            if owner is None:
                return []
            value: Value = self.ev.names.instance_attribute(Instance(owner), func.attr)
            found = self._functions(value)
            if not found:  # set by another method (`def build(self): self.loss_fn = dice`)
                for expr, nodes in _set_by_methods(owner, func.attr):
                    assigned_there = self._assignments(nodes)
                    found += self._callee(owner.module, expr, assigned_there, owner, depth + 1)
            return found
        else:
            value = self.ev.eval_expr(func, self.ev.module_scope(module))
        return self._functions(value)

    def _functions(self, value: Value) -> list[FunctionRef]:
        if isinstance(value, FunctionRef):
            return [value]
        if isinstance(value, Choice):
            return [ref for option in value.options for ref in self._functions(option)]
        if isinstance(value, Instance):
            is_loss, _ = self.ev.names.class_kind(value.cls)
            if is_loss:
                return []  # a Keras Loss object: its `call` keeps the per-sample contract
            found = self.ev.names.find_method(value.cls, "__call__")
            if found is not None:
                return [self.ev.names.method_ref(found[0], found[1], value)]
        return []
