"""Functions whose own code says their scalar is their contract, whatever their parameters are
called: so, found by their names alone, they are no Keras losses.

- a weighted reduction: it requires per-sample weights after its pair, or takes Keras' own
  `sample_weight=None` and passes it on (`weighted_reduction`);
- an evaluation helper: every value it returns becomes a Python value (`float(...)`,
  `.numpy()`; `returns_host_value`), or every batch reduction it makes is a NumPy or
  scikit-learn call in a module that imports no tensor library (`host_library_only`);
  neither can run on the symbolic tensors inside `fit`;
- a per-element helper: a function `tf.map_fn` or `vectorized_map` applies to each element
  (`mapped_helpers`): its scalar is one element's value.

The catalogue lists the names (`[keywords] weighting`, `[host_values]`, the `map` specials).
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from losslint.analysis.catalogue import Catalogue
from losslint.analysis.compile_sites import calls_on_rows
from losslint.analysis.context import Scope
from losslint.analysis.values import FunctionRef, Origin
from losslint.index.modules import FunctionNode, ModuleInfo, own_statements

if TYPE_CHECKING:
    from losslint.analysis.evaluator import Evaluator
    from losslint.analysis.losses import Issue


def weighted_reduction(node: FunctionNode, params: list[str], catalogue: Catalogue) -> bool:
    """Whether a loss-shaped function requires per-sample weights after its pair, or takes
    Keras' own (`sample_weight=None`) and applies them (passes them on, multiplies them in;
    not only checks or refuses them): it is the weighted reduction Keras applies itself
    (called by a wrapper that hands it Keras' weights), never a loss Keras calls."""
    weighting = catalogue.weighting_parameters
    required = params[: len(params) - len(node.args.defaults)]
    if not weighting.isdisjoint(required[2:]):
        return True
    # (optional: only Keras' own name; `weights=None` is often a loss's class weights)
    optional = {
        name
        for name in {*params[2:], *(a.arg for a in node.args.kwonlyargs)} & weighting
        if name.startswith("sample_weight")
    }
    if not optional or isinstance(node, ast.Lambda):
        return False
    stack: list[ast.AST] = list(node.body)
    while stack:  # applied (passed on, multiplied in), not only checked or refused
        item = stack.pop()
        if isinstance(item, ast.Raise | ast.Compare):
            continue  # `if sample_weight is not None: raise ...`: refused, not applied
        if isinstance(item, ast.Name) and item.id in optional:
            return True
        stack.extend(ast.iter_child_nodes(item))
    return False


def returns_host_value(node: FunctionNode, catalogue: Catalogue) -> bool:
    """Whether every value a function returns is converted to a Python value (`float(...)`,
    `x.numpy()`): it cannot run inside `fit`, so it is no Keras loss."""
    if isinstance(node, ast.Lambda):
        values: list[ast.expr | None] = [node.body]
    else:
        values = [n.value for n in own_statements(node.body) if isinstance(n, ast.Return)]
    return bool(values) and all(
        isinstance(value, ast.Call)
        and (
            (isinstance(value.func, ast.Name) and value.func.id in catalogue.host_calls)
            or (
                isinstance(value.func, ast.Attribute)
                and value.func.attr in catalogue.host_methods
                and not value.args
            )
        )
        for value in values
    )


def host_library_only(issues: list[Issue], catalogue: Catalogue) -> bool:
    """Whether every origin of these issues is a call into NumPy or scikit-learn as its module
    imports them (`np.mean`, `from sklearn.metrics import ...`; catalogue `[host_values]
    libraries`) in a module that imports neither TensorFlow, Keras nor JAX: such a function
    cannot run on the symbolic tensors inside `fit`, so, found by its parameter names alone,
    it is an evaluation helper. (Beside TensorFlow or Keras, a NumPy twin of a loss is still
    reported.)"""
    origins = [origin for issue in issues for origin in issue.origins]
    return bool(origins) and all(_host_call(origin, catalogue) for origin in origins)


def _host_call(origin: Origin, catalogue: Catalogue) -> bool:
    """A NumPy or scikit-learn call (`np.mean(x)`, or an array method, `(t == p).mean()`, in
    a module that imports one of them) in a module that imports no tensor library."""
    node = origin.node
    if not isinstance(node, ast.Call):
        return False
    root = node.func
    while isinstance(root, ast.Attribute):
        root = root.value
    bindings = origin.module.bindings
    roots = {
        b.target.split(".", 1)[0]
        for b in bindings.values()
        if b.kind in ("import", "from") and not b.level
    }
    if not roots.isdisjoint({*catalogue.frameworks, "jax"}):
        return False
    binding = bindings.get(root.id) if isinstance(root, ast.Name) else None
    if binding is None or binding.kind not in ("import", "from"):
        # an array's own method (`(t == p).mean()`, `y_pred.sum()`), not an imported name's
        return isinstance(node.func, ast.Attribute) and not roots.isdisjoint(
            catalogue.host_libraries
        )
    return not binding.level and binding.target.split(".", 1)[0] in catalogue.host_libraries


def mapped_helpers(module: ModuleInfo, ev: Evaluator) -> set[tuple[str, str]]:
    """(file, qualified name) of the module's functions that `tf.map_fn` or `vectorized_map`
    applies to each element (`map_fn(per_image, (y_true, y_pred))`, or the functions a mapped
    lambda calls): each call gives one element's value."""
    text = module.source.text
    if "map" not in text:
        return set()
    names = [name for name, kind in ev.catalogue.special.items() if kind == "map"]
    short = {name.rsplit(".", 1)[-1] for name in names}
    scope = ev.module_scope(module)
    found: set[tuple[str, str]] = set()
    for node, _ in calls_on_rows(module, tuple(f"{s}(" for s in short)):
        if not node.args:
            continue
        func = node.func
        attr = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if attr not in short or ev.catalogue.canonical(_dotted(ev, func, scope)) not in names:
            continue
        mapped = node.args[0]
        callees = [mapped]
        if isinstance(mapped, ast.Lambda):
            callees = [c.func for c in ast.walk(mapped.body) if isinstance(c, ast.Call)]
        for callee in callees:
            if isinstance(callee, ast.Name):
                value = ev.eval_expr(callee, scope)
                if isinstance(value, FunctionRef):
                    found.add((str(value.module.path), value.qualname))
    return found


def _dotted(ev: Evaluator, func: ast.expr, scope: Scope) -> str:
    """The qualified name a called expression resolves to (`tf.map_fn`), or ""."""
    value = ev.eval_expr(func, scope)
    return getattr(value, "qualname", "") or ""
