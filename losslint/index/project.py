"""The project index: parses project modules on demand (Python's `ast`) and resolves imports."""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path

from losslint.cache import content_hash
from losslint.index.modules import ModuleInfo, block_fields, module_name_for
from losslint.source import (
    SourceError,
    SourceText,
    check_syntax,
    decode,
    read_module_bytes,
    real_path,
)


class ProjectIndex:
    """Maps files to parsed modules and dotted import names to project files.

    Only files inside the project root are ever loaded: imports of installed packages
    (TensorFlow, Keras, ...) stay external names. `overlays` hold unsaved or fixed text that
    replaces a file's content on disk. `frameworks` are top-level packages whose imports are
    never followed (their APIs come from the catalogue).
    """

    def __init__(
        self,
        root: Path,
        overlays: dict[Path, bytes] | None = None,
        frameworks: frozenset[str] = frozenset(),
    ) -> None:
        self.root = real_path(root)
        self.overlays = {real_path(p): data for p, data in (overlays or {}).items()}
        self.frameworks = frameworks
        self._by_path: dict[Path, ModuleInfo | None] = {}
        self._sources: dict[Path, SourceText] = {}
        self._digests: dict[Path, str] = {}
        self._errors: dict[Path, SourceError] = {}
        self._asts: dict[Path, ast.Module] = {}
        self._imports: dict[Path, tuple[frozenset[Path], frozenset[Path]]] = {}
        self._misses: set[Path] | None = None
        self._files: dict[str, bool] = {}
        # import resolution memos: search roots per importing folder, and per (folder,
        # dotted name) the file found and the files whose absence the answer relied on
        self._roots: dict[str, list[Path]] = {}
        self._found: dict[tuple[str, str], tuple[Path | None, tuple[Path, ...]]] = {}
        self._text_imports: dict[Path, tuple[frozenset[Path], frozenset[Path]]] = {}
        self._root_str = str(self.root)
        self._root_prefix = self._root_str.rstrip(os.sep) + os.sep

    # -- sources and modules ----------------------------------------------------------------

    def source(self, path: Path) -> SourceText:
        """The decoded text of a file (or of its overlay); raises SourceError."""
        key = real_path(path)
        if key in self._errors:
            raise self._errors[key]
        if key not in self._sources:
            try:
                raw = self.overlays[key] if key in self.overlays else read_module_bytes(path)
                self._digests[key] = content_hash(raw)
                self._sources[key] = decode(path, raw)
            except SourceError as exc:
                self._errors[key] = exc
                raise
        return self._sources[key]

    def known_text(self, path: Path) -> str | None:
        """The text `source` already read for a file (no I/O), or None."""
        found = self._sources.get(real_path(path))
        return found.text if found is not None else None

    def digest(self, path: Path) -> str | None:
        """The content hash of what `source` read for a file (None if it was never read)."""
        return self._digests.get(real_path(path))

    def remember_ast(self, path: Path, tree: ast.Module) -> None:
        """Keep a parse made elsewhere (the gate's syntax check) so the file is parsed once."""
        self._asts[real_path(path)] = tree

    def parsed_tree(self, path: Path) -> ast.Module | None:
        """The `ast` tree of a file already loaded as a module (None if it is not)."""
        module = self._by_path.get(real_path(path))
        return module.tree if module is not None else None

    def forget(self, path: Path) -> None:
        """Drop a file's parsed module (its text stays read); it is parsed again if asked for."""
        key = real_path(path)
        self._by_path.pop(key, None)
        self._asts.pop(key, None)

    def module(self, path: Path) -> ModuleInfo | None:
        """The parsed module for a file, or None when it cannot be read or parsed."""
        key = real_path(path)
        if key not in self._by_path:
            self._by_path[key] = self._load(key)
        return self._by_path[key]

    def error(self, path: Path) -> SourceError | None:
        self.module(path)
        return self._errors.get(real_path(path))

    def _load(self, path: Path) -> ModuleInfo | None:
        try:
            source = self.source(path)
            tree = self._asts.pop(path, None) or check_syntax(source.text, path)
        except SourceError as exc:
            self._errors[path] = exc
            return None
        return ModuleInfo(
            path=path,
            name=module_name_for(path, self.root),
            source=source,
            tree=tree,
            is_package=path.name == "__init__.py",
        )

    def set_source(self, path: Path, data: bytes) -> None:
        """Replace a file's content (used between fix passes and by editors)."""
        key = real_path(path)
        self.overlays[key] = data
        for memo in (self._by_path, self._sources, self._errors, self._asts, self._digests):
            memo.pop(key, None)  # type: ignore[attr-defined]
        self._imports.clear()
        self._text_imports.clear()
        self._files.clear()
        self._found.clear()

    # -- import resolution -------------------------------------------------------------------

    def _search_roots(self, importer: Path) -> list[Path]:
        folder = os.path.dirname(importer)
        roots = self._roots.get(folder)
        if roots is None:
            roots = self._roots[folder] = self._folder_search_roots(importer)
        return roots

    def _folder_search_roots(self, importer: Path) -> list[Path]:
        roots: list[Path] = []
        package_root = importer.parent
        while (package_root / "__init__.py").exists() and package_root != package_root.parent:
            package_root = package_root.parent
        for candidate in (package_root, importer.parent, self.root, self.root / "src"):
            if candidate not in roots:
                roots.append(candidate)
        parent = importer.parent
        while self.root in parent.parents:
            parent = parent.parent
            if parent not in roots:
                roots.append(parent)
        return roots

    def _inside(self, path: Path) -> bool:
        text = str(path)
        return text == self._root_str or text.startswith(self._root_prefix)

    def _file_for(self, base: Path, dotted_name: str) -> Path | None:
        key = (str(base), dotted_name)
        known = self._found.get(key)
        if known is None:
            misses = self._misses
            self._misses = set()
            try:
                found = self._find_file(base, dotted_name)
                known = self._found[key] = (found, tuple(self._misses))
            finally:
                self._misses = misses
        if self._misses is not None:
            self._misses.update(known[1])
        return known[0]

    def _find_file(self, base: Path, dotted_name: str) -> Path | None:
        if not dotted_name:
            init = base / "__init__.py"
            if self._is_file(init):
                return init
            self._missed(init)
            return None
        target = base.joinpath(*dotted_name.split("."))
        for path in (target.with_suffix(".py"), target / "__init__.py"):
            if not self._is_file(path):
                self._missed(path)  # (also outside the root: a miss too many is harmless)
            elif self._inside(real_path(path)):
                return path
        return None

    def _is_file(self, path: Path) -> bool:
        key = str(path)
        found = self._files.get(key)
        if found is None:
            found = os.path.isfile(key) or (
                bool(self.overlays) and real_path(path) in self.overlays
            )
            self._files[key] = found
        return found

    def _missed(self, path: Path) -> None:
        if self._misses is not None:
            self._misses.add(path)

    def resolve_path(self, importer: Path, name: str, level: int = 0) -> Path | None:
        """The project file an import names (absolute or relative), or None if external."""
        if level:
            base = importer.parent
            for _ in range(level - 1):
                base = base.parent
            return self._file_for(base, name)
        for root in self._search_roots(importer):
            path = self._file_for(root, name)
            if path is not None and real_path(path) != importer:
                return path
        return None

    def resolve_module(self, importer: ModuleInfo, name: str, level: int = 0) -> ModuleInfo | None:
        """The project module an import names (absolute or relative), or None if external."""
        path = self.resolve_path(importer.path, name, level)
        return self.module(path) if path is not None else None

    def is_project_package_dir(self, importer: ModuleInfo, name: str, level: int = 0) -> bool:
        """True when `name` is a namespace package (a folder without `__init__.py`) here."""
        if level:
            return False
        for root in self._search_roots(importer.path):
            folder = root.joinpath(*name.split("."))
            if folder.is_dir() and self._inside(real_path(folder)) and folder != self.root:
                return True
        return False

    # -- dependencies ------------------------------------------------------------------------

    def import_closure(self, path: Path) -> tuple[frozenset[Path], frozenset[Path]]:
        """Every project file the analysis of `path` may read (the file itself, and what it
        imports, transitively), and the files whose absence the import resolution relied on."""
        start = real_path(path)
        seen: set[Path] = set()
        misses: set[Path] = set()
        stack = [start]
        while stack:
            current = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            found, missed = self._direct_imports(current)
            misses |= missed
            stack.extend(found - seen)
        return frozenset(seen), frozenset(misses)

    def _direct_imports(self, path: Path) -> tuple[frozenset[Path], frozenset[Path]]:
        """The files a module's imports resolve to, and the misses the resolution relied on:
        from its `ast` tree when the analysis parsed it, else from its text (a superset:
        a module parsed only to list its imports would cost as much as analysing it)."""
        if path in self._imports:
            return self._imports[path]
        if path not in self._by_path and path not in self._asts:
            result = self._text_edges(path)
            self._imports[path] = result
            return result
        module = self.module(path)
        found: set[Path] = set()
        self._misses = misses = set()
        try:
            if module is not None:
                for node in _imports(module.tree):
                    if isinstance(node, ast.Import):
                        for alias in node.names:
                            found |= self._prefixes(path, alias.name, 0)
                    elif isinstance(node, ast.ImportFrom):
                        target = node.module or ""
                        level = node.level or 0
                        found |= self._prefixes(path, target, level)
                        for alias in node.names:
                            if alias.name != "*":
                                name = f"{target}.{alias.name}" if target else alias.name
                                found |= self._prefixes(path, name, level, only_last=True)
        finally:
            self._misses = None
        result = (frozenset(real_path(p) for p in found), frozenset(misses))
        self._imports[path] = result
        return result

    def text_imports(self, path: Path) -> frozenset[Path]:
        """The project files a file may import, read from its text without parsing it.

        Every `import` and `from ... import` statement the text could hold counts (also
        lines of strings and comments that look like one): the result holds every file
        `import_closure` finds among the direct imports, and maybe more. Unreadable files
        import nothing.
        """
        return self._text_edges(real_path(path))[0]

    def _text_edges(self, key: Path) -> tuple[frozenset[Path], frozenset[Path]]:
        """`text_imports`, and the files whose absence their resolution relied on."""
        known = self._text_imports.get(key)
        if known is not None:
            return known
        try:
            text = self.source(key).text
        except SourceError:
            text = ""
        found: set[Path] = set()
        previous, self._misses = self._misses, set()
        try:
            for name, level, last in _text_import_names(text):
                found |= self._prefixes(key, name, level, only_last=last)
            result = (frozenset(real_path(p) for p in found), frozenset(self._misses))
        finally:
            self._misses = previous
        self._text_imports[key] = result
        return result

    def _prefixes(
        self, importer: Path, name: str, level: int, only_last: bool = False
    ) -> set[Path]:
        """The files of `a`, `a.b`, `a.b.c` for `import a.b.c` (packages run their __init__)."""
        if not level and name.split(".", 1)[0] in self.frameworks:
            return set()
        parts = name.split(".") if name else [""]
        found: set[Path] = set()
        names = [".".join(parts[: i + 1]) for i in range(len(parts))]
        if only_last:
            names = names[-1:]
        for dotted in names:
            resolved = self.resolve_path(importer, dotted, level)
            if resolved is not None:
                found.add(resolved)
        return found


