"""The gate: can this file hold a loss at all? A text test before any parse, then a cheap
look at the `ast` tree.

Files without any possible loss candidate (no compile call with a project loss, no
loss-shaped signature, no class that could subclass a Loss) are not analysed; a file that
fails the text test is not even parsed (it is parsed later only if an analysed module imports
it). Both tests are deliberately generous: they only rule out what discovery could never find.
"""

from __future__ import annotations

import ast
import bisect
import functools
import re
from collections.abc import Iterator, Sequence

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
    names = _TextNames(text, [(start, start + len(arguments)) for start, arguments in calls])
    for _, arguments in calls:
        try:
            call = ast.parse(f"_(\n{arguments}\n)", mode="eval").body
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return True
        if not isinstance(call, ast.Call) or any(isinstance(a, ast.Starred) for a in call.args[:4]):
            return True
        values = [k.value for k in call.keywords if k.arg in _LOSS_ARGUMENTS or k.arg is None]
        values += [a for i, a in enumerate(call.args) if i in (1, 3)]
        for value in values:
            for node in ast.walk(value):
                if isinstance(node, ast.Lambda):
                    return True
                if isinstance(node, ast.Name) and not names.framework_only(node.id):
                    return True
    return False


class _TextNames:
    """`_FrameworkBases.framework_only` for one text: read as it is first, and with its
    strings and comments blanked out only when that may change the answer."""

    def __init__(self, text: str, calls: list[tuple[int, int]]) -> None:
        self.text = text
        self.calls = calls  # spans of call arguments, whose keywords bind nothing
        self.raw: _FrameworkBases | None = None
        self.blank: _FrameworkBases | None = None

    def framework_only(self, name: str) -> bool:
        self.raw = self.raw or _FrameworkBases(self.text, [], False, self.calls)
        if self.raw.framework_only(name):
            return True
        if self.raw.unbound(name):
            return False
        self.blank = self.blank or _FrameworkBases(self.text, [], True, self.calls)
        return self.blank.framework_only(name)


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


_LOOP_SINKS = (
    ".gradient(",
    ".gradients(",
    ".compute_gradients(",
    ".get_updates(",
    ".grad(",
    "value_and_grad(",
    ".minimize(",
    "add_loss(",
    "add_metric(",
    "Lambda(",
    "def train_step",
    "def test_step",
    "def compute_loss",
)


def has_loop_sink(text: str) -> bool:
    """Whether a file may hold a custom training loop (whose objectives are not Keras losses)."""
    return any(sink in text for sink in _LOOP_SINKS)


def names_keras(text: str) -> bool:
    """Whether a file names Keras at all (an import, `tf.keras`, even a comment)."""
    return "keras" in text


_PREDICTION_ARGUMENT = re.compile(r"\by_pred\b")


