"""The import hook of runtime mode: project modules are imported definitions-only.

`ProjectImporter` finds modules under the project's roots and builds them with
`losslint.runtime.rebuild.definitions_only`; everything else (standard library, installed
packages) imports as usual. A project top-level module named like a standard-library or
installed one (`code`, `types`, `utils`) is imported under a private name (`PRIVATE_SUFFIX`),
and the project's imports of it are rewritten to that name.

A module's import-time patches of framework modules (`K.where = where`) are applied while the
module is loaded and undone when it is forgotten (`undo_patches` after each loss), so that no
patch outlives the job that needed it.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import inspect
import linecache
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from losslint.analysis.catalogue import load as load_catalogue
from losslint.frozen import frozen
from losslint.runtime.allowlist import FRAMEWORKS
from losslint.runtime.rebuild import (
    Failed,
    Rebuilt,
    definitions_only,
    prepare_namespace,
)

PRIVATE_SUFFIX = "__losslint_project"  # a project module named like another one: `code` -> this
IN_MEMORY_SUFFIX = " (losslint: in-memory text)"


def package_root(path: Path, levels: int = 0) -> Path:
    """The folder a module's dotted name is relative to (above its last `__init__.py`, and at
    least `levels` folders up when the module's relative imports need that many packages)."""
    folder = path.parent
    depth = 0
    while folder.parent != folder and ((folder / "__init__.py").is_file() or depth < levels):
        folder = folder.parent
        depth += 1
    return folder


def relative_levels(source: str) -> int:
    """The number of packages a module's relative imports need (`from ..x import y`: 2)."""
    if "from ." not in source:
        return 0
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return 0
    return max((n.level for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)), default=0)


def module_name(path: Path, levels: int = 0) -> str:
    """The dotted name a file is imported under when its package root is on `sys.path`."""
    rel = path.relative_to(package_root(path, levels)).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts) or path.stem


# a name a statement needed and did not get: undefined, or not importable from a project module
_UNDEFINED = re.compile(r"(?:NameError: name|ImportError: cannot import name) '(\w+)'")


def _identifier(stem: str) -> str:
    """A module name for a file stem that is none (`wgan-mnist-5.1.2` -> `wgan_mnist_5_1_2`)."""
    name = re.sub(r"\W", "_", stem)
    return name if name.isidentifier() else f"_{name}"


