"""Finding the losses of a module and the batch-reducing calls in what they return.

A function is analysed as a loss when it reaches `<x>.compile(loss=...)` / `metrics=...`,
when it is the `call` of a keras `Loss` subclass, or when its first two parameters are
named like a loss (`y_true, y_pred`, ...). Each returned value that lost the batch axis
becomes an `Issue`: one origin, or a group of origins combined non-linearly (a ratio).
"""

from __future__ import annotations

import ast
import fnmatch
import itertools
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from losslint.analysis.calls import is_static
from losslint.analysis.compile_sites import (
    calls_of,
    collection_assignments,
    compile_arguments,
    is_compile_site,
    literal_collections,
    names_element,
    only_call,
    passed_parameters,
    wrapped_argument,
)
from losslint.analysis.context import Scope
from losslint.analysis.evaluator import Evaluator
from losslint.analysis.names import MAX_BASES
from losslint.analysis.own_models import OwnModels
from losslint.analysis.scalar_contracts import returns_host_value, weighted_reduction
from losslint.analysis.values import (
    Batched,
    Choice,
    ClassRef,
    Const,
    Flat,
    FunctionRef,
    Group,
    Instance,
    LossObject,
    Mapping,
    Origin,
    Reduced,
    Seq,
    Symbol,
    Value,
)
from losslint.config import LossSpellings
from losslint.frozen import frozen
from losslint.index.gate import names_keras
from losslint.index.modules import (
    DefNode,
    FunctionNode,
    ModuleInfo,
    collect_bindings,
    qualified_name,
)
from losslint.model import LossTarget
from losslint.source import real_path

PRIORITY_COMPILED_LOSS = 0
PRIORITY_LOSS_CLASS = 1
PRIORITY_COMPILED_METRIC = 2
PRIORITY_NAMED = 3

_METRIC_NAME = re.compile(
    r"(^|_)(acc|accuracy|metric|metrics|precision|recall|f1|fbeta|f_score|auc|score|coef|"
    r"coefficient|psnr|ssim|r2|r_squared|sensitivity|specificity)($|_)",
    re.IGNORECASE,
)
_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef)


@frozen(eq=False)
class Candidate:
    """A function analysed as a loss, how it was found, and how Keras would call it.

    `site` is the compile-site expression that made it a loss (module, node, keyword), if any.
    """

    ref: FunctionRef
    role: str
    evidence: str
    priority: int
    target: LossTarget
    site: tuple[ModuleInfo, ast.expr, str] | None = None


@frozen(eq=False)
class Issue:
    """Origins that together make one returned value batch-reduced."""

    origins: tuple[Origin, ...]
    nonlinear: bool
    batch_level: bool
    candidate: Candidate
    condition: str | None = None  # reached only with a non-default argument: "robust=True"
    mixed: bool = False  # a batch-level term added to a value that keeps the batch axis

    @property
    def kind(self) -> str:
        return self.origins[0].kind

    @property
    def loss_name(self) -> str:
        return self.candidate.ref.qualname

    @property
    def function(self) -> str:
        return qualified(self.candidate.ref)


def qualified(ref: FunctionRef) -> str:
    return f"{ref.module.name}.{ref.qualname}" if ref.module.name else ref.qualname


def _rel(path: Path, root: Path) -> str:
    try:
        return real_path(path).relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def _positional(node: FunctionNode) -> list[str]:
    return [a.arg for a in [*node.args.posonlyargs, *node.args.args]]