def speaks_keras(text: str) -> bool:
    """Whether a file names Keras, or calls a prediction `y_pred` as Keras' documentation
    does. A project none of whose files does (TensorFlow 1 graphs, Estimators, plain
    TensorFlow) has no Keras losses found by their parameter names alone (engine/report.py)."""
    return names_keras(text) or ("y_pred" in text and _PREDICTION_ARGUMENT.search(text) is not None)


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
    Loss.
    """
    if "compile" in text and _compile_calls_may_use_project_losses(text):
        return True
    if _has_loss_signature(text, pairs):
        return True
    return ("def call" in text or "def __call__" in text) and _classes_may_be_losses(text)


def _line_matches(
    text: str, keywords: tuple[str, ...], pattern: re.Pattern[str]
) -> Iterator[re.Match[str]]:
    """`pattern.finditer(text)` for a MULTILINE pattern that matches a line beginning with
    one of `keywords` (after its indentation), in the order of the text: the keywords are
    found with `str.find`, much faster than a regular expression tried at every offset."""
    found: list[re.Match[str]] = []
    starts: set[int] = set()
    for keyword in keywords:
        at = text.find(keyword)
        while at >= 0:
            start = text.rfind("\n", 0, at) + 1
            if start not in starts and not text[start:at].strip(" \t"):
                match = pattern.match(text, start)
                if match is not None:
                    starts.add(start)
                    found.append(match)
            at = text.find(keyword, at + len(keyword))
    return iter(sorted(found, key=lambda match: match.start()))


def _classes_may_be_losses(text: str) -> bool:
    """Whether a class of the text may subclass a Keras Loss: a base that is neither named
    like a layer, model, ... (`_NOT_LOSS_BASES`) nor certainly a framework class that is no
    Loss (`_FrameworkBases`)."""
    headers = list(_line_matches(text, ("class",), _CLASS_BASES))
    raw: _FrameworkBases | None = None  # the text as it is: names in prose count too
    prose: _FrameworkBases | None = None  # strings and comments blanked out (slower)
    for match in headers:
        for base in match.group(2).split(","):
            base = base.strip()
            if not base or "=" in base:
                continue  # metaclass=..., or nothing
            base = base.split("[", 1)[0].strip()
            if base.rsplit(".", 1)[-1] in _NOT_LOSS_BASES:
                continue
            raw = raw or _FrameworkBases(text, headers, blank=False)
            if raw.not_a_loss(base, match.group(1)):
                continue
            if raw.unbound(base):
                return True  # (what strings and comments hold can only bind more)
            prose = prose or _FrameworkBases(text, headers, blank=True)
            if not prose.not_a_loss(base, match.group(1)):
                return True
    return False


_IMPORT_STATEMENT = re.compile(
    r"^[ \t]*(?:from[ \t]+([\w.]+)[ \t]+import[ \t]*(\([^)]*\)|[^\n]*)|import[ \t]+([^\n]*))",
    re.MULTILINE,
)
_QUOTES = re.compile("[\"'#]")
_DOTTED = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")


class _FrameworkBases:
    """Which class bases certainly make no Keras Loss, read from a file's text (no parse): a
    class TensorFlow or Keras exports that is no Loss (`Operation`, `layers.Dense`), or a
    class of the same file whose bases are all such classes.

    A name counts only when every binding of it the text could hold is one of those: its
    import statements all import from a framework (or it is one class statement of the
    file), and every other occurrence of it is an attribute access, a call, a subscript or a
    class base, so no assignment, parameter, loop or other import can bind it to something
    else. The catalogue decides what is a Loss, as loss discovery does. With `blank`, names
    in strings and comments do not count; without, they do (a faster look that can only
    find fewer bases certain), and an import statement that may end in a string is no
    binding's place.
    """

    def __init__(
        self,
        text: str,
        headers: list[re.Match[str]],
        blank: bool,
        calls: Sequence[tuple[int, int]] = (),
    ) -> None:
        if blank:  # strings and comments name nothing
            text = _STRINGS_AND_COMMENTS.sub(_blank, text)
        self.text = text
        # spans of base lists, and of the arguments of calls whose keywords bind nothing
        self.allowed = [(m.start(2), m.end(2)) for m in headers] + list(calls)
        self.classes: dict[str, list[re.Match[str]]] = {}
        for match in headers:
            self.classes.setdefault(match.group(1), []).append(match)
        self.imports: dict[str, list[str]] = {}
        self.star = False
        for match in _line_matches(text, ("import", "from"), _IMPORT_STATEMENT):
            if blank or not _QUOTES.search(match.group()):  # (else it may end in a string)
                self.allowed.append(match.span())
            module, names, plain = match.groups()
            names = (names or plain or "").strip().strip("()")
            for item in names.split(","):
                parts = item.split("#", 1)[0].split()
                if not parts:
                    continue
                if parts[0] == "*":
                    self.star = True
                    continue
                alias = parts[2] if len(parts) == 3 and parts[1] == "as" else None
                if module is None:  # import a.b.c [as x]: binds `a` (the module a), or x
                    name = alias or parts[0].split(".", 1)[0]
                    self.imports.setdefault(name, []).append(parts[0] if alias else name)
                else:
                    self.imports.setdefault(alias or parts[0], []).append(f"{module}.{parts[0]}")
        self.allowed.sort()
        self.starts = [start for start, _ in self.allowed]
        self.own = {match.start(1) for match in headers}  # where class statements name theirs
        self._known: dict[str, bool] = {}
        self._framework: dict[str, bool] = {}
        self._rebound: dict[str, bool] = {}

    def not_a_loss(self, base: str, cls: str) -> bool:
        """Whether `base`, a base of the class named `cls`, certainly makes it no Loss."""
        if self.star or not _DOTTED.fullmatch(base) or cls in _loss_class_names():
            return False
        head, _, rest = base.partition(".")
        if head not in self._known:
            self._known[head] = False  # (a cycle of classes: unknown)
            self._known[head] = self._framework_non_loss(head) or self._own_non_loss(head)
        if not self._known[head]:
            return False
        if head in self.classes:
            return not rest  # (an attribute of a class: unknown)
        return all(
            _catalogue_says_not_a_loss(f"{q}.{rest}" if rest else q) for q in self.imports[head]
        )

    def unbound(self, base: str) -> bool:
        """Whether the first name of `base` has no import and no class statement here."""
        head = base.partition(".")[0]
        return head not in self.imports and head not in self.classes

    def framework_only(self, name: str) -> bool:
        """Whether every binding of `name` imports it from TensorFlow or Keras."""
        known = self._framework.get(name)
        if known is None:
            known = self._framework[name] = self._framework_non_loss(name)
        return known

    def _framework_non_loss(self, name: str) -> bool:
        """Only imported, and only from frameworks (what it names is checked by the caller)."""
        found = self.imports.get(name)
        if found is None or name in self.classes or self.rebound(name):
            return False
        return all(not q.startswith(".") and _is_framework(q) for q in found)

    def _own_non_loss(self, name: str) -> bool:
        """One class of this file, whose bases certainly make no Loss."""
        found = self.classes.get(name)
        if found is None or len(found) != 1 or name in self.imports:
            return False
        header = found[0]
        if self.rebound(name):
            return False
        for base in header.group(2).split(","):
            base = base.strip()
            if "=" in base or not base:
                continue
            base = base.split("[", 1)[0].strip()
            if base.rsplit(".", 1)[-1] not in _NOT_LOSS_BASES and not self.not_a_loss(base, name):
                return False
        return True

    def rebound(self, name: str) -> bool:
        """Whether some occurrence of `name` may bind it: not in an import statement, a class
        statement or a list of bases, nor an attribute access (`name.x`, `x.name`), a call or
        a subscript."""
        found = self._rebound.get(name)
        if found is None:
            found = self._rebound[name] = self._scan(name)
        return found

    def _scan(self, name: str) -> bool:
        text = self.text
        at = text.find(name)
        while at >= 0:
            end = at + len(name)
            before = text[at - 1] if at else " "
            after = text[end] if end < len(text) else " "
            word = not (before.isalnum() or before in "_.") and not (
                after.isalnum() or after == "_"
            )
            if word and at not in self.own and not self._allowed(at):
                used = _USE_AFTER.match(text, end) is not None
                if not used or _BINDS_BEFORE.search(text, max(0, at - 8), at):
                    return True
            at = text.find(name, end)
        return False

    def _allowed(self, at: int) -> bool:
        """Whether offset `at` lies in an import statement or a list of bases."""
        index = bisect.bisect_right(self.starts, at) - 1
        return index >= 0 and at < self.allowed[index][1]


_STRINGS_AND_COMMENTS = re.compile(  # (a string's prefix, `rb`, stays: it binds nothing)
    r"""'''[\s\S]*?'''|\"\"\"[\s\S]*?\"\"\"|'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*"|#[^\n]*"""
)


