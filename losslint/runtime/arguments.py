"""Arguments for constructors, factories and losses that need some: where runtime mode gets them.

Tried in this order, each giving whole argument sets: a `# losslint: args=(...)` hint on the
`def`/`class` line; calls to the same name with literal arguments anywhere in the project
(module-level instances such as `loss = CELoss(0, 1)`, other compile sites, tests); calls in the
docstring's examples; then values chosen per parameter from its default, its annotation, its
type in the docstring and its name (class counts, indices, formats, scalars), led by the
literals the function compares it with (a factory dispatching on a loss name). No TensorFlow here.
"""

from __future__ import annotations

import ast
import inspect
import itertools
import re
import textwrap
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

MAX_SETS = 6  # argument sets tried per callable
ARGS_COMMENT = re.compile(r"#\s*losslint:\s*args\s*=\s*(\(.*\))\s*$")
FRAMEWORK = ("backend", "layers", "models", "utils")
_FRAMEWORK_USE = re.compile(
    r"""kwargs\s*(\[|\.get\(|\.pop\()\s*['"](backend|layers|models|utils)['"]|get_submodules_from_kwargs"""
)
_TYPES = ("bool", "int", "float", "str", "tuple", "list", "Sequence")


@dataclass
class ArgumentSet:
    """Positional and keyword arguments, and where they come from (for the verdict)."""

    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    source: str = ""

    def describe(self, name: str) -> str:
        parts = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return f"{name}({', '.join(parts)}) ({self.source})"


def required_parameters(func: Callable[..., Any], skip: int = 0) -> list[inspect.Parameter]:
    """Parameters without a default, after the first `skip` positional ones (`self` excluded)."""
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        return []
    params = [
        p
        for p in signature.parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]
    positional = [p for p in params if p.kind is not p.KEYWORD_ONLY]
    skipped = {p.name for p in positional[:skip]}
    return [p for p in params if p.name not in skipped and p.default is p.empty]


def none_parameters(func: Callable[..., Any]) -> list[str]:
    """Parameters after `y_true, y_pred` that default to None (`disc_r=None`)."""
    try:
        params = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):
        return []
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    keyword = [p for p in params if p.kind is p.KEYWORD_ONLY]
    return [p.name for p in [*positional[2:], *keyword] if p.default is None]


def wants_framework(source: str) -> bool:
    """Whether code reads framework modules from `**kwargs` (segmentation_models style)."""
    return bool(_FRAMEWORK_USE.search(source))


def _literal_call(node: ast.Call) -> tuple[tuple[Any, ...], dict[str, Any]] | None:
    try:
        args = tuple(ast.literal_eval(a) for a in node.args if not isinstance(a, ast.Starred))
        kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords if k.arg is not None}
    except (ValueError, TypeError, SyntaxError, RecursionError):
        return None
    if len(args) != len(node.args) or len(kwargs) != len(node.keywords):
        return None
    return args, kwargs


def _called_name(node: ast.Call) -> str | None:
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else None


def literal_calls(name: str, sources: Iterable[tuple[str, str]]) -> Iterator[ArgumentSet]:
    """Calls `name(...)` with only literal arguments (and at least one) in the given
    (label, source) texts, including `>>>` examples and code in docstrings."""
    seen: set[str] = set()
    for label, text in sources:
        if name not in text:
            continue
        for tree, where in _trees(text, label):
            for node in ast.walk(tree):
                if not (isinstance(node, ast.Call) and _called_name(node) == name):
                    continue
                if not (node.args or node.keywords):
                    continue
                found = _literal_call(node)
                if found is None:
                    continue
                key = repr(found)
                if key not in seen:
                    seen.add(key)
                    line = getattr(node, "lineno", 0)
                    yield ArgumentSet(found[0], found[1], f"{where}:{line}" if line else where)


def _trees(text: str, label: str) -> Iterator[tuple[ast.AST, str]]:
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return
    yield tree, label
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and "(" in node.value:
            for snippet in _doc_snippets(node.value):
                try:
                    yield ast.parse(snippet), f"{label} docstring"
                except (SyntaxError, ValueError):
                    continue


def _doc_snippets(doc: str) -> Iterator[str]:
    for line in doc.splitlines():
        code = line.strip().removeprefix(">>>").removeprefix("...").strip()
        if "(" in code and ")" in code:
            yield code


def _doc_type(name: str, doc: str) -> str | None:
    match = re.search(
        rf"\b{re.escape(name)}\b\s*(?:\(|:)\s*(?:`|\w+\[)?({'|'.join(_TYPES)})\b", doc
    )
    return match.group(1) if match else None


