"""Abstract interpretation of loss bodies: does each returned value keep the batch axis?

The evaluator walks statements in order, gives every expression a value from `values.py`,
follows calls into project functions (across modules, with a recursion guard) and applies the
transfer rules of the catalogue to TensorFlow / Keras calls. It never imports TensorFlow.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import libcst as cst

from losslint.index.modules import Binding, ModuleInfo, dotted
from losslint.index.project import ProjectIndex
from losslint.index.walk import iter_children, walk
from losslint.shapes import catalogue as catalogue_mod
from losslint.shapes.values import (
    FULL_RANK,
    NO_LITERAL,
    NON_BATCH_AXES,
    UNKNOWN_RANK,
    Alternatives,
    Batched,
    ClassRef,
    Const,
    FixPlan,
    Flat,
    FunctionRef,
    Group,
    Instance,
    LossObject,
    Mapping,
    ModuleRef,
    Origin,
    Parts,
    Rank,
    Reduced,
    Seq,
    ShapeOf,
    Symbol,
    Unknown,
    Value,
    as_tensor,
    combine,
    join,
    literal_of,
    nonlinear,
    tainted,
)

MAX_DEPTH = 12
# Imports of these packages are read from the catalogue, even when linting their own sources.
_FRAMEWORKS = frozenset({"tensorflow", "keras", "tf_keras"})
_BUILTINS = frozenset(dir(builtins))
# Elementwise functions that are linear in their tensor arguments.
_LINEAR = frozenset(
    {
        "add",
        "subtract",
        "add_n",
        "cast",
        "identity",
        "stop_gradient",
        "convert_to_tensor",
        "negative",
        "ensure_shape",
        "check_numerics",
        "cast_to_floatx",
        "saturate_cast",
        "copy",
    }
)
_SCALING = frozenset(
    {
        "multiply",
        "divide",
        "truediv",
        "true_divide",
        "realdiv",
        "div",
        "divide_no_nan",
        "multiply_no_nan",
    }
)
_MEAN_OPS = frozenset({"mean"})
_AXIS_FIXABLE_OPS = frozenset(
    {"mean", "sum", "max", "min", "prod", "norm", "euclidean_norm", "any"}
)
_DROP_FIXABLE_OPS = frozenset({"mean", "sum", "max", "min"})
_OPERAND_KEYWORDS = ("input_tensor", "x", "tensor", "input", "inputs")
_LOSS_TENSOR_KEYWORDS = ("y_true", "y_pred", "labels", "logits", "target", "output", "predictions")


@dataclass
class Call:
    """Evaluated arguments of one call."""

    node: cst.Call
    args: list[Value]
    kwargs: dict[str, Value]
    arg_nodes: list[cst.Arg]
    kwarg_nodes: dict[str, cst.Arg]
    starred: bool

    def get(self, position: int, *names: str) -> tuple[Value | None, cst.Arg | None]:
        for name in names:
            if name in self.kwargs:
                return self.kwargs[name], self.kwarg_nodes[name]
        if position < len(self.args):
            return self.args[position], self.arg_nodes[position]
        return None, None

    def tensors(self) -> list[Value]:
        return [*self.args, *(v for k, v in self.kwargs.items() if k not in {"name", "dtype"})]


@dataclass
class Scope:
    """The evaluation state of one function body (or of module level)."""

    module: ModuleInfo
    function: str
    env: dict[str, Value] = field(default_factory=dict)
    returns: list[tuple[Value, cst.CSTNode]] = field(default_factory=list)
    alive: bool = True
    cls: ClassRef | None = None
    self_value: Value | None = None
    full_params: tuple[str, ...] = ()


@dataclass
class LossAnalysis:
    returns: list[tuple[Value, cst.CSTNode]]
    batch_level: bool


class Evaluator:
    """Evaluates functions of a project; one instance per run (shares module-level caches)."""

    def __init__(self, index: ProjectIndex) -> None:
        self.index = index
        self.catalogue = catalogue_mod.load()
        self._module_values: dict[tuple[int, str], Value] = {}
        self._class_kinds: dict[int, tuple[bool, bool]] = {}
        self._instance_attrs: dict[int, dict[str, Value]] = {}
        self.closures: dict[int, dict[str, Value]] = {}
        self._stack: list[cst.CSTNode] = []
        self.batch_level = False

    # -- module level ---------------------------------------------------------------------

    def module_scope(self, module: ModuleInfo) -> Scope:
        return Scope(module=module, function="<module>")

    def module_value(self, module: ModuleInfo, name: str) -> Value:
        key = (id(module), name)
        if key in self._module_values:
            return self._module_values[key]
        self._module_values[key] = Unknown()  # cycle guard
        value = self._resolve_module_name(module, name)
        self._module_values[key] = value
        return value

    def _resolve_module_name(self, module: ModuleInfo, name: str) -> Value:
        binding = module.bindings.get(name)
        if binding is None:
            for target, level in module.star_imports:
                other = self.index.resolve_module(module, target, level)
                if other is not None and name in other.bindings:
                    return self.module_value(other, name)
                if other is None and not level:
                    return Unknown()
            if name in _BUILTINS:
                return Symbol(name)
            return Unknown()
        return self._resolve_binding(module, name, binding)

    def _resolve_binding(self, module: ModuleInfo, name: str, binding: Binding) -> Value:
        if binding.kind == "def":
            assert isinstance(binding.node, cst.FunctionDef)
            return FunctionRef(module=module, node=binding.node, qualname=name)
        if binding.kind == "class":
            assert isinstance(binding.node, cst.ClassDef)
            return ClassRef(module=module, node=binding.node, qualname=name)
        if binding.kind == "assign":
            assert isinstance(binding.node, cst.BaseExpression)
            return self.eval_expr(binding.node, self.module_scope(module))
        if binding.kind == "import":
            return self._import_value(module, binding.target)
        if binding.kind == "from":
            return self._from_value(module, binding.target, binding.attr, binding.level)
        return Unknown()

    def _import_value(self, module: ModuleInfo, target: str) -> Value:
        if target.split(".", 1)[0] in _FRAMEWORKS:
            return Symbol(target)
        found = self.index.resolve_module(module, target)
        if found is not None:
            return ModuleRef(found)
        if self.index.is_project_package_dir(module, target):
            return Unknown()
        return Symbol(target)

    def _from_value(self, module: ModuleInfo, target: str, attr: str, level: int) -> Value:
        if not level and target.split(".", 1)[0] in _FRAMEWORKS:
            return Symbol(f"{target}.{attr}")
        if level and not target:
            # `from . import losses`: a sibling module first, then a name bound in __init__
            sibling = self.index.resolve_module(module, attr, level)
            if sibling is not None:
                return ModuleRef(sibling)
        source = self.index.resolve_module(module, target, level)
        if source is not None and source is not module:
            if attr in source.bindings or (
                source.star_imports and not self._is_submodule(source, attr)
            ):
                return self.module_value(source, attr)
            sub = self.index.resolve_module(source, attr, 1) if source.is_package else None
            return ModuleRef(sub) if sub is not None else Unknown()
        if level or self.index.is_project_package_dir(module, target):
            sub = self.index.resolve_module(module, f"{target}.{attr}" if target else attr, level)
            return ModuleRef(sub) if sub is not None else Unknown()
        qual = f"{target}.{attr}" if target else attr
        return Symbol(qual)

    def _is_submodule(self, package: ModuleInfo, name: str) -> bool:
        return package.is_package and self.index.resolve_module(package, name, 1) is not None

    def attribute_of_module(self, module: ModuleInfo, attr: str) -> Value:
        if attr in module.bindings or module.star_imports:
            value = self.module_value(module, attr)
            if not (isinstance(value, Unknown) and module.is_package):
                return value
        if module.is_package:
            sub = self.index.resolve_module(module, attr, 1)
            if sub is not None:
                return ModuleRef(sub)
        return Unknown()

    # -- classes ----------------------------------------------------------------------------

    def class_kind(self, cls: ClassRef) -> tuple[bool, bool]:
        """(is a keras Loss subclass, is a keras Metric subclass), following project bases."""
        key = id(cls.node)
        if key in self._class_kinds:
            return self._class_kinds[key]
        self._class_kinds[key] = (False, False)
        is_loss = is_metric = False
        for base in self.class_bases(cls):
            if isinstance(base, Symbol):
                name = self.catalogue.canonical(base.qualname)
                is_loss |= name in self.catalogue.loss_bases | self.catalogue.loss_classes
                is_metric |= name in self.catalogue.metric_bases or name.startswith(
                    "keras.metrics."
                )
            elif isinstance(base, ClassRef):
                base_loss, base_metric = self.class_kind(base)
                is_loss |= base_loss
                is_metric |= base_metric
        self._class_kinds[key] = (is_loss, is_metric)
        return is_loss, is_metric

    def class_bases(self, cls: ClassRef) -> list[Value]:
        scope = self.module_scope(cls.module)
        return [self.eval_expr(base.value, scope) for base in cls.node.bases]

    def find_method(
        self, cls: ClassRef, name: str, _depth: int = 0
    ) -> tuple[ClassRef, cst.FunctionDef] | None:
        for stmt in cls.node.body.body:
            if isinstance(stmt, cst.FunctionDef) and stmt.name.value == name:
                return cls, stmt
        if _depth > 8:
            return None
        for base in self.class_bases(cls):
            if isinstance(base, ClassRef):
                found = self.find_method(base, name, _depth + 1)
                if found:
                    return found
        return None

    def _external_base(self, cls: ClassRef, _depth: int = 0) -> Symbol | None:
        for base in self.class_bases(cls):
            if isinstance(base, Symbol):
                return base
            if isinstance(base, ClassRef) and _depth < 8:
                found = self._external_base(base, _depth + 1)
                if found:
                    return found
        return None

    def method_ref(
        self, cls: ClassRef, method: cst.FunctionDef, self_value: Value | None
    ) -> FunctionRef:
        return FunctionRef(
            module=cls.module,
            node=method,
            qualname=f"{cls.qualname}.{method.name.value}",
            self_value=self_value,
            cls=cls,
        )

    def instance_attribute(self, inst: Instance, attr: str) -> Value:
        found = self.find_method(inst.cls, attr)
        if found is not None:
            return self.method_ref(found[0], found[1], inst)
        attrs = self._init_attributes(inst)
        if attr in attrs:
            return attrs[attr]
        class_value = self._class_attribute(inst.cls, attr)
        return class_value if class_value is not None else Const()

    def _class_attribute(self, cls: ClassRef, attr: str, _depth: int = 0) -> Value | None:
        for stmt in cls.node.body.body:
            if isinstance(stmt, cst.SimpleStatementLine):
                for small in stmt.body:
                    if isinstance(small, cst.Assign):
                        for target in small.targets:
                            if isinstance(target.target, cst.Name) and target.target.value == attr:
                                return self.eval_expr(small.value, self.module_scope(cls.module))
        if _depth < 8:
            for base in self.class_bases(cls):
                if isinstance(base, ClassRef):
                    found = self._class_attribute(base, attr, _depth + 1)
                    if found is not None:
                        return found
        return None

    def _init_attributes(self, inst: Instance) -> dict[str, Value]:
        key = id(inst)
        if key in self._instance_attrs:
            return self._instance_attrs[key]
        self._instance_attrs[key] = {}
        found = self.find_method(inst.cls, "__init__")
        attrs: dict[str, Value] = {}
        if found is not None:
            cls, init = found
            saved = self.batch_level
            scope = Scope(
                module=cls.module, function=f"{cls.qualname}.__init__", cls=cls, self_value=inst
            )
            self._bind_params(
                FunctionRef(cls.module, init, f"{cls.qualname}.__init__", self_value=inst, cls=cls),
                list(inst.args),
                dict(inst.kwargs),
                scope,
            )
            self._guarded_block(init, init.body, scope)
            self.batch_level = saved
            attrs = {k[5:]: v for k, v in scope.env.items() if k.startswith("self.")}
        self._instance_attrs[key] = attrs
        return attrs

    # -- expressions ------------------------------------------------------------------------

    def lookup(self, name: str, scope: Scope) -> Value:
        if name in scope.env:
            return scope.env[name]
        if name == "self" and scope.self_value is not None:
            return scope.self_value
        return self.module_value(scope.module, name)

    def eval_expr(self, expr: cst.BaseExpression, scope: Scope) -> Value:
        method = getattr(self, f"_expr_{type(expr).__name__}", None)
        if method is None:
            return Unknown(tainted=self._refs_tainted(expr, scope))
        result: Value = method(expr, scope)
        return result

    def _refs_tainted(self, node: cst.CSTNode, scope: Scope) -> bool:
        for name in _names_in(node):
            value = scope.env.get(name)
            if value is not None and tainted(value):
                return True
        return False

    def _expr_Integer(self, expr: cst.Integer, scope: Scope) -> Value:
        return Const(literal=expr.evaluated_value)

    def _expr_Float(self, expr: cst.Float, scope: Scope) -> Value:
        return Const(literal=expr.evaluated_value)

    def _expr_Imaginary(self, expr: cst.Imaginary, scope: Scope) -> Value:
        return Const()

    def _expr_SimpleString(self, expr: cst.SimpleString, scope: Scope) -> Value:
        return Const(literal=expr.evaluated_value)

    def _expr_ConcatenatedString(self, expr: cst.ConcatenatedString, scope: Scope) -> Value:
        return Const()

    def _expr_FormattedString(self, expr: cst.FormattedString, scope: Scope) -> Value:
        return Const()

    def _expr_Ellipsis(self, expr: cst.Ellipsis, scope: Scope) -> Value:
        return Const()

    def _expr_Name(self, expr: cst.Name, scope: Scope) -> Value:
        if expr.value in ("None", "True", "False") and expr.value not in scope.env:
            return Const(literal={"None": None, "True": True, "False": False}[expr.value])
        return self.lookup(expr.value, scope)

    def _expr_Tuple(self, expr: cst.Tuple, scope: Scope) -> Value:
        return Seq(tuple(self.eval_expr(e.value, scope) for e in expr.elements))

    def _expr_List(self, expr: cst.List, scope: Scope) -> Value:
        return Seq(tuple(self.eval_expr(e.value, scope) for e in expr.elements))

    def _expr_Dict(self, expr: cst.Dict, scope: Scope) -> Value:
        return Mapping(
            tuple(
                self.eval_expr(e.value, scope)
                for e in expr.elements
                if isinstance(e, cst.DictElement)
            )
        )

    def _expr_UnaryOperation(self, expr: cst.UnaryOperation, scope: Scope) -> Value:
        value = self.eval_expr(expr.expression, scope)
        if isinstance(expr.operator, cst.Not):
            return Unknown(tainted=tainted(value)) if tainted(value) else Const()
        if isinstance(value, Const) and isinstance(value.literal, int | float):
            if isinstance(expr.operator, cst.Minus):
                return Const(literal=-value.literal)
            return value
        return as_tensor(value)

    def _expr_BinaryOperation(self, expr: cst.BinaryOperation, scope: Scope) -> Value:
        left = self.eval_expr(expr.left, scope)
        right = self.eval_expr(expr.right, scope)
        op = expr.operator
        if isinstance(op, cst.MatrixMultiply):
            return self._mixing([left, right])
        if isinstance(op, cst.Add | cst.Subtract):
            return combine(left, right, linear=True)
        if isinstance(op, cst.Multiply):
            return combine(left, right, linear=_is_const(left) or _is_const(right))
        if isinstance(op, cst.Divide):
            return combine(left, right, linear=_is_const(right))
        return combine(left, right, linear=False)

    def _expr_BooleanOperation(self, expr: cst.BooleanOperation, scope: Scope) -> Value:
        left = self.eval_expr(expr.left, scope)
        right = self.eval_expr(expr.right, scope)
        if isinstance(left, Const) and isinstance(right, Const):
            return Const()
        return Unknown(tainted=tainted(left) or tainted(right))

    def _expr_Comparison(self, expr: cst.Comparison, scope: Scope) -> Value:
        value = self.eval_expr(expr.left, scope)
        for target in expr.comparisons:
            if isinstance(target.operator, cst.Is | cst.IsNot | cst.In | cst.NotIn):
                return Const()
            value = combine(value, self.eval_expr(target.comparator, scope), linear=False)
        return value

    def _expr_IfExp(self, expr: cst.IfExp, scope: Scope) -> Value:
        known = self.truth(expr.test, scope)
        if known is True:
            return self.eval_expr(expr.body, scope)
        if known is False:
            return self.eval_expr(expr.orelse, scope)
        return join(self.eval_expr(expr.body, scope), self.eval_expr(expr.orelse, scope))

    def truth(self, test: cst.BaseExpression, scope: Scope) -> bool | None:
        """The truth of a condition when it only involves known literals (`per_image=False`)."""
        if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
            inner = self.truth(test.expression, scope)
            return None if inner is None else not inner
        if isinstance(test, cst.BooleanOperation):
            left, right = self.truth(test.left, scope), self.truth(test.right, scope)
            if isinstance(test.operator, cst.And):
                if left is False or right is False:
                    return False
                return True if left is True and right is True else None
            if left is True or right is True:
                return True
            return False if left is False and right is False else None
        if isinstance(test, cst.Comparison) and len(test.comparisons) == 1:
            target = test.comparisons[0]
            left = literal_of(self._peek(test.left, scope))
            right = literal_of(self._peek(target.comparator, scope))
            if left is NO_LITERAL or right is NO_LITERAL:
                return None
            if isinstance(left, Alternatives) or isinstance(right, Alternatives):
                return None
            operator = target.operator
            if isinstance(operator, cst.Is | cst.Equal):
                return bool(left == right) if isinstance(operator, cst.Equal) else left is right
            if isinstance(operator, cst.IsNot | cst.NotEqual):
                return (
                    bool(left != right) if isinstance(operator, cst.NotEqual) else left is not right
                )
            return None
        if isinstance(test, cst.Name | cst.Attribute):
            literal = literal_of(self._peek(test, scope))
            if (
                literal is NO_LITERAL
                or isinstance(literal, Alternatives)
                or literal is NON_BATCH_AXES
            ):
                return None
            return bool(literal)
        return None

    def _peek(self, expr: cst.BaseExpression, scope: Scope) -> Value:
        """Evaluate a name, attribute or literal for a condition (nothing with side effects)."""
        if isinstance(expr, cst.Name | cst.Attribute | cst.Integer | cst.Float | cst.SimpleString):
            return self.eval_expr(expr, scope)
        if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Minus):
            return self.eval_expr(expr, scope)
        return Unknown()

    def _expr_NamedExpr(self, expr: cst.NamedExpr, scope: Scope) -> Value:
        value = self.eval_expr(expr.value, scope)
        if isinstance(expr.target, cst.Name):
            scope.env[expr.target.value] = value
        return value

    def _expr_Lambda(self, expr: cst.Lambda, scope: Scope) -> Value:
        line = scope.module.line_of(expr)
        prefix = "" if scope.function == "<module>" else f"{scope.function}.<locals>."
        self.closures[id(expr)] = dict(scope.env)
        return FunctionRef(
            module=scope.module,
            node=expr,
            qualname=f"{prefix}<lambda>@{line}",
            closure=dict(scope.env),
            cls=scope.cls,
            self_value=None,
        )

    def _expr_Attribute(self, expr: cst.Attribute, scope: Scope) -> Value:
        attr = expr.attr.value
        if isinstance(expr.value, cst.Name) and expr.value.value == "self":
            key = f"self.{attr}"
            if key in scope.env:
                return scope.env[key]
        base = self.eval_expr(expr.value, scope)
        if isinstance(base, ModuleRef):
            return self.attribute_of_module(base.module, attr)
        if isinstance(base, Symbol):
            return Symbol(f"{base.qualname}.{attr}")
        if isinstance(base, Instance):
            return self.instance_attribute(base, attr)
        if isinstance(base, ClassRef):
            found = self.find_method(base, attr)
            if found is not None:
                return self.method_ref(found[0], found[1], None)
            value = self._class_attribute(base, attr)
            return value if value is not None else Const()
        if isinstance(base, Batched | Flat | Reduced | Unknown):
            if attr == "shape":
                return ShapeOf(batched=tainted(base) and not isinstance(base, Reduced))
            if attr in ("dtype", "ndim", "name", "device"):
                return Const()
            if attr == "T":
                return self._mixing([base])
            return Unknown(tainted=tainted(base))
        if isinstance(base, Const):
            return Const()
        return Unknown()

    def _expr_Subscript(self, expr: cst.Subscript, scope: Scope) -> Value:
        base = self.eval_expr(expr.value, scope)
        elements = list(expr.slice)
        if isinstance(base, ShapeOf):
            first = elements[0].slice if elements else None
            if isinstance(first, cst.Index):
                index = self.eval_expr(first.value, scope)
                if isinstance(index, Const) and index.literal == 0:
                    if base.batched:
                        self.batch_level = True
                    return Const(batch_size=base.batched)
            return Const()
        if isinstance(base, Seq):
            first = elements[0].slice if len(elements) == 1 else None
            if isinstance(first, cst.Index):
                index = self.eval_expr(first.value, scope)
                if (
                    isinstance(index, Const)
                    and isinstance(index.literal, int)
                    and -len(base.items) <= index.literal < len(base.items)
                ):
                    return base.items[index.literal]
            result: Value = Unknown()
            for i, item in enumerate(base.items):
                result = item if i == 0 else join(result, item)
            return result
        if isinstance(base, Parts):
            return base.item
        if isinstance(base, Mapping):
            result = Unknown()
            for i, item in enumerate(base.items):
                result = item if i == 0 else join(result, item)
            return result
        if isinstance(base, Batched):
            return self._subscript_batched(base, elements, scope)
        if isinstance(base, Flat) and elements:
            first = elements[0].slice
            if (isinstance(first, cst.Slice) and first.lower is None and first.upper is None) or (
                isinstance(first, cst.Index) and isinstance(first.value, cst.Ellipsis)
            ):
                return base  # x_flat[:, 0] keeps the merged leading axis
        if isinstance(base, Reduced | Const):
            return base
        if isinstance(base, Instance | ClassRef | Symbol | FunctionRef | ModuleRef | LossObject):
            return Unknown()
        return Unknown(tainted=tainted(base))

    def _masked(self, scope: Scope, node: cst.CSTNode) -> Flat:
        self.batch_level = True
        origin = Origin(
            kind="reduction",
            module=scope.module,
            node=node,
            op="mask",
            label=scope.module.code_for(node),
            why="selects elements of the whole batch with a boolean mask",
            function=scope.function,
        )
        return Flat(masked=origin)

    def _subscript_batched(
        self, base: Batched, elements: list[cst.SubscriptElement], scope: Scope
    ) -> Value:
        if not elements:
            return Unknown(tainted=True)
        first = elements[0].slice
        rest = elements[1:]
        if isinstance(first, cst.Index) and isinstance(first.value, cst.Ellipsis):
            pass
        elif isinstance(first, cst.Slice):
            if first.lower is not None or first.upper is not None or first.step is not None:
                self.batch_level = True  # y_pred[:half]: pairs samples of the batch
                return Unknown(tainted=True)
        else:
            assert isinstance(first, cst.Index)
            index = self.eval_expr(first.value, scope)
            if isinstance(index, Const) and index.literal is None:
                return Unknown(tainted=True)
            if isinstance(index, Batched) and not rest:
                return self._masked(scope, first.value)  # x[mask]: selected elements of all samples
            self.batch_level = True  # x[0] picks one sample; x[mask] mixes samples
            return Unknown(tainted=True)
        dropped = 0
        for element in rest:
            item = element.slice
            if isinstance(item, cst.Index):
                if isinstance(item.value, cst.Ellipsis):
                    continue
                index = self.eval_expr(item.value, scope)
                if isinstance(index, Const) and index.literal is None:
                    dropped -= 1
                elif isinstance(index, Const) and isinstance(index.literal, int):
                    dropped += 1
                else:
                    return replace(base, rank=UNKNOWN_RANK)
        return replace(base, rank=base.rank.minus(dropped) if dropped else base.rank)

    def _expr_Call(self, expr: cst.Call, scope: Scope) -> Value:
        func = expr.func
        if (
            isinstance(func, cst.Attribute)
            and isinstance(func.value, cst.Call)
            and isinstance(func.value.func, cst.Name)
            and func.value.func.value == "super"
        ):
            call = self._eval_args(expr, scope)
            return self._super_call(func.attr.value, call, scope)
        callee = self.eval_expr(func, scope)
        call = self._eval_args(expr, scope)
        duck = _duck_backend(func, callee)
        if duck is not None:
            callee = duck
        return self.call_value(callee, call, scope)

    def _eval_args(self, expr: cst.Call, scope: Scope) -> Call:
        call = Call(expr, [], {}, [], {}, False)
        for arg in expr.args:
            value = self.eval_expr(arg.value, scope)
            if arg.star:
                call.starred = True
                if arg.star == "*" and isinstance(value, Seq):
                    call.args.extend(value.items)
                    call.arg_nodes.extend(arg for _ in value.items)
                continue
            if arg.keyword is not None:
                call.kwargs[arg.keyword.value] = value
                call.kwarg_nodes[arg.keyword.value] = arg
            else:
                call.args.append(value)
                call.arg_nodes.append(arg)
        return call

    # -- calls ------------------------------------------------------------------------------

    def call_value(self, callee: Value, call: Call, scope: Scope) -> Value:
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
            return self._call_loss_object(callee, call, scope)
        return self._opaque_call(call)

    def _opaque_call(self, call: Call) -> Value:
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

    def _call_instance(self, inst: Instance, call: Call, scope: Scope) -> Value:
        is_loss, _ = self.class_kind(inst.cls)
        if is_loss:
            reduction = dict(inst.kwargs).get("reduction")
            per_sample = _reduction_is_none(reduction)
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
                found = self.find_method(inst.cls, "call")
                if found is not None:
                    ref = self.method_ref(found[0], found[1], inst)
                    return self.call_function(ref, call.args, call.kwargs, scope, call.node)
                return Unknown(tainted=True)
            return self._call_loss_object(obj, call, scope)
        found = self.find_method(inst.cls, "__call__")
        if found is not None:
            ref = self.method_ref(found[0], found[1], inst)
            return self.call_function(ref, call.args, call.kwargs, scope, call.node)
        return self._opaque_call(call)

    def _call_loss_object(self, obj: LossObject, call: Call, scope: Scope) -> Value:
        values = [as_tensor(v) for v in call.args[:2]]
        if not values or not any(tainted(v) for v in values):
            return self._opaque_call(call)
        if obj.per_sample:
            return self._per_sample(values)
        plan = None
        if obj.ctor is not None and obj.ctor_module is not None and not obj.reduction_given:
            plan = FixPlan("reduction_none", safe=False, ctor=obj.ctor, ctor_module=obj.ctor_module)
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

    def _super_call(self, name: str, call: Call, scope: Scope) -> Value:
        cls = scope.cls
        if cls is None:
            return self._opaque_call(call)
        for base in self.class_bases(cls):
            if isinstance(base, ClassRef):
                found = self.find_method(base, name)
                if found is not None:
                    ref = self.method_ref(found[0], found[1], scope.self_value)
                    return self.call_function(ref, call.args, call.kwargs, scope, call.node)
        external = self._external_base(cls)
        if (
            name == "call"
            and external is not None
            and self.catalogue.canonical(external.qualname) in self.catalogue.loss_classes
        ):
            return self._per_sample([as_tensor(v) for v in call.args[:2]])
        if name == "__init__":
            return Const()
        return self._opaque_call(call)

    def _call_symbol(self, raw: str, call: Call, scope: Scope) -> Value:
        qualname = self.catalogue.canonical(raw)
        special = _SPECIAL_CALLS.get(qualname)
        if special is not None:
            return special(self, call, scope)
        entry = self.catalogue.lookup(qualname)
        if entry is None:
            return self._opaque_call(call)
        handler = getattr(self, f"_cat_{entry.category}")
        result: Value = handler(qualname, entry, call, scope)
        return result

    def _cat_reduction(
        self, qualname: str, entry: catalogue_mod.Entry, call: Call, scope: Scope
    ) -> Value:
        if call.starred:
            return Unknown(tainted=any(tainted(v) for v in call.tensors()))
        operand, _operand_arg = call.get(0, *_OPERAND_KEYWORDS, "y_true")
        if operand is None:
            return self._opaque_call(call)
        value = as_tensor(operand)
        if entry.operands == 2:
            second, _ = call.get(1, "y_pred")
            if second is not None:
                value = combine(value, as_tensor(second), linear=False)
        axis_value, axis_arg = call.get(entry.axis_position, "axis", "reduction_indices", "axes")
        keep, _ = call.get(entry.axis_position + 1, "keepdims", "keep_dims")
        keepdims = isinstance(keep, Const) and keep.literal is True
        if axis_value is None:
            axes: Any = None
        else:
            axes = literal_of(axis_value)
        if isinstance(value, Const):
            return Const()
        if isinstance(value, Reduced):
            return value
        label = _callee_label(call.node)
        if isinstance(value, Unknown):
            if not value.tainted:
                return Const()
            if axes is None:
                return self._reduced(entry, call, scope, label, _why(axis_arg), value, None)
            return Unknown(tainted=True)
        if isinstance(value, Flat):
            if axes is None or axes in (0, -1) or axes == (0,) or axes == (-1,):
                return self._reduced(
                    entry,
                    call,
                    scope,
                    label,
                    "over a tensor flattened with its batch axis",
                    value,
                    None,
                )
            return Unknown(tainted=True)
        if not isinstance(value, Batched):
            return Unknown(tainted=tainted(value))
        if value.coupled:
            self.batch_level = True  # batch statistics broadcast into the operand (Pearson, CCC)
        if axes is None:
            return self._reduced(entry, call, scope, label, _why(axis_arg), value, axis_arg)
        if axes is NON_BATCH_AXES:
            return replace(value, rank=value.rank if keepdims else Rank(drop=None, exact=1))
        if isinstance(axes, Alternatives):
            options = [_axis_tuple(opt) for opt in axes.options]
            hits = [
                opt is None
                or (
                    opt is not UNUSABLE_AXIS
                    and any(value.rank.axis_effect(a) == "removes" for a in opt)
                )
                for opt in options
            ]
            if any(hits):
                why = _why(axis_arg) + (
                    " (every value it can take includes the batch axis)"
                    if all(hits)
                    else " (one of the values it can take includes the batch axis)"
                )
                return self._reduced(entry, call, scope, label, why, value, None, fixable=False)
            if UNUSABLE_AXIS in options:
                return Unknown(tainted=True)
            return replace(value, rank=UNKNOWN_RANK)
        axis_tuple = _axis_tuple(axes)
        if axis_tuple is UNUSABLE_AXIS:
            return Unknown(tainted=True)  # a computed axis: unknown
        if axis_tuple is None:
            return self._reduced(entry, call, scope, label, _why(axis_arg), value, axis_arg)
        # `mean(keras.losses.mse(...), axis=-1)` reduces the batch axis of rank-2 inputs; after
        # the project's own reductions the inputs may well be sequences or images: unknown
        effects = [
            ("removes" if value.from_loss or value.rank.exact == 1 else "unknown")
            if e == "maybe"
            else e
            for e in (value.rank.axis_effect(a) for a in axis_tuple)
        ]
        if "removes" in effects:
            return self._reduced(entry, call, scope, label, _why(axis_arg), value, axis_arg)
        if "unknown" in effects:
            return Unknown(tainted=True)
        if keepdims:
            return value
        return replace(value, rank=value.rank.minus(len(set(axis_tuple))))

    def _reduced(
        self,
        entry: catalogue_mod.Entry,
        call: Call,
        scope: Scope,
        label: str,
        why: str,
        operand: Value,
        axis_arg: cst.Arg | None,
        fixable: bool = True,
    ) -> Reduced:
        operand_full = isinstance(operand, Batched) and operand.rank == FULL_RANK
        plan = None
        if fixable and isinstance(operand, Batched):
            plan = self._plan_reduction(entry.op, call, operand, axis_arg)
        all_axes_ref = None
        if operand_full:
            for name in scope.full_params:
                if scope.env.get(name) == Batched(rank=FULL_RANK):
                    all_axes_ref = name
                    break
        scalar = entry.op == "norm" and (
            axis_arg is None
            or (isinstance(axis_arg.value, cst.Name) and axis_arg.value.value == "None")
        )
        origin = Origin(
            kind="scalar_op" if scalar else "reduction",
            module=scope.module,
            node=call.node,
            op=entry.op,
            label=label,
            why=why,
            function=scope.function,
            operand_full=operand_full,
            plan=plan,
            all_axes_ref=all_axes_ref,
        )
        return Reduced.of(origin)

    def _plan_reduction(
        self, op: str, call: Call, operand: Batched, axis_arg: cst.Arg | None
    ) -> FixPlan | None:
        if axis_arg is not None and not _is_literal_expr(axis_arg.value):
            return None  # the axis comes from a name (a parameter default, a constant)
        if operand.rank == FULL_RANK and op in _AXIS_FIXABLE_OPS:
            action = "add_axis" if axis_arg is None else "replace_axis"
            return FixPlan(action, safe=op in _MEAN_OPS, axis_arg=axis_arg)
        if operand.rank.per_sample and op in _DROP_FIXABLE_OPS:
            operand_arg = call.arg_nodes[0] if call.arg_nodes else None
            others = [a for a in call.node.args if a is not operand_arg]
            if operand_arg is None or any(
                a.keyword is None
                or a.keyword.value not in ("axis", "keepdims", "keep_dims", "name")
                or not _is_literal_expr(a.value)
                for a in others
            ):
                return None
            return FixPlan("drop_call", safe=op in _MEAN_OPS, operand_arg=operand_arg)
        return None

    def _cat_elementwise(
        self, qualname: str, entry: catalogue_mod.Entry, call: Call, scope: Scope
    ) -> Value:
        values = [as_tensor(v) for v in call.tensors()]
        if not values:
            return Const()
        short = qualname.rsplit(".", 1)[-1]
        if short in _SCALING and len(values) == 2:
            linear = _is_const(values[1]) or (
                short in ("multiply", "multiply_no_nan") and _is_const(values[0])
            )
        else:
            linear = short in _LINEAR
        result = values[0]
        for other in values[1:]:
            result = combine(result, other, linear=linear)
        return result if linear else nonlinear(result)

    def _cat_normalize(
        self, qualname: str, entry: catalogue_mod.Entry, call: Call, scope: Scope
    ) -> Value:
        operand, _ = call.get(0, *_OPERAND_KEYWORDS, "logits")
        if operand is None:
            return self._opaque_call(call)
        value = as_tensor(operand)
        axis_value, _ = call.get(entry.axis_position, "axis", "dim")
        if axis_value is None:
            axes: Any = entry.default_axis if entry.has_default_axis else None
        else:
            axes = literal_of(axis_value)
        if isinstance(value, Batched):
            axis_tuple = _axis_tuple(axes)
            if axis_tuple is None:
                self.batch_level = True
                return Batched(rank=value.rank, coupled=True)
            if axis_tuple is not UNUSABLE_AXIS and any(
                value.rank.axis_effect(a) == "removes" for a in axis_tuple
            ):
                self.batch_level = True
                return Batched(rank=value.rank, coupled=True)
            return value
        return nonlinear(value)

    def _per_sample(self, values: Sequence[Value]) -> Value:
        tensors = [as_tensor(v) for v in values]
        if any(isinstance(v, Reduced) for v in tensors):
            result = tensors[0]
            for other in tensors[1:]:
                result = combine(result, other, linear=False)
            return nonlinear(result)
        batched = [v for v in tensors if isinstance(v, Batched)]
        if batched and len(batched) == len([v for v in tensors if not isinstance(v, Const)]):
            rank = batched[-1].rank
            return Batched(
                rank=rank.minus(1), coupled=any(v.coupled for v in batched), from_loss=True
            )
        if all(isinstance(v, Const) for v in tensors):
            return Const()
        return Unknown(tainted=any(tainted(v) for v in tensors))

    def _lost_at(self, call: Call, scope: Scope, op: str, why: str) -> Reduced:
        """The batch axis is removed by this call, in a way no fix can repair."""
        origin = Origin(
            kind="reduction",
            module=scope.module,
            node=call.node,
            op=op,
            label=_callee_label(call.node),
            why=why,
            function=scope.function,
        )
        return Reduced.of(origin)

    def _cat_per_sample(
        self, qualname: str, entry: catalogue_mod.Entry, call: Call, scope: Scope
    ) -> Value:
        values = list(call.args[:2])
        for name in _LOSS_TENSOR_KEYWORDS:
            if name in call.kwargs:
                values.append(call.kwargs[name])
        if not values:
            return self._opaque_call(call)
        return self._per_sample(values)

    def _cat_per_image(
        self, qualname: str, entry: catalogue_mod.Entry, call: Call, scope: Scope
    ) -> Value:
        values = [as_tensor(v) for v in call.args[:2]]
        reduced = [v for v in values if isinstance(v, Reduced)]
        if reduced:
            return nonlinear(reduced[0])
        if values and all(isinstance(v, Batched) for v in values):
            coupled = any(isinstance(v, Batched) and v.coupled for v in values)
            return Batched(rank=Rank(drop=None, exact=1), coupled=coupled)
        return self._opaque_call(call)

    def _cat_scatter(
        self, qualname: str, entry: catalogue_mod.Entry, call: Call, scope: Scope
    ) -> Value:
        updates, _ = call.get(1, "values", "updates")
        shape, _ = call.get(entry.axis_position, "shape")
        if updates is None or shape is None or not tainted(updates):
            return self._opaque_call(call)
        items = [as_tensor(i) for i in shape.items] if isinstance(shape, Seq) else None
        if items is None or not all(isinstance(i, Const) and not i.batch_size for i in items):
            return Unknown(tainted=True)
        return self._lost_at(
            call, scope, "scatter", "into a tensor of fixed shape (the samples are summed together)"
        )

    def _cat_diagonal(
        self, qualname: str, entry: catalogue_mod.Entry, call: Call, scope: Scope
    ) -> Value:
        if not call.args or not tainted(call.args[0]):
            return self._opaque_call(call)
        operand = as_tensor(call.args[0])
        first, _ = call.get(2, "axis1")
        second, _ = call.get(3, "axis2")
        axes = (
            literal_of(first) if first is not None else 0,
            literal_of(second) if second is not None else 1,
        )
        if isinstance(operand, Reduced):
            return operand
        if not all(isinstance(a, int) for a in axes):
            return Unknown(tainted=True)
        if 0 not in axes:
            return (
                replace(operand, rank=operand.rank.minus(1))
                if isinstance(operand, Batched)
                else Unknown(tainted=True)
            )
        return self._lost_at(
            call, scope, "diagonal", "takes a diagonal across the batch axis (`axis1=0`)"
        )

    def _cat_loss_class(
        self, qualname: str, entry: catalogue_mod.Entry, call: Call, scope: Scope
    ) -> Value:
        reduction = call.kwargs.get("reduction")
        per_sample = _reduction_is_none(reduction)
        if per_sample is None:
            return Unknown()
        return LossObject(
            name=qualname,
            per_sample=per_sample,
            ctor=call.node,
            ctor_module=scope.module,
            reduction_given=reduction is not None,
        )

    def _cat_scalar_op(
        self, qualname: str, entry: catalogue_mod.Entry, call: Call, scope: Scope
    ) -> Value:
        if not any(tainted(v) for v in call.tensors()):
            return Const()
        origin = Origin(
            kind="scalar_op",
            module=scope.module,
            node=call.node,
            op=entry.op,
            label=_callee_label(call.node),
            why="always returns a scalar",
            function=scope.function,
        )
        return Reduced.of(origin)

    def _cat_shape(
        self, qualname: str, entry: catalogue_mod.Entry, call: Call, scope: Scope
    ) -> Value:
        operand = call.args[0] if call.args else None
        batched = operand is not None and tainted(operand) and not isinstance(operand, Reduced)
        if qualname in ("tensorflow.size", "keras.ops.size", "len"):
            if isinstance(operand, ShapeOf | Seq):
                return Const()
            if batched:
                self.batch_level = True
            return Const(batch_size=batched)
        return ShapeOf(batched=batched)

    def _cat_rank(
        self, qualname: str, entry: catalogue_mod.Entry, call: Call, scope: Scope
    ) -> Value:
        return Const()

    def _cat_constant(
        self, qualname: str, entry: catalogue_mod.Entry, call: Call, scope: Scope
    ) -> Value:
        if qualname in ("float", "int") and call.args and isinstance(call.args[0], Const):
            return Const(literal=call.args[0].literal, batch_size=call.args[0].batch_size)
        return Const()

    def _mixing(self, values: Sequence[Value]) -> Value:
        if any(tainted(v) for v in values):
            self.batch_level = True
            return Unknown(tainted=True)
        return Const()

    def _cat_batch_mixing(
        self, qualname: str, entry: catalogue_mod.Entry, call: Call, scope: Scope
    ) -> Value:
        short = qualname.rsplit(".", 1)[-1]
        values = [as_tensor(v) for v in call.args]
        others = [*values[1:], *(as_tensor(v) for v in call.kwargs.values())]
        if (
            values
            and isinstance(values[0], Reduced)
            and not any(tainted(v) and not isinstance(v, Reduced) for v in others)
        ):
            return values[0].merged()  # already batch-free: masking or transposing keeps it so
        if short == "matmul" and len(values) >= 2:
            flags = {
                k: literal_of(call.kwargs[k])
                for k in ("transpose_a", "adjoint_a")
                if k in call.kwargs
            }
            if (
                True in flags.values()
                and isinstance(values[0], Batched)
                and values[0].rank == FULL_RANK
                and tainted(values[1])
            ):
                # a^T @ b on (batch, d) inputs sums over the samples (Gram / correlation matrices)
                self.batch_level = True
                return self._lost_at(
                    call, scope, "matmul", "with `transpose_a=True` contracts the batch axis"
                )
        if short in ("matmul", "dot", "tensordot") and len(values) >= 2:
            transposed = any(
                isinstance(call.kwargs.get(k), Const) and call.kwargs[k].literal is True  # type: ignore[union-attr]
                for k in ("transpose_a", "transpose_b", "adjoint_a", "adjoint_b")
            )
            if isinstance(values[0], Batched) and isinstance(values[1], Const) and not transposed:
                return replace(values[0], rank=UNKNOWN_RANK)
        if short in ("gather", "take", "take_along_axis", "repeat", "repeat_elements", "tile"):
            axis, _ = call.get(
                2 if short in ("gather", "take", "take_along_axis", "repeat_elements") else 99,
                "axis",
            )
            batch_dims, _ = call.get(99, "batch_dims")
            literal = literal_of(axis) if axis is not None else None
            if values and isinstance(values[0], Batched):
                if (
                    isinstance(literal, int)
                    and literal != 0
                    and values[0].rank.axis_effect(literal) == "keeps"
                ):
                    return replace(values[0], rank=UNKNOWN_RANK)
                if isinstance(batch_dims, Const) and batch_dims.literal == 1:
                    return replace(values[0], rank=UNKNOWN_RANK)
                if short == "tile":
                    return Unknown(tainted=True)
        if short in ("split", "unstack") and values and isinstance(values[0], Batched):
            axis, _ = call.get(2, "axis")
            literal = literal_of(axis) if axis is not None else 0
            if isinstance(literal, int) and values[0].rank.axis_effect(literal) == "keeps":
                rank = values[0].rank.minus(1) if short == "unstack" else values[0].rank
                return Parts(replace(values[0], rank=rank))
        if short == "boolean_mask" and len(values) >= 2 and isinstance(values[0], Batched | Flat):
            axis, _ = call.get(2, "axis")
            if axis is None or literal_of(axis) in (0, None):
                return self._masked(scope, call.node)
        if short == "gather_nd":
            batch_dims, _ = call.get(99, "batch_dims")
            if (
                values
                and isinstance(values[0], Batched)
                and isinstance(batch_dims, Const)
                and batch_dims.literal == 1
            ):
                return replace(values[0], rank=UNKNOWN_RANK)
        if short == "einsum":
            return self._einsum(call)
        if short == "transpose" and values and isinstance(values[0], Batched):
            perm, _ = call.get(1, "perm", "axes")
            literal = literal_of(perm) if perm is not None else NO_LITERAL
            if isinstance(literal, tuple) and literal and literal[0] == 0:
                return replace(values[0], rank=values[0].rank)
        if short in ("eye",):
            return Const(batch_size=any(isinstance(v, Const) and v.batch_size for v in values))
        if short in ("broadcast_to",) and values and isinstance(values[0], Const):
            return Const()
        return self._mixing([*values, *call.kwargs.values()])

    def _einsum(self, call: Call) -> Value:
        spec = literal_of(call.args[0]) if call.args else NO_LITERAL
        operands = [as_tensor(v) for v in call.args[1:]]
        if not isinstance(spec, str) or "->" not in spec or "." in spec:
            return self._mixing(operands)
        inputs, output = spec.replace(" ", "").split("->")
        terms = inputs.split(",")
        if len(terms) != len(operands):
            return self._mixing(operands)
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
        return self._mixing(operands)

    def _cat_flatten(
        self, qualname: str, entry: catalogue_mod.Entry, call: Call, scope: Scope
    ) -> Value:
        value = as_tensor(call.args[0]) if call.args else Unknown()
        if isinstance(value, Batched | Flat):
            return Flat(coupled=value.coupled)
        if isinstance(value, Reduced | Const):
            return value
        return Unknown(tainted=tainted(value))

    def _cat_batch_flatten(
        self, qualname: str, entry: catalogue_mod.Entry, call: Call, scope: Scope
    ) -> Value:
        value = as_tensor(call.args[0]) if call.args else Unknown()
        if isinstance(value, Batched):
            return replace(value, rank=Rank(drop=None, exact=2))
        return value if isinstance(value, Reduced | Const) else Unknown(tainted=tainted(value))

    def _cat_reshape(
        self, qualname: str, entry: catalogue_mod.Entry, call: Call, scope: Scope
    ) -> Value:
        value = as_tensor(call.args[0]) if call.args else Unknown()
        shape, _ = call.get(1, "shape", "newshape", "new_shape")
        if isinstance(value, Reduced | Const):
            return value
        if not isinstance(value, Batched | Flat) or shape is None:
            return Unknown(tainted=tainted(value))
        items: tuple[Value, ...] | None = None
        if isinstance(shape, Seq):
            items = shape.items
        elif isinstance(shape, Const) and isinstance(shape.literal, int):
            items = (shape,)
        if not items:
            return Unknown(tainted=True)
        first = items[0]
        if isinstance(first, Const) and first.batch_size:
            return replace(value, rank=Rank(drop=None, exact=len(items)))
        if isinstance(first, Const) and first.literal == -1 and len(items) == 1:
            return Flat(coupled=value.coupled)
        return Unknown(tainted=True)

    def _cat_axis_change(
        self, qualname: str, entry: catalogue_mod.Entry, call: Call, scope: Scope
    ) -> Value:
        operand, _ = call.get(0, *_OPERAND_KEYWORDS, "indices")
        if operand is None:
            return self._opaque_call(call)
        value = as_tensor(operand)
        axis_value, _ = call.get(entry.axis_position, "axis", "dim")
        if axis_value is None:
            axes: Any = entry.default_axis if entry.has_default_axis else None
        else:
            axes = literal_of(axis_value)
        if not isinstance(value, Batched):
            if isinstance(value, Reduced):
                return value
            if isinstance(value, Const):
                return Const()
            return Unknown(tainted=tainted(value))
        if entry.delta < 0:
            if axes is None:
                if qualname.endswith(("argmax", "argmin")):
                    self.batch_level = True
                    return Unknown(tainted=True)
                return replace(value, rank=UNKNOWN_RANK)
            if not isinstance(axes, int) or value.rank.axis_effect(axes) != "keeps":
                if isinstance(axes, int) and value.rank.axis_effect(axes) == "removes":
                    self.batch_level = True
                return Unknown(tainted=True)
            return replace(value, rank=value.rank.minus(1))
        if isinstance(axes, int) and axes != 0:
            return replace(value, rank=value.rank.minus(-1))
        return Unknown(tainted=True)

    def _cat_join(
        self, qualname: str, entry: catalogue_mod.Entry, call: Call, scope: Scope
    ) -> Value:
        items, _ = call.get(0, "values", "xs", "tensors")
        axis_value, _ = call.get(entry.axis_position, "axis")
        if axis_value is None:
            axes: Any = entry.default_axis if entry.has_default_axis else NO_LITERAL
        else:
            axes = literal_of(axis_value)
        if not isinstance(items, Seq) or not items.items:
            return Unknown(tainted=items is not None and tainted(items))
        values = [as_tensor(v) for v in items.items]
        if all(isinstance(v, Const) for v in values):
            return Const()
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
        rank = values[0].rank
        for v in values[1:]:
            assert isinstance(v, Batched)
            rank = rank.join(v.rank)
        coupled = any(isinstance(v, Batched) and v.coupled for v in values)
        if isinstance(axes, int) and axes != 0 and rank.axis_effect(axes) == "keeps":
            return Batched(rank=rank.minus(-entry.delta) if entry.delta else rank, coupled=coupled)
        if axes == 0:
            self.batch_level = True
        return Unknown(tainted=True)

    # -- project functions ------------------------------------------------------------------

    def call_function(
        self,
        ref: FunctionRef,
        args: list[Value],
        kwargs: dict[str, Value],
        caller: Scope,
        call_node: cst.CSTNode,
    ) -> Value:
        if ref.node in self._stack or len(self._stack) >= MAX_DEPTH:
            return Unknown(tainted=any(tainted(v) for v in [*args, *kwargs.values()]))
        node = ref.node
        if isinstance(node, cst.FunctionDef) and (node.asynchronous or _is_generator(node)):
            return Unknown(tainted=True)
        scope = Scope(
            module=ref.module,
            function=ref.qualname,
            env=dict(ref.closure or {}),
            cls=ref.cls,
            self_value=ref.self_value,
        )
        self._bind_params(
            ref, [*ref.bound_args, *args], {**dict(ref.bound_kwargs), **kwargs}, scope
        )
        scope.full_params = tuple(k for k, v in scope.env.items() if v == Batched(rank=FULL_RANK))
        result = self._run_function(ref, scope)
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

    def _run_function(self, ref: FunctionRef, scope: Scope) -> Value:
        node = ref.node
        self._stack.append(node)
        try:
            if isinstance(node, cst.Lambda):
                return self.eval_expr(node.body, scope)
            self._guarded_block(node, node.body, scope)
            if scope.alive:
                scope.returns.append((Const(literal=None), node))
            result: Value | None = None
            for value, _ in scope.returns:
                result = value if result is None else join(result, value)
            return result if result is not None else Const(literal=None)
        finally:
            self._stack.pop()

    def _guarded_block(self, owner: cst.CSTNode, body: cst.BaseSuite, scope: Scope) -> None:
        if isinstance(body, cst.IndentedBlock):
            self.exec_block(body.body, scope)
        elif isinstance(body, cst.SimpleStatementSuite):
            self.exec_block([cst.SimpleStatementLine(body=body.body)], scope)

    def _bind_params(
        self, ref: FunctionRef, args: list[Value], kwargs: dict[str, Value], scope: Scope
    ) -> None:
        params = ref.node.params
        positional = [*params.posonly_params, *params.params]
        if ref.self_value is not None and positional and not _is_static(ref.node):
            scope.env[positional[0].name.value] = ref.self_value
            positional = positional[1:]
        remaining = list(args)
        for param in positional:
            name = param.name.value
            if remaining:
                scope.env[name] = remaining.pop(0)
            elif name in kwargs:
                scope.env[name] = kwargs.pop(name)
            else:
                scope.env[name] = self._default(ref, param)
        if isinstance(params.star_arg, cst.Param):
            scope.env[params.star_arg.name.value] = Seq(tuple(remaining))
        for param in params.kwonly_params:
            name = param.name.value
            scope.env[name] = kwargs.pop(name) if name in kwargs else self._default(ref, param)
        if params.star_kwarg is not None:
            scope.env[params.star_kwarg.name.value] = Mapping(tuple(kwargs.values()))

    def _default(self, ref: FunctionRef, param: cst.Param) -> Value:
        if param.default is None:
            return Const()
        outer = Scope(module=ref.module, function="<module>", env=dict(ref.closure or {}))
        value = self.eval_expr(param.default, outer)
        return value if not tainted(value) else Unknown()

    # -- statements -------------------------------------------------------------------------

    def exec_block(self, statements: Sequence[cst.BaseStatement], scope: Scope) -> None:
        for stmt in statements:
            if not scope.alive:
                return
            self.exec_stmt(stmt, scope)

    def exec_stmt(self, stmt: cst.BaseStatement, scope: Scope) -> None:
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if not scope.alive:
                    return
                self._exec_small(small, scope)
        elif isinstance(stmt, cst.If):
            known = self.truth(stmt.test, scope)
            if known is True:
                self._suite(stmt.body, scope)
            elif known is False:
                if isinstance(stmt.orelse, cst.If):
                    self.exec_stmt(stmt.orelse, scope)
                elif isinstance(stmt.orelse, cst.Else):
                    self._suite(stmt.orelse.body, scope)
            else:
                self._branches(scope, [stmt.body, stmt.orelse])
        elif isinstance(stmt, cst.For | cst.While):
            self._loop(stmt, scope)
        elif isinstance(stmt, cst.Try | cst.TryStar):
            self._try(stmt, scope)
        elif isinstance(stmt, cst.With):
            for item in stmt.items:
                self.eval_expr(item.item, scope)
                if item.asname is not None:
                    self._assign(item.asname.name, Unknown(), scope)
            self._suite(stmt.body, scope)
        elif isinstance(stmt, cst.FunctionDef):
            prefix = "" if scope.function == "<module>" else f"{scope.function}.<locals>."
            closure = dict(scope.env)
            if scope.self_value is not None:
                closure.setdefault("self", scope.self_value)
            self.closures[id(stmt)] = closure
            scope.env[stmt.name.value] = FunctionRef(
                module=scope.module,
                node=stmt,
                qualname=f"{prefix}{stmt.name.value}",
                closure=closure,
                cls=scope.cls,
            )
        elif isinstance(stmt, cst.ClassDef):
            scope.env[stmt.name.value] = ClassRef(scope.module, stmt, stmt.name.value)
        elif isinstance(stmt, cst.Match):
            self._branches(scope, [case.body for case in stmt.cases] + [None])

    def _suite(self, suite: cst.BaseSuite, scope: Scope) -> None:
        if isinstance(suite, cst.IndentedBlock):
            self.exec_block(suite.body, scope)
        elif isinstance(suite, cst.SimpleStatementSuite):
            for small in suite.body:
                if scope.alive:
                    self._exec_small(small, scope)

    def _branches(self, scope: Scope, branches: list[Any]) -> None:
        base = scope.env
        outcomes: list[dict[str, Value]] = []
        for branch in branches:
            scope.env = dict(base)
            scope.alive = True
            if isinstance(branch, cst.If):
                self.exec_stmt(branch, scope)
            elif isinstance(branch, cst.Else):
                self._suite(branch.body, scope)
            elif branch is not None:
                self._suite(branch, scope)
            if scope.alive:
                outcomes.append(scope.env)
        if not outcomes:
            scope.env = base
            scope.alive = False
            return
        scope.alive = True
        scope.env = _merge_envs(outcomes)

    def _loop(self, stmt: cst.For | cst.While, scope: Scope) -> None:
        if isinstance(stmt, cst.For):
            iterable = self.eval_expr(stmt.iter, scope)
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
            self._assign(stmt.target, item, scope)
        else:
            self.eval_expr(stmt.test, scope)
        before = dict(scope.env)
        for _ in range(2):  # a second pass lets values assigned late in the body flow back
            self._suite(stmt.body, scope)
            after = scope.env if scope.alive else before
            scope.env = _merge_envs([before, after])
            scope.alive = True
            before = dict(scope.env)
        if stmt.orelse is not None:
            self._suite(stmt.orelse.body, scope)

    def _try(self, stmt: cst.Try | cst.TryStar, scope: Scope) -> None:
        before = dict(scope.env)
        self._suite(stmt.body, scope)
        outcomes = [scope.env] if scope.alive else []
        for handler in stmt.handlers:
            scope.env = _merge_envs([before, *outcomes]) if outcomes else dict(before)
            scope.alive = True
            if handler.name is not None:
                self._assign(handler.name.name, Unknown(), scope)
            self._suite(handler.body, scope)
            if scope.alive:
                outcomes.append(scope.env)
        if stmt.orelse is not None and outcomes:
            scope.env = outcomes[0]
            scope.alive = True
            self._suite(stmt.orelse.body, scope)
            outcomes[0] = scope.env
        scope.alive = bool(outcomes)
        scope.env = _merge_envs(outcomes) if outcomes else before
        if stmt.finalbody is not None:
            alive = scope.alive
            scope.alive = True
            self._suite(stmt.finalbody.body, scope)
            scope.alive = scope.alive and alive

    def _exec_small(self, small: cst.BaseSmallStatement, scope: Scope) -> None:
        if isinstance(small, cst.Return):
            value = (
                self.eval_expr(small.value, scope)
                if small.value is not None
                else Const(literal=None)
            )
            scope.returns.append((value, small))
            scope.alive = False
        elif isinstance(small, cst.Raise):
            scope.alive = False
        elif isinstance(small, cst.Assign):
            value = self.eval_expr(small.value, scope)
            for target in small.targets:
                self._assign(target.target, value, scope)
        elif isinstance(small, cst.AnnAssign):
            if small.value is not None:
                self._assign(small.target, self.eval_expr(small.value, scope), scope)
        elif isinstance(small, cst.AugAssign):
            old = self.eval_expr(small.target, scope)
            new = self.eval_expr(small.value, scope)
            op = small.operator
            if isinstance(op, cst.AddAssign | cst.SubtractAssign):
                linear = True
            elif isinstance(op, cst.MultiplyAssign):
                linear = _is_const(old) or _is_const(new)
            elif isinstance(op, cst.DivideAssign):
                linear = _is_const(new)
            else:
                linear = False
            self._assign(small.target, combine(old, new, linear=linear), scope)
        elif isinstance(small, cst.Import | cst.ImportFrom):
            from losslint.index.modules import _import_bindings

            for name, binding in _import_bindings(small):
                if name != "*":
                    scope.env[name] = self._resolve_binding(scope.module, name, binding)
        elif isinstance(small, cst.Expr) and isinstance(small.value, cst.NamedExpr):
            self.eval_expr(small.value, scope)
        elif isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
            self._mutation(small.value, scope)

    def _mutation(self, call: cst.Call, scope: Scope) -> None:
        """`axes.insert(0, 0)`, `axes.append(3)`, `axes.extend([...])` on a literal list."""
        func = call.func
        if not (isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name)):
            return
        name, method = func.value.value, func.attr.value
        if method not in ("insert", "append", "extend") or name not in scope.env:
            return
        values = [self.eval_expr(a.value, scope) for a in call.args]
        current = literal_of(scope.env[name])
        args = [literal_of(v) for v in values]
        if NO_LITERAL in args or current is NO_LITERAL:
            # a list of tensors: `losses.append(tf.reduce_sum(...))`
            items = scope.env[name].items if isinstance(scope.env[name], Seq) else ()
            scope.env[name] = Unknown(tainted=any(tainted(v) for v in [*values, *items]))
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

    def _assign(self, target: cst.BaseExpression, value: Value, scope: Scope) -> None:
        if isinstance(target, cst.Name):
            scope.env[target.value] = value
        elif isinstance(target, cst.Attribute) and isinstance(target.value, cst.Name):
            if target.value.value == "self":
                scope.env[f"self.{target.attr.value}"] = value
        elif isinstance(target, cst.Tuple | cst.List):
            elements = target.elements
            if isinstance(value, Parts):
                for element in elements:
                    self._assign(element.value, value.item, scope)
            elif (
                isinstance(value, Seq)
                and len(value.items) == len(elements)
                and not any(isinstance(e, cst.StarredElement) for e in elements)
            ):
                for element, item in zip(elements, value.items, strict=True):
                    self._assign(element.value, item, scope)
            else:
                item = Unknown(tainted=tainted(value))
                if isinstance(value, Const):
                    item = Const()
                for element in elements:
                    self._assign(element.value, item, scope)
        elif isinstance(target, cst.StarredElement):
            self._assign(target.value, Unknown(tainted=tainted(value)), scope)

    # -- losses -----------------------------------------------------------------------------

    def analyze_loss(self, ref: FunctionRef) -> LossAnalysis:
        """Evaluate a loss with batched inputs; returns every returned value."""
        self.batch_level = False
        self._stack.clear()
        node = ref.node
        scope = Scope(
            module=ref.module,
            function=ref.qualname,
            env=dict(ref.closure or {}),
            cls=ref.cls,
            self_value=ref.self_value,
        )
        params = node.params
        positional = [*params.posonly_params, *params.params]
        if ref.self_value is not None and positional and not _is_static(node):
            scope.env[positional[0].name.value] = ref.self_value
            positional = positional[1:]
        bound = list(ref.bound_args)
        inputs = 0
        for param in positional:
            name = param.name.value
            if bound:
                scope.env[name] = bound.pop(0)
            elif name in dict(ref.bound_kwargs):
                scope.env[name] = dict(ref.bound_kwargs)[name]
            elif inputs < 2:
                scope.env[name] = Batched(rank=FULL_RANK)
                inputs += 1
            else:
                scope.env[name] = self._default(ref, param)
        if isinstance(params.star_arg, cst.Param):
            scope.env[params.star_arg.name.value] = Unknown()
        for param in params.kwonly_params:
            name = param.name.value
            kw = dict(ref.bound_kwargs)
            scope.env[name] = kw[name] if name in kw else self._default(ref, param)
        if params.star_kwarg is not None:
            scope.env[params.star_kwarg.name.value] = Mapping(())
        scope.full_params = tuple(k for k, v in scope.env.items() if v == Batched(rank=FULL_RANK))
        if inputs < 2:
            return LossAnalysis(returns=[], batch_level=False)
        self._stack.append(node)
        try:
            if isinstance(node, cst.Lambda):
                scope.returns.append((self.eval_expr(node.body, scope), node.body))
            elif not (node.asynchronous or _is_generator(node)):
                self._guarded_block(node, node.body, scope)
        finally:
            self._stack.clear()
        return LossAnalysis(returns=scope.returns, batch_level=self.batch_level)


# -- helpers ---------------------------------------------------------------------------------


def _merge_envs(envs: list[dict[str, Value]]) -> dict[str, Value]:
    merged = dict(envs[0])
    for env in envs[1:]:
        for name, value in env.items():
            merged[name] = join(merged[name], value) if name in merged else value
    return merged


def _is_const(value: Value) -> bool:
    return isinstance(as_tensor(value), Const)


class _Unusable:
    """An axis literal losslint cannot read (a string, a computed value)."""


UNUSABLE_AXIS: Any = _Unusable()


def _axis_tuple(axes: Any) -> Any:
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


def _why(axis_arg: cst.Arg | None) -> str:
    if axis_arg is None:
        return "without `axis`"
    code = cst.Module(body=[]).code_for_node(axis_arg.value)
    if axis_arg.keyword is None:
        return f"with axis `{code}`"
    return f"with `{axis_arg.keyword.value}={code}`"


def _callee_label(call: cst.Call) -> str:
    return cst.Module(body=[]).code_for_node(call.func)


def _is_literal_expr(expr: cst.BaseExpression) -> bool:
    if isinstance(expr, cst.Integer | cst.Float | cst.SimpleString):
        return True
    if isinstance(expr, cst.Name):
        return expr.value in ("None", "True", "False")
    if isinstance(expr, cst.UnaryOperation):
        return _is_literal_expr(expr.expression)
    if isinstance(expr, cst.Tuple | cst.List):
        return all(_is_literal_expr(e.value) for e in expr.elements)
    return False


def _is_static(node: cst.FunctionDef | cst.Lambda) -> bool:
    if isinstance(node, cst.Lambda):
        return False
    return any(dotted(d.decorator) in ("staticmethod",) for d in node.decorators)


def _is_generator(node: cst.FunctionDef) -> bool:
    """Whether the function's own body yields (nested functions and lambdas not counted)."""
    stack: list[cst.CSTNode] = list(iter_children(node.body))
    while stack:
        current = stack.pop()
        if isinstance(current, cst.Yield):
            return True
        if not isinstance(current, cst.FunctionDef | cst.Lambda | cst.ClassDef):
            stack.extend(iter_children(current))
    return False


