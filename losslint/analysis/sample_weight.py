"""Sample weights a loss receives and never applies (rule LL101).

Two structural facts about how Keras calls a loss:

- it calls a `keras.losses.Loss` object as `loss(y_true, y_pred, sample_weight)`, so a
  subclass that overrides `__call__` must apply (or forward) the `sample_weight` it receives;
- it calls a function loss (and the `call` of a `Loss` object, and a plain callable) with
  `(y_true, y_pred)` only, so a `sample_weight`/`mask` parameter of a compiled function is
  always its default.

Nothing here evaluates values: a name that is read anywhere in the body counts as applied.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from losslint.analysis.calls import is_static
from losslint.analysis.losses import Candidate, module_classes
from losslint.analysis.names import Names
from losslint.analysis.values import ClassRef, FunctionRef, Instance
from losslint.frozen import frozen
from losslint.index.modules import ModuleInfo

WEIGHT_NAMES = ("sample_weight", "sample_weights")
NEVER_PASSED_NAMES = (*WEIGHT_NAMES, "mask")
_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef)
_INTROSPECTION = frozenset({"locals", "vars", "eval", "exec"})


@frozen(eq=False)
class DroppedWeight:
    """A weight a loss drops: where (`node`: a parameter), in which function, and why.

    `kind` is `override` (a Loss subclass's `__call__` that never applies `sample_weight`;
    `how` is `unread`, `super` or `kwargs`) or `never_passed` (a parameter of a function Keras
    calls with `(y_true, y_pred)`; `default` is its default's source text).
    """

    kind: str
    module: ModuleInfo
    node: ast.arg
    function: FunctionRef
    parameter: str
    how: str = ""
    default: str = ""
    candidate: Candidate | None = None


def dropped_by_overrides(module: ModuleInfo, names: Names) -> Iterator[DroppedWeight]:
    """`__call__` overrides of Loss subclasses that never apply their `sample_weight`.

    A `__call__` without a `sample_weight` parameter and without `**kwargs` is left alone:
    Keras passes `sample_weight` to it, so such an override fails loudly with a `TypeError`.
    """
    for cls in module_classes(module):
        is_loss, _ = names.class_kind(cls)
        if not is_loss:
            continue
        for stmt in cls.node.body:
            if isinstance(stmt, _DEFS) and stmt.name == "__call__":
                found = _override(module, names, cls, stmt)
                if found is not None:
                    yield found


def _override(
    module: ModuleInfo, names: Names, cls: ClassRef, node: ast.FunctionDef | ast.AsyncFunctionDef
) -> DroppedWeight | None:
    if is_static(node) or _abstract(node) or _trivial(node.body):
        return None
    args = node.args
    positional = [*args.posonlyargs, *args.args][1:]
    params = [*positional, *args.kwonlyargs]
    weight = next((a for a in params if a.arg in WEIGHT_NAMES), None)
    read = _read_names(node)
    if read is None:  # locals(), vars(): anything may be read
        return None
    if args.vararg is not None and args.vararg.arg in read:
        return None
    ref = names.method_ref(cls, node, Instance(cls))
    if weight is not None:
        if weight.arg in read:
            return None
        how = "super" if _calls_super_call(node) else "unread"
        return DroppedWeight("override", module, weight, ref, weight.arg, how=how)
    kwargs = args.kwarg
    if kwargs is None or kwargs.arg in read:
        return None
    return DroppedWeight("override", module, kwargs, ref, "sample_weight", how="kwargs")


def dropped_by_signature(candidate: Candidate, names: Names) -> Iterator[DroppedWeight]:
    """`sample_weight`/`sample_weights`/`mask` parameters (with a default, read in the body)
    of a function a compile call passes to Keras, which calls it with `(y_true, y_pred)`."""
    if candidate.site is None:
        return
    ref = candidate.ref
    node = ref.node
    if candidate.target.kind == "loss_class" and not _reached_as_called(ref, names):
        return
    read = _read_names(node)
    if read is None:
        return
    params = _extra_params(ref)
    if params is None:
        return
    bound = {name for name, _ in ref.bound_kwargs}
    for arg, default in params:
        if arg.arg not in NEVER_PASSED_NAMES or arg.arg in bound or default is None:
            continue
        if arg.arg not in read:
            continue  # never used: harmless
        text = " ".join(ref.module.code_for(default).split())
        yield DroppedWeight(
            "never_passed",
            ref.module,
            arg,
            ref,
            arg.arg,
            default=text,
            candidate=candidate,
        )


def _reached_as_called(ref: FunctionRef, names: Names) -> bool:
    """A Loss object's `call` (or a plain object's `__call__`) that Keras calls with
    `(y_true, y_pred)`: not when the instance's class overrides `Loss.__call__` in the
    project (that override may pass more)."""
    if not isinstance(ref.node, _DEFS):
        return False
    instance = ref.self_value
    if not isinstance(instance, Instance):
        return False
    is_loss, is_metric = names.class_kind(instance.cls)
    if is_metric:
        return False
    if ref.node.name == "call":
        return is_loss and names.find_method(instance.cls, "__call__") is None
    return ref.node.name == "__call__" and not is_loss


def _extra_params(ref: FunctionRef) -> list[tuple[ast.arg, ast.expr | None]] | None:
    """The parameters after the two Keras fills (`y_true`, `y_pred`), with their defaults."""
    node = ref.node
    args = node.args
    positional = [*args.posonlyargs, *args.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults))
    defaults += list(args.defaults)
    pairs = list(zip(positional, defaults, strict=True))
    skip = len(ref.bound_args)
    if ref.self_value is not None and not is_static(node):
        skip += 1
    if len(pairs) < skip + 2:
        return None
    extra = pairs[skip + 2 :]
    extra += list(zip(args.kwonlyargs, args.kw_defaults, strict=True))
    return extra


def _read_names(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> set[str] | None:
    """Names read anywhere in a function's body (nested functions included); None when the
    body introspects its frame (`locals()`, `vars()`, `eval`)."""
    body: list[ast.AST] = [node.body] if isinstance(node, ast.Lambda) else list(node.body)
    found: set[str] = set()
    for part in body:
        for sub in ast.walk(part):
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load):
                if sub.id in _INTROSPECTION:
                    return None
                found.add(sub.id)
    return found


def _calls_super_call(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Whether the body calls `super().__call__(...)`."""
    for sub in ast.walk(node):
        if (
            isinstance(sub, ast.Call)
            and isinstance(sub.func, ast.Attribute)
            and sub.func.attr == "__call__"
            and isinstance(sub.func.value, ast.Call)
            and isinstance(sub.func.value.func, ast.Name)
            and sub.func.value.func.id == "super"
        ):
            return True
    return False


def _abstract(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    for decorator in node.decorator_list:
        name = decorator.attr if isinstance(decorator, ast.Attribute) else None
        if isinstance(decorator, ast.Name):
            name = decorator.id
        if name == "abstractmethod":
            return True
    return False


def _trivial(body: list[ast.stmt]) -> bool:
    """A body that only documents, passes or raises (an interface, not an implementation)."""
    for stmt in body:
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue
        if isinstance(stmt, ast.Pass | ast.Raise):
            continue
        return False
    return True


__all__ = ["DroppedWeight", "dropped_by_overrides", "dropped_by_signature"]