def _blank(match: re.Match[str]) -> str:
    """A string or comment as spaces (its line breaks kept: offsets and lines stay)."""
    found = match.group()
    if "\n" not in found:
        return " " * len(found)
    return _NOT_NEWLINE.sub(" ", found)


_NOT_NEWLINE = re.compile(r"[^\n]")


_USE_AFTER = re.compile(r"[ \t]*[.(\[]")
_BINDS_BEFORE = re.compile(r"(?:\bdef|\bclass|\*)[ \t]*$")


@functools.cache
def _loss_class_names() -> frozenset[str]:
    """The last names of the catalogue's Loss classes: in keras' own sources, the classes of
    these names are Losses by their own name, whatever their bases."""
    from losslint.analysis.catalogue import load

    catalogue = load()
    return frozenset(n.rsplit(".", 1)[-1] for n in catalogue.loss_bases | catalogue.loss_classes)


def _is_framework(qualname: str) -> bool:
    from losslint.analysis.catalogue import load

    return load().is_framework(qualname)


@functools.lru_cache(maxsize=1024)
def _catalogue_says_not_a_loss(qualname: str) -> bool:
    """Whether a framework name (`keras.src.ops.operation.Operation`) is no Keras Loss class,
    as loss discovery decides it (analysis/names.py `class_kind`)."""
    from losslint.analysis.catalogue import load

    catalogue = load()
    name = catalogue.canonical(qualname)
    return name not in catalogue.loss_bases and name not in catalogue.loss_classes


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
            isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
            and item.name in ("call", "__call__")
            for item in node.body
        )
        if has_call and any(_base_name(b) not in _NOT_LOSS_BASES for b in node.bases):
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
