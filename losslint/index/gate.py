"""The gate: can this file hold a loss at all? A text test before any parse, then a cheap
look at the `ast` tree.

Files without any possible loss candidate (no compile call with a project loss, no
loss-shaped signature, no class that could subclass a Loss) are not analysed; a file that
fails the text test is not even parsed (it is parsed later only if an analysed module imports
it). Both tests are deliberately generous: they only rule out what discovery could never find.
What names a text binds (imports from TensorFlow or Keras) is told by index/text_names.py.
"""

from __future__ import annotations

import ast
import functools
import re

from losslint.index.text_names import NOT_LOSS_BASES, TextNames, line_matches

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


# `.compile(`, with the spacing Python allows between the dot, the name and the parenthesis
_COMPILE_OPEN = re.compile(r"\.(?:\s|\\\n)*compile(?:\s|\\\n)*\(")
_REGEX_MODULE = re.compile(r"(?<![\w.])(?:re|regex)\s*$")
_BRACKETS = {"(": 1, "[": 1, "{": 1, ")": -1, "]": -1, "}": -1}


def _call_arguments(text: str, start: int) -> str | None:
    """The text between the `(` that ends at `start` and its `)`, skipping strings and
    comments; None when it cannot be told (unbalanced, an unterminated string)."""
    depth = 1
    i = start
    end = len(text)
    while i < end:
        char = text[i]
        step = _BRACKETS.get(char)
        if step is not None:
            depth += step
            if depth == 0:
                return text[start:i]
        elif char == "#":
            i = text.find("\n", i)
            if i < 0:
                return None
        elif char in "'\"":
            quote = text[i : i + 3] if text.startswith(char * 3, i) else char
            j = i + len(quote)
            while True:
                k = text.find(quote, j)
                if k < 0:
                    return None
                backslashes = 0
                while k - 1 - backslashes >= j and text[k - 1 - backslashes] == "\\":
                    backslashes += 1
                if backslashes % 2 == 0:
                    break
                j = k + 1
            i = k + len(quote) - 1
        i += 1
    return None


def _compile_calls_may_use_project_losses(text: str) -> bool:
    """False only when every `.compile(...)` call in the text passes its losses and metrics
    as literals (`loss="mse"`, `metrics=["mae"]`) or as TensorFlow and Keras objects
    (`losses.Huber()`, with `losses` only ever imported from Keras): no other name, no
    lambda, nothing unpacked.

    The arguments of each call are cut from the text and parsed alone, so files whose
    compile calls only name built-in losses (most of Keras' own tests) are never parsed.
    Anything unclear (a call that cannot be cut out or parsed) counts as a possible loss.
    """
    calls: list[tuple[int, str]] = []
    for match in _COMPILE_OPEN.finditer(text):
        if _REGEX_MODULE.search(text, max(0, match.start() - 40), match.start()):
            continue  # re.compile(pattern, flags)
        arguments = _call_arguments(text, match.end())
        if arguments is None:
            return True
        calls.append((match.end(), arguments))
    # names imported from TensorFlow or Keras name no project loss; a keyword in these calls
    # (`metrics=...` beside `from keras import metrics`) binds nothing
    names = TextNames(text, calls=[(start, start + len(arguments)) for start, arguments in calls])
    for _, arguments in calls:
        try:
            call = ast.parse(f"_(\n{arguments}\n)", mode="eval").body
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return True
        if not isinstance(call, ast.Call) or any(isinstance(a, ast.Starred) for a in call.args[:4]):
            return True
        values = [k.value for k in call.keywords if k.arg in _LOSS_ARGUMENTS or k.arg is None]
        values += [a for i, a in enumerate(call.args) if i in (1, 2, 3)]  # (2: Keras 2's metrics)
        for value in values:
            for node in ast.walk(value):
                if isinstance(node, ast.Lambda):
                    return True
                if isinstance(node, ast.Name) and not names.framework_only(node.id):
                    return True
    return False


_DEF_PARAMS = re.compile(
    r"def[ \t]+\w+[ \t]*\(\s*(?:self\s*,\s*)?(\w+)\s*(?::[^,()=]*)?(?:=[^,()]*)?,\s*(\w+)"
)
_LAMBDA_PARAMS = re.compile(r"lambda[ \t]+(\w+)\s*,\s*(\w+)")
_CLASS_BASES = re.compile(r"^[ \t]*class[ \t]+(\w+)[ \t]*\(([^)]*)\)", re.MULTILINE)


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


