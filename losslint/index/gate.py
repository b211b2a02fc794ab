"""The gate: can this file hold a loss at all? A text test before any parse, then a cheap
look at the `ast` tree.

Files without any possible loss candidate (no compile call with a project loss, no
loss-shaped signature, no class that could subclass a Loss) are not analysed; a file that
fails the text test is not even parsed (it is parsed later only if an analysed module imports
it). Both tests are deliberately generous: they only rule out what discovery could never find.
"""

from __future__ import annotations

import ast
import re

# Bases that are certainly not keras Loss classes (layers, models, modules).
_NOT_LOSS_BASES = frozenset(
    {
        "object", "Layer", "Model", "Module", "Sequential", "Callback", "Metric", "Mean",
        "Wrapper", "Optimizer", "Regularizer", "Constraint", "Initializer", "Exception",
        "Enum", "NamedTuple", "Protocol", "ABC", "TestCase", "Generic",
    }
)  # fmt: skip
_LOSS_ARGUMENTS = ("loss", "metrics", "weighted_metrics")


def _base_name(node: ast.expr) -> str:
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Subscript):
        return _base_name(node.value)
    return ""


def _statements(body: list[ast.stmt]) -> list[ast.stmt]:
    """Every statement, nested blocks included (no expressions: cheaper than ast.walk)."""
    found: list[ast.stmt] = []
    stack = list(reversed(body))
    while stack:
        stmt = stack.pop()
        found.append(stmt)
        for name in ("body", "orelse", "finalbody", "handlers", "cases"):
            block = getattr(stmt, name, None)
            if isinstance(block, list):
                for item in reversed(block):
                    if isinstance(item, ast.stmt):
                        stack.append(item)
                    elif isinstance(item, ast.excepthandler | ast.match_case):
                        stack.extend(reversed(item.body))
    return found


_DEF_PARAMS = re.compile(
    r"def[ \t]+\w+[ \t]*\(\s*(?:self\s*,\s*)?(\w+)\s*(?::[^,()=]*)?(?:=[^,()]*)?,\s*(\w+)"
)
_LAMBDA_PARAMS = re.compile(r"lambda[ \t]+(\w+)\s*,\s*(\w+)")
_CLASS_BASES = re.compile(r"^[ \t]*class[ \t]+\w+[ \t]*\(([^)]*)\)", re.MULTILINE)
_COMPILE_CALL = re.compile(r"\.compile\s*\(")


def _has_loss_signature(text: str, pairs: frozenset[tuple[str, str]]) -> bool:
    """A def, method or lambda whose first two parameters are named like a loss's."""
    for match in _DEF_PARAMS.finditer(text):
        if match.groups() in pairs:
            return True
    if "lambda" in text:
        for match in _LAMBDA_PARAMS.finditer(text):
            if match.groups() in pairs:
                return True
    return False


_LOOP_SINKS = (".gradient(", ".minimize(", "def train_step", "def test_step")


def has_loop_sink(text: str) -> bool:
    """Whether a file may hold a custom training loop (whose objectives are not Keras losses)."""
    return any(sink in text for sink in _LOOP_SINKS)


def text_may_hold_losses(text: str, pairs: frozenset[tuple[str, str]]) -> bool:
    """The text gate, before any parse: False only when no loss candidate can be in `text`.

    Candidates are compile calls, loss-shaped signatures (`def f(y_true, y_pred)`, methods and
    lambdas too), and `call` methods of classes that may subclass a Keras Loss.
    """
    if ".compile" in text and _COMPILE_CALL.search(text):
        return True
    if _has_loss_signature(text, pairs):
        return True
    if "def call" in text or "def __call__" in text:
        for match in _CLASS_BASES.finditer(text):
            for base in match.group(1).split(","):
                base = base.strip()
                if not base or "=" in base:
                    continue  # metaclass=..., or nothing
                name = base.rsplit(".", 1)[-1].split("[", 1)[0].strip()
                if name not in _NOT_LOSS_BASES:
                    return True
    return False


def _framework_names(statements: list[ast.stmt], frameworks: frozenset[str]) -> set[str]:
    """Names bound by importing TensorFlow or Keras (`tf`, `keras`, `losses`, ...)."""
    names: set[str] = set()
    for node in statements:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in frameworks:
                    names.add(alias.asname or alias.name.split(".")[0])
        elif (
            isinstance(node, ast.ImportFrom)
            and not node.level
            and node.module
            and node.module.split(".")[0] in frameworks
        ):
            names.update(alias.asname or alias.name for alias in node.names)
    return names


def _may_name_a_project_loss(expr: ast.expr, framework: set[str]) -> bool:
    """False for string losses (`"mse"`), None, and TensorFlow / Keras objects."""
    for node in ast.walk(expr):
        if isinstance(node, ast.Lambda):
            return True
        if isinstance(node, ast.Name) and node.id not in framework and node.id != "None":
            return True
    return False


def _compile_may_use_project_losses(call: ast.Call, framework: set[str]) -> bool:
    receiver = call.func.value if isinstance(call.func, ast.Attribute) else None
    if isinstance(receiver, ast.Name) and receiver.id in ("re", "regex"):
        return False  # re.compile(pattern, flags)
    arguments = [k.value for k in call.keywords if k.arg in _LOSS_ARGUMENTS or k.arg is None]
    arguments += [a for i, a in enumerate(call.args) if i in (1, 3)]
    return any(_may_name_a_project_loss(arg, framework) for arg in arguments)


def _classes(body: list[ast.stmt]) -> list[ast.ClassDef]:
    """Classes at module level or nested in classes (where discovery looks for Loss subclasses)."""
    found: list[ast.ClassDef] = []
    for stmt in body:
        if isinstance(stmt, ast.ClassDef):
            found.append(stmt)
            found.extend(_classes(stmt.body))
        elif isinstance(stmt, ast.If | ast.Try):
            found.extend(_classes([*stmt.body, *stmt.orelse]))
    return found


def may_hold_losses(
    tree: ast.Module,
    text: str,
    pairs: frozenset[tuple[str, str]],
    frameworks: frozenset[str],
) -> bool:
    """False only when loss discovery would find nothing in this module."""
    if _has_loss_signature(text, pairs):
        return True
    for node in _classes(tree.body):
        has_call = any(
            isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and item.name == "call"
            for item in node.body
        )
        if has_call and any(_base_name(b) not in _NOT_LOSS_BASES for b in node.bases):
            return True
    if ".compile" not in text:
        return False
    statements = _statements(tree.body)
    framework = _framework_names(statements, frameworks)
    lines = text.splitlines()
    for stmt in statements:
        if isinstance(stmt, _COMPOUND):
            # only the headers: the nested statements are listed on their own
            parts: list[ast.AST] = [
                p
                for p in (getattr(stmt, "test", None), getattr(stmt, "iter", None))
                if p is not None
            ]
            parts += getattr(stmt, "items", [])
        else:
            end = stmt.end_lineno or stmt.lineno
            parts = (
                [stmt] if any(".compile" in line for line in lines[stmt.lineno - 1 : end]) else []
            )
        if any(_has_project_compile(part, framework) for part in parts):
            return True
    return False


_COMPOUND = (
    ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.If, ast.For, ast.AsyncFor,
    ast.While, ast.With, ast.AsyncWith, ast.Try,
)  # fmt: skip


def _has_project_compile(node: ast.AST, framework: set[str]) -> bool:
    return any(
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Attribute)
        and call.func.attr == "compile"
        and _compile_may_use_project_losses(call, framework)
        for call in ast.walk(node)
    )
