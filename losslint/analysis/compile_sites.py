"""Compile sites read from the syntax tree: which arguments of `<x>.compile(...)` name losses
and metrics, which collections assigned before a site they may name, and where a function is
called in its own module (a helper that compiles its parameter, a factory's one call).
"""

from __future__ import annotations

import ast
import bisect
from collections.abc import Iterator

from losslint.index.modules import DefNode, ModuleInfo

FunctionDef = ast.FunctionDef | ast.AsyncFunctionDef
_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef)


def compile_arguments(call: ast.Call) -> Iterator[tuple[ast.expr, str, str]]:
    """(expression, role, keyword) of a compile call's loss and metrics arguments."""
    positional = [a for a in call.args if not isinstance(a, ast.Starred)]
    keywords = {k.arg: k.value for k in call.keywords if k.arg is not None}
    loss = keywords.get("loss", positional[1] if len(positional) > 1 else None)
    if loss is not None:
        yield loss, "loss", "loss"
    for name in ("metrics", "weighted_metrics"):
        if name in keywords:
            yield keywords[name], "metric", name
    if "metrics" in keywords:
        return
    third = positional[2] if len(positional) > 2 else None
    if isinstance(third, ast.List | ast.Tuple) and any(
        not (isinstance(e, ast.Constant) and isinstance(e.value, int | float)) for e in third.elts
    ):
        yield third, "metric", "metrics"  # Keras 2's order: (optimizer, loss, metrics, ...)
    elif len(positional) > 3:
        yield positional[3], "metric", "metrics"  # Keras 3's: (..., loss_weights, metrics)


def passed_parameters(function: FunctionDef, expr: ast.expr) -> list[tuple[int, str]]:
    """The positional parameters of the plain function that compiles, never assigned in it,
    that a compile argument names (alone, or as an element of a list, tuple or dict): their
    positions and names."""
    if function.args.vararg or function.args.kwarg:
        return []
    names = [a.arg for a in [*function.args.posonlyargs, *function.args.args]]
    if names and names[0] in ("self", "cls"):
        return []
    elements = [expr]
    if isinstance(expr, ast.List | ast.Tuple):
        elements = list(expr.elts)
    elif isinstance(expr, ast.Dict):
        elements = list(expr.values)
    wanted = {e.id for e in elements if isinstance(e, ast.Name) and e.id in names}
    for node in ast.walk(function):
        if isinstance(node, ast.Name) and node.id in wanted and isinstance(node.ctx, ast.Store):
            wanted.discard(node.id)
    return [(names.index(name), name) for name in sorted(wanted, key=names.index)]


def calls_of(module: ModuleInfo, function: DefNode) -> list[tuple[ast.Call, tuple[DefNode, ...]]]:
    """The calls of a function (or a class) by its bare name in its module, outside it,
    with the defs and classes around each."""
    return calls_named(module, function.name, function)


def calls_named(
    module: ModuleInfo, name: str, skip: ast.AST | None = None
) -> list[tuple[ast.Call, tuple[DefNode, ...]]]:
    """The calls `name(...)` of a module (not inside `skip`), with the defs and classes
    around each (the module's text is searched first: most modules have none)."""
    spelled = f"{name}("
    if module.source.text.count(spelled) < (2 if skip is not None else 1):  # (the def)
        return []
    return [
        (node, enclosing)
        for node, enclosing in calls_on_rows(module, (spelled,), skip)
        if isinstance(node.func, ast.Name) and node.func.id == name
    ]


def calls_on_rows(
    module: ModuleInfo, spellings: tuple[str, ...], skip: ast.AST | None = None
) -> list[tuple[ast.Call, tuple[DefNode, ...]]]:
    """The calls of a module on the rows that spell one of `spellings` (not inside `skip`),
    with the defs and classes around each, in source order: only the statements holding
    such a row are walked."""
    lines = module.lines
    rows = sorted({n for s in spellings for n, line in enumerate(lines, 1) if s in line})
    if not rows:
        return []
    found: list[tuple[ast.Call, tuple[DefNode, ...]]] = []
    stack: list[tuple[ast.AST, tuple[DefNode, ...]]] = [(module.tree, ())]
    while stack:
        node, enclosing = stack.pop()
        if node is skip:
            continue
        first, last = getattr(node, "lineno", None), getattr(node, "end_lineno", None)
        if first is not None and last is not None:
            at = bisect.bisect_left(rows, first)
            if at == len(rows) or rows[at] > last:
                continue  # no row of it spells the call
        if isinstance(node, ast.Call):
            found.append((node, enclosing))
        inner = (*enclosing, node) if isinstance(node, (*_DEFS, ast.ClassDef)) else enclosing
        stack.extend((child, inner) for child in ast.iter_child_nodes(node))
    return sorted(found, key=lambda item: (item[0].lineno, item[0].col_offset))