# Import statements found in text: at each `import` keyword, the text back to the start of
# its logical line (line continuations followed) must be empty, end with `;` or the `:` of a
# compound statement, or be `from`, dots and a dotted name (spaces and continuations allowed
# between them) after such a start.
_IMPORT_KEYWORD = re.compile(r"import\b")
_GAP = r"(?:[ \t\f]|\\\r?\n|\\\r)*"
_PLAIN_HEAD = re.compile(rf"(?:.*[;:])?{_GAP}", re.DOTALL)
_FROM_HEAD = re.compile(
    rf"(?:^|[;:]){_GAP}from\b((?:{_GAP}\.)*{_GAP}(?:\w+(?:{_GAP}\.{_GAP}\w+)*)?){_GAP}\Z"
)
_SPACING = re.compile(r"[\s\\]+")
_OPEN_PAREN = re.compile(r"[\s\\]*\(")
_DOT_SPACING = re.compile(r"\s*\.\s*")
_NAME = re.compile(r"\w+")
_DOTTED = re.compile(r"\w+(?:\.\w+)*")
_COMMENT = re.compile(r"#[^\r\n]*")


def _text_import_names(text: str) -> set[tuple[str, int, bool]]:
    """(dotted name, level, only the last part) of every import statement the text could
    hold, as `_direct_imports` would resolve them."""
    wanted: set[tuple[str, int, bool]] = set()
    for keyword in _IMPORT_KEYWORD.finditer(text):
        position = keyword.start()
        if position and (text[position - 1].isalnum() or text[position - 1] == "_"):
            continue  # `reimport`, `_import`
        head = text[_statement_start(text, position) : position]
        names = _import_list(text, keyword.end())
        if _PLAIN_HEAD.fullmatch(head):
            plain = _DOT_SPACING.sub(".", names.replace("\\", " "))
            wanted.update((name, 0, False) for name in _DOTTED.findall(plain))
            continue
        module = _FROM_HEAD.search(head)
        if module is None:
            continue
        dotted = _SPACING.sub("", module.group(1))
        target = dotted.lstrip(".")
        level = len(dotted) - len(target)
        wanted.add((target, level, False))
        for name in _NAME.findall(names):
            wanted.add((f"{target}.{name}" if target else name, level, True))
    return wanted


