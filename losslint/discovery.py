"""Expanding command-line paths into the files to lint (excludes, .gitignore, symlinks)."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pathspec

from losslint.config import Config
from losslint.source import real_path


@dataclass
class Discovery:
    """Files to lint, in a stable order, and explicit paths that do not exist."""

    files: list[Path] = field(default_factory=list)
    missing: list[Path] = field(default_factory=list)


class _Ignorer:
    """Answers 'is this path excluded?' from exclude globs and nested .gitignore files."""

    def __init__(self, config: Config) -> None:
        self.root = real_path(config.root)
        self.exclude = pathspec.GitIgnoreSpec.from_lines([*config.exclude, *config.extend_exclude])
        patterns = [*config.include, *config.extend_include]
        self.include = pathspec.GitIgnoreSpec.from_lines(patterns)
        # the usual `*.py`-style patterns need no glob matching: a suffix test is enough
        simple = all(re.fullmatch(r"\*\.[\w.-]+", p) for p in patterns)
        self.include_suffixes = tuple(p[1:] for p in patterns) if simple else None
        self.respect_gitignore = config.respect_gitignore
        self._gitignores: dict[Path, pathspec.PathSpec | None] = {}

    def _relative(self, path: Path) -> str | None:
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return None

    def included(self, path: Path) -> bool:
        """Whether a file found in a folder walk matches `include`/`extend-include`."""
        if self.include_suffixes is not None:
            return path.name.endswith(self.include_suffixes)
        rel = self._relative(path)
        return self.include.match_file(rel if rel not in (None, ".") else path.name)

    def excluded(self, path: Path, is_dir: bool) -> bool:
        rel = self._relative(path)
        if rel is None or rel == ".":
            rel = path.name
        candidate = rel + "/" if is_dir else rel
        if self.exclude.match_file(candidate) or self.exclude.match_file(
            path.name + ("/" if is_dir else "")
        ):
            return True
        # a file inside an excluded folder given explicitly
        parts = Path(rel).parts
        return any(self.exclude.match_file("/".join(parts[:i]) + "/") for i in range(1, len(parts)))

    def _spec(self, folder: Path) -> pathspec.PathSpec | None:
        if folder not in self._gitignores:
            spec = None
            lines: list[str] = []
            for name in (".gitignore",) + ((".git/info/exclude",) if folder == self.root else ()):
                try:
                    lines.extend((folder / name).read_text("utf-8", errors="replace").splitlines())
                except OSError:
                    continue
            if lines:
                spec = pathspec.GitIgnoreSpec.from_lines(lines)
            self._gitignores[folder] = spec
        return self._gitignores[folder]

    def gitignored(self, path: Path, is_dir: bool) -> bool:
        if not self.respect_gitignore:
            return False
        folders = [p for p in path.parents if p == self.root or self.root in p.parents]
        if not folders:
            folders = [path.parent]
        for folder in folders:
            spec = self._spec(folder)
            if spec is None:
                continue
            rel = path.relative_to(folder).as_posix() + ("/" if is_dir else "")
            if spec.match_file(rel):
                return True
        return False


def _walk(folder: Path, ignorer: _Ignorer, seen_dirs: set[tuple[int, int]]) -> Iterator[Path]:
    try:
        info = os.stat(folder)
    except OSError:
        return
    key = (info.st_dev, info.st_ino)
    if key in seen_dirs:
        return
    seen_dirs.add(key)
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        path = Path(entry.path)
        try:
            is_dir = entry.is_dir(follow_symlinks=False)
            is_link = entry.is_symlink()
        except OSError:
            continue
        if is_dir:
            if ignorer.excluded(path, True) or ignorer.gitignored(path, True):
                continue
            yield from _walk(path, ignorer, seen_dirs)
            continue
        if not ignorer.included(path):
            continue
        if ignorer.excluded(path, False) or ignorer.gitignored(path, False):
            continue
        if is_link:
            try:
                target = os.stat(path)
            except OSError:
                continue  # broken link or link loop found while walking: skip it
            if not stat.S_ISREG(target.st_mode):
                continue
        elif not entry.is_file(follow_symlinks=False):
            continue  # FIFOs, sockets, devices
        yield path


def discover(paths: list[Path], config: Config, *, force_exclude: bool = False) -> Discovery:
    """Expand paths: folders are walked for the files `include` names (Python files and
    notebooks); explicit files are kept unless `force_exclude`."""
    ignorer = _Ignorer(config)
    result = Discovery()
    seen: set[Path] = set()
    seen_dirs: set[tuple[int, int]] = set()

    def add(path: Path) -> None:
        absolute = Path(os.path.abspath(path))
        try:
            key = real_path(absolute)
        except (OSError, RuntimeError):
            key = absolute
        if key not in seen:
            seen.add(key)
            result.files.append(absolute)

    for raw in paths:
        path = Path(os.path.abspath(raw))
        if path.is_dir():
            if force_exclude and path != ignorer.root and ignorer.excluded(path, True):
                continue
            for found in _walk(path, ignorer, seen_dirs):
                add(found)
        elif path.exists() or path.is_symlink():
            if force_exclude and (ignorer.excluded(path, False) or ignorer.gitignored(path, False)):
                continue
            add(path)
        else:
            result.missing.append(path)
    return result


def is_excluded(path: Path, config: Config) -> bool:
    """Whether the exclude settings or .gitignore exclude a (possibly non-existent) file."""
    ignorer = _Ignorer(config)
    absolute = Path(os.path.abspath(path))
    return ignorer.excluded(absolute, False) or ignorer.gitignored(absolute, False)