class LossFinder:
    """Discovers loss candidates in modules and analyses them with one shared evaluator."""

    def __init__(self, evaluator: Evaluator, pairs: LossSpellings) -> None:
        self.ev = evaluator
        self.pairs = pairs
        self._evaluated: dict[ast.AST, None] = evaluator.memos.table()
        self._collections: dict[ast.AST, list[tuple[tuple[int, int, int, int], ast.Assign]]] = (
            evaluator.memos.table()
        )
        self.models = OwnModels(self)  # what the project's own model classes keep

    # -- discovery --------------------------------------------------------------------------

    def candidates(self, module: ModuleInfo) -> list[Candidate]:
        found: list[Candidate] = []
        self.models.given_to_models(module)
        found.extend(self._compile_candidates(module))
        found.extend(self._class_candidates(module))
        found.extend(self._named_candidates(module))
        return found

    def _compile_candidates(self, module: ModuleInfo) -> Iterator[Candidate]:
        for call, enclosing in module.scan.compile_calls:
            if not is_compile_site(call):
                continue
            functions = [n for n in enclosing if isinstance(n, _DEFS)]
            site_line = module.line_of(call)
            scope = self.scope_for(module, enclosing)
            if not enclosing:
                scope = self._definitions_before(module, scope, site_line)
            where = f"{_rel(module.path, self.ev.index.root)}:{site_line}"
            container: ast.AST = functions[-1] if functions else module.tree
            kept = self.models.kept_by_override(module, call, scope)
            for expr, role, keyword in compile_arguments(call):
                if expr in kept:
                    continue  # the model's own `compile` keeps it: Keras never gets it
                literals = None
                if names_element(expr):  # `loss=losses`: a collection assigned before?
                    if container not in self._collections:
                        self._collections[container] = collection_assignments(container)
                    literals = literal_collections(self._collections[container], call)
                found = [(*t, site_line) for t in self.targets(expr, scope, literals)]
                if functions and enclosing[-1] is functions[-1]:
                    # `def build(model, loss): model.compile(loss=loss)`: what this module's
                    # calls of `build` pass as `loss`
                    found += self._given(module, functions[-1], expr)
                for ref, kind, sub_expr, at in found:
                    compiled = "compiled" if role == "loss" else "compiled as a metric"
                    evidence = f"{compiled} at {where}"
                    if at != site_line:  # (given by a call of the function that compiles)
                        rel = _rel(module.path, self.ev.index.root)
                        evidence = f"passed to `{functions[-1].name}` at {rel}:{at}, {evidence}"
                    priority = (
                        PRIORITY_COMPILED_LOSS if role == "loss" else PRIORITY_COMPILED_METRIC
                    )
                    if kind == "factory":
                        evidence = f"returned by `{module.code_for(sub_expr)}`, {evidence}"
                    yield Candidate(
                        ref=ref,
                        role=role,
                        evidence=evidence,
                        priority=priority,
                        target=self._target(ref, kind, module, sub_expr, at),
                        site=(module, sub_expr, keyword),
                    )

    def _given(
        self, module: ModuleInfo, function: ast.FunctionDef | ast.AsyncFunctionDef, expr: ast.expr
    ) -> list[tuple[FunctionRef, str, ast.expr, int]]:
        """What this module's calls of `function` pass as the parameters a compile argument
        of it names (`expr`): the functions, with the line of each call."""
        found: list[tuple[FunctionRef, str, ast.expr, int]] = []
        passed = passed_parameters(function, expr)
        if not passed:
            return found
        for call, enclosing in calls_of(module, function):
            scope: Scope | None = None
            for position, name in passed:
                given = [k.value for k in call.keywords if k.arg == name]
                if not given and position < len(call.args):
                    given = [call.args[position]]
                if not given or isinstance(given[0], ast.Starred):
                    continue
                scope = scope or self.scope_for(module, enclosing)
                for ref, kind, sub_expr in self.targets(given[0], scope):
                    found.append((ref, kind, sub_expr, module.line_of(call)))
        return found

    def scope_for(self, module: ModuleInfo, enclosing: tuple[DefNode, ...]) -> Scope:
        """The names visible at a compile site: enclosing functions run with default arguments
        (a method's `self` is an instance of its class, so `compile(loss=self.dice)` resolves)."""
        scope = self.ev.module_scope(module)
        owner: ClassRef | None = None
        for index, node in enumerate(enclosing):
            if isinstance(node, ast.ClassDef):
                owner = ClassRef(module, node, qualified_name(enclosing[:index], node.name))
                continue
            inner = Scope(module=module, function=node.name, env=dict(scope.env))
            method = owner is not None and index > 0 and enclosing[index - 1] is owner.node
            ref = FunctionRef(module, node, node.name)
            params = self.ev.params(node)
            positional = list(params.positional)
            if method and owner is not None and positional and not is_static(node):
                inner.env[positional[0].name] = Instance(owner)
                inner.cls, inner.self_value = owner, Instance(owner)
                positional = positional[1:]
            for param in [*positional, *params.keyword_only]:
                inner.env[param.name] = self.ev.calls.default(ref, param)
            self.ev.run_body(node, inner)
            scope = Scope(
                module=module,
                function=node.name,
                env=inner.env,
                cls=inner.cls,
                self_value=inner.self_value,
            )
        return scope

    def _definitions_before(self, module: ModuleInfo, scope: Scope, line: int) -> Scope:
        """A compile site run with the module: a function or class defined again after it
        (a notebook's later cell) is the definition before it there."""
        before, _ = collect_bindings([s for s in module.tree.body if s.lineno < line])
        changed = {
            name: binding
            for name, binding in before.items()
            if binding.kind in ("def", "class")
            and module.bindings.get(name, binding).node is not binding.node
        }
        if not changed:
            return scope
        env = dict(scope.env)
        for name, binding in changed.items():
            env[name] = self.ev.names.resolve_binding(module, name, binding)
        return replace(scope, env=env)

    def targets(
        self,
        expr: ast.expr,
        scope: Scope,
        literals: dict[str, ast.expr] | None = None,
    ) -> Iterator[tuple[FunctionRef, str, ast.expr]]:
        if isinstance(expr, ast.Name) and literals and expr.id in literals:
            # `losses = [a, B(0.2)]; compile(loss=losses)`: keep each element's own source
            yield from self.targets(literals.pop(expr.id), scope, literals)
            return
        if isinstance(expr, ast.List | ast.Tuple):
            for element in expr.elts:
                yield from self.targets(
                    element.value if isinstance(element, ast.Starred) else element,
                    scope,
                    literals,
                )
            return
        if isinstance(expr, ast.Dict):
            for key, value in zip(expr.keys, expr.values, strict=True):
                if key is not None:
                    yield from self.targets(value, scope, literals)
            return
        fn = self._wrapped_function(expr, scope)
        value = self.ev.eval_expr(fn or expr, scope)
        ctor = value.ctor if isinstance(value, LossObject) and fn is None else None
        if isinstance(ctor, ast.Call) and ctor is not expr and value.ctor_module is not None:
            # `SQ = LossFunctionWrapper(sq_err)` ... `compile(loss=SQ)`: the wrapped function
            ctor_scope = self.ev.module_scope(value.ctor_module)
            if self._wrapped_function(ctor, ctor_scope) is not None:
                yield from self.targets(ctor, ctor_scope)
                return
        if fn is not None and isinstance(expr, ast.Call) and isinstance(value, FunctionRef):
            own = self.ev.catalogue.wrapper_keywords
            passed = [(k.arg, k.value) for k in expr.keywords if k.arg and k.arg not in own]
            bound = tuple((name, self.ev.eval_expr(arg, scope)) for name, arg in passed)
            value = replace(value, bound_kwargs=(*value.bound_kwargs, *bound))
        for ref, kind in self._refs(value, fn or expr):
            yield ref, kind, fn or expr

    def _wrapped_function(self, expr: ast.expr, scope: Scope) -> ast.expr | None:
        """The function a Keras wrapper class is built around (`MeanMetricWrapper(fn,
        name=...)`, catalogue `[function_wrappers]`): Keras calls it on every batch, so it is
        the loss or metric compiled (with the keywords the wrapper passes on to it)."""
        if not isinstance(expr, ast.Call):
            return None
        catalogue = self.ev.catalogue
        func = self.ev.eval_expr(expr.func, scope)
        if not isinstance(func, Symbol):
            return None
        if catalogue.canonical(func.qualname) not in catalogue.function_wrappers:
            return None
        return wrapped_argument(expr)

    def _refs(
        self, value: Value, expr: ast.expr, depth: int = 0
    ) -> Iterator[tuple[FunctionRef, str]]:
        if depth > 4:
            return
        if isinstance(value, FunctionRef):
            if isinstance(value.node, ast.Lambda):
                kind = "lambda"
            elif value.bound_args or value.bound_kwargs:
                kind = "partial"
            elif isinstance(expr, ast.Call):
                kind = "factory"
            else:
                kind = "method" if value.cls is not None else "function"
            yield value, kind
        elif isinstance(value, Instance):
            ref = self._instance_call(value)
            if ref is not None:
                yield ref, "loss_class"
        elif isinstance(value, ClassRef):
            return
        elif isinstance(value, Seq | Mapping | Choice):
            items = value.options if isinstance(value, Choice) else value.items
            for item in items:
                yield from self._refs(item, expr, depth + 1)

    def _instance_call(self, inst: Instance) -> FunctionRef | None:
        names = self.ev.names
        is_loss, _ = names.class_kind(inst.cls)
        for name in ("call",) if is_loss else ("__call__", "call"):
            found = names.find_method(inst.cls, name)
            if found is not None:
                return names.method_ref(found[0], found[1], inst)
        return None

    def _class_candidates(self, module: ModuleInfo) -> Iterator[Candidate]:
        names = self.ev.names
        for cls in module_classes(module):
            is_loss, _ = names.class_kind(cls)
            if not is_loss:
                continue
            wrapped = self._wrapper_subclass_function(cls)
            if wrapped is not None:
                yield Candidate(
                    ref=wrapped,
                    role="loss",
                    evidence=f"the function `{cls.qualname}` (a loss wrapper class) wraps",
                    priority=PRIORITY_LOSS_CLASS,
                    target=self._target(wrapped, "function", module, None, None),
                )
            for stmt in cls.node.body:
                if isinstance(stmt, _DEFS) and stmt.name == "call":
                    if names.find_method(cls, "__call__") and weighted_reduction(
                        stmt, _positional(stmt)[1:], self.ev.catalogue
                    ):
                        # its own `__call__` hands `call` the weights, which it applies: it
                        # is the weighted reduction itself (Keras' `__call__` would not)
                        continue
                    ref = names.method_ref(cls, stmt, Instance(cls))
                    yield Candidate(
                        ref=ref,
                        role="loss",
                        evidence="`call` of a keras.losses.Loss subclass",
                        priority=PRIORITY_LOSS_CLASS,
                        target=self._target(ref, "loss_class", module, None, None),
                    )

    def _wrapper_subclass_function(self, cls: ClassRef) -> FunctionRef | None:
        """The function a subclass of a Keras wrapper class (`class Pairwise(
        LossFunctionWrapper)`) gives its base in `super().__init__(fn, ...)`, when no class
        of the project defines its `call`: Keras calls that function on every batch."""
        names = self.ev.names
        init = names.find_method(cls, "__init__")
        if init is None or names.find_method(cls, "call") is not None:
            return None
        base = names.external_base(cls)
        catalogue = self.ev.catalogue
        if base is None or catalogue.canonical(base.qualname) not in catalogue.function_wrappers:
            return None
        for node in ast.walk(init[1]):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "__init__"
            ):
                fn = wrapped_argument(node)
                if fn is None:
                    return None
                value = self.ev.eval_expr(fn, self.ev.module_scope(init[0].module))
                return value if isinstance(value, FunctionRef) else None
        return None

    def _named_candidates(self, module: ModuleInfo) -> Iterator[Candidate]:
        if (
            self._other_framework_module(module)
            or self._graph_mode_module(module)
            or self.loop_script(module)
        ):
            return
        for node, owner, enclosing in _functions(module):
            params = _positional(node)
            if owner is not None:
                if not isinstance(node, _DEFS) or not self._loss_shaped_method(owner, node):
                    continue
                if not is_static(node):
                    params = params[1:]
            if len(params) < 2:
                continue
            names = (params[0], params[1])
            if names not in self.pairs or weighted_reduction(node, params, self.ev.catalogue):
                continue
            if returns_host_value(node, self.ev.catalogue):
                continue
            ref = self._ref_for(module, node, owner, enclosing)
            if ref is None:
                continue
            short = node.name if isinstance(node, _DEFS) else ""
            if owner is not None and short in ("call", "__call__"):
                # a callable object is named by its class (`class Recall(Metric)`)
                bases = [
                    b.attr if isinstance(b, ast.Attribute) else getattr(b, "id", "")
                    for b in owner.node.bases
                ]
                short = "_".join([owner.node.name, *bases])
            loss_named = "loss" in short.lower()
            role = "metric" if (_METRIC_NAME.search(short) and not loss_named) else "loss"
            kind = "lambda" if isinstance(node, ast.Lambda) else ("method" if owner else "function")
            yield Candidate(
                ref=ref,
                role=role,
                evidence=f"parameters named like a loss (`{names[0]}`, `{names[1]}`)",
                priority=PRIORITY_NAMED,
                target=self._target(ref, kind, module, None, None),
            )

    def _other_framework_module(self, module: ModuleInfo) -> bool:
        """Whether a module is written for another framework (PyTorch, ...): it imports one
        and imports neither TensorFlow nor Keras, so its losses return a scalar by contract."""
        catalogue = self.ev.catalogue
        roots = {
            binding.target.split(".", 1)[0]
            for binding in module.bindings.values()
            if binding.kind in ("import", "from") and not binding.level
        }
        roots.update(target.split(".", 1)[0] for target, level in module.star_imports if not level)
        return bool(roots & catalogue.other_frameworks) and not roots & catalogue.frameworks

    def _graph_mode_module(self, module: ModuleInfo) -> bool:
        """Whether a module is TensorFlow 1 graph-mode code that never names Keras (no import,
        no `tf.keras`): its losses and metrics are graph tensors a session fetches or
        minimises, scalars by contract."""
        text = module.source.text
        if names_keras(text):
            return False
        names = "|".join(re.escape(name) for name in self.ev.catalogue.graph_mode)
        return re.search(rf"\.(?:{names})\b", text) is not None  # `re` caches the pattern

    def loop_script(self, module: ModuleInfo) -> bool:
        """Whether a module trains with its own loop (`tape.gradient`, `minimize`, ...) and
        gives Keras no loss or metric (`model.compile(optimizer="adam")` for a custom
        `train_step`, or a model's own `compile` that keeps its losses counts as none): its
        loss-shaped functions are that loop's helpers, scalars by contract (a compile site
        elsewhere still makes one a loss). A training call inside a
        loss-shaped function (a gradient penalty's `K.gradients(y_pred, samples)`) is part of
        that loss, not a loop."""
        text = module.source.text
        calls = [f".{name}(" for name in self.ev.catalogue.training_calls]
        if not any(call in text for call in calls):
            return False
        if ".compile" in text and self.models.compiles_a_loss(module):
            return False
        losses = [
            (node.lineno, node.end_lineno or node.lineno)
            for node, _, _ in _functions(module)
            if self._named_like_a_loss(_positional(node)[:3])
        ]
        return any(
            any(call in line for call in calls)
            and not any(first <= number <= last for first, last in losses)
            for number, line in enumerate(module.lines, 1)
        )

    def test_module(self, module: ModuleInfo) -> bool:
        """Whether a module is a test module by its file name (catalogue `test-modules`):
        the project functions it calls are checked there, not trained."""
        name = module.path.name
        return any(fnmatch.fnmatchcase(name, p) for p in self.ev.catalogue.test_modules)

    def _named_like_a_loss(self, params: list[str]) -> bool:
        """Two neighbouring parameters named like a loss's (a stray `self` first included)."""
        return any(pair in self.pairs for pair in itertools.pairwise(params))

    def _loss_shaped_method(
        self, owner: ClassRef, node: ast.FunctionDef | ast.AsyncFunctionDef
    ) -> bool:
        """Which methods with loss-named parameters are analysed as losses: any method of a
        plain class (`class Losses: def dice(self, y_true, y_pred)`) or of a Keras layer or
        model (a CRF layer's `sparse_loss`, a model's `dice_coef`); never a method of a Keras
        Loss (`__call__` reduces by contract, and `call` is found as the class's own candidate)
        nor of a Keras Metric (`update_state`), nor the `call` of a Keras layer or model: Keras
        calls it with the layer's inputs (a layer computing a loss term gives it to
        `add_loss`)."""
        is_loss, is_metric = self.ev.names.class_kind(owner)
        if is_loss or is_metric or self._test_case(owner):
            return False
        return node.name not in ("call", "__call__") or not self.ev.names.framework_class(owner)

    def _test_case(self, cls: ClassRef, depth: int = 0) -> bool:
        """Whether a class is a test case (a base, through project bases, is named like one)."""
        for base in self.ev.names.class_bases(cls):
            if isinstance(base, ClassRef):
                if base.qualname in self.ev.catalogue.test_cases or (
                    depth < MAX_BASES and self._test_case(base, depth + 1)
                ):
                    return True
            elif (
                isinstance(base, Symbol)
                and base.qualname.rsplit(".", 1)[-1] in self.ev.catalogue.test_cases
            ):
                return True
        return False

    def _ref_for(
        self,
        module: ModuleInfo,
        node: FunctionNode,
        owner: ClassRef | None,
        enclosing: list[DefNode],
    ) -> FunctionRef | None:
        if owner is not None:
            assert isinstance(node, _DEFS)
            return self.ev.names.method_ref(owner, node, Instance(owner))
        if not enclosing:
            if isinstance(node, _DEFS):
                return FunctionRef(module=module, node=node, qualname=node.name)
            return FunctionRef(module=module, node=node, qualname=f"<lambda>@{node.lineno}")
        # a nested function: evaluate its enclosing functions (parameters at their defaults)
        # to learn its closure
        if not isinstance(enclosing[-1], _DEFS):
            return None
        self._evaluate_enclosing(module, enclosing)
        closure = self.ev.closures.get(node)
        if closure is None and isinstance(node, _DEFS):
            return None
        if isinstance(node, ast.Lambda):
            name = f"<lambda>@{node.lineno}"
            return FunctionRef(
                module=module,
                node=node,
                qualname=qualified_name(enclosing, name),
                closure=closure or {},
            )
        return FunctionRef(
            module=module, node=node, qualname=qualified_name(enclosing, node.name), closure=closure
        )

    def _evaluate_enclosing(self, module: ModuleInfo, enclosing: list[DefNode]) -> None:
        outer = enclosing[-1]
        assert isinstance(outer, _DEFS)
        if outer in self._evaluated:
            return
        self._evaluated[outer] = None
        owner = next((n for n in reversed(enclosing[:-1]) if isinstance(n, ast.ClassDef)), None)
        names = self.ev.names
        if len(enclosing) >= 2 and isinstance(enclosing[-2], _DEFS):
            self._evaluate_enclosing(module, enclosing[:-1])
            closure = self.ev.closures.get(outer, {})
            ref = FunctionRef(module=module, node=outer, qualname=outer.name, closure=closure)
        elif isinstance(owner, ast.ClassDef) and enclosing[-2] is owner:
            cls = ClassRef(module, owner, owner.name)
            ref = names.method_ref(cls, outer, Instance(cls))
        else:
            ref = FunctionRef(module=module, node=outer, qualname=outer.name)
            site = only_call(module, outer)
            if site is not None:
                # the factory's one call in its module: its closures hold those arguments
                self.ev.eval_expr(site, self.ev.module_scope(module))
                if _nested(outer) in self.ev.closures:
                    return
        scope = self.ev.module_scope(module)
        self.ev.calls.call_function(ref, [], {}, scope, outer)

    def _target(
        self,
        ref: FunctionRef,
        kind: str,
        site_module: ModuleInfo | None,
        site_expr: ast.expr | None,
        site_line: int | None,
    ) -> LossTarget:
        has_site = site_expr is not None and site_module is not None
        return LossTarget(
            kind=kind,
            path=ref.module.path,
            qualname=ref.qualname,
            line=ref.module.line_of(ref.node),
            site_path=site_module.path if has_site and site_module else None,
            site_expr=site_module.code_for(site_expr)
            if has_site and site_module and site_expr
            else None,
            site_line=site_line if site_expr is not None else None,
        )

    # -- analysis ---------------------------------------------------------------------------

    def conditional_issues(self, candidate: Candidate, found: list[Issue]) -> list[Issue]:
        """Issues reached only when a parameter with a literal default (one an `if` tests) is
        given another value: `def loss(y_true, y_pred, robust=False): if robust: ...`."""
        ref = candidate.ref
        if ref.bound_args or ref.bound_kwargs:
            return []
        tested = _tested_names(ref.node)
        params = self.ev.params(ref.node)
        positional = list(params.positional)
        if ref.self_value is not None and not is_static(ref.node):
            positional = positional[1:]
        seen = {origin for issue in found for origin in issue.origins}
        extra: list[Issue] = []
        for param in [*positional[2:], *params.keyword_only]:
            literal, default = _literal_default(param.default)
            if not literal or param.name not in tested:
                continue
            variant = replace(ref, bound_kwargs=((param.name, Const()),))
            for issue in self.issues(replace(candidate, ref=variant)):
                if not set(issue.origins) <= seen:
                    condition = _condition(param.name, default)
                    extra.append(replace(issue, candidate=candidate, condition=condition))
                    seen |= set(issue.origins)
        return extra

    def issues(self, candidate: Candidate) -> list[Issue]:
        return self.examine(candidate)[0]

    def examine(self, candidate: Candidate) -> tuple[list[Issue], frozenset[str]]:
        """A loss's issues, and the qualified names of the functions whose batch-reduced
        values it takes as terms of a per-sample result (`bce - log(dice(t, p))`: `dice`, and
        every call leading to its reduction): a per-sample value from one of those would no
        longer fit there."""
        analysis = self.ev.analyze_loss(candidate.ref)
        found: list[Issue] = []
        absorbed: set[str] = set()
        for value, _node in analysis.returns:
            if isinstance(value, Reduced):
                # in source order: which origin names a finding never depends on hashing
                groups = sorted(value.groups, key=_group_key)
                for group in groups:
                    origins = tuple(sorted(group.origins, key=_origin_key))
                    found.append(Issue(origins, group.nonlinear, analysis.batch_level, candidate))
            elif isinstance(value, Flat) and value.masked is not None:
                found.append(Issue((value.masked,), False, analysis.batch_level, candidate))
            elif isinstance(value, Batched):
                # scalars broadcast into a per-sample value: Loss objects, Metric objects and
                # scalar-only ops still ignore sample weights (plain reductions there are
                # regularisers)
                for origin in sorted(value.mixed, key=_origin_key):
                    absorbed.add(origin.function)
                    absorbed.update(callee for _, _, callee in origin.chain)
                    if origin.kind in ("loss_object", "scalar_op") or origin.op == "metric":
                        found.append(
                            Issue((origin,), False, analysis.batch_level, candidate, mixed=True)
                        )
        return found, frozenset(absorbed)


