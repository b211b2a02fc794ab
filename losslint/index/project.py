"""The project index: one per run, parsing project modules on demand and resolving imports."""

from __future__ import annotations

import ast
from pathlib import Path

from losslint.index.modules import ModuleInfo, module_name_for
from losslint.source import SourceError, SourceText, check_syntax, decode, read_bytes, real_path


class ProjectIndex:
    """Maps files to parsed modules and dotted import names to project files.

    Only files inside the project root are ever loaded: imports of installed packages
    (TensorFlow, Keras, ...) stay external names. `overlays` hold unsaved or fixed text that
    replaces a file's content on disk.
    """

    def __init__(self, root: Path, overlays: dict[Path, bytes] | None = None) -> None:
        self.root = real_path(root)
        self.overlays = {real_path(p): data for p, data in (overlays or {}).items()}
        self._by_path: dict[Path, ModuleInfo | None] = {}
        self._sources: dict[Path, SourceText] = {}
        self._errors: dict[Path, SourceError] = {}
        self._asts: dict[Path, ast.Module] = {}

    def source(self, path: Path) -> SourceText:
        """The decoded text of a file (or of its overlay); raises SourceError."""
        key = real_path(path)
        if key in self._errors:
            raise self._errors[key]
        if key not in self._sources:
            try:
                raw = self.overlays[key] if key in self.overlays else read_bytes(path)
                self._sources[key] = decode(path, raw)
            except SourceError as exc:
                self._errors[key] = exc
                raise
        return self._sources[key]

    def remember_ast(self, path: Path, tree: ast.Module) -> None:
        """Keep a parse made elsewhere (the gate's syntax check) so the file is parsed once."""
        self._asts[real_path(path)] = tree

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
        self._by_path.pop(key, None)
        self._sources.pop(key, None)
        self._errors.pop(key, None)
        self._asts.pop(key, None)

    # import resolution -------------------------------------------------------------------

    def _search_roots(self, importer: Path) -> list[Path]:
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
        return path == self.root or self.root in path.parents

    def _file_for(self, base: Path, dotted_name: str) -> Path | None:
        if not dotted_name:
            init = base / "__init__.py"
            return init if init.is_file() else None
        target = base.joinpath(*dotted_name.split("."))
        for path in (target.with_suffix(".py"), target / "__init__.py"):
            if self._inside(real_path(path)) and (
                path.is_file() or real_path(path) in self.overlays
            ):
                return path
        return None

    def resolve_module(self, importer: ModuleInfo, name: str, level: int = 0) -> ModuleInfo | None:
        """The project module an import names (absolute or relative), or None if external."""
        if level:
            base = importer.path.parent
            for _ in range(level - 1):
                base = base.parent
            path = self._file_for(base, name)
            return self.module(path) if path else None
        for root in self._search_roots(importer.path):
            path = self._file_for(root, name)
            if path is not None and real_path(path) != importer.path:
                return self.module(path)
        return None

    def is_project_package_dir(self, importer: ModuleInfo, name: str, level: int = 0) -> bool:
        """True when `name` is a namespace package (a folder without `__init__.py`) here."""
        if level:
            return False
        for root in self._search_roots(importer.path):
            folder = root.joinpath(*name.split("."))
            if folder.is_dir() and self._inside(real_path(folder)) and folder != self.root:
                return True
        return False