def names_element(expr: ast.expr) -> bool:
    """Whether `expr` is a name, or a list, tuple or dict with one among its elements: what
    `LossFinder._targets` looks up among the collections assigned before a compile call."""
    if isinstance(expr, ast.Name):
        return True
    if isinstance(expr, ast.List | ast.Tuple):
        return any(names_element(e.value if isinstance(e, ast.Starred) else e) for e in expr.elts)
    if isinstance(expr, ast.Dict):
        return any(names_element(v) for k, v in zip(expr.keys, expr.values, strict=True) if k)
    return False


def collection_assignments(
    container: ast.AST,
) -> list[tuple[tuple[int, int, int, int], ast.Assign]]:
    """`name = [...]` / `(...)` / `{...}` assignments in `container` (not in nested defs), in
    source order."""
    stack: list[ast.AST] = list(ast.iter_child_nodes(container))
    found: list[tuple[tuple[int, int, int, int], ast.Assign]] = []
    while stack:
        node = stack.pop()
        if isinstance(node, (*_DEFS, ast.ClassDef, ast.Lambda)):
            continue
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.List | ast.Tuple | ast.Dict):
            found.append((ModuleInfo.order_of(node), node))
        stack.extend(ast.iter_child_nodes(node))
    found.sort(key=lambda item: item[0])
    return found


def literal_collections(
    assignments: list[tuple[tuple[int, int, int, int], ast.Assign]], before: ast.AST
) -> dict[str, ast.expr]:
    """The collections assigned to names before `before`; the last one wins."""
    limit = ModuleInfo.order_of(before)
    found: dict[str, ast.expr] = {}
    for order, node in assignments:
        if order > limit:
            break
        for target in node.targets:
            if isinstance(target, ast.Name):
                found[target.id] = node.value
    return found


def is_compile_site(call: ast.Call) -> bool:
    """`<x>.compile(...)` with a loss, metrics or optimizer: not `re.compile(pattern)`."""
    base = call.func.value if isinstance(call.func, ast.Attribute) else None
    if isinstance(base, ast.Name) and base.id in ("re", "regex"):
        return False
    keywords = {k.arg for k in call.keywords if k.arg is not None}
    return bool(keywords & {"loss", "metrics", "weighted_metrics", "optimizer"}) or (
        len(call.args) >= 2
    )


def only_call(module: ModuleInfo, function: FunctionDef) -> ast.Call | None:
    """The one call of a module-level function in its own module, outside the function
    (`adapt(tf.metrics.mean_iou, ...)` in `mean_iou_metric`); None when it has none or several."""
    calls = calls_of(module, function)
    return calls[0][0] if len(calls) == 1 else None


def given_arguments(call: ast.Call) -> list[tuple[ast.expr, str]]:
    """(expression, keyword) of every argument of a call (`""` for a positional one, and for
    `**options`), unpacked positional ones left out."""
    found = [(a, "") for a in call.args if not isinstance(a, ast.Starred)]
    return found + [(k.value, k.arg or "") for k in call.keywords]


def forwards_argument(method: FunctionDef, call: ast.Call, expr: ast.expr, keyword: str) -> bool:
    """Whether a class's own `compile` passes the argument a compile call gives it (`expr`,
    for the keyword `keyword`) on to a `compile` call of its own (`super().compile(loss=loss)`,
    `**kwargs` included): only then does Keras get it. An override that keeps it for the
    model's own `train_step` does not."""
    params = [a.arg for a in [*method.args.posonlyargs, *method.args.args]][1:]  # (self)
    keyword_only = [a.arg for a in method.args.kwonlyargs]
    if expr in call.args:
        index = call.args.index(expr)
        name = params[index] if index < len(params) else getattr(method.args.vararg, "arg", None)
    elif keyword in params or keyword in keyword_only:
        name = keyword
    else:
        name = getattr(method.args.kwarg, "arg", None)
    if name is None:
        return False
    for node in ast.walk(method):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "compile"
            and any(
                isinstance(n, ast.Name) and n.id == name
                for part in [*node.args, *(k.value for k in node.keywords)]
                for n in ast.walk(part)
            )
        ):
            return True
    return False


def wrapped_argument(call: ast.Call) -> ast.expr | None:
    """The function a Keras wrapper is built around: `fn=` or the first positional argument
    (`LossFunctionWrapper(fn, ...)`, `super().__init__(fn, ...)`); None if unpacked or absent."""
    fn = call.args[0] if call.args else None
    fn = next((k.value for k in call.keywords if k.arg == "fn"), fn)
    return None if fn is None or isinstance(fn, ast.Starred) else fn
