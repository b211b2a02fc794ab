"""Expanding command-line paths into the files to lint (excludes, .gitignore, symlinks).

Exclude patterns are gitignore-style. The usual ones are plain names (`build`, `.venv`,
`node_modules/`): those are answered with set lookups on path components, and only real globs
(and lists with `!` negations) go through pathspec. A folder walk keeps paths as strings
relative to the project root and hands `.gitignore` matching the part below each ignore file's
folder, so a file costs a few string operations.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from losslint.config import Config
from losslint.source import real_path, remember_real_path

if TYPE_CHECKING:
    import pathspec

# a pattern that matches a file or folder by its name alone (`build`, `.venv`, `dist/`)
_PLAIN = re.compile(r"(?!\.+/?$)[\w.+-]+/?")
_SUFFIX_GLOB = re.compile(r"\*\.[\w.-]+")


@dataclass
class Discovery:
    """Files to lint, in a stable order, and explicit paths that do not exist."""

    files: list[Path] = field(default_factory=list)
    missing: list[Path] = field(default_factory=list)


def _spec(lines: list[str]) -> pathspec.PathSpec:
    import pathspec

    return pathspec.GitIgnoreSpec.from_lines(lines)


class _Excludes:
    """`exclude` + `extend-exclude`: plain names as sets, globs with pathspec."""

    def __init__(self, patterns: list[str]) -> None:
        self.names: set[str] = set()  # files and folders with this name
        self.folders: set[str] = set()  # folders only (`name/`)
        globs: list[str] = []
        if any(p.startswith("!") for p in patterns):
            globs = patterns  # negations: the order matters, leave it all to pathspec
        else:
            for pattern in patterns:
                if _PLAIN.fullmatch(pattern):
                    if pattern.endswith("/"):
                        self.folders.add(pattern[:-1])
                    else:
                        self.names.add(pattern)
                else:
                    globs.append(pattern)
        self.any_folder = self.names | self.folders
        self.globs = _spec(globs) if globs else None

    def folder_chain(self, parts: tuple[str, ...]) -> bool:
        """Whether one of these folders (outermost first) is excluded by name."""
        return not self.any_folder.isdisjoint(parts)

    def matches(self, rel: str, name: str, is_dir: bool, parents_excluded: bool) -> bool:
        """Whether a path is excluded: `rel` relative to the root (or its name outside it),
        `parents_excluded` whether a folder above it is excluded by name."""
        if parents_excluded or name in (self.any_folder if is_dir else self.names):
            return True
        globs = self.globs
        if globs is None:
            return False
        slash = "/" if is_dir else ""
        if globs.match_file(rel + slash) or globs.match_file(name + slash):
            return True
        # a file inside a folder the globs exclude
        parts = rel.split("/")
        return any(globs.match_file("/".join(parts[:i]) + "/") for i in range(1, len(parts)))


class _Ignorer:
    """Answers 'is this path excluded?' from exclude patterns and nested .gitignore files."""

    def __init__(self, config: Config) -> None:
        self.root = real_path(config.root)
        self.root_str = str(self.root)
        self._root_prefix = self.root_str.rstrip(os.sep) + os.sep
        self.exclude = _Excludes([*config.exclude, *config.extend_exclude])
        patterns = [*config.include, *config.extend_include]
        # the usual `*.py`-style patterns need no glob matching: a suffix test is enough
        simple = all(_SUFFIX_GLOB.fullmatch(p) for p in patterns)
        self.include_suffixes = tuple(p[1:] for p in patterns) if simple else None
        self.include = None if simple else _spec(patterns)
        self.respect_gitignore = config.respect_gitignore
        self._gitignores: dict[str, pathspec.PathSpec | None] = {}

    def relative(self, path: str) -> str | None:
        """`path` relative to the root, `/`-separated ("." for the root); None outside it."""
        if path == self.root_str:
            return "."
        if path.startswith(self._root_prefix):
            rel = path[len(self._root_prefix) :]
            return rel if os.sep == "/" else rel.replace(os.sep, "/")
        return None

    def included(self, rel: str | None, name: str) -> bool:
        """Whether a file found in a folder walk matches `include`/`extend-include`."""
        if self.include_suffixes is not None:
            return name.endswith(self.include_suffixes)
        assert self.include is not None
        return self.include.match_file(rel if rel not in (None, ".") else name)

    def excluded(self, path: Path, is_dir: bool) -> bool:
        """Whether the exclude settings exclude a path (or a folder above it)."""
        absolute = os.fspath(path)
        rel = self.relative(absolute)
        if rel is None or rel == ".":
            rel = os.path.basename(absolute)
        parts = rel.split("/")
        return self.exclude.matches(
            rel, parts[-1], is_dir, self.exclude.folder_chain(tuple(parts[:-1]))
        )

    def spec(self, folder: str) -> pathspec.PathSpec | None:
        """The patterns of a folder's .gitignore (and .git/info/exclude at the root)."""
        if folder not in self._gitignores:
            spec = None
            lines: list[str] = []
            names = [".gitignore"]
            if folder == self.root_str:
                names.append(os.path.join(".git", "info", "exclude"))
            for name in names:
                try:
                    with open(os.path.join(folder, name), encoding="utf-8", errors="replace") as f:
                        lines.extend(f.read().splitlines())
                except OSError:
                    continue
            # a fresh `git init` leaves an exclude file of comments only: no spec, no pathspec
            if any(line.strip() and not line.startswith("#") for line in lines):
                spec = _spec(lines)
            self._gitignores[folder] = spec
        return self._gitignores[folder]

    def gitignore_chain(self, folder: str) -> list[tuple[int, pathspec.PathSpec]]:
        """The .gitignore files that apply to the entries of `folder`: (length of their
        folder's path plus one, spec), from the root down (inside the root), else its own."""
        if self.relative(folder) is None:
            chain = [folder]
        else:
            chain = []
            current = folder
            while True:
                chain.append(current)
                if current == self.root_str:
                    break
                current = os.path.dirname(current)
        found = []
        for each in reversed(chain):
            spec = self.spec(each)
            if spec is not None:
                found.append((len(each) + 1, spec))
        return found

    def gitignored(self, path: Path, is_dir: bool) -> bool:
        if not self.respect_gitignore:
            return False
        absolute = os.fspath(path)
        return _gitignored(
            absolute, is_dir, self.gitignore_chain(os.path.dirname(absolute)), os.sep
        )