def _statement_start(text: str, position: int) -> int:
    """Where the physical line holding `position` starts, going back over lines that end
    with a line continuation (`\\`)."""
    start = max(text.rfind("\n", 0, position), text.rfind("\r", 0, position)) + 1
    while start > 1 and text[start - 1] in "\r\n":
        before = start - 1
        if text[before] == "\n" and before and text[before - 1] == "\r":
            before -= 1
        if not before or text[before - 1] != "\\":
            break
        start = max(text.rfind("\n", 0, before), text.rfind("\r", 0, before)) + 1
    return start


def _import_list(text: str, start: int) -> str:
    """The names after an `import` keyword that ends at `start`: up to the closing
    parenthesis of `(a, b)`, or to the end of the logical line (comments removed)."""
    paren = _OPEN_PAREN.match(text, start)
    position = paren.end() if paren else start
    parts = []
    while position < len(text):
        end = text.find("\n", position)
        if end < 0:
            end = len(text)
        line = _COMMENT.sub("", text[position:end])
        if paren:
            close = line.find(")")
            if close >= 0:
                parts.append(line[:close])
                break
            parts.append(line)
        else:
            parts.append(line)
            if not line.rstrip().endswith("\\"):
                break
        position = end + 1
    return " ".join(parts)


def _imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement, nested blocks included (imports are statements: no expression
    needs a visit, which makes this several times cheaper than `ast.walk`)."""
    found: list[ast.Import | ast.ImportFrom] = []
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
            continue
        for name in block_fields(type(node)):
            block = getattr(node, name)
            if block:
                stack.extend(reversed(block))
    found.reverse()
    return found
