"""What the language server lints: open documents, one engine session per project
configuration, the outcome of linting one document, and the runtime check of one finding.

Used by `losslint.integrations.lsp_server`; the same `Session.lint` call as the CLI.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from losslint.config import Config, ConfigError, load_config
from losslint.discovery import is_excluded
from losslint.engine import LintOptions, Session
from losslint.frozen import frozen
from losslint.integrations.lsp_notebook import NotebookCells
from losslint.integrations.text import source_bytes
from losslint.model import Diagnostic, FileResult
from losslint.notebook import Notebook, NotebookError
from losslint.notebook_lint import map_to_cells
from losslint.source import forget_paths

logger = logging.getLogger("losslint.lsp")


@frozen
class Document:
    """An open buffer: the text the editor holds (or a notebook's cells), and the file it is
    linted as."""

    uri: str
    path: Path
    text: str
    version: int | None
    cells: NotebookCells | None = None

    @property
    def state(self) -> object:
        """What the editor holds: any change to it is an edit (a notebook: its cells)."""
        return self.text if self.cells is None else self.cells.cells

    @property
    def data(self) -> bytes:
        """The buffer as the engine reads the file (a notebook: its virtual module)."""
        return source_bytes(self.text) if self.cells is None else self.cells.notebook.virtual_bytes


@frozen
class Outcome:
    """Linting one document: findings (a notebook's in its cells), or the problem that kept
    it from being linted."""

    state: object
    diagnostics: tuple[Diagnostic, ...] = ()
    problem: str | None = None
    fixed_text: str | None = None
    fixed_cells: dict[int, str] | None = None  # a notebook's fixed cells, by cell index


class Sessions:
    """The engine sessions of the projects the open documents belong to, one per
    configuration (used from the lint thread only)."""

    def __init__(self) -> None:
        self.sessions: dict[Config, Session] = {}

    def lint(
        self,
        path: Path,
        state: object,
        overlays: dict[Path, bytes],
        fix: bool = False,
        notebook: Notebook | None = None,
    ) -> Outcome:
        """Lint one buffer with its project's configuration (runs in the lint thread).

        `state` is what the editor holds (returned in the outcome); a notebook's virtual
        module is in `overlays` and `notebook` maps its results to cells. A broken
        configuration or an internal error is returned as a problem to show, never as a clean
        result; a file the configuration excludes gets no findings (like
        `losslint --force-exclude`, which editors and pre-commit use).
        """
        try:
            config = load_config(path)
        except ConfigError as exc:
            return Outcome(state, problem=f"invalid configuration: {exc}")
        try:
            if is_excluded(path, config):
                logger.info("%s is excluded by the configuration", path)
                return Outcome(state)
            session = self.sessions.get(config)
            if session is None:  # a new project, or its configuration changed
                session = self.sessions[config] = Session(config)
            for stale in set(session.overlays) - set(overlays):
                session.set_overlay(stale, None)  # closed: the file on disk counts again
            for buffer, data in overlays.items():
                session.set_overlay(buffer, data)
            result = session.lint([path], LintOptions(fix=fix))[0]
            session.internal_errors.clear()  # this file's own are in its diagnostics
            if notebook is not None:
                return _notebook_outcome(state, result, notebook, config)
        except Exception as exc:
            logger.exception("linting %s failed", path)
            return Outcome(state, problem=f"internal error: {type(exc).__name__}: {exc}")
        return Outcome(state, result.diagnostics, fixed_text=result.fixed_source)

    def files_changed(self) -> None:
        """Files were created, deleted or renamed: walk the projects and resolve paths again."""
        forget_paths()
        for session in self.sessions.values():
            session.forget_project_files()


def _notebook_outcome(
    state: object, result: FileResult, notebook: Notebook, config: Config
) -> Outcome:
    """A notebook's outcome: findings in cells, and the fixed cells (none when a fix cannot
    be written back to the cells, as `losslint --fix` leaves such a notebook unfixed)."""
    fixed_cells = None
    if result.fixed_source is not None:
        try:
            fixed_cells = notebook.fixed_cells(result.fixed_source)
        except NotebookError as exc:
            logger.info("%s: not fixed: %s", result.path, exc.message)
    mapped = map_to_cells(result, notebook, config.root)
    return Outcome(state, mapped.diagnostics, fixed_cells=fixed_cells)


def confirm_under_tensorflow(path: Path, text: str, diagnostic: Diagnostic) -> dict[str, Any]:
    """Run one finding's loss under TensorFlow (`losslint --runtime`); returns its verdict.

    Runs in the runtime thread. Afterwards a new worker starts importing TensorFlow, so the
    next request finds it ready (the runtime worker is kept warm between requests).
    """
    from losslint.runtime import require_tensorflow, verify

    try:
        config = load_config(path)
        result = FileResult(path=path, diagnostics=(diagnostic,), source=text)
        [checked] = verify([result], config, show_refuted=True, quiet=True)
        runtime = next((d.runtime for d in checked.diagnostics if d.runtime), None)
        require_tensorflow(prestart=True)
    except Exception as exc:
        logger.exception("runtime check of %s failed", diagnostic.function)
        return {"verdict": "inconclusive", "detail": f"{type(exc).__name__}: {exc}"}
    return runtime or {"verdict": "inconclusive", "detail": "the runtime gave no verdict"}


def runtime_note(runtime: dict[str, Any]) -> str:
    """The verdict as the text format appends it to a message."""
    detail = runtime.get("detail")
    return f" [runtime: {runtime.get('verdict')}" + (f": {detail}" if detail else "") + "]"