def _doc_strings(name: str, doc: str) -> list[str]:
    """Quoted words in the docstring paragraph that describes `name`."""
    match = re.search(rf"\b{re.escape(name)}\b(.{{0,400}})", doc, re.DOTALL)
    if not match:
        return []
    return re.findall(r"""["'`]([A-Za-z_][\w]{1,20})["'`]""", match.group(1))[:3]


def parameter_values(param: inspect.Parameter, doc: str, classes: int, last_dim: int) -> list[Any]:
    """Plausible values for one parameter, most plausible first."""
    name = param.name.lower()
    annotation = param.annotation
    kind = None
    if annotation is not param.empty:
        text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
        outer = re.match(r"(?:typing\.)?(list|tuple|sequence)\b", str(text), re.IGNORECASE)
        kind = next((t for t in _TYPES if re.search(rf"\b{t}\b", str(text))), None)
        kind = "list" if outer else kind
    kind = kind or _doc_type(param.name, doc)
    values: list[Any] = []
    if "format" in name:
        values += [*_doc_strings(param.name, doc), "xyxy", "xywh"]
    if "class" in name or name in ("nb_classes", "n_classes", "num_labels", "n_labels"):
        values += [classes]
    if "index" in name or "idx" in name:
        values += [0, 1]
    if "axis" in name:
        values += [-1]
    if name.endswith("shape"):  # a spatial shape: ones broadcast against any input's
        values += [(1, 1), (1, 1, 1)]
    if kind == "bool":
        values += [False, True]
    elif kind == "str":
        values += [*_doc_strings(param.name, doc), "mean"]
    elif kind in ("tuple", "list", "Sequence"):
        if re.search(r"\[\s*float\s*\]", str(annotation)):  # `List[float]`: quantiles, weights
            values += [[0.1, 0.5, 0.9]]
        values += [(0, 1), [1.0] * last_dim]
    elif kind == "int" or re.fullmatch(r"n|k|num\w*|n_\w+|\w+_(size|dim|num|len)|dim|size", name):
        values += [2, 1, 3, classes]
    elif kind == "float":
        values += [1.0, 0.5, 2.0]
    values += [1.0, 2, 0.5, (0, 1)]
    unique: list[Any] = []
    for value in values:
        if not any(type(value) is type(u) and value == u for u in unique):
            unique.append(value)
    return unique


def compared_literals(func: Callable[..., Any]) -> dict[str, list[Any]]:
    """The literals each name is compared with in a function's own source (`if loss_name ==
    "bce_dice":`, `if mode in ("l1", "l2"):`): a factory that dispatches on a name returns a
    loss only for one of those."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
    except (OSError, TypeError, SyntaxError, ValueError):
        return {}
    found: dict[str, list[Any]] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare) or not isinstance(node.left, ast.Name):
            continue
        for op, right in zip(node.ops, node.comparators, strict=True):
            items: list[ast.expr] = []
            if isinstance(op, ast.Eq | ast.NotEq):
                items = [right]
            elif isinstance(op, ast.In | ast.NotIn) and isinstance(
                right, ast.Tuple | ast.List | ast.Set
            ):
                items = list(right.elts)
            values = found.setdefault(node.left.id, [])
            for item in items:
                value = item.value if isinstance(item, ast.Constant) else None
                usable = isinstance(value, str | int | float) and not isinstance(value, bool)
                if usable and value not in values:
                    values.append(value)
    return found


def candidates(
    func: Callable[..., Any],
    name: str,
    params: list[inspect.Parameter],
    sources: Iterable[tuple[str, str]],
    hint: str | None,
    classes: int,
    last_dim: int,
) -> list[ArgumentSet]:
    """Argument sets for `func` (named `name` in the project), in the order they are tried."""
    found: list[ArgumentSet] = []
    if hint:
        try:
            value = ast.literal_eval(hint)
        except (ValueError, SyntaxError):
            value = None
        if isinstance(value, tuple):
            found.append(ArgumentSet(value, {}, "`# losslint: args=` hint"))
    doc = inspect.getdoc(func) or ""
    init = getattr(func, "__init__", None)
    if inspect.isclass(func) and init is not None:
        doc += "\n" + (inspect.getdoc(init) or "")
    found += itertools.islice(literal_calls(name, sources), MAX_SETS)
    if params:
        compared = compared_literals(func) if inspect.isfunction(func) else {}
        pools = [
            [*compared.get(p.name, []), *parameter_values(p, doc, classes, last_dim)[:4]]
            for p in params
        ]
        for combo in itertools.islice(itertools.product(*pools), MAX_SETS):
            kwargs = {p.name: v for p, v in zip(params, combo, strict=True)}
            found.append(ArgumentSet((), kwargs, "searched"))
    return found[: MAX_SETS * 2]