def raised_in(exc: BaseException) -> str | None:
    """The file of the innermost frame an exception was raised in."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb.tb_frame.f_code.co_filename if tb is not None else None


@dataclass
class LoadedModule:
    """A module the importer built: its file, the filtered tree and its guarded failures."""

    path: Path | None
    rebuilt: Rebuilt | None
    failed: list[Failed]
    deps: frozenset[str] = frozenset()  # modules its import statements name


@frozen
class Patch:
    """An import-time patch a project module applied: `target.name = value`, and what was there."""

    module: str  # the project module that applied it
    target: ModuleType
    name: str
    existed: bool
    old: Any


class ProjectImporter(importlib.abc.MetaPathFinder):
    """Imports project modules (files under `root`) definitions-only; everything else as usual.

    `overrides` maps files to text used instead of their content on disk (fixed sources, and a
    notebook's virtual module: its code cells as one Python text). Calling `activate` with
    different overrides forgets the modules built from other texts and every module that
    imports them; the others are reused.
    """

    def __init__(
        self,
        root: Path,
        search_paths: Sequence[Path],
        library_aliases: dict[str, str] | None = None,
        moved_modules: dict[str, str] | None = None,
    ) -> None:
        self.root = root.resolve()
        self.search_paths = [p.resolve() for p in search_paths]
        # installed modules project code gets instead of others (`keras` -> `tf_keras`)
        self.library_aliases = dict(library_aliases or {})
        # old module names of those libraries and where they live now (`keras.objectives`)
        self.moved_modules = dict(moved_modules or {})
        self._clash: dict[str, bool] = {}
        self.overrides: dict[Path, str] = {}
        self.loaded: dict[str, LoadedModule] = {}
        self.roots: dict[Path, frozenset[str]] = {}  # extra names needed per file
        self._built_roots: dict[Path, frozenset[str]] = {}
        self.builds: dict[
            tuple[str, str, frozenset[str], str], tuple[Rebuilt, Any, frozenset[str]]
        ] = {}
        # module name -> a file no import statement can name (see `load_path`)
        self.unnamed: dict[str, Path] = {}
        self.patches: list[Patch] = []  # applied, oldest first
        self._trees: dict[str, ast.Module] = {}  # source text -> its tree (see `tree`)

    def install(self) -> None:
        if self not in sys.meta_path:
            sys.meta_path.insert(0, self)

    def uninstall(self) -> None:
        self.forget()
        if self in sys.meta_path:
            sys.meta_path.remove(self)

    def forget(self, paths: Iterable[Path] | None = None) -> None:
        """Forget the modules built from `paths` (all when None) and the modules importing them."""
        if paths is None:
            dirty = set(self.loaded)
        else:
            wanted = set(paths)
            dirty = {name for name, loaded in self.loaded.items() if loaded.path in wanted}
            grew = True
            while grew:
                grew = False
                for name, loaded in self.loaded.items():
                    if name not in dirty and loaded.deps & dirty:
                        dirty.add(name)
                        grew = True
        self._undo(dirty)
        for name in dirty:
            module = sys.modules.pop(name, None)
            parent_name, _, last = name.rpartition(".")
            parent = sys.modules.get(parent_name) if parent_name else None
            if module is not None and getattr(parent, last, None) is module:
                delattr(parent, last)  # else `from pkg import mod` would find the old one
            loaded = self.loaded.pop(name)
            if loaded.path is not None:
                self._built_roots.pop(loaded.path, None)
        importlib.invalidate_caches()

    def patch(self, module: str, target: Any, name: str, value: Any) -> None:
        """Apply project module `module`'s import-time `target.name = value`: only a function or
        class, only onto a framework module (`keras.backend`, `tf`); recorded for `_undo`."""
        if not (isinstance(target, ModuleType) and target.__name__.split(".")[0] in FRAMEWORKS):
            raise TypeError(f"`{name}`: only framework modules are patched, not {target!r}")
        if not (inspect.isroutine(value) or inspect.isclass(value)):
            raise TypeError(f"`{name}`: only functions and classes are patched in")
        existed = name in vars(target)
        self.patches.append(Patch(module, target, name, existed, vars(target).get(name)))
        setattr(target, name, value)

    def _undo(self, modules: set[str]) -> None:
        """Undo the patches of these project modules, newest first."""
        kept: list[Patch] = []
        for patch in reversed(self.patches):
            if patch.module not in modules:
                kept.append(patch)
            elif patch.existed:
                setattr(patch.target, patch.name, patch.old)
            else:
                vars(patch.target).pop(patch.name, None)
        self.patches = kept[::-1]

    def undo_patches(self) -> None:
        """Undo every import-time patch, forgetting the modules that applied them (they patch
        again when they are next imported)."""
        names = {patch.module for patch in self.patches}
        paths = {self.loaded[n].path for n in names if n in self.loaded}
        self.forget({p for p in paths if p is not None})
        self._undo(names)  # modules no longer loaded (forgotten without their path)

    def activate(self, overrides: dict[Path, str]) -> None:
        """Use these file texts from now on (forgetting modules built from other texts).

        `linecache` gets the same texts, so that tools reading a function's source
        (`inspect.getsource`, `tf.function`'s autograph) see what is executed.
        """
        overrides = {p.resolve(): text for p, text in overrides.items()}
        if overrides == self.overrides:
            return
        changed = {
            p for p in {*overrides, *self.overrides} if overrides.get(p) != self.overrides.get(p)
        }
        self.forget(changed)
        for path in self.overrides:
            linecache.cache.pop(self.code_filename(path), None)
        self.overrides = overrides
        for path, text in overrides.items():
            name = self.code_filename(path)
            linecache.cache[name] = (len(text), None, text.splitlines(True), name)

    def set_roots(self, roots: dict[Path, Iterable[str]]) -> None:
        """Names callers will use per file (compile-site names): see `load_path`."""
        for path, names in roots.items():
            resolved = path.resolve()
            self.roots[resolved] = self.roots.get(resolved, frozenset()) | frozenset(names)

    def code_filename(self, path: Path) -> str:
        """The file name code from `path` is compiled under.

        Text that differs from the file on disk gets a name that does not exist on disk, so
        that nothing (tracebacks, `inspect`, TensorFlow's autograph) re-reads the disk file.
        """
        resolved = path.resolve()
        return f"{resolved}{IN_MEMORY_SUFFIX}" if resolved in self.overrides else str(resolved)

    @staticmethod
    def path_for(filename: str) -> Path:
        """The file behind a code file name (see `code_filename`)."""
        return Path(filename.removesuffix(IN_MEMORY_SUFFIX))

    # names ---

    def _project_top(self, top: str) -> bool:
        """Whether the project has a top-level module or package `top`. A folder without
        `__init__.py` counts only when no other module has the name: as in Python, a regular
        module anywhere beats a namespace folder (a project's `keras/` folder of scripts is
        not `keras`)."""
        if any(
            self._exists(base / top / "__init__.py") or self._exists(base / f"{top}.py")
            for base in self.search_paths
        ):
            return True
        return any((base / top).is_dir() for base in self.search_paths) and not self.clashes(top)

    def clashes(self, top: str) -> bool:
        """Whether a project top-level module shares its name with a standard-library or
        installed module (then it is imported under a private name: see `rename`)."""
        if top not in self._clash:
            found = top in sys.stdlib_module_names or (
                top in sys.modules and top not in self.loaded
            )
            if not found:
                outside = [
                    entry
                    for entry in sys.path
                    if entry
                    and not self._inside(Path(entry))
                    and Path(entry).resolve() != self.root
                ]
                try:
                    found = importlib.machinery.PathFinder.find_spec(top, outside) is not None
                except (ImportError, ValueError):
                    found = False
            self._clash[top] = found
        return self._clash[top]

    def rename(self, dotted: str) -> str | None:
        """The module an absolute import of `dotted` (a top-level name, or a full name for
        library aliases) loads instead, or None for itself."""
        top = dotted.split(".")[0]
        if top.endswith(PRIVATE_SUFFIX):
            return None
        if self._project_top(top):
            return f"{dotted}{PRIVATE_SUFFIX}" if "." not in dotted and self.clashes(top) else None
        alias = self.library_aliases.get(top)
        if alias is None:
            return None
        dotted = self.moved_modules.get(dotted, dotted)
        new = alias + dotted[len(top) :]
        if "." in dotted and importlib.util.find_spec(new.split(".")[0]) is not None:
            try:
                if importlib.util.find_spec(new) is None:
                    raise ImportError(new)
            except (ImportError, ValueError):  # Keras 2's `keras.engine`: `tf_keras.src.engine`
                new = f"{alias}.src{dotted[len(top) :]}"
        return new

    def internal_name(self, public: str) -> str:
        """The name a project module is imported under (see `rename`)."""
        top, dot, rest = public.partition(".")
        if self._project_top(top) and self.clashes(top):
            return f"{top}{PRIVATE_SUFFIX}{dot}{rest}"
        return public

    @staticmethod
    def public_name(internal: str) -> str:
        top, dot, rest = internal.partition(".")
        return f"{top.removesuffix(PRIVATE_SUFFIX)}{dot}{rest}"

    def _installed_twin(self, public: str, path: Path) -> ModuleType | None:
        """The installed module `public` when its file is byte-identical to `path` (the
        project is a copy of an installed package, as when linting a package's own source)."""
        parts = public.split(".")
        try:
            spec = importlib.machinery.PathFinder.find_spec(parts[0])
            for index in range(1, len(parts)):
                if spec is None or not spec.submodule_search_locations:
                    return None
                name = ".".join(parts[: index + 1])
                spec = importlib.machinery.PathFinder.find_spec(
                    name, list(spec.submodule_search_locations)
                )
            if spec is None or not spec.origin or not Path(spec.origin).is_file():
                return None
            origin = Path(spec.origin).resolve()
            if not {"site-packages", "dist-packages"} & set(origin.parts) or self._inside(origin):
                return None  # only a real installed copy, never the project itself
            if (
                path.resolve() in self.overrides
                or Path(spec.origin).read_bytes() != path.read_bytes()
            ):
                return None
            return importlib.import_module(public)
        except (ImportError, OSError, ValueError):
            return None

    # finder ---

    def _inside(self, path: Path) -> bool:
        resolved = path.resolve()
        if "site-packages" in resolved.parts or "dist-packages" in resolved.parts:
            return False
        return resolved == self.root or self.root in resolved.parents

    def _exists(self, path: Path) -> bool:
        return path.resolve() in self.overrides or path.is_file()

    def locate(self, fullname: str) -> tuple[Path, bool] | None:
        """(file or package folder, is_package) for a project module name, or None."""
        if fullname in self.unnamed:
            return self.unnamed[fullname], False
        parent, _, last = fullname.rpartition(".")
        if parent:
            if parent not in self.loaded:
                return None
            module = sys.modules.get(parent)
            bases = [Path(p) for p in getattr(module, "__path__", []) or []]
        else:
            bases = self.search_paths
            last = self.public_name(last)
        for base in bases:
            init = base / last / "__init__.py"
            if self._exists(init) and self._inside(init):
                return init, True
            single = base / f"{last}.py"
            if self._exists(single) and self._inside(single):
                return single, False
        for base in bases:
            folder = base / last
            if folder.is_dir() and self._inside(folder) and folder.resolve() != self.root:
                return folder, True
        return None

    def is_project_import(self, name: str, level: int) -> bool:
        if level:
            return True
        top = name.split(".")[0]
        if not top:
            return False
        if top in self.loaded or top.endswith(PRIVATE_SUFFIX):
            return True
        return any(
            self._exists(base / top / "__init__.py") or self._exists(base / f"{top}.py")
            for base in self.search_paths
        )

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        top = fullname.split(".")[0]
        if not top.endswith(PRIVATE_SUFFIX) and top not in self.loaded and self.clashes(top):
            return None  # the standard-library or installed module; the project's is private
        found = self.locate(fullname)
        if found is None:
            return None
        location, is_package = found
        if location.is_dir():  # a namespace package, unless a regular one exists elsewhere
            if (
                importlib.machinery.PathFinder.find_spec(fullname, path) is not None
                and "." not in fullname
            ):
                return None
            spec = importlib.machinery.ModuleSpec(fullname, None, is_package=True)
            spec.submodule_search_locations = [str(location)]
            self.loaded[fullname] = LoadedModule(None, None, [])
            return spec
        loader = _DefinitionsLoader(self, location.resolve())
        return importlib.util.spec_from_file_location(
            fullname,
            location,
            loader=loader,
            submodule_search_locations=[str(location.parent)] if is_package else None,
        )

    def explain_missing(
        self, name: str, module_file: str | None = None, _depth: int = 0
    ) -> str | None:
        """Why a top-level name is missing from the rebuilt modules, when they tell (and why
        a name that statement needed is missing: `class Tagger(Layer)` after a failed
        `from keras.engine import Layer`, or `from .layers import Tagger` after that).
        `module_file`: the file of the module that lacks it (two notebooks may both bind it);
        a failed binding there explains more than one runtime mode left out."""
        failures: list[tuple[int, str, Failed]] = []
        left_out: str | None = None
        modules = [(m.path, m) for m in self.loaded.values() if m.path is not None]
        wanted = self.path_for(module_file).resolve() if module_file else None
        own = [(path, m) for path, m in modules if wanted and path.resolve() == wanted]
        # raised in a library's code (no rebuilt module's): any rebuilt module may explain it
        for path, loaded in own or modules:
            where = path.name
            for failure in loaded.failed:
                if name in failure.names:
                    needed = _UNDEFINED.match(failure.error)
                    # where the name was made comes before where it was only imported
                    imported = needed is not None and needed.group(1) == name
                    failures.append((int(imported), where, failure))
            for dropped in loaded.rebuilt.dropped if loaded.rebuilt else ():
                if name in dropped.names and left_out is None:
                    left_out = (
                        f"`{name}` is bound by a top-level statement runtime mode does not run "
                        f"({where}:{dropped.line}: {dropped.reason})"
                    )
        if left_out is not None and (not own or not failures):
            return left_out
        if not failures:
            return None
        _, where, failure = min(failures, key=lambda item: item[0])
        text = f"`{name}` ({where}:{failure.line}) failed to load: {failure.error}"
        needed = _UNDEFINED.match(failure.error)
        if needed and needed.group(1) != name and _depth < 3:
            cause = self.explain_missing(needed.group(1), _depth=_depth + 1)
            if cause is not None:
                text += f", as {cause}"
        return text

    def source(self, path: Path) -> str:
        resolved = path.resolve()
        if resolved in self.overrides:
            return self.overrides[resolved]
        return importlib.util.decode_source(resolved.read_bytes())

    def tree(self, path: Path) -> ast.Module:
        """`source(path)` parsed, once per text: looking up a loss's definition, its factory's
        returns and its hints all read the same module. The tree is shared: do not change it.
        Raises OSError, SyntaxError or ValueError as reading and parsing do."""
        text = self.source(path)
        if text not in self._trees:
            self._trees[text] = ast.parse(text)
        return self._trees[text]

    def load_path(self, path: Path, roots: Iterable[str] = ()) -> ModuleType:
        """The definitions-only module for a project file (importing its packages first).

        `roots` are names the caller will use (a compile-site expression's names): top-level
        assignments they need are kept as if a definition referred to them.
        """
        path = path.resolve()
        levels = relative_levels(self.source(path))
        public = module_name(path, levels)
        if path.suffix != ".ipynb" and not path.stem.isidentifier():
            # `wgan-mnist-5.1.2.py`: no import names it, and its dots are no packages
            public = public[: len(public) - len(path.stem)] + _identifier(path.stem)
        root = package_root(path, levels)
        if self.clashes(public.split(".")[0]):
            twin = self._installed_twin(public, path)
            if twin is not None:
                return twin
        name = self.internal_name(public)
        if path.suffix == ".ipynb" or not path.stem.isidentifier():
            self.unnamed[name] = path  # nothing imports a notebook or a `train-v2.py`
        # this file's own project first: two projects linted together may both have a `train`
        if root in self.search_paths:
            self.search_paths.remove(root)
        self.search_paths.insert(0, root)
        wanted = self.roots.get(path, frozenset()) | frozenset(roots)
        self.roots[path] = wanted
        module = sys.modules.get(name)
        current = self.loaded.get(name)
        if (
            module is not None
            and current is not None
            and current.path == path
            and wanted <= self._built_roots.get(path, frozenset())
        ):
            return module
        if current is not None:  # another file under this name, or more names needed
            self.forget({current.path} if current.path is not None else None)
        imported = importlib.import_module(name)
        if getattr(imported, "__file__", None) and Path(imported.__file__).resolve() == path:
            return imported
        raise ImportError(f"`{name}` resolves to {getattr(imported, '__file__', '?')}, not {path}")


def _imported_modules(tree: ast.Module, package: str) -> frozenset[str]:
    """Absolute names of the modules (and their parents) a module's imports may bind."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                try:
                    base = importlib.util.resolve_name("." * node.level + base, package)
                except (ImportError, ValueError):
                    continue
            found = [base, *(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")]
        else:
            continue
        for name in found:
            parts = name.split(".")
            names.update(".".join(parts[: i + 1]) for i in range(len(parts)))
    return frozenset(n for n in names if n)


class _DefinitionsLoader(importlib.abc.Loader):
    def __init__(self, importer: ProjectImporter, path: Path) -> None:
        self.importer = importer
        self.path = path

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        text = self.importer.source(self.path)
        roots = self.importer.roots.get(self.path, frozenset())
        filename = self.importer.code_filename(self.path)
        package = (
            module.__name__
            if self.path.name == "__init__.py"
            else module.__name__.rpartition(".")[0]
        )
        key = (filename, text, roots, module.__name__)
        built = self.importer.builds.get(key)
        if built is None:  # the same text is built once, however often it is re-executed
            rebuilt = definitions_only(
                text, str(self.path), self.importer.is_project_import, roots, self.importer.rename
            )
            code = compile(rebuilt.tree, filename, "exec", dont_inherit=True)
            built = (rebuilt, code, _imported_modules(rebuilt.tree, package))
            self.importer.builds[key] = built
        rebuilt, code, deps = built
        self.importer._built_roots[self.path] = roots
        name = module.__name__
        failed = prepare_namespace(
            module.__dict__,
            lambda target, attr, value: self.importer.patch(name, target, attr, value),
        )
        self.importer.loaded[module.__name__] = LoadedModule(self.path, rebuilt, failed, deps)
        exec(code, module.__dict__)
        bound = {n for d in rebuilt.dropped for n in d.names} | {n for f in failed for n in f.names}
        _conventional_names(module.__dict__, text, bound)


def _conventional_names(namespace: dict[str, Any], text: str, bound: set[str]) -> None:
    """`np.`, `tf.`, `K.` read but never bound (a snippet `%load`ed into a notebook that
    imported them, or Keras 2's star imports): the conventional modules, as the analysis reads
    them (catalogue `[conventional_names]`). A name a left-out or failed statement binds
    (`bound`) is not one of them."""
    for name, target in load_catalogue().conventional_names.items():
        if name in namespace or name in bound:
            continue
        if re.search(rf"(?<![\w.]){name}\.", text):
            with contextlib.suppress(ImportError):
                namespace[name] = importlib.import_module(target)
