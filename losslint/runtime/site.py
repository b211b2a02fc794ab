"""Compile-site expressions (`focal_loss(gamma=2.0)`, `partial(f, w=3)`, `CustomMSE(0.1)`),
evaluated with names, attributes, literals, simple arithmetic, lambdas and the calls a
`may_call` predicate accepts: nothing else runs."""

from __future__ import annotations

import ast
import builtins
from collections.abc import Callable
from typing import Any


class SiteError(Exception):
    """A compile-site expression that runtime mode will not evaluate."""


def evaluate_site(
    expr: str,
    namespace: dict[str, Any],
    may_call: Callable[[Any], bool],
    filename: str = "<site>",
) -> Any:
    """Evaluate a compile-site loss expression with names, attributes, literals and the calls
    `may_call` accepts (project definitions, `functools.partial`, Keras loss constructors)."""
    try:
        node = ast.parse(expr.strip(), filename, mode="eval").body
    except SyntaxError as exc:
        raise SiteError(f"cannot parse `{expr}`") from exc
    return _SiteEvaluator(namespace, may_call, filename).eval(node)


class _SiteEvaluator:
    def __init__(
        self, namespace: dict[str, Any], may_call: Callable[[Any], bool], filename: str
    ) -> None:
        self.ns = namespace
        self.may_call = may_call
        self.filename = filename

    def eval(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            if node.id in self.ns:
                return self.ns[node.id]
            if hasattr(builtins, node.id):
                return getattr(builtins, node.id)
            raise SiteError(
                f"`{node.id}` is not defined at the top level of the compile site's module"
            )
        if isinstance(node, ast.Attribute):
            if node.attr.startswith("__"):
                raise SiteError(f"will not read `{node.attr}`")
            return getattr(self.eval(node.value), node.attr)
        if isinstance(node, ast.Tuple):
            return tuple(self.eval(e) for e in node.elts)
        if isinstance(node, ast.List):
            return [self.eval(e) for e in node.elts]
        if isinstance(node, ast.Dict):
            if any(k is None for k in node.keys):
                raise SiteError("`**` in a dict")
            return {
                self.eval(k): self.eval(v)
                for k, v in zip(node.keys, node.values, strict=True)
                if k is not None
            }
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            value = self.eval(node.operand)
            if isinstance(value, int | float):
                return -value if isinstance(node.op, ast.USub) else value
        if isinstance(node, ast.BinOp) and isinstance(
            node.op, ast.Add | ast.Sub | ast.Mult | ast.Div | ast.Pow
        ):
            left, right = self.eval(node.left), self.eval(node.right)
            if isinstance(left, int | float) and isinstance(right, int | float):
                ops: dict[type, Callable[[Any, Any], Any]] = {
                    ast.Add: lambda a, b: a + b,
                    ast.Sub: lambda a, b: a - b,
                    ast.Mult: lambda a, b: a * b,
                    ast.Div: lambda a, b: a / b,
                    ast.Pow: lambda a, b: a**b,
                }
                return ops[type(node.op)](left, right)
        if isinstance(node, ast.Subscript):
            container = self.eval(node.value)
            key = self.eval(node.slice)
            if isinstance(container, dict | list | tuple):
                return container[key]
        if isinstance(node, ast.Lambda):
            defaults = [*node.args.defaults, *(d for d in node.args.kw_defaults if d is not None)]
            if not all(isinstance(d, ast.Constant) for d in defaults):
                raise SiteError("a lambda with computed defaults")
            code = compile(ast.fix_missing_locations(ast.Expression(node)), self.filename, "eval")
            return eval(code, self.ns)  # creates the function; runs nothing
        if isinstance(node, ast.Call):
            func = self.eval(node.func)
            if not self.may_call(func):
                raise SiteError(
                    f"will not call `{ast.unparse(node.func)}` (not a project definition, "
                    "functools.partial or a Keras loss)"
                )
            args = []
            for arg in node.args:
                if isinstance(arg, ast.Starred):
                    raise SiteError("`*args` in a call")
                args.append(self.eval(arg))
            kwargs = {}
            for keyword in node.keywords:
                if keyword.arg is None:
                    raise SiteError("`**kwargs` in a call")
                kwargs[keyword.arg] = self.eval(keyword.value)
            return func(*args, **kwargs)
        raise SiteError(f"will not evaluate `{ast.unparse(node)}` ({type(node).__name__})")
