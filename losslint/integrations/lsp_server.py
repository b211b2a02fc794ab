"""The Language Server behind `losslint-lsp` (pygls): diagnostics and code actions.

A document is linted the way the CLI lints the saved file, with the configuration found from
its path and every open buffer as an overlay (so imports resolve against unsaved text and the
files on disk). One engine `Session` per project configuration lives as long as the server:
it keeps every file's analysis, so an edit re-analyses only the edited buffer and the files
that import it. Diagnostics are published on open, after a change (debounced), and on save
(when every other open document is re-checked too, since the files it depends on may have
changed); created or deleted files (`workspace/didChangeWatchedFiles`) make the sessions walk
their projects again. Code actions: one quick fix per fixable finding (its `fix.edits`;
unsafe ones say so), a `# noqa: LLxxx` suppression, and `source.fixAll.losslint`, which
applies the safe fixes the way `losslint --fix` does, and, with TensorFlow installed,
"confirm under TensorFlow" (`losslint --runtime` for one finding).
Notebooks (LSP 3.17 notebook synchronisation, `lsp_notebook`) are linted as their virtual
module, like the CLI lints an .ipynb file, and their findings published on each cell's URI.
Linting runs in one worker thread and the runtime in another, so the protocol stays
responsive.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method
from pygls.uris import to_fs_path

from losslint import __version__
from losslint.integrations.lsp_notebook import SYNC_OPTIONS as NOTEBOOK_SYNC
from losslint.integrations.lsp_notebook import (
    NotebookCells,
    apply_content_changes,
    noqa_in_cell,
)
from losslint.integrations.lsp_sessions import (
    Document,
    Outcome,
    Sessions,
    confirm_under_tensorflow,
    runtime_note,
)
from losslint.integrations.noqa import noqa_edit
from losslint.integrations.text import (
    UTF16,
    LineIndex,
    minimal_edit,
    resolved,
    saved_text,
)
from losslint.model import Applicability, Diagnostic, Edit
from losslint.notebook import is_notebook
from losslint.reporters.json_format import to_dict
from losslint.runtime import tensorflow_available

FIX_ALL_KIND = "source.fixAll.losslint"
CONFIRM_COMMAND = "losslint.confirmUnderTensorFlow"
QUICK_FIX = types.CodeActionKind.QuickFix.value
DEFAULT_DEBOUNCE_MS = 20
SCHEMES = ("file", "untitled")
SUFFIXES = (".py", ".pyi")
SEVERITIES = {
    "error": types.DiagnosticSeverity.Error,
    "warning": types.DiagnosticSeverity.Warning,
    "info": types.DiagnosticSeverity.Information,
    "information": types.DiagnosticSeverity.Information,
    "hint": types.DiagnosticSeverity.Hint,
}

logger = logging.getLogger("losslint.lsp")
T = TypeVar("T")
Span = tuple[int, int, str]  # start and end offsets (code points) and the new text
Target = tuple[str, int | None, LineIndex]  # a document's URI, version and text's line index


def diagnostic_key(d: Diagnostic) -> tuple[Any, ...]:
    return (
        d.code,
        d.function,
        d.location.row,
        d.location.column,
        d.end_location.row,
        d.end_location.column,
    )


def wanted(kind: str, only: Sequence[str] | None) -> bool:
    """Whether a code action of `kind` matches the client's `only` filter (kinds are prefixes)."""
    return only is None or any(kind == k or kind.startswith(f"{k}.") for k in only)


def _attr(value: Any, *names: str) -> Any:
    for name in names:
        value = getattr(value, name, None)
    return value