def _condition(name: str, default: object) -> str:
    """How to say that a parameter does not have its default value."""
    if isinstance(default, bool):
        return f"{name}={not default}"
    if default is None:
        return f"`{name}` is given"
    return f"{name} != {default!r}"


def _tested_names(node: FunctionNode) -> set[str]:
    """Names read in the conditions (`if`, `while`, `x if c else y`) of a function's own body."""
    body: list[ast.AST] = [node.body] if isinstance(node, ast.Lambda) else list(node.body)
    found: set[str] = set()
    stack = body
    while stack:
        current = stack.pop()
        if isinstance(current, ast.If | ast.While | ast.IfExp):
            found.update(n.id for n in ast.walk(current.test) if isinstance(n, ast.Name))
            found.update(
                n.attr
                for n in ast.walk(current.test)
                if isinstance(n, ast.Attribute)
                and isinstance(n.value, ast.Name)
                and n.value.id == "self"
            )
        for child in ast.iter_child_nodes(current):
            if not isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                stack.append(child)
    return found


def _origin_key(origin: Origin) -> tuple[Any, ...]:
    """A total order of origins: source order first, then everything else that tells two
    origins at one node apart (never the hash of a node or a set's iteration order)."""
    chain = tuple((str(m.path), ModuleInfo.order_of(n), callee) for m, n, callee in origin.chain)
    return (
        str(origin.module.path),
        ModuleInfo.order_of(origin.node),
        origin.kind,
        origin.op,
        origin.label,
        origin.why,
        origin.function,
        chain,
        origin.operand_full,
        origin.all_axes_ref or "",
    )


