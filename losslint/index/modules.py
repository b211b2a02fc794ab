"""One parsed module: its source, `ast` tree, module-level bindings and node positions."""

from __future__ import annotations

import ast
import bisect
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from losslint.frozen import frozen
from losslint.source import SourceText

_LINES = re.compile(r"\r\n|\r|\n")
# Statement fields holding nested statements (walked as statements, not expressions).
_BLOCKS = ("body", "orelse", "finalbody", "handlers", "cases")
FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
DefNode = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef


@dataclass
class Scan:
    """One pass over a module: compile calls, functions and classes with their enclosing
    defs and classes (outermost first), in source order."""

    compile_calls: list[tuple[ast.Call, tuple[DefNode, ...]]] = field(default_factory=list)
    functions: list[tuple[FunctionNode, tuple[DefNode, ...]]] = field(default_factory=list)
    classes: list[tuple[ast.ClassDef, tuple[DefNode, ...]]] = field(default_factory=list)


_BLOCK_FIELDS: dict[type, tuple[str, ...]] = {}


def block_fields(kind: type) -> tuple[str, ...]:
    """The fields of a statement type that hold nested statements."""
    found = _BLOCK_FIELDS.get(kind)
    if found is None:
        fields = getattr(kind, "_fields", ())
        found = _BLOCK_FIELDS[kind] = tuple(name for name in _BLOCKS if name in fields)
    return found


def _header_fields(stmt: ast.AST) -> Iterator[ast.AST]:
    """The nodes a statement owns besides its nested statements, in source order."""
    if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
        yield from stmt.decorator_list
        yield stmt.args
        if stmt.returns is not None:
            yield stmt.returns
        return
    if isinstance(stmt, ast.ClassDef):
        yield from stmt.decorator_list
        yield from stmt.bases
        yield from stmt.keywords
        return
    for name in stmt._fields:
        if name in _BLOCKS:
            continue
        value = getattr(stmt, name, None)
        if isinstance(value, ast.AST):
            yield value
        elif isinstance(value, list):
            yield from (item for item in value if isinstance(item, ast.AST))


def _children(node: ast.AST) -> list[ast.AST]:
    """An expression's children in source order."""
    if isinstance(node, ast.Call):
        rest: list[ast.AST] = [*node.args, *node.keywords]
        rest.sort(key=lambda n: (getattr(n, "lineno", 0), getattr(n, "col_offset", 0)))
        return [node.func, *rest]
    if isinstance(node, ast.IfExp):
        return [node.body, node.test, node.orelse]
    if isinstance(node, ast.Dict):
        items: list[ast.AST] = []
        for key, value in zip(node.keys, node.values, strict=True):
            if key is not None:
                items.append(key)
            items.append(value)
        return items
    return list(ast.iter_child_nodes(node))


class _Scanner:
    def __init__(self, lines: list[str], text: str) -> None:
        self.lines = lines
        self.result = Scan()
        # expressions are walked only where a lambda or a compile call may be: on the lines
        # (1-based, ascending) that spell one
        self.needles = tuple(w for w in ("lambda", "compile") if w in text)
        spells = re.compile("|".join(self.needles)).search if self.needles else None
        self.marked = [n for n, line in enumerate(lines, 1) if spells(line)] if spells else []
        # the lines a statement's header must reach to be looked at: the marked ones and any
        # line that is not ASCII (an identifier may spell `compile` in other characters)
        self.reach = self.marked
        if spells and not text.isascii():
            self.reach = [
                n for n, line in enumerate(lines, 1) if spells(line) or not line.isascii()
            ]

    def statements(self, body: list[ast.stmt], enclosing: tuple[DefNode, ...]) -> None:
        for stmt in body:
            self._statement(stmt, enclosing)

    def _statement(self, stmt: ast.stmt, enclosing: tuple[DefNode, ...]) -> None:
        inner = enclosing
        if isinstance(stmt, ast.ClassDef):
            self.result.classes.append((stmt, enclosing))
            inner = (*enclosing, stmt)
        elif isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            self.result.functions.append((stmt, enclosing))
            inner = (*enclosing, stmt)
        if self.needles and self._reached(stmt):
            for part in _header_fields(stmt):
                if self._may_hold(part):
                    self.expression(part, enclosing)
        for name in block_fields(type(stmt)):
            block = getattr(stmt, name, None)
            if not block:
                continue
            for item in block:
                if isinstance(item, ast.stmt):
                    self._statement(item, inner)
                else:  # except handlers and match cases
                    if self.needles:
                        for part in _header_fields(item):
                            if self._may_hold(part):
                                self.expression(part, enclosing)
                    self.statements(item.body, inner)

    def _reached(self, stmt: ast.stmt) -> bool:
        """Whether the lines of a statement (its decorators included) reach a line that may
        hold a lambda or a compile call: the nodes of its header lie on those lines."""
        start = getattr(stmt, "lineno", None)
        end = getattr(stmt, "end_lineno", None)
        if start is None or end is None:
            return True
        for decorator in getattr(stmt, "decorator_list", ()):
            start = min(start, getattr(decorator, "lineno", None) or 0)
        first = bisect.bisect_left(self.reach, start)
        return first < len(self.reach) and self.reach[first] <= end

    def _may_hold(self, node: ast.AST) -> bool:
        start = getattr(node, "lineno", None)
        if start is None:
            return True
        end = getattr(node, "end_lineno", None) or start
        first = bisect.bisect_left(self.marked, start)
        return first < len(self.marked) and self.marked[first] <= end

    def expression(self, node: ast.AST, enclosing: tuple[DefNode, ...]) -> None:
        stack = [node]
        while stack:
            current = stack.pop()
            if isinstance(current, ast.Lambda):
                self.result.functions.append((current, enclosing))
            elif (
                isinstance(current, ast.Call)
                and isinstance(current.func, ast.Attribute)
                and current.func.attr == "compile"
            ):
                self.result.compile_calls.append((current, enclosing))
            stack.extend(reversed(_children(current)))


