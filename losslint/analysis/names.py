"""Resolving names: module-level bindings, imports across the project, classes and instances."""

from __future__ import annotations

import ast
import builtins
from typing import TYPE_CHECKING

from losslint.analysis.context import Scope
from losslint.analysis.values import (
    ClassRef,
    Const,
    FunctionRef,
    Instance,
    ModuleRef,
    Symbol,
    Unknown,
    Value,
)
from losslint.index.modules import Binding, ModuleInfo

if TYPE_CHECKING:
    from losslint.analysis.evaluator import Evaluator

_BUILTINS = frozenset(dir(builtins))
MAX_BASES = 8


class Names:
    """Module values, imports and class structure, memoised for one evaluator."""

    def __init__(self, ev: Evaluator) -> None:
        self.ev = ev
        self.index = ev.index
        self.catalogue = ev.catalogue
        self._module_values: dict[tuple[ModuleInfo, str], Value] = ev.memos.table()
        self._class_kinds: dict[ast.ClassDef, tuple[bool, bool]] = ev.memos.table()
        self._instance_attrs: dict[Instance, dict[str, Value]] = ev.memos.table()

    # -- modules ----------------------------------------------------------------------------

    def module_value(self, module: ModuleInfo, name: str) -> Value:
        key = (module, name)
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
            conventional = self.ev.catalogue.conventional_names.get(name)
            return Unknown() if conventional is None else Symbol(conventional)
        return self.resolve_binding(module, name, binding)

    def resolve_binding(self, module: ModuleInfo, name: str, binding: Binding) -> Value:
        if binding.kind == "def":
            assert isinstance(binding.node, ast.FunctionDef | ast.AsyncFunctionDef)
            return FunctionRef(module=module, node=binding.node, qualname=name)
        if binding.kind == "class":
            assert isinstance(binding.node, ast.ClassDef)
            return ClassRef(module=module, node=binding.node, qualname=name)
        if binding.kind == "assign":
            assert isinstance(binding.node, ast.expr)
            return self.ev.eval_expr(binding.node, self.ev.module_scope(module))
        if binding.kind == "import":
            return self._import_value(module, binding.target)
        if binding.kind == "from":
            return self._from_value(module, binding.target, binding.attr, binding.level)
        return Unknown()

    def _import_value(self, module: ModuleInfo, target: str) -> Value:
        if self.catalogue.is_framework(target):
            return Symbol(target)
        found = self.index.resolve_module(module, target)
        if found is not None:
            return ModuleRef(found)
        if self.index.is_project_package_dir(module, target):
            return Unknown()
        return Symbol(target)

    def _from_value(self, module: ModuleInfo, target: str, attr: str, level: int) -> Value:
        if not level and self.catalogue.is_framework(target):
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
        key = cls.node
        if key in self._class_kinds:
            return self._class_kinds[key]
        self._class_kinds[key] = (False, False)
        catalogue = self.catalogue
        # Keras' own base classes, when Keras' (or tf_keras') sources are the linted project
        own = catalogue.canonical(f"{cls.module.name}.{cls.qualname}")
        is_loss = own in catalogue.loss_bases
        is_metric = own in catalogue.metric_bases
        for base in self.class_bases(cls):
            if isinstance(base, Symbol):
                name = catalogue.canonical(base.qualname)
                is_loss |= name in catalogue.loss_bases | catalogue.loss_classes
                is_metric |= name in catalogue.metric_bases or name.startswith("keras.metrics.")
            elif isinstance(base, ClassRef):
                base_loss, base_metric = self.class_kind(base)
                is_loss |= base_loss
                is_metric |= base_metric
        self._class_kinds[key] = (is_loss, is_metric)
        return is_loss, is_metric

    def class_bases(self, cls: ClassRef) -> list[Value]:
        scope = self.ev.module_scope(cls.module)
        return [self.ev.eval_expr(base, scope) for base in cls.node.bases]

    def find_method(
        self, cls: ClassRef, name: str, _depth: int = 0
    ) -> tuple[ClassRef, ast.FunctionDef | ast.AsyncFunctionDef] | None:
        for stmt in cls.node.body:
            if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef) and stmt.name == name:
                return cls, stmt
        if _depth > MAX_BASES:
            return None
        for base in self.class_bases(cls):
            if isinstance(base, ClassRef):
                found = self.find_method(base, name, _depth + 1)
                if found:
                    return found
        return None

    def framework_class(self, cls: ClassRef) -> bool:
        """Whether a class derives (through project bases) from a TensorFlow / Keras class."""
        base = self.external_base(cls)
        return base is not None and self.catalogue.is_framework(
            self.catalogue.canonical(base.qualname)
        )

    def external_base(self, cls: ClassRef, _depth: int = 0) -> Symbol | None:
        """The first base class (through project bases) that is not a project class."""
        for base in self.class_bases(cls):
            if isinstance(base, Symbol):
                return base
            if isinstance(base, ClassRef) and _depth < MAX_BASES:
                found = self.external_base(base, _depth + 1)
                if found:
                    return found
        return None

    @staticmethod
    def method_ref(
        cls: ClassRef,
        method: ast.FunctionDef | ast.AsyncFunctionDef,
        self_value: Value | None,
    ) -> FunctionRef:
        return FunctionRef(
            module=cls.module,
            node=method,
            qualname=f"{cls.qualname}.{method.name}",
            self_value=self_value,
            cls=cls,
        )

    def bound_method(
        self,
        taken_from: ClassRef,
        found: tuple[ClassRef, ast.FunctionDef | ast.AsyncFunctionDef],
        instance: Value | None,
    ) -> FunctionRef:
        """A method taken from a class or an instance: bound to the instance (None: unbound),
        except a class method, which gets the class it was taken from as `cls`."""
        cls, method = found
        if any(isinstance(d, ast.Name) and d.id == "classmethod" for d in method.decorator_list):
            instance = taken_from
        return self.method_ref(cls, method, instance)

    def instance_attribute(self, inst: Instance, attr: str) -> Value:
        found = self.find_method(inst.cls, attr)
        if found is not None:
            return self.bound_method(inst.cls, found, inst)
        attrs = self._init_attributes(inst)
        if attr in attrs:
            return attrs[attr]
        class_value = self.class_attribute(inst.cls, attr)
        if class_value is None and attr in self.catalogue.loss_kept_keywords:
            is_loss, _ = self.class_kind(inst.cls)
            class_value = self._base_init_keyword(inst, attr) if is_loss else None
        return class_value if class_value is not None else Const()

    def _base_init_keyword(self, inst: Instance, keyword: str) -> Value | None:
        """What a class's `__init__` gives its base's `__init__` as `keyword`
        (`super().__init__(reduction=...)`), with the instance's own arguments for the
        parameters it passes on; None when it passes nothing."""
        found = self.find_method(inst.cls, "__init__")
        if found is None:
            return None
        cls, init = found
        scope = self.ev.module_scope(cls.module)
        for node in ast.walk(init):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            given = next((k.value for k in node.keywords if k.arg == keyword), None)
            if node.func.attr != "__init__" or given is None:
                continue
            params = [a.arg for a in init.args.args][1:]  # after `self`
            if not (isinstance(given, ast.Name) and given.id in params):
                return self.ev.eval_expr(given, scope)
            passed = dict(inst.kwargs).get(given.id)
            index = params.index(given.id)
            if passed is None and index < len(inst.args):
                passed = inst.args[index]
            if passed is not None:
                return passed
            defaults = init.args.defaults
            position = index - (len(params) - len(defaults))
            return self.ev.eval_expr(defaults[position], scope) if position >= 0 else None
        return None

    def class_attribute(self, cls: ClassRef, attr: str, _depth: int = 0) -> Value | None:
        for stmt in cls.node.body:
            if isinstance(stmt, ast.Assign):
                for target in stmt.targets:
                    if isinstance(target, ast.Name) and target.id == attr:
                        return self.ev.eval_expr(stmt.value, self.ev.module_scope(cls.module))
        if _depth < MAX_BASES:
            for base in self.class_bases(cls):
                if isinstance(base, ClassRef):
                    found = self.class_attribute(base, attr, _depth + 1)
                    if found is not None:
                        return found
        return None

    def _init_attributes(self, inst: Instance) -> dict[str, Value]:
        """`self.x = ...` in `__init__`, evaluated with the constructor's arguments."""
        if inst in self._instance_attrs:
            return self._instance_attrs[inst]
        self._instance_attrs[inst] = {}
        found = self.find_method(inst.cls, "__init__")
        attrs: dict[str, Value] = {}
        if found is not None:
            cls, init = found
            ref = FunctionRef(
                cls.module, init, f"{cls.qualname}.__init__", self_value=inst, cls=cls
            )
            # what __init__ does to the batch is not the loss's business: its own trace
            scope = Scope(module=cls.module, function=ref.qualname, cls=cls, self_value=inst)
            self.ev.calls.bind(ref, list(inst.args), dict(inst.kwargs), scope)
            self.ev.stmts.block(init.body, scope)
            attrs = {k[5:]: v for k, v in scope.env.items() if k.startswith("self.")}
        self._instance_attrs[inst] = attrs
        return attrs

    def lookup(self, name: str, scope: Scope) -> Value:
        if name in scope.env:
            return scope.env[name]
        if name == "self" and scope.self_value is not None:
            return scope.self_value
        return self.module_value(scope.module, name)
