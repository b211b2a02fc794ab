"""One parsed module: its source, tree, module-level bindings and (lazily) node positions."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import libcst as cst
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider

from losslint.source import SourceText


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
    _parents: dict[cst.CSTNode, cst.CSTNode] | None = None

    def __post_init__(self) -> None:
        self.bindings, self.star_imports = collect_bindings(self.tree.body)

    @property
    def positions(self) -> dict[cst.CSTNode, CodeRange]:
        if self._positions is None:
            wrapper = MetadataWrapper(self.tree, unsafe_skip_copy=True)
            self._positions = dict(wrapper.resolve(PositionProvider))
        return self._positions

    @property
    def parents(self) -> dict[cst.CSTNode, cst.CSTNode]:
        if self._parents is None:
            parents: dict[cst.CSTNode, cst.CSTNode] = {}
            stack: list[cst.CSTNode] = [self.tree]
            while stack:
                node = stack.pop()
                for child in node.children:
                    parents[child] = node
                    stack.append(child)
            self._parents = parents
        return self._parents

    def range_of(self, node: cst.CSTNode) -> CodeRange:
        return self.positions[node]

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