def scan_module(tree: ast.Module, lines: list[str], text: str) -> Scan:
    scanner = _Scanner(lines, text)
    scanner.statements(tree.body, ())
    return scanner.result


@frozen
class Binding:
    """What a module-level name is bound to.

    `kind` is `def`, `class`, `assign` (node is the value expression), `import` (target is
    the imported module's dotted name), `from` (target module, `attr` the imported name) or
    `unknown` (bound in a way the analysis does not follow).
    """

    kind: str
    node: ast.AST | None = None
    target: str = ""
    attr: str = ""
    level: int = 0


@dataclass(eq=False)
class ModuleInfo:
    """A parsed module. Positions: 1-based lines, 0-based columns in characters."""

    path: Path
    name: str
    source: SourceText
    tree: ast.Module
    is_package: bool
    bindings: dict[str, Binding] = field(default_factory=dict)
    star_imports: list[tuple[str, int]] = field(default_factory=list)
    _scan: Scan | None = None
    _lines: list[str] | None = None
    _parents: dict[ast.AST, ast.AST] | None = None

    def __post_init__(self) -> None:
        self.bindings, self.star_imports = collect_bindings(self.tree.body)

    def __repr__(self) -> str:
        return f"ModuleInfo({self.name!r}, {str(self.path)!r})"

    @property
    def lines(self) -> list[str]:
        if self._lines is None:
            self._lines = _LINES.split(self.source.text)
        return self._lines

    @property
    def scan(self) -> Scan:
        if self._scan is None:
            self._scan = scan_module(self.tree, self.lines, self.source.text)
        return self._scan

    def parent_of(self, node: ast.AST) -> ast.AST | None:
        if self._parents is None:
            self._parents = {
                child: parent
                for parent in ast.walk(self.tree)
                for child in ast.iter_child_nodes(parent)
            }
        return self._parents.get(node)

    @staticmethod
    def order_of(node: ast.AST) -> tuple[int, int, int, int]:
        """A sort key in source order (an enclosing node before the nodes it contains)."""
        line = getattr(node, "lineno", 0)
        return (
            line,
            getattr(node, "col_offset", 0),
            -(getattr(node, "end_lineno", None) or line),
            -(getattr(node, "end_col_offset", None) or 0),
        )

    @staticmethod
    def line_of(node: ast.AST) -> int:
        """The line of a node (the `def` line for functions, not their decorators)."""
        return int(getattr(node, "lineno", 1))

    def column(self, line: int, byte_offset: int) -> int:
        """The character column of a UTF-8 byte offset on a line (ast counts bytes)."""
        text = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        if text.isascii():
            return byte_offset
        return len(text.encode("utf-8")[:byte_offset].decode("utf-8", "replace"))

    def span_of(self, node: ast.AST) -> tuple[int, int, int, int]:
        """(line, column, end line, end column): 1-based lines, 0-based character columns."""
        line = int(getattr(node, "lineno", 1))
        end_line = int(getattr(node, "end_lineno", None) or line)
        column = int(getattr(node, "col_offset", 0))
        end_column = getattr(node, "end_col_offset", None)
        return (
            line,
            self.column(line, column),
            end_line,
            self.column(end_line, column if end_column is None else end_column),
        )

    def code_for(self, node: ast.AST) -> str:
        """The source text of a node, as written."""
        line, column, end_line, end_column = self.span_of(node)
        if line == end_line:
            return self.lines[line - 1][column:end_column]
        parts = [self.lines[line - 1][column:]]
        parts.extend(self.lines[line : end_line - 1])
        parts.append(self.lines[end_line - 1][:end_column])
        return "\n".join(parts)


