"""The flake8 plugin (`flake8.extension` entry point `LL`): losslint's findings, lint only.

`flake8 --select LL paths...` reports what `losslint paths...` reports, at the same line and
column. losslint analyses a run's files as one project (a loss compiled in `train.py` makes
its reduction in `losses.py` a finding), so the plugin lints the files the CLI would lint
for flake8's path arguments once per process, and answers each file from that run; the
configuration comes from the checked file's own project. A file whose text differs from the
disk (stdin, with `--stdin-display-name`) is linted from flake8's `lines`, as
`losslint --stdin-filename NAME -` would, by the same engine session (only that file and the
files that import it are analysed again).

flake8 adds 1 to the column a plugin yields; losslint's columns are already 1-based, so the
plugin yields `column - 1` (TorchFix's plugin forgot this and is off by one).
"""

from __future__ import annotations

import argparse
import ast
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from losslint import __version__
from losslint.config import Config, load_config
from losslint.discovery import discover
from losslint.engine import LintOptions, Session, lint_source
from losslint.integrations.text import LINE_BREAK, resolved, saved_text, source_bytes
from losslint.model import Diagnostic

STDIN = "-"


def _same_text(a: str, b: str) -> bool:
    """Equal up to line endings (flake8 reads files with universal newlines)."""
    return LINE_BREAK.sub("\n", a) == LINE_BREAK.sub("\n", b)


class LosslintChecker:
    """flake8 calls `run()` once per file, with the file's AST, lines and name."""

    name = "losslint"
    version = __version__

    targets: ClassVar[tuple[str, ...]] = (".",)
    stdin_name: ClassVar[str] = "stdin"
    disable_noqa: ClassVar[bool] = False
    # per process: (config, path arguments) -> findings of the files the CLI would lint
    runs: ClassVar[dict[tuple[Config, tuple[str, ...]], dict[Path, tuple[Diagnostic, ...]]]] = {}
    sessions: ClassVar[dict[Config, Session]] = {}

    def __init__(self, tree: ast.AST, lines: list[str], filename: str) -> None:
        # flake8 passes a plugin the parameters it names; `tree` makes this an AST plugin.
        # The work is done here: flake8 reports an exception raised in the constructor (a
        # broken configuration) as a failed plugin, and one raised in `run()` as a traceback.
        self.lines = lines
        self.filename = filename
        self.findings = self.diagnostics()

    @classmethod
    def parse_options(cls, options: argparse.Namespace) -> None:
        cls.targets = tuple(getattr(options, "filenames", None) or ()) or (".",)
        cls.stdin_name = getattr(options, "stdin_display_name", None) or "stdin"
        cls.disable_noqa = bool(getattr(options, "disable_noqa", False))

    def run(self) -> Iterator[tuple[int, int, str, type[Any]]]:
        for d in self.findings:
            yield d.location.row, d.location.column - 1, f"{d.code} {d.message}", type(self)

    def diagnostics(self) -> tuple[Diagnostic, ...]:
        """This file's findings (a configuration error raises: flake8 then fails loudly)."""
        path = Path(os.path.abspath(self.filename))
        config = load_config(path)
        options = LintOptions(disable_noqa=self.disable_noqa)
        text = "".join(self.lines)
        if STDIN in self.targets and self.filename == self.stdin_name:
            return lint_source(path, source_bytes(text), config, options).diagnostics
        key = resolved(path)
        run = self._run(config, options)
        if key not in run:
            return ()  # not a file the CLI lints for these paths (excluded)
        on_disk = saved_text(key)
        if on_disk is None or _same_text(on_disk, text):
            return run[key]
        session = self._session(config)
        session.set_overlay(key, source_bytes(text))
        try:
            return session.lint([key], options)[0].diagnostics
        finally:
            session.set_overlay(key, None)

    @classmethod
    def _session(cls, config: Config) -> Session:
        """The engine session of a project (its analyses are reused for every file)."""
        if config not in cls.sessions:
            cls.sessions[config] = Session(config)
        return cls.sessions[config]

    @classmethod
    def _run(cls, config: Config, options: LintOptions) -> dict[Path, tuple[Diagnostic, ...]]:
        """Lint, once, the files of this project that the CLI would lint for flake8's paths."""
        key = (config, cls.targets)
        if key not in cls.runs:
            targets = [Path(t) for t in cls.targets if t != STDIN]
            found = discover(targets, config).files
            files = [p for p in found if resolved(p).is_relative_to(config.project)]
            results = cls._session(config).lint(files, options)
            cls.runs[key] = {r.path: r.diagnostics for r in results}
        return cls.runs[key]
