"""Calls: to project functions (parameter binding, recursion guard), classes, instances, Loss
objects, `super()`, and to catalogued APIs (handed to the transfer functions)."""

from __future__ import annotations

import ast
from dataclasses import replace
from typing import TYPE_CHECKING

from losslint.analysis import transfer
from losslint.analysis.context import CallArgs, Param, Scope
from losslint.analysis.transfer.common import reduction_is_none
from losslint.analysis.values import (
    Batched,
    Choice,
    ClassRef,
    Const,
    FixPlan,
    FunctionRef,
    Group,
    Instance,
    LayerObject,
    LossObject,
    Mapping,
    MetricObject,
    Origin,
    Reduced,
    Seq,
    Symbol,
    Unknown,
    Value,
    as_tensor,
    join_all,
    tainted,
)

if TYPE_CHECKING:
    from losslint.analysis.evaluator import Evaluator

MAX_DEPTH = 12


def is_static(node: ast.AST) -> bool:
    if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return False
    return any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in node.decorator_list)


def is_generator(node: ast.AST, lines: list[str] | None = None) -> bool:
    """Whether a function's own body yields (nested functions and lambdas not counted).
    With its module's `lines`, a function whose lines never spell `yield` is told at once."""
    if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return False
    own_lines = lines[node.lineno - 1 : node.end_lineno or node.lineno] if lines else None
    if own_lines is not None and "yield" not in "\n".join(own_lines):
        return False
    stack: list[ast.AST] = list(node.body)
    while stack:
        current = stack.pop()
        if isinstance(current, ast.Yield | ast.YieldFrom):
            return True
        if not isinstance(
            current, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef
        ):
            stack.extend(ast.iter_child_nodes(current))
    return False