# the calls and definitions a custom training loop is made of, grouped by a word each group
# shares: a text without the word needs no look for the group's members (7 scans, not 13)
_LOOP_SINKS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("grad", (".gradient(", ".gradients(", ".compute_gradients(", ".grad(", "value_and_grad(")),
    ("_step", ("def train_step", "def test_step")),
    ("add_", ("add_loss(", "add_metric(")),
    (".get_updates(", ()),
    (".minimize(", ()),
    ("Lambda(", ()),
    ("def compute_loss", ()),
)


def has_loop_sink(text: str) -> bool:
    """Whether a file may hold a custom training loop (whose objectives are not Keras losses)."""
    for word, sinks in _LOOP_SINKS:
        if word in text and (not sinks or any(sink in text for sink in sinks)):
            return True
    return False


def names_keras(text: str) -> bool:
    """Whether a file names Keras at all (an import, `tf.keras`, even a comment)."""
    return "keras" in text


_PREDICTION_ARGUMENT = re.compile(r"\by_pred\b")


def speaks_keras(text: str) -> bool:
    """Whether a file names Keras, or names TensorFlow (`tensorflow`, `tf.`) and calls a
    prediction `y_pred` as Keras' documentation does (scikit-learn's does too). A project
    none of whose files does (TensorFlow 1 graphs, Estimators, plain TensorFlow, NumPy and
    scikit-learn) has no Keras losses found by their parameter names alone
    (engine/report.py)."""
    if names_keras(text):
        return True
    tensorflow = "tensorflow" in text or "tf." in text
    return tensorflow and "y_pred" in text and _PREDICTION_ARGUMENT.search(text) is not None


def file_gate(text: str, pairs: frozenset[tuple[str, str]]) -> bool:
    """Whether a file is parsed at all: it may hold a loss candidate or a custom training loop
    (whose objectives tell which loss-shaped functions are not Keras losses)."""
    return has_loop_sink(text) or text_may_hold_losses(text, pairs)


@functools.lru_cache(maxsize=64)  # the engine asks before choosing where a file is analysed
def text_may_hold_losses(text: str, pairs: frozenset[tuple[str, str]]) -> bool:
    """The text gate, before any parse: False only when no loss candidate can be in `text`.

    Candidates are compile calls that may pass a project loss (any name or lambda among
    their loss and metric arguments), loss-shaped signatures (`def f(y_true, y_pred)`,
    methods and lambdas too), and `call`/`__call__` methods of classes that may subclass a Keras
    Loss (or the function a subclass of a Keras wrapper class gives its base).
    """
    if "compile" in text and _compile_calls_may_use_project_losses(text):
        return True
    if _has_loss_signature(text, pairs):
        return True
    methods = "def call" in text or "def __call__" in text or "Wrapper" in text  # (a
    # `LossFunctionWrapper` subclass hands its function to `super().__init__`)
    return methods and _classes_may_be_losses(text)


def _classes_may_be_losses(text: str) -> bool:
    """Whether a class of the text may subclass a Keras Loss: a base that is neither named
    like a layer, model, ... (`NOT_LOSS_BASES`) nor certainly a framework class that is no
    Loss (index/text_names.py)."""
    headers = list(line_matches(text, ("class",), _CLASS_BASES))
    names: TextNames | None = None
    for match in headers:
        for base in match.group(2).split(","):
            base = base.strip()
            if not base or "=" in base:
                continue  # metaclass=..., or nothing
            base = base.split("[", 1)[0].strip()
            if base.rsplit(".", 1)[-1] in NOT_LOSS_BASES:
                continue
            names = names or TextNames(text, headers)
            if not names.not_a_loss(base, match.group(1)):
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
    arguments += [a for i, a in enumerate(call.args) if i in (1, 2, 3)]  # (2: Keras 2's metrics)
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
            isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
            and item.name in ("call", "__call__")
            for item in node.body
        ) or any("Wrapper" in _base_name(b) for b in node.bases)  # (its function: the call)
        if has_call and any(_base_name(b) not in NOT_LOSS_BASES for b in node.bases):
            if _classes_may_be_losses(text):  # (what the text gate says of all the classes)
                return True
            break
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