class LosslintProtocol(LanguageServerProtocol):
    """pygls' protocol, except that didChange leaves text synchronisation to the server.

    pygls applies incremental changes to lines split by `str.splitlines`, which also breaks
    at form feeds and U+2028 (LSP breaks only at CR, LF and CRLF), and it rewrites a change's
    position in place when that split disagrees; `LosslintServer` applies changes itself, to
    text documents and to notebook cells alike.
    """

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: types.DidChangeTextDocumentParams) -> Any:
        handler = self.fm.features.get(types.TEXT_DOCUMENT_DID_CHANGE)
        if handler is not None:
            yield handler, (params,), None

    @lsp_method(types.NOTEBOOK_DOCUMENT_DID_CHANGE)
    def lsp_notebook_document__did_change(
        self, params: types.DidChangeNotebookDocumentParams
    ) -> Any:
        """Notebook cells' text edits too (`lsp_notebook.NotebookCells.changed`)."""
        handler = self.fm.features.get(types.NOTEBOOK_DOCUMENT_DID_CHANGE)
        if handler is not None:
            yield handler, (params,), None


class LosslintServer:
    """The server's state and handlers (registered on a pygls `LanguageServer`)."""

    def __init__(self) -> None:
        self.server = LanguageServer(
            "losslint",
            __version__,
            text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
            notebook_document_sync=NOTEBOOK_SYNC,
            protocol_cls=LosslintProtocol,
        )
        self.documents: dict[str, Document] = {}  # by URI: text documents and notebooks
        self.cell_notebooks: dict[str, str] = {}  # cell URI -> its notebook's URI
        self.published_cells: dict[str, set[str]] = {}  # notebook URI -> cells with findings
        self.outcomes: dict[str, Outcome] = {}
        self.timers: dict[str, asyncio.TimerHandle] = {}
        self.tasks: set[asyncio.Future[Any]] = set()
        self.running: dict[str, tuple[object, asyncio.Future[Outcome | None]]] = {}
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="losslint-lint")
        self.sessions = Sessions()
        self.debounce = DEFAULT_DEBOUNCE_MS / 1000
        self.document_changes = False
        self.resolve_edits = False
        self.shown: set[str] = set()
        self.root: Path | None = None
        self.runtime_available = tensorflow_available()
        self.runtime_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="losslint-tf")
        # per document: the text the verdicts hold for, and the verdicts by finding
        self.verdicts: dict[str, tuple[str, dict[tuple[Any, ...], dict[str, Any]]]] = {}
        # pygls marks handlers with attributes, which bound methods cannot carry: partials can
        handlers: list[tuple[str, Callable[..., Any], Any]] = [
            (types.INITIALIZE, self.initialize, None),
            (types.TEXT_DOCUMENT_DID_OPEN, self.did_open, None),
            (types.TEXT_DOCUMENT_DID_CHANGE, self.did_change, None),
            (types.TEXT_DOCUMENT_DID_SAVE, self.did_save, None),
            (types.TEXT_DOCUMENT_DID_CLOSE, self.did_close, None),
            (types.NOTEBOOK_DOCUMENT_DID_OPEN, self.did_open_notebook, None),
            (types.NOTEBOOK_DOCUMENT_DID_CHANGE, self.did_change_notebook, None),
            (types.NOTEBOOK_DOCUMENT_DID_SAVE, self.did_save, None),
            (types.NOTEBOOK_DOCUMENT_DID_CLOSE, self.did_close_notebook, None),
            (types.WORKSPACE_DID_CHANGE_WATCHED_FILES, self.did_change_watched_files, None),
            (
                types.TEXT_DOCUMENT_CODE_ACTION,
                self.code_action,
                types.CodeActionOptions(
                    code_action_kinds=[types.CodeActionKind.QuickFix, FIX_ALL_KIND],
                    resolve_provider=True,
                ),
            ),
            (types.CODE_ACTION_RESOLVE, self.resolve_code_action, None),
        ]
        for method, handler, options in handlers:
            self.server.feature(method, options)(functools.partial(handler))
        if self.runtime_available:
            self.server.command(CONFIRM_COMMAND)(functools.partial(self.confirm))

    # -- protocol handlers ------------------------------------------------------------------

    def initialize(self, params: types.InitializeParams) -> None:
        caps = params.capabilities
        self.document_changes = bool(_attr(caps, "workspace", "workspace_edit", "document_changes"))
        properties = _attr(caps, "text_document", "code_action", "resolve_support", "properties")
        self.resolve_edits = "edit" in (properties or ())
        folders = params.workspace_folders or []
        root_uri = folders[0].uri if folders else params.root_uri
        root = to_fs_path(root_uri) if root_uri else params.root_path
        self.root = Path(root) if root else None
        options = params.initialization_options
        if isinstance(options, dict) and "debounce" in options:
            value = options["debounce"]
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
                self.debounce = value / 1000
            else:
                self._show(f"`debounce` must be a number of milliseconds, not {value!r}")

    async def did_open(self, params: types.DidOpenTextDocumentParams) -> None:
        item = params.text_document
        path = self._path(item.uri, item.language_id)
        if path is None:
            return
        self.documents[item.uri] = Document(item.uri, path, item.text, item.version)
        self.outcomes.pop(item.uri, None)
        await self._lint(item.uri)

    async def did_change(self, params: types.DidChangeTextDocumentParams) -> None:
        uri = params.text_document.uri
        doc = self.documents.get(uri)
        if doc is None:
            return
        text = apply_content_changes(doc.text, params.content_changes, self.encoding)
        self.documents[uri] = replace(doc, text=text, version=params.text_document.version)
        self._schedule(uri, self.debounce)

    async def did_save(self, params: types.DidSaveTextDocumentParams) -> None:
        self._refresh_all()

    async def did_close(self, params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        timer = self.timers.pop(uri, None)
        if timer is not None:
            timer.cancel()
        self.outcomes.pop(uri, None)
        if self.documents.pop(uri, None) is not None:
            self.server.text_document_publish_diagnostics(
                types.PublishDiagnosticsParams(uri=uri, diagnostics=[])
            )

    async def did_open_notebook(self, params: types.DidOpenNotebookDocumentParams) -> None:
        item = params.notebook_document
        path = self._notebook_path(item.uri)
        if path is None:
            return
        cells = NotebookCells.opened(params)
        self.documents[item.uri] = Document(item.uri, path, "", item.version, cells)
        self._track_cells(item.uri, cells)
        self.outcomes.pop(item.uri, None)
        await self._lint(item.uri)

    async def did_change_notebook(self, params: types.DidChangeNotebookDocumentParams) -> None:
        uri = params.notebook_document.uri
        doc = self.documents.get(uri)
        if doc is None or doc.cells is None:
            return
        cells = doc.cells.changed(params.change, self.encoding)
        self.documents[uri] = replace(doc, cells=cells, version=params.notebook_document.version)
        self._track_cells(uri, cells)
        self._schedule(uri, self.debounce)

    async def did_close_notebook(self, params: types.DidCloseNotebookDocumentParams) -> None:
        uri = params.notebook_document.uri
        timer = self.timers.pop(uri, None)
        if timer is not None:
            timer.cancel()
        self.outcomes.pop(uri, None)
        if self.documents.pop(uri, None) is not None:
            self._track_cells(uri, None)
            for cell in sorted(self.published_cells.pop(uri, set())):
                self.server.text_document_publish_diagnostics(
                    types.PublishDiagnosticsParams(uri=cell, diagnostics=[])
                )

    def _track_cells(self, uri: str, cells: NotebookCells | None) -> None:
        """Which notebook each cell URI belongs to (code actions arrive for cells)."""
        for cell, notebook in list(self.cell_notebooks.items()):
            if notebook == uri:
                del self.cell_notebooks[cell]
        for cell in cells.cells if cells is not None else ():
            self.cell_notebooks[cell.uri] = uri

    async def did_change_watched_files(self, params: types.DidChangeWatchedFilesParams) -> None:
        if any(change.type != types.FileChangeType.Changed for change in params.changes):
            await self._run(self.sessions.files_changed)  # in the lint thread, between lints
        self._refresh_all()

    async def code_action(self, params: types.CodeActionParams) -> list[types.CodeAction] | None:
        uri = params.text_document.uri
        if uri in self.cell_notebooks:
            return await self._cell_code_actions(params)
        if uri not in self.documents:
            return None
        outcome = await self._lint(uri)
        doc = self.documents.get(uri)
        if outcome is None or doc is None or doc.state != outcome.state:
            return None
        only = params.context.only
        index = LineIndex(doc.text)
        start, end = params.range.start, params.range.end
        lo = index.from_lsp(start.line, start.character, self.encoding)
        hi = index.from_lsp(end.line, end.character, self.encoding)
        target = (doc.uri, doc.version, index)
        fixes, suppressions = self._finding_actions(
            target, outcome.diagnostics, lo, hi, only, self._verdicts(doc)
        )
        actions = fixes + suppressions + self._confirm_actions(doc, outcome, index, lo, hi, only)
        return actions + await self._fix_all_action(doc, outcome, only)

    async def _cell_code_actions(
        self, params: types.CodeActionParams
    ) -> list[types.CodeAction] | None:
        """A notebook cell's actions: its findings' quick fixes and suppressions (edits in the
        cell), and `source.fixAll.losslint` for the whole notebook."""
        uri = params.text_document.uri
        notebook_uri = self.cell_notebooks[uri]
        outcome = await self._lint(notebook_uri)
        doc = self.documents.get(notebook_uri)
        if outcome is None or doc is None or doc.cells is None or doc.state != outcome.state:
            return None
        found = doc.cells.cell(uri)
        if found is None or found[1].text is None:
            return None
        number, cell = found
        code = next((c for c in doc.cells.notebook.code_cells if c.cell == number), None)
        if code is None:
            return None
        only = params.context.only
        index = LineIndex(cell.text)
        start, end = params.range.start, params.range.end
        lo = index.from_lsp(start.line, start.character, self.encoding)
        hi = index.from_lsp(end.line, end.character, self.encoding)
        fixes, suppressions = self._finding_actions(
            (cell.uri, cell.version, index),
            [d for d in outcome.diagnostics if d.cell == number],
            lo,
            hi,
            only,
            noqa=functools.partial(noqa_in_cell, code),
        )
        return fixes + suppressions + await self._fix_all_action(doc, outcome, only)

    def _finding_actions(
        self,
        target: Target,
        diagnostics: Iterable[Diagnostic],
        lo: int,
        hi: int,
        only: Sequence[str] | None,
        verdicts: dict[tuple[Any, ...], dict[str, Any]] | None = None,
        noqa: Callable[[int, str], Edit | None] | None = None,
    ) -> tuple[list[types.CodeAction], list[types.CodeAction]]:
        """Quick fixes and `# noqa` suppressions of the findings between offsets `lo` and
        `hi` of the target's text (`noqa`: the suppression edit of a row and a code)."""
        uri, version, index = target
        fixes: list[types.CodeAction] = []
        suppressions: list[types.CodeAction] = []
        for diagnostic in diagnostics:
            first, last = index.offset(diagnostic.location), index.offset(diagnostic.end_location)
            if first > hi or last < lo or not wanted(QUICK_FIX, only):
                continue
            lsp_diagnostic = self._diagnostic(diagnostic, index, verdicts)
            fix = diagnostic.fix
            if fix is not None:
                safe = fix.applicability is Applicability.SAFE
                spans = [
                    (index.offset(e.location), index.offset(e.end_location), e.content)
                    for e in fix.edits
                ]
                fixes.append(
                    types.CodeAction(
                        title=f"losslint ({diagnostic.code}): {fix.message}"
                        + ("" if safe else " (unsafe fix)"),
                        kind=types.CodeActionKind.QuickFix,
                        diagnostics=[lsp_diagnostic],
                        edit=self._edit([(uri, version, index, spans)]),
                        is_preferred=safe,
                    )
                )
            if noqa is not None:
                edit = noqa(diagnostic.noqa_row, diagnostic.code)
            else:
                edit = noqa_edit(index.text, diagnostic.noqa_row, diagnostic.code)
            if edit is not None and diagnostic.code != "LL000":
                span = (index.offset(edit.location), index.offset(edit.end_location), edit.content)
                suppressions.append(
                    types.CodeAction(
                        title=f"losslint ({diagnostic.code}): Suppress with "
                        f"`# noqa: {diagnostic.code}`",
                        kind=types.CodeActionKind.QuickFix,
                        diagnostics=[lsp_diagnostic],
                        edit=self._edit([(uri, version, index, [span])]),
                    )
                )
        return fixes, suppressions

    async def _fix_all_action(
        self, doc: Document, outcome: Outcome, only: Sequence[str] | None
    ) -> list[types.CodeAction]:
        """`source.fixAll.losslint` when the document has a safe fix (edit resolved lazily
        when the client can resolve it)."""
        if not wanted(FIX_ALL_KIND, only) or not any(
            d.fix is not None and d.fix.applicability is Applicability.SAFE
            for d in outcome.diagnostics
        ):
            return []
        fix_all = types.CodeAction(
            title="losslint: Fix all safe fixes",
            kind=FIX_ALL_KIND,
            data={"uri": doc.uri, "version": doc.version},
        )
        if not self.resolve_edits:
            fix_all = await self.resolve_code_action(fix_all)
        return [fix_all] if self.resolve_edits or fix_all.edit is not None else []

    def _confirm_actions(
        self,
        doc: Document,
        outcome: Outcome,
        index: LineIndex,
        lo: int,
        hi: int,
        only: Sequence[str] | None,
    ) -> list[types.CodeAction]:
        """ "Confirm under TensorFlow" for the findings in range (saved files only: the runtime
        rebuilds modules from the files on disk)."""
        if not self.runtime_available or not wanted(QUICK_FIX, only):
            return []
        known = self._verdicts(doc)
        candidates = [
            d
            for d in outcome.diagnostics
            if d.target is not None
            and diagnostic_key(d) not in known
            and index.offset(d.location) <= hi
            and index.offset(d.end_location) >= lo
        ]
        if not candidates:
            return []
        if saved_text(doc.path) != doc.text:
            return []
        return [
            types.CodeAction(
                title=f"losslint ({d.code}): Confirm under TensorFlow (runs `{d.function}`)",
                kind=types.CodeActionKind.QuickFix,
                diagnostics=[self._diagnostic(d, index, known)],
                command=types.Command(
                    title="Confirm under TensorFlow",
                    command=CONFIRM_COMMAND,
                    arguments=[
                        {"uri": doc.uri, "version": doc.version, "key": list(diagnostic_key(d))}
                    ],
                ),
            )
            for d in candidates
        ]

    async def confirm(self, *arguments: Any) -> dict[str, Any] | None:
        """`losslint.confirmUnderTensorFlow`: run a finding's loss, show the verdict in its
        message and `data.runtime`, and return the verdict."""
        request = arguments[0] if arguments and isinstance(arguments[0], dict) else {}
        doc = self.documents.get(request.get("uri", ""))
        outcome = self.outcomes.get(doc.uri) if doc is not None else None
        if doc is None or outcome is None or outcome.state != doc.state:
            self._show("the file changed since that action was offered: ask again", info=True)
            return None
        key = tuple(request.get("key", ()))
        diagnostic = next((d for d in outcome.diagnostics if diagnostic_key(d) == key), None)
        if diagnostic is None:
            return None
        runtime = await asyncio.get_running_loop().run_in_executor(
            self.runtime_executor, confirm_under_tensorflow, doc.path, doc.text, diagnostic
        )
        current = self.documents.get(doc.uri)
        if current is None or current.text != doc.text:
            return runtime  # edited meanwhile: the verdict was for the old text
        text, verdicts = self.verdicts.get(doc.uri, (doc.text, {}))
        if text != doc.text:
            verdicts = {}
        verdicts[key] = runtime
        self.verdicts[doc.uri] = (doc.text, verdicts)
        known = self.outcomes.get(doc.uri)
        if known is not None and known.state == current.state:
            self._publish(current, known)
        return runtime

    def _verdicts(self, doc: Document) -> dict[tuple[Any, ...], dict[str, Any]]:
        """Runtime verdicts that hold for the document's current text (any edit drops them)."""
        text, verdicts = self.verdicts.get(doc.uri, ("", {}))
        return verdicts if text == doc.text else {}

    async def resolve_code_action(self, action: types.CodeAction) -> types.CodeAction:
        """Compute `source.fixAll.losslint`'s edit: the engine's `--fix` on the buffer."""
        data = action.data if isinstance(action.data, dict) else {}
        doc = self.documents.get(data.get("uri", ""))
        if action.kind != FIX_ALL_KIND or doc is None or doc.version != data.get("version"):
            return action
        notebook = doc.cells.notebook if doc.cells is not None else None
        outcome = await self._run(
            self.sessions.lint, doc.path, doc.state, self._overlays(), fix=True, notebook=notebook
        )
        if self.documents.get(doc.uri) != doc:
            return action
        if doc.cells is not None and outcome.fixed_cells:
            changes = []
            for number, fixed in sorted(outcome.fixed_cells.items()):
                cell = doc.cells.cells[number - 1]
                text = cell.text or ""
                changes.append(
                    (cell.uri, cell.version, LineIndex(text), [minimal_edit(text, fixed)])
                )
            action.edit = self._edit(changes)
        elif doc.cells is None and outcome.fixed_text is not None:
            index = LineIndex(doc.text)
            edit = [minimal_edit(doc.text, outcome.fixed_text)]
            action.edit = self._edit([(doc.uri, doc.version, index, edit)])
        return action

    # -- linting ---------------------------------------------------------------------------

    @property
    def encoding(self) -> str:
        """The position encoding pygls negotiated with the client (UTF-16 by default)."""
        try:
            value = self.server.workspace.position_encoding
        except RuntimeError:
            return UTF16
        return str(getattr(value, "value", value) or UTF16)

    def _uri_path(self, uri: str, untitled_suffix: str) -> Path | None:
        """The file a `file:` URI names; an unsaved new buffer (`untitled:`) is linted as a
        file of its name in the workspace; None for other schemes."""
        parsed = urlparse(uri)
        if parsed.scheme not in SCHEMES:
            return None
        if parsed.scheme == "file":
            fs_path = to_fs_path(uri)
            return Path(fs_path) if fs_path else None
        name = Path(parsed.path).name or "untitled"
        return (self.root or Path(os.getcwd())) / f"{name}{untitled_suffix}"

    def _path(self, uri: str, language_id: str | None) -> Path | None:
        """The file a document is linted as, or None for documents losslint does not lint."""
        path = self._uri_path(uri, ".py")
        if path is None or (language_id != "python" and path.suffix not in SUFFIXES):
            return None
        return resolved(path)

    def _notebook_path(self, uri: str) -> Path | None:
        """The .ipynb file a notebook is linted as, or None for notebooks losslint skips."""
        path = self._uri_path(uri, "")
        if path is None:
            return None
        return resolved(path if is_notebook(path) else path.with_name(path.name + ".ipynb"))

    def _overlays(self) -> dict[Path, bytes]:
        return {doc.path: doc.data for doc in self.documents.values()}

    async def _run(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self.executor, functools.partial(function, *args, **kwargs)
        )

    def _schedule(self, uri: str, delay: float, force: bool = False) -> None:
        """Lint a document after `delay` seconds without another change (a debounce)."""
        timer = self.timers.pop(uri, None)
        if timer is not None:
            timer.cancel()

        def start() -> None:
            self.timers.pop(uri, None)
            task = asyncio.ensure_future(self._lint(uri, force))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

        self.timers[uri] = asyncio.get_running_loop().call_later(delay, start)

    def _refresh_all(self) -> None:
        for uri in list(self.documents):
            self._schedule(uri, 0, force=True)

    async def _lint(self, uri: str, force: bool = False) -> Outcome | None:
        """Lint a document's current text and publish; None if it changed meanwhile.

        One lint per document at a time: a call made while one runs shares it when it lints
        the newest text, else waits for it and then lints the newest text, so a burst of
        edits never queues lints of stale text. `force` lints again even if the text is
        unchanged (files on disk may have changed).
        """
        while True:
            doc = self.documents.get(uri)
            if doc is None:
                return None
            known = self.outcomes.get(uri)
            if known is not None and known.state == doc.state and not force:
                return known
            running = self.running.get(uri)
            if running is None:
                break
            state, future = running
            if future.done():
                self._finished(uri, future)
            elif state == doc.state and not force:
                return await asyncio.shield(future)
            else:
                await asyncio.wait([future])
        future = asyncio.ensure_future(self._lint_once(doc))
        self.running[uri] = (doc.state, future)
        future.add_done_callback(functools.partial(self._finished, uri))
        return await asyncio.shield(future)

    def _finished(self, uri: str, future: asyncio.Future[Outcome | None]) -> None:
        running = self.running.get(uri)
        if running is not None and running[1] is future:
            del self.running[uri]

    async def _lint_once(self, doc: Document) -> Outcome | None:
        started = time.perf_counter()
        notebook = doc.cells.notebook if doc.cells is not None else None
        outcome = await self._run(
            self.sessions.lint, doc.path, doc.state, self._overlays(), notebook=notebook
        )
        linted = time.perf_counter()
        current = self.documents.get(doc.uri)
        if current is None or current.state != outcome.state:
            return None  # edited meanwhile: the new text has its own lint scheduled
        self.outcomes[doc.uri] = outcome
        self._publish(current, outcome)
        logger.info(
            "%s: linted in %.1f ms, published in %.1f ms",
            doc.path,
            (linted - started) * 1000,
            (time.perf_counter() - linted) * 1000,
        )
        return outcome

    # -- conversions -----------------------------------------------------------------------

    def _publish(self, doc: Document, outcome: Outcome) -> None:
        if doc.cells is not None:
            self._publish_cells(doc, doc.cells, outcome)
            return
        index = LineIndex(doc.text)
        known = self._verdicts(doc)
        diagnostics = [self._diagnostic(d, index, known) for d in outcome.diagnostics]
        if outcome.problem is not None:
            diagnostics.insert(0, self._problem(outcome.problem))
        self.server.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(
                uri=doc.uri, diagnostics=diagnostics, version=doc.version
            )
        )

    def _publish_cells(self, doc: Document, cells: NotebookCells, outcome: Outcome) -> None:
        """A notebook's findings on its cells' URIs, in cell positions; an empty list for
        every other code cell, and for cells that had findings and left the notebook."""
        by_cell: dict[str, list[types.Diagnostic]] = {uri: [] for uri in cells.code_uris}
        for diagnostic in outcome.diagnostics:
            if diagnostic.cell is None or not 1 <= diagnostic.cell <= len(cells.cells):
                continue  # a notebook without code cells
            cell = cells.cells[diagnostic.cell - 1]
            index = LineIndex(cell.text or "")
            by_cell.setdefault(cell.uri, []).append(self._diagnostic(diagnostic, index))
        if outcome.problem is not None and cells.code_uris:
            by_cell[cells.code_uris[0]].insert(0, self._problem(outcome.problem))
        versions = {cell.uri: cell.version for cell in cells.cells}
        for uri in sorted(self.published_cells.get(doc.uri, set()) - set(by_cell)):
            self.server.text_document_publish_diagnostics(
                types.PublishDiagnosticsParams(uri=uri, diagnostics=[])
            )
        for uri, diagnostics in by_cell.items():
            self.server.text_document_publish_diagnostics(
                types.PublishDiagnosticsParams(
                    uri=uri, diagnostics=diagnostics, version=versions.get(uri)
                )
            )
        self.published_cells[doc.uri] = {uri for uri, found in by_cell.items() if found}

    def _problem(self, problem: str) -> types.Diagnostic:
        """The diagnostic that says a document could not be checked (also shown, once)."""
        self._show(problem)
        return types.Diagnostic(
            range=types.Range(types.Position(0, 0), types.Position(0, 0)),
            message=f"losslint could not check this file: {problem}",
            severity=types.DiagnosticSeverity.Error,
            source="losslint",
        )

    def _diagnostic(
        self,
        diagnostic: Diagnostic,
        index: LineIndex,
        verdicts: dict[tuple[Any, ...], dict[str, Any]] | None = None,
    ) -> types.Diagnostic:
        runtime = (verdicts or {}).get(diagnostic_key(diagnostic))
        if runtime is not None:
            diagnostic = replace(diagnostic, runtime=runtime)
        data = to_dict(diagnostic)
        start = index.lsp_position(diagnostic.location, self.encoding)
        end = max(start, index.lsp_position(diagnostic.end_location, self.encoding))
        url = data.get("url")
        severity = SEVERITIES.get(str(data.get("severity", "")).lower())
        if diagnostic.code == "LL000":
            severity = types.DiagnosticSeverity.Error
        return types.Diagnostic(
            range=types.Range(types.Position(*start), types.Position(*end)),
            message=diagnostic.message + (runtime_note(runtime) if runtime else ""),
            severity=severity or types.DiagnosticSeverity.Warning,
            code=diagnostic.code,
            code_description=types.CodeDescription(href=url) if url else None,
            source="losslint",
            data=data,
        )

    def _edit(
        self, changes: Iterable[tuple[str, int | None, LineIndex, Iterable[Span]]]
    ) -> types.WorkspaceEdit:
        """A workspace edit of (uri, version, line index of its text, spans) per document."""
        by_uri = {
            uri: (
                version,
                [
                    types.TextEdit(
                        range=types.Range(
                            types.Position(*index.to_lsp(lo, self.encoding)),
                            types.Position(*index.to_lsp(hi, self.encoding)),
                        ),
                        new_text=content,
                    )
                    for lo, hi, content in spans
                ],
            )
            for uri, version, index, spans in changes
        }
        if self.document_changes:
            return types.WorkspaceEdit(
                document_changes=[
                    types.TextDocumentEdit(
                        text_document=types.OptionalVersionedTextDocumentIdentifier(
                            uri=uri, version=version
                        ),
                        edits=list(edits),
                    )
                    for uri, (version, edits) in by_uri.items()
                ]
            )
        return types.WorkspaceEdit(changes={uri: edits for uri, (_, edits) in by_uri.items()})

    def _show(self, message: str, info: bool = False) -> None:
        """Tell the user about a problem, once (it also stays in the file's diagnostics)."""
        if not info:
            if message in self.shown:
                return
            self.shown.add(message)
        kind = types.MessageType.Info if info else types.MessageType.Error
        self.server.window_show_message(
            types.ShowMessageParams(type=kind, message=f"losslint: {message}")
        )


def serve(log_file: Path | None = None, log_level: str = "WARNING") -> None:
    """Run the server over stdin/stdout until the client exits."""
    logging.basicConfig(
        filename=log_file,
        level=log_level,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    out = sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print must never corrupt the protocol stream
    server = LosslintServer()
    # as in the CLI: analysis builds many small acyclic objects, so collect rarely (and keep
    # the server's own start-up objects out of the collector's way); see bench/LSP.md
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)
    try:
        server.server.start_io(sys.stdin.buffer, out)
    finally:
        with contextlib.suppress(Exception):
            server.executor.shutdown(wait=False, cancel_futures=True)
            server.runtime_executor.shutdown(wait=False, cancel_futures=True)