def _names_in(node: cst.CSTNode) -> Iterator[str]:
    for current in walk(node):
        if isinstance(current, cst.Name):
            yield current.value


def _reduction_is_none(reduction: Value | None) -> bool | None:
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


# Objects passed around under these names are Keras' backend (segmentation_models passes
# `backend=keras.backend` through **kwargs); their reductions are read from the catalogue.
_DUCK_BACKENDS = {
    "backend": "keras.backend",
    "K": "keras.backend",
    "kb": "keras.backend",
    "ops": "keras.ops",
}


def _duck_backend(func: cst.BaseExpression, callee: Value) -> Symbol | None:
    if not (isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name)):
        return None
    module = _DUCK_BACKENDS.get(func.value.value)
    if module is None or not isinstance(callee, Const | Unknown):
        return None
    return Symbol(f"{module}.{func.attr.value}")


# Python builtins and a few library calls with special meaning.


def _special_range(ev: Evaluator, call: Call, scope: Scope) -> Value:
    if len(call.args) == 2 and isinstance(call.args[0], Const) and call.args[0].literal == 1:
        return Const(literal=NON_BATCH_AXES)
    return Const()


def _special_sequence(ev: Evaluator, call: Call, scope: Scope) -> Value:
    if len(call.args) == 1:
        value = call.args[0]
        if isinstance(value, Const | Seq):
            return value
        return Unknown(tainted=tainted(value))
    return Const()


def _special_partial(ev: Evaluator, call: Call, scope: Scope) -> Value:
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


def _special_const(ev: Evaluator, call: Call, scope: Scope) -> Value:
    return Const()


def _special_map_fn(ev: Evaluator, call: Call, scope: Scope) -> Value:
    elems, _ = call.get(1, "elems")
    if elems is not None and isinstance(as_tensor(elems), Batched):
        return Batched(rank=UNKNOWN_RANK)
    return Unknown(tainted=any(tainted(v) for v in call.tensors()))


_SPECIAL_CALLS: dict[str, Any] = {
    "range": _special_range,
    "tensorflow.range": _special_range,
    "keras.ops.arange": _special_range,
    "tuple": _special_sequence,
    "list": _special_sequence,
    "functools.partial": _special_partial,
    "isinstance": _special_const,
    "hasattr": _special_const,
    "print": _special_const,
    "tensorflow.print": _special_const,
    "tensorflow.map_fn": _special_map_fn,
    "tensorflow.vectorized_map": _special_map_fn,
    "keras.ops.vectorized_map": _special_map_fn,
}
