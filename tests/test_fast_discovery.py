"""Discovery's fast paths (plain-name excludes as sets, string walks, per-folder .gitignore
chains) pick exactly the files a plain pathspec implementation picks."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pathspec
import pytest

from losslint.config import Config
from losslint.discovery import discover, is_excluded

TREE = [
    "a.py",
    "b.ipynb",
    "notes.txt",
    "anchored.py",
    "gen_x.py",
    "pkg/__init__.py",
    "pkg/mod.py",
    "pkg/mod_pb2.py",
    "pkg/anchored.py",
    "pkg/build/inner.py",
    "pkg/cache/c.py",
    "pkg/sub/deep/gen_y.py",
    "pkg/sub/deep/keep.py",
    "build/b.py",
    "build.py",
    "dist/d.py",
    ".venv/lib/site.py",
    "node_modules/n.py",
    "docs/conf.py",
    "docs/api/ref.py",
    "data/x.py",
    "data/keep.py",
    "scratch/s.py",
    "cache",  # a file named like a folder pattern
    "x.log.py",
]
GITIGNORES = {
    ".gitignore": "*.log.py\n/anchored.py\ndata/\n!data/keep.py\n# comment\n",
    "pkg/.gitignore": "sub/**/gen_*.py\nmod_pb2.py\n",
    "pkg/sub/.gitignore": "deep/keep.py\n",
    ".git/info/exclude": "scratch\n",
}
EXCLUDES = [
    (),
    ("cache/",),
    ("cache", "*_pb2.py"),
    ("docs/*.py", "pkg/build"),
    ("build", "!build"),
    ("/gen_x.py", "docs/**"),
    ("build.py/", "pkg/"),  # folders only: the file build.py stays
    ("build.py", "mod.py"),
]


def _make(root: Path) -> None:
    for name in TREE:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x = 1\n")
    for name, text in GITIGNORES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (root / "pyproject.toml").write_text("")
    (root / "link.py").symlink_to(root / "pkg" / "mod.py")
    (root / "broken.py").symlink_to(root / "missing.py")


def _reference(start: Path, config: Config) -> list[Path]:
    """Every pattern through pathspec, every path as a Path: the behaviour to keep."""
    root = config.root
    exclude = pathspec.GitIgnoreSpec.from_lines([*config.exclude, *config.extend_exclude])
    include = pathspec.GitIgnoreSpec.from_lines([*config.include, *config.extend_include])

    def rel(path: Path) -> str:
        try:
            return path.relative_to(root).as_posix()
        except ValueError:
            return path.name

    def excluded(path: Path, is_dir: bool) -> bool:
        text = rel(path)
        slash = "/" if is_dir else ""
        parts = Path(text).parts
        return (
            exclude.match_file(text + slash)
            or exclude.match_file(path.name + slash)
            or any(exclude.match_file("/".join(parts[:i]) + "/") for i in range(1, len(parts)))
        )

    def gitignored(path: Path, is_dir: bool) -> bool:
        if not config.respect_gitignore:
            return False
        inside = [p for p in path.parents if p == root or root in p.parents]
        for folder in inside or [path.parent]:  # outside the root: its own folder's
            lines = []
            for name in (".gitignore", ".git/info/exclude") if folder == root else (".gitignore",):
                if (folder / name).is_file():
                    lines += (folder / name).read_text().splitlines()
            spec = pathspec.GitIgnoreSpec.from_lines(lines)
            if spec.match_file(path.relative_to(folder).as_posix() + ("/" if is_dir else "")):
                return True
        return False

    found: list[Path] = []
    seen: set[str] = set()

    def walk(folder: Path) -> None:
        for entry in sorted(folder.iterdir(), key=lambda p: p.name):
            if entry.is_dir() and not entry.is_symlink():
                if not (excluded(entry, True) or gitignored(entry, True)):
                    walk(entry)
            elif include.match_file(entry.name) and entry.is_file():
                real = os.path.realpath(entry)
                if not (excluded(entry, False) or gitignored(entry, False)) and real not in seen:
                    seen.add(real)  # a file and a link to it: listed once
                    found.append(entry)

    walk(start)
    return found


@pytest.mark.parametrize("patterns", EXCLUDES)
@pytest.mark.parametrize("gitignore", [True, False])
@pytest.mark.parametrize("start", [".", "pkg", "pkg/sub", "build"])
def test_walks_match_the_pathspec_reference(
    tmp_path: Path, patterns: tuple[str, ...], gitignore: bool, start: str
) -> None:
    root = tmp_path.resolve()
    _make(root)
    config = replace(Config(root=root), extend_exclude=patterns, respect_gitignore=gitignore)
    expected = _reference(root / start, config)
    assert discover([root / start], config).files == expected
    if start == "." and not patterns and gitignore:  # the tree really exercises each rule
        names = {p.relative_to(root).as_posix() for p in expected}
        assert {"a.py", "b.ipynb", "link.py", "build.py", "pkg/__init__.py"} <= names
        assert "pkg/mod.py" not in names  # the same file as link.py, which comes first
        assert not names & {"build/b.py", "data/x.py", "anchored.py", "scratch/s.py"}
        assert "data/keep.py" not in names  # as in git: nothing comes back from a pruned folder
        assert not names & {"pkg/mod_pb2.py", "pkg/sub/deep/gen_y.py", "pkg/sub/deep/keep.py"}
        assert "notes.txt" not in names
        assert "pkg/anchored.py" in names  # `/anchored.py` is anchored at its .gitignore


def test_force_exclude_and_is_excluded_match_the_reference(tmp_path: Path) -> None:
    root = tmp_path.resolve()
    _make(root)
    config = replace(Config(root=root), extend_exclude=("cache", "*_pb2.py"))
    for name in ["pkg/build/inner.py", "pkg/mod_pb2.py", "data/x.py", "a.py", "pkg/cache/c.py"]:
        path = root / name
        in_reference = path in _reference(path.parent, config)
        kept = discover([path], config, force_exclude=True).files == [path]
        assert kept == in_reference == (not is_excluded(path, config)), name
    # named without --force-exclude: always linted
    assert discover([root / "build" / "b.py"], config).files == [root / "build" / "b.py"]


def test_a_folder_outside_the_root_matches_by_name(tmp_path: Path) -> None:
    root = (tmp_path / "root").resolve()
    other = (tmp_path / "other").resolve()
    for path in (root / "pyproject.toml", other / "x.py", other / "build" / "y.py"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")
    (other / ".gitignore").write_text("x.py\n")
    config = Config(root=root)
    assert discover([other], config).files == _reference(other, config) == []
    (other / ".gitignore").unlink()
    assert discover([other], config).files == _reference(other, config) == [other / "x.py"]


def test_each_file_once_and_symlinked_folders_not_followed(tmp_path: Path) -> None:
    root = tmp_path.resolve()
    _make(root)
    (root / "again").symlink_to(root / "pkg", target_is_directory=True)
    config = Config(root=root)
    files = discover([root, root / "pkg", root / "link.py"], config).files
    assert len({os.path.realpath(p) for p in files}) == len(files)
    assert not any("again" in p.parts for p in files)