def dotted(node: ast.AST | None) -> str:
    """`a.b.c` for a Name/Attribute chain, else ''."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted(node.value)
        return f"{base}.{node.attr}" if base else ""
    return ""


def import_bindings(stmt: ast.Import | ast.ImportFrom) -> Iterator[tuple[str, Binding]]:
    """The names an import statement binds (`*` for a star import)."""
    if isinstance(stmt, ast.Import):
        for alias in stmt.names:
            if alias.asname is not None:
                yield alias.asname, Binding("import", target=alias.name)
            else:
                head = alias.name.split(".", 1)[0]
                yield head, Binding("import", target=head)
        return
    module = stmt.module or ""
    level = stmt.level or 0
    for alias in stmt.names:
        if alias.name == "*":
            yield "*", Binding("from", target=module, attr="*", level=level)
            return
        yield (
            alias.asname or alias.name,
            Binding("from", target=module, attr=alias.name, level=level),
        )


def own_nodes(body: list[ast.stmt]) -> Iterator[ast.AST]:
    """Every node of a body, not entering nested functions and classes."""
    stack: list[ast.AST] = list(reversed(body))
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                stack.append(child)


def own_statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Every statement of a body, nested blocks included, not entering nested functions and
    classes (no expressions: cheaper than `own_nodes`)."""
    stack: list[ast.AST] = list(reversed(body))
    while stack:
        node = stack.pop()
        if isinstance(node, ast.excepthandler | ast.match_case):
            stack.extend(reversed(node.body))
            continue
        if not isinstance(node, ast.stmt):
            continue
        yield node
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        for name in block_fields(type(node)):
            stack.extend(reversed(getattr(node, name)))


def qualified_name(enclosing: list[DefNode] | tuple[DefNode, ...], name: str) -> str:
    """`name` defined inside `enclosing` (outermost first), as Python's `__qualname__` spells
    it: `Outer.method.<locals>.inner`."""
    parts: list[str] = []
    for node in enclosing:
        if isinstance(node, ast.ClassDef):
            parts.append(node.name)
        else:
            parts.extend((node.name, "<locals>"))
    return ".".join([*parts, name])


def target_names(target: ast.AST) -> Iterator[str]:
    """The names an assignment target binds."""
    if isinstance(target, ast.Name):
        yield target.id
    elif isinstance(target, ast.Tuple | ast.List):
        for element in target.elts:
            yield from target_names(element)
    elif isinstance(target, ast.Starred):
        yield from target_names(target.value)


def collect_bindings(
    body: list[ast.stmt],
) -> tuple[dict[str, Binding], list[tuple[str, int]]]:
    """Module-level bindings, following `if`/`try`/`with` blocks but not functions or classes."""
    bindings: dict[str, Binding] = {}
    stars: list[tuple[str, int]] = []
    _visit_bindings(body, bindings, stars)
    return bindings, stars


def _visit_bindings(
    statements: list[ast.stmt], bindings: dict[str, Binding], stars: list[tuple[str, int]]
) -> None:
    """`collect_bindings` for one block (a module-level function: a recursive closure would
    be a reference cycle that keeps the module's definitions alive until a collection)."""
    for stmt in statements:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            bindings[stmt.name] = Binding("def", stmt)
        elif isinstance(stmt, ast.ClassDef):
            bindings[stmt.name] = Binding("class", stmt)
        elif isinstance(stmt, ast.Import | ast.ImportFrom):
            for name, binding in import_bindings(stmt):
                if name == "*":
                    stars.append((binding.target, binding.level))
                else:
                    bindings[name] = binding
        elif isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                if isinstance(target, ast.Name):
                    bindings[target.id] = Binding("assign", stmt.value)
                else:
                    for name in target_names(target):
                        bindings[name] = Binding("unknown")
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            if stmt.value is not None:
                bindings[stmt.target.id] = Binding("assign", stmt.value)
        elif isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):
            bindings[stmt.target.id] = Binding("unknown")
        elif isinstance(stmt, ast.If):
            _visit_bindings(stmt.body, bindings, stars)
            _visit_bindings(stmt.orelse, bindings, stars)
        elif isinstance(stmt, ast.Try | _TRY_STAR):
            _visit_bindings(stmt.body, bindings, stars)
            for handler in stmt.handlers:
                if not _catches_import_error(handler):
                    _visit_bindings(handler.body, bindings, stars)
                    continue
                # a fallback binds what the `try` did under other names: keep the first,
                # and add what only the fallback binds (its own imports and definitions)
                kept = dict(bindings)
                _visit_bindings(handler.body, bindings, stars)
                bindings.update(kept)
            _visit_bindings(stmt.orelse, bindings, stars)
        elif isinstance(stmt, ast.With | ast.AsyncWith):
            _visit_bindings(stmt.body, bindings, stars)


_TRY_STAR: type = getattr(ast, "TryStar", ast.Try)


def _catches_import_error(handler: ast.excepthandler) -> bool:
    """Whether a handler is an `except ImportError:` fallback for the imports of its `try`."""
    assert isinstance(handler, ast.ExceptHandler)
    names = dotted(handler.type) if handler.type is not None else ""
    return names in {"ImportError", "ModuleNotFoundError"}


def module_name_for(path: Path, root: Path) -> str:
    """The dotted name a file is imported as: its package path (`vision.losses.focal`).

    Files outside any package are named by their stem (`train`).
    """
    parts = [path.stem] if path.name != "__init__.py" else []
    folder = path.parent
    while (folder / "__init__.py").is_file() and folder != folder.parent:
        parts.insert(0, folder.name)
        folder = folder.parent
    return ".".join(parts) or path.parent.name