class Calls:
    """Evaluates calls."""

    def __init__(self, ev: Evaluator) -> None:
        self.ev = ev
        self._stack: list[ast.AST] = []

    def reset(self) -> None:
        self._stack.clear()

    # -- dispatch ---------------------------------------------------------------------------

    def call_value(self, callee: Value, call: CallArgs, scope: Scope) -> Value:
        if isinstance(callee, Symbol):
            return self._call_symbol(callee.qualname, call, scope)
        if isinstance(callee, FunctionRef):
            return self.call_function(callee, call.args, call.kwargs, scope, call.node)
        if isinstance(callee, ClassRef):
            return Instance(
                callee,
                ctor=call.node,
                ctor_module=scope.module,
                args=tuple(call.args),
                kwargs=tuple(call.kwargs.items()),
            )
        if isinstance(callee, Instance):
            return self._call_instance(callee, call, scope)
        if isinstance(callee, LossObject):
            return self.call_loss_object(callee, call, scope)
        if isinstance(callee, MetricObject):
            return transfer.keras_losses.metric_result(callee.name, call, scope)
        if isinstance(callee, LayerObject):
            return transfer.keras_losses.layer_call(call) or self.opaque(call)
        if isinstance(callee, Choice):
            called = join_all(self.call_value(option, call, scope) for option in callee.options)
            return called if called is not None else self.opaque(call)
        return self.opaque(call)

    @staticmethod
    def opaque(call: CallArgs) -> Value:
        """A call the analysis cannot see into: batch-free in, batch-free out; else unknown."""
        values = [as_tensor(v) for v in call.tensors()]
        if not call.starred and all(isinstance(v, Const) for v in values):
            return Const()
        reduced = [v for v in values if isinstance(v, Reduced)]
        if reduced and not call.starred and all(isinstance(v, Reduced | Const) for v in values):
            # any function of batch-free values is batch-free (`ops.trace(confusion_matrix)`)
            result = reduced[0]
            for other in reduced[1:]:
                result = result.plus(other)
            return result.merged()
        return Unknown(tainted=any(tainted(v) for v in values))

    def _call_symbol(self, raw: str, call: CallArgs, scope: Scope) -> Value:
        catalogue = self.ev.catalogue
        qualname = catalogue.canonical(raw)
        owner, _, method = qualname.rpartition(".")
        if method in catalogue.alternative_constructors and catalogue.lookup(owner) is not None:
            qualname = owner  # `MeanSquaredError.from_config(config)`: a MeanSquaredError
        special = catalogue.special.get(qualname)
        if special is not None:
            return transfer.SPECIAL[special](self.ev, call, scope)
        entry = catalogue.lookup(qualname)
        if entry is None:
            return self.opaque(call)
        return transfer.CATEGORIES[entry.category](self.ev, qualname, entry, call, scope)

    # -- instances and Loss objects ---------------------------------------------------------

    def _call_instance(self, inst: Instance, call: CallArgs, scope: Scope) -> Value:
        names = self.ev.names
        is_loss, is_metric = names.class_kind(inst.cls)
        if is_metric and not is_loss:
            return transfer.keras_losses.metric_result(inst.cls.qualname, call, scope)
        if is_loss:
            reduction = dict(inst.kwargs).get("reduction")
            per_sample = reduction_is_none(reduction)
            obj = LossObject(
                name=inst.cls.qualname,
                per_sample=per_sample is True,
                ctor=inst.ctor,
                ctor_module=inst.ctor_module,
                reduction_given=reduction is not None,
            )
            if per_sample is None:
                return Unknown(tainted=True)
            if per_sample:
                found = names.find_method(inst.cls, "call")
                if found is not None:
                    ref = names.method_ref(found[0], found[1], inst)
                    return self.call_function(ref, call.args, call.kwargs, scope, call.node)
                return Unknown(tainted=True)
            return self.call_loss_object(obj, call, scope)
        found = names.find_method(inst.cls, "__call__")
        if found is not None:
            ref = names.method_ref(found[0], found[1], inst)
            return self.call_function(ref, call.args, call.kwargs, scope, call.node)
        base = names.external_base(inst.cls)
        if base is not None and self.ev.catalogue.is_layer_class(
            self.ev.catalogue.canonical(base.qualname)
        ):
            return transfer.keras_losses.layer_call(call) or self.opaque(call)  # a project layer
        return self.opaque(call)

    def call_loss_object(self, obj: LossObject, call: CallArgs, scope: Scope) -> Value:
        values = [as_tensor(v) for v in call.args[:2]]
        if not values or not any(tainted(v) for v in values):
            return self.opaque(call)
        if obj.per_sample:
            return transfer.per_sample_result(values)
        plan = None
        ctor = obj.ctor
        built_by = (
            ctor.func.attr if ctor is not None and isinstance(ctor.func, ast.Attribute) else ""
        )
        if built_by in self.ev.catalogue.alternative_constructors:
            ctor = None  # `from_config(config)` takes no `reduction`: no fix to offer there
        if ctor is not None and obj.ctor_module is not None and not obj.reduction_given:
            plan = FixPlan("reduction_none", safe=False, ctor=ctor, ctor_module=obj.ctor_module)
        label = obj.name.rsplit(".", 1)[-1]
        origin = Origin(
            kind="loss_object",
            module=scope.module,
            node=call.node,
            op=label,
            label=label,
            why="a Loss object with the default reduction returns one value for the whole batch",
            function=scope.function,
            plan=plan,
        )
        return Reduced.of(origin)

    def super_call(self, name: str, call: CallArgs, scope: Scope) -> Value:
        cls = scope.cls
        if cls is None:
            return self.opaque(call)
        names = self.ev.names
        for base in names.class_bases(cls):
            if isinstance(base, ClassRef):
                found = names.find_method(base, name)
                if found is not None:
                    ref = names.method_ref(found[0], found[1], scope.self_value)
                    return self.call_function(ref, call.args, call.kwargs, scope, call.node)
        external = names.external_base(cls)
        catalogue = self.ev.catalogue
        if (
            name == "call"
            and external is not None
            and catalogue.canonical(external.qualname) in catalogue.loss_classes
        ):
            return transfer.per_sample_result([as_tensor(v) for v in call.args[:2]])
        if name == "__init__":
            return Const()
        return self.opaque(call)

    # -- project functions ------------------------------------------------------------------

    def call_function(
        self,
        ref: FunctionRef,
        args: list[Value],
        kwargs: dict[str, Value],
        caller: Scope,
        call_node: ast.AST,
    ) -> Value:
        if ref.node in self._stack or len(self._stack) >= MAX_DEPTH:
            return Unknown(tainted=any(tainted(v) for v in [*args, *kwargs.values()]))
        node = ref.node
        if isinstance(node, ast.AsyncFunctionDef) or is_generator(node, ref.module.lines):
            return Unknown(tainted=True)
        scope = Scope(
            module=ref.module,
            function=ref.qualname,
            trace=caller.trace,
            env=dict(ref.closure or {}),
            cls=ref.cls,
            self_value=ref.self_value,
        )
        self.bind(ref, [*ref.bound_args, *args], {**dict(ref.bound_kwargs), **kwargs}, scope)
        result = self.run(ref, scope)
        if isinstance(result, Reduced | Batched):
            incoming: set[Origin] = set()
            for value in [*args, *kwargs.values(), *(ref.closure or {}).values()]:
                if isinstance(value, Reduced):
                    incoming |= value.origins
                elif isinstance(value, Batched):
                    incoming |= value.mixed

            def through(o: Origin) -> Origin:
                return o if o in incoming else o.through(caller.module, call_node, ref.qualname)

            if isinstance(result, Reduced):
                result = Reduced(
                    frozenset(
                        Group(frozenset(through(o) for o in g.origins), g.nonlinear)
                        for g in result.groups
                    )
                )
            elif result.mixed:
                result = replace(result, mixed=frozenset(through(o) for o in result.mixed))
        return result

    def run(self, ref: FunctionRef, scope: Scope) -> Value:
        """Evaluate a function body with bound parameters; the join of what it returns."""
        node = ref.node
        self._stack.append(node)
        try:
            if isinstance(node, ast.Lambda):
                value = self.ev.eval_expr(node.body, scope)
                scope.returns.append((value, node.body))
                return value
            self.ev.stmts.block(node.body, scope)
            if scope.alive:
                scope.returns.append((Const(literal=None), node))
            return join_all((value for value, _ in scope.returns), Const(literal=None))
        finally:
            self._stack.pop()

    def bind(
        self, ref: FunctionRef, args: list[Value], kwargs: dict[str, Value], scope: Scope
    ) -> int:
        """Bind arguments to a function's parameters in `scope` (defaults for the rest), the way
        Python does; returns how many positional arguments named parameters took."""
        params = self.ev.params(ref.node)
        positional = list(params.positional)
        if ref.self_value is not None and positional and not is_static(ref.node):
            scope.env[positional[0].name] = ref.self_value
            positional = positional[1:]
        remaining = list(args)
        kwargs = dict(kwargs)
        taken = 0
        for param in positional:
            if remaining:
                scope.env[param.name] = remaining.pop(0)
                taken += 1
            elif param.name in kwargs:
                scope.env[param.name] = kwargs.pop(param.name)
            else:
                scope.env[param.name] = self.default(ref, param)
        if params.star is not None:
            scope.env[params.star] = Seq(tuple(remaining))
        for param in params.keyword_only:
            scope.env[param.name] = (
                kwargs.pop(param.name) if param.name in kwargs else self.default(ref, param)
            )
        if params.double_star is not None:
            scope.env[params.double_star] = Mapping(tuple(kwargs.values()))
        scope.full_params = tuple(
            k for k, v in scope.env.items() if isinstance(v, Batched) and v == Batched()
        )
        return taken

    def default(self, ref: FunctionRef, param: Param) -> Value:
        """A parameter's default value (batch-free by construction), or Const() without one."""
        if param.default is None:
            return Const()
        outer = Scope(module=ref.module, function="<module>", env=dict(ref.closure or {}))
        value = self.ev.eval_expr(param.default, outer)
        return value if not tainted(value) else Unknown()