def _gitignored(
    path: str, is_dir: bool, chain: list[tuple[int, pathspec.PathSpec]], sep: str
) -> bool:
    for start, spec in chain:
        rel = path[start:]
        if sep != "/":
            rel = rel.replace(sep, "/")
        if spec.match_file(rel + "/" if is_dir else rel):
            return True
    return False


@dataclass
class _Folder:
    """A folder being walked: where it is, and what its entries inherit."""

    path: str
    real: str  # its path with symlinks resolved
    rel: str | None  # relative to the root; None outside it
    excluded_above: bool  # a folder on its `rel` path is excluded by name
    gitignores: list[tuple[int, pathspec.PathSpec]]


def _walk(
    folder: _Folder, ignorer: _Ignorer, seen_dirs: set[tuple[int, int]]
) -> Iterator[tuple[str, str]]:
    """(path, real path) of the files to lint below a folder, sorted by name at each level."""
    try:
        info = os.stat(folder.path)
    except OSError:
        return
    key = (info.st_dev, info.st_ino)
    if key in seen_dirs:
        return
    seen_dirs.add(key)
    try:
        with os.scandir(folder.path) as scan:
            entries = sorted(scan, key=lambda e: e.name)
    except OSError:
        return
    exclude = ignorer.exclude
    inside = folder.rel is not None
    prefix = "" if folder.rel in (None, ".") else f"{folder.rel}/"
    gitignores = folder.gitignores if ignorer.respect_gitignore else []
    for entry in entries:
        name = entry.name
        try:
            is_dir = entry.is_dir(follow_symlinks=False)
            is_link = not is_dir and entry.is_symlink()
        except OSError:
            continue
        rel = prefix + name if inside else name
        if not is_dir and not ignorer.included(rel if inside else None, name):
            continue
        if exclude.matches(rel, name, is_dir, folder.excluded_above):
            continue
        if gitignores and _gitignored(entry.path, is_dir, gitignores, os.sep):
            continue
        real = os.path.join(folder.real, name)
        if is_dir:
            inner = gitignores
            if ignorer.respect_gitignore:
                spec = ignorer.spec(entry.path)
                if spec is not None:
                    start = len(entry.path) + 1
                    inner = [*gitignores, (start, spec)] if inside else [(start, spec)]
                elif not inside:
                    inner = []
            child = _Folder(entry.path, real, rel if inside else None, False, inner)
            yield from _walk(child, ignorer, seen_dirs)
            continue
        if is_link:
            try:
                target = os.stat(entry.path)
            except OSError:
                continue  # broken link or link loop found while walking: skip it
            if not stat.S_ISREG(target.st_mode):
                continue
            real = os.path.realpath(entry.path)
        elif not entry.is_file(follow_symlinks=False):
            continue  # FIFOs, sockets, devices
        yield entry.path, real


def _start(path: Path, ignorer: _Ignorer) -> _Folder:
    """The walk context of a folder named on the command line."""
    absolute = os.fspath(path)
    rel = ignorer.relative(absolute)
    parts = tuple(rel.split("/")) if rel not in (None, ".") else ()
    gitignores = ignorer.gitignore_chain(absolute) if ignorer.respect_gitignore else []
    return _Folder(
        absolute,
        os.path.realpath(absolute),
        rel,
        ignorer.exclude.folder_chain(parts),
        gitignores,
    )


def discover(paths: list[Path], config: Config, *, force_exclude: bool = False) -> Discovery:
    """Expand paths: folders are walked for the files `include` names (Python files and
    notebooks); explicit files are kept unless `force_exclude`."""
    ignorer = _Ignorer(config)
    result = Discovery()
    seen: set[str] = set()
    seen_dirs: set[tuple[int, int]] = set()

    for raw in paths:
        path = Path(os.path.abspath(raw))
        if path.is_dir():
            if force_exclude and path != ignorer.root and ignorer.excluded(path, True):
                continue
            for found, real in _walk(_start(path, ignorer), ignorer, seen_dirs):
                if real not in seen:
                    seen.add(real)
                    file = Path(found)
                    remember_real_path(found, file if real == found else real)
                    result.files.append(file)
        elif path.exists() or path.is_symlink():
            if force_exclude and (ignorer.excluded(path, False) or ignorer.gitignored(path, False)):
                continue
            try:
                key = str(real_path(path))
            except (OSError, RuntimeError):
                key = str(path)
            if key not in seen:
                seen.add(key)
                result.files.append(path)
        else:
            result.missing.append(path)
    return result


def is_excluded(path: Path, config: Config) -> bool:
    """Whether the exclude settings or .gitignore exclude a (possibly non-existent) file."""
    ignorer = _Ignorer(config)
    absolute = Path(os.path.abspath(path))
    return ignorer.excluded(absolute, False) or ignorer.gitignored(absolute, False)