def _group_key(group: Group) -> tuple[Any, ...]:
    return (tuple(sorted(map(_origin_key, group.origins))), group.nonlinear)


def _literal_default(value: ast.expr | None) -> tuple[bool, object]:
    if isinstance(value, ast.Constant) and isinstance(value.value, bool | int | float | str | None):
        return True, value.value
    return False, None


def _nested(function: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.AST | None:
    """The first function defined in a function's body (its closure tells it was run)."""
    return next((n for n in ast.walk(function) if n is not function and isinstance(n, _DEFS)), None)


def module_classes(module: ModuleInfo) -> Iterator[ClassRef]:
    """Every class, with its qualified name (`outer.<locals>.Inner` inside functions)."""
    for node, enclosing in module.scan.classes:
        yield ClassRef(module, node, qualified_name(enclosing, node.name))


def _functions(
    module: ModuleInfo,
) -> Iterator[tuple[FunctionNode, ClassRef | None, list[DefNode]]]:
    """Every def and lambda with its owning class (for methods) and enclosing defs/classes."""
    for node, enclosing in module.scan.functions:
        owner = None
        if enclosing and isinstance(enclosing[-1], ast.ClassDef):
            if isinstance(node, ast.Lambda):
                continue
            cls = enclosing[-1]
            owner = ClassRef(module, cls, qualified_name(enclosing[:-1], cls.name))
            enclosing = enclosing[:-1]
        yield node, owner, list(enclosing)
