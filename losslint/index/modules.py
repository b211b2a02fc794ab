"""One parsed module: its source, tree, module-level bindings and (lazily) node positions."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import libcst as cst
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider

from losslint.index.walk import iter_children
from losslint.source import SourceText

_LINES = re.compile(r"\r\n|\r|\n")


@dataclass
class Scan:
    """One pass over a module: compile calls, functions and classes with what encloses them."""

    compile_calls: list[tuple[cst.Call, tuple[cst.CSTNode, ...]]] = field(default_factory=list)
    functions: list[tuple[cst.FunctionDef | cst.Lambda, tuple[cst.CSTNode, ...]]] = field(
        default_factory=list
    )
    classes: list[tuple[cst.ClassDef, tuple[cst.CSTNode, ...]]] = field(default_factory=list)
    order: dict[int, int] = field(default_factory=dict)
    parents: dict[int, cst.CSTNode] = field(default_factory=dict)
    calls: list[cst.Call] = field(default_factory=list)


def scan_module(tree: cst.Module) -> Scan:
    result = Scan()
    stack: list[tuple[cst.CSTNode, tuple[cst.CSTNode, ...], cst.CSTNode | None]] = [
        (tree, (), None)
    ]
    index = 0
    while stack:
        node, enclosing, parent = stack.pop()
        result.order[id(node)] = index
        index += 1
        if parent is not None:
            result.parents[id(node)] = parent
        inner = enclosing
        if isinstance(node, cst.ClassDef):
            result.classes.append((node, enclosing))
            inner = (*enclosing, node)
        elif isinstance(node, cst.FunctionDef):
            result.functions.append((node, enclosing))
            inner = (*enclosing, node)
        elif isinstance(node, cst.Lambda):
            result.functions.append((node, enclosing))
        elif isinstance(node, cst.Call):
            result.calls.append(node)
            func = node.func
            if isinstance(func, cst.Attribute) and func.attr.value == "compile":
                result.compile_calls.append((node, enclosing))
        children = list(iter_children(node))
        stack.extend((child, inner, node) for child in reversed(children))
    return result


@dataclass(frozen=True)
class Binding:
    """What a module-level name is bound to.

    `kind` is `def`, `class`, `assign` (node is the value expression), `import` (target is
    the imported module's dotted name), `from` (target module, `attr` the imported name) or
    `unknown` (bound in a way the analysis does not follow).
    """

    kind: str
    node: cst.CSTNode | None = None
    target: str = ""
    attr: str = ""
    level: int = 0


@dataclass(eq=False)
class ModuleInfo:
    path: Path
    name: str
    source: SourceText
    tree: cst.Module
    is_package: bool
    bindings: dict[str, Binding] = field(default_factory=dict)
    star_imports: list[tuple[str, int]] = field(default_factory=list)
    _positions: dict[cst.CSTNode, CodeRange] | None = None
    _scan: Scan | None = None
    _lines: dict[int, int] | None = None
    _ast: ast.Module | None = None
    _call_spans: dict[int, tuple[int, int, int, int]] | None = None

    def __post_init__(self) -> None:
        self.bindings, self.star_imports = collect_bindings(self.tree.body)

    @property
    def positions(self) -> dict[cst.CSTNode, CodeRange]:
        if self._positions is None:
            wrapper = MetadataWrapper(self.tree, unsafe_skip_copy=True)
            self._positions = dict(wrapper.resolve(PositionProvider))
        return self._positions

    def __repr__(self) -> str:
        return f"ModuleInfo({self.name!r}, {str(self.path)!r})"

    @property
    def scan(self) -> Scan:
        if self._scan is None:
            self._scan = scan_module(self.tree)
        return self._scan

    def parent_of(self, node: cst.CSTNode) -> cst.CSTNode | None:
        return self.scan.parents.get(id(node))

    def order_of(self, node: cst.CSTNode) -> int:
        """The node's rank in a pre-order walk: a cheap proxy for its source position."""
        return self.scan.order.get(id(node), -1)

    def line_of(self, node: cst.CSTNode) -> int:
        """The line of a def, class, lambda or compile call (its `def` line for functions).

        Read from Python's own parser (ten times faster than libcst's positions) by matching
        nodes of the same kind and name in order; anything else uses libcst's positions.
        """
        if self._lines is None:
            self._lines = self._match_ast_lines()
        line = self._lines.get(id(node))
        return line if line is not None else self.range_of(node).start.line

    def _match_ast_lines(self) -> dict[int, int]:
        tree = self.ast_tree
        if tree is None:
            return {}
        ast_groups: dict[tuple[str, object], list[tuple[int, int]]] = defaultdict(list)
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                ast_groups[("def", node.name)].append((node.lineno, node.col_offset))
            elif isinstance(node, ast.Lambda):
                names = tuple(a.arg for a in [*node.args.posonlyargs, *node.args.args])
                ast_groups[("lambda", names)].append((node.lineno, node.col_offset))
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "compile"
            ):
                ast_groups[("compile", None)].append((node.lineno, node.col_offset))
        cst_groups: dict[tuple[str, object], list[cst.CSTNode]] = defaultdict(list)
        scan = self.scan
        defs = sorted([*scan.functions, *scan.classes], key=lambda item: scan.order[id(item[0])])
        for node, _ in defs:
            if isinstance(node, cst.Lambda):
                names = tuple(
                    p.name.value for p in [*node.params.posonly_params, *node.params.params]
                )
                cst_groups[("lambda", names)].append(node)
            else:
                cst_groups[("def", node.name.value)].append(node)
        for call, _ in scan.compile_calls:
            cst_groups[("compile", None)].append(call)
        lines: dict[int, int] = {}
        for key, nodes in cst_groups.items():
            spots = sorted(ast_groups.get(key, []))
            if len(spots) == len(nodes):
                for node, (line, _col) in zip(nodes, spots, strict=True):
                    lines[id(node)] = line
        return lines

    def range_of(self, node: cst.CSTNode) -> CodeRange:
        return self.positions[node]

    def span_of(self, node: cst.CSTNode) -> tuple[int, int, int, int]:
        """(line, column, end line, end column), 1-based lines and 0-based character columns.

        Calls are located with Python's own parser (matched in source order), which costs a
        fraction of libcst's position pass; other nodes use libcst's positions.
        """
        if isinstance(node, cst.Call):
            if self._call_spans is None:
                self._call_spans = self._match_ast_calls()
            span = self._call_spans.get(id(node))
            if span is not None:
                return span
        code_range = self.range_of(node)
        return (
            code_range.start.line,
            code_range.start.column,
            code_range.end.line,
            code_range.end.column,
        )

    @property
    def ast_tree(self) -> ast.Module | None:
        if self._ast is None:
            try:
                self._ast = ast.parse(self.source.text)
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                return None
        return self._ast

    def _match_ast_calls(self) -> dict[int, tuple[int, int, int, int]]:
        tree = self.ast_tree
        if tree is None:
            return {}
        calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
        if len(calls) != len(self.scan.calls):
            return {}
        calls.sort(
            key=lambda n: (n.lineno, n.col_offset, -(n.end_lineno or 0), -(n.end_col_offset or 0))
        )
        lines = [m for m in _LINES.split(self.source.text)]

        def column(line: int, byte_offset: int) -> int:
            text = lines[line - 1] if 0 < line <= len(lines) else ""
            return len(text.encode("utf-8")[:byte_offset].decode("utf-8", "replace"))

        spans: dict[int, tuple[int, int, int, int]] = {}
        for libcst_call, ast_call in zip(self.scan.calls, calls, strict=True):
            end_line = ast_call.end_lineno or ast_call.lineno
            end_col = (
                ast_call.end_col_offset
                if ast_call.end_col_offset is not None
                else ast_call.col_offset
            )
            spans[id(libcst_call)] = (
                ast_call.lineno,
                column(ast_call.lineno, ast_call.col_offset),
                end_line,
                column(end_line, end_col),
            )
        return spans

    def code_for(self, node: cst.CSTNode) -> str:
        return self.tree.code_for_node(node)


