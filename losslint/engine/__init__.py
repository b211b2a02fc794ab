"""The engine: from files (or buffers) and a config to findings and fixed text. No printing.

`Session` is the one unit of work behind the CLI, the language server, the flake8 plugin,
runtime mode and the tests; `lint_paths` and `lint_source` are one-call conveniences over it.
"""

from __future__ import annotations

from pathlib import Path

from losslint.config import Config
from losslint.engine.session import (
    DEFAULT_OPTIONS,
    DiscoveredLoss,
    LintOptions,
    Session,
    enabled_for,
    filter_diagnostics,
)
from losslint.model import FileResult
from losslint.source import real_path


def lint_paths(
    files: list[Path],
    config: Config,
    options: LintOptions = DEFAULT_OPTIONS,
    overlays: dict[Path, bytes] | None = None,
    *,
    jobs: int = 1,
    cache: bool = False,
    explicit: list[Path] | tuple[Path, ...] = (),
) -> list[FileResult]:
    """Lint files as part of their project (see `Session.lint`)."""
    session = Session(config, overlays=overlays, cache=cache, jobs=jobs)
    return session.lint(files, options, explicit)


def lint_source(
    path: Path, data: bytes, config: Config, options: LintOptions = DEFAULT_OPTIONS
) -> FileResult:
    """Lint one buffer as if it were the file at `path` (which need not exist)."""
    session = Session(config, overlays={real_path(path): data})
    return session.lint([path], options, explicit=[path])[0]


def discover_losses(
    files: list[Path], config: Config, overlays: dict[Path, bytes] | None = None
) -> list[DiscoveredLoss]:
    """Every loss candidate whose function lives in one of `files` (for `--runtime-all`)."""
    return Session(config, overlays=overlays).discover_losses(files)


__all__ = [
    "DiscoveredLoss",
    "LintOptions",
    "Session",
    "discover_losses",
    "enabled_for",
    "filter_diagnostics",
    "lint_paths",
    "lint_source",
]