def dotted(node: cst.BaseExpression | None) -> str:
    """`a.b.c` for a Name/Attribute chain, else ''."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        base = dotted(node.value)
        return f"{base}.{node.attr.value}" if base else ""
    return ""


def _import_bindings(stmt: cst.Import | cst.ImportFrom) -> Iterator[tuple[str, Binding]]:
    if isinstance(stmt, cst.Import):
        for alias in stmt.names:
            full = dotted(alias.name)
            if alias.asname is not None:
                asname = alias.asname.name
                if isinstance(asname, cst.Name):
                    yield asname.value, Binding("import", target=full)
            else:
                head = full.split(".", 1)[0]
                yield head, Binding("import", target=head)
        return
    module = dotted(stmt.module) if stmt.module is not None else ""
    level = len(stmt.relative)
    if isinstance(stmt.names, cst.ImportStar):
        yield "*", Binding("from", target=module, attr="*", level=level)
        return
    for alias in stmt.names:
        name = dotted(alias.name)
        local = name
        if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
            local = alias.asname.name.value
        yield local, Binding("from", target=module, attr=name, level=level)


def _target_names(target: cst.BaseExpression) -> Iterator[str]:
    if isinstance(target, cst.Name):
        yield target.value
    elif isinstance(target, cst.Tuple | cst.List):
        for element in target.elements:
            yield from _target_names(element.value)
    elif isinstance(target, cst.StarredElement):
        yield from _target_names(target.value)


def collect_bindings(
    body: tuple[cst.BaseStatement, ...] | list[cst.BaseStatement],
) -> tuple[dict[str, Binding], list[tuple[str, int]]]:
    """Module-level bindings, following `if`/`try`/`with` blocks but not functions or classes."""
    bindings: dict[str, Binding] = {}
    stars: list[tuple[str, int]] = []

    def visit(statements: tuple[cst.BaseStatement, ...] | list[cst.BaseStatement]) -> None:
        for stmt in statements:
            if isinstance(stmt, cst.FunctionDef):
                bindings[stmt.name.value] = Binding("def", stmt)
            elif isinstance(stmt, cst.ClassDef):
                bindings[stmt.name.value] = Binding("class", stmt)
            elif isinstance(stmt, cst.SimpleStatementLine):
                for small in stmt.body:
                    _small(small)
            elif isinstance(stmt, cst.If):
                visit(stmt.body.body)
                orelse = stmt.orelse
                while orelse is not None:
                    visit(orelse.body.body)
                    orelse = orelse.orelse if isinstance(orelse, cst.If) else None
            elif isinstance(stmt, cst.Try):
                visit(stmt.body.body)
                for handler in stmt.handlers:
                    if not _catches_import_error(handler):
                        visit(handler.body.body)
                if stmt.orelse is not None:
                    visit(stmt.orelse.body.body)
            elif isinstance(stmt, cst.With):
                visit(stmt.body.body)

    def _small(small: cst.BaseSmallStatement) -> None:
        if isinstance(small, cst.Import | cst.ImportFrom):
            for name, binding in _import_bindings(small):
                if name == "*":
                    stars.append((binding.target, binding.level))
                else:
                    bindings[name] = binding
        elif isinstance(small, cst.Assign):
            for target in small.targets:
                if isinstance(target.target, cst.Name):
                    bindings[target.target.value] = Binding("assign", small.value)
                else:
                    for name in _target_names(target.target):
                        bindings[name] = Binding("unknown")
        elif isinstance(small, cst.AnnAssign) and isinstance(small.target, cst.Name):
            if small.value is not None:
                bindings[small.target.value] = Binding("assign", small.value)
        elif isinstance(small, cst.AugAssign) and isinstance(small.target, cst.Name):
            bindings[small.target.value] = Binding("unknown")

    visit(body)
    return bindings, stars


def _catches_import_error(handler: cst.ExceptHandler) -> bool:
    """`except ImportError:` fallbacks import the same API under another name: keep the first."""
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
