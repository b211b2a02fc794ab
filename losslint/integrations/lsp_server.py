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
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method
from pygls.uris import to_fs_path

from losslint import __version__
from losslint.config import Config, ConfigError, load_config
from losslint.discovery import is_excluded
from losslint.engine import LintOptions, Session
from losslint.integrations.noqa import noqa_edit
from losslint.integrations.text import (
    UTF16,
    LineIndex,
    apply_change,
    minimal_edit,
    resolved,
    saved_text,
    source_bytes,
)
from losslint.model import Applicability, Diagnostic, FileResult
from losslint.reporters.json_format import to_dict
from losslint.runtime import tensorflow_available
from losslint.source import forget_paths

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


@dataclass(frozen=True)
class Document:
    """An open buffer: the text the editor holds, and the file it is linted as."""

    uri: str
    path: Path
    text: str
    version: int | None


@dataclass(frozen=True)
class Outcome:
    """Linting one text: findings, or the problem that kept it from being linted."""

    text: str
    diagnostics: tuple[Diagnostic, ...] = ()
    problem: str | None = None
    fixed_text: str | None = None


class Sessions:
    """The engine sessions of the projects the open documents belong to, one per
    configuration (used from the lint thread only)."""

    def __init__(self) -> None:
        self.sessions: dict[Config, Session] = {}

    def lint(
        self, path: Path, text: str, overlays: dict[Path, bytes], fix: bool = False
    ) -> Outcome:
        """Lint one buffer with its project's configuration (runs in the lint thread).

        A broken configuration or an internal error is returned as a problem to show, never
        as a clean result; a file the configuration excludes gets no findings (like
        `losslint --force-exclude`, which editors and pre-commit use).
        """
        try:
            config = load_config(path)
        except ConfigError as exc:
            return Outcome(text, problem=f"invalid configuration: {exc}")
        try:
            if is_excluded(path, config):
                logger.info("%s is excluded by the configuration", path)
                return Outcome(text)
            session = self.sessions.get(config)
            if session is None:  # a new project, or its configuration changed
                session = self.sessions[config] = Session(config)
            for stale in set(session.overlays) - set(overlays):
                session.set_overlay(stale, None)  # closed: the file on disk counts again
            for buffer, data in overlays.items():
                session.set_overlay(buffer, data)
            result = session.lint([path], LintOptions(fix=fix))[0]
            session.internal_errors.clear()  # this file's own are in its diagnostics
        except Exception as exc:
            logger.exception("linting %s failed", path)
            return Outcome(text, problem=f"internal error: {type(exc).__name__}: {exc}")
        return Outcome(text, result.diagnostics, fixed_text=result.fixed_source)

    def files_changed(self) -> None:
        """Files were created, deleted or renamed: walk the projects and resolve paths again."""
        forget_paths()
        for session in self.sessions.values():
            session.forget_project_files()


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
    position in place when that split disagrees; `LosslintServer` applies changes itself.
    """

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: types.DidChangeTextDocumentParams) -> Any:
        handler = self.fm.features.get(types.TEXT_DOCUMENT_DID_CHANGE)
        if handler is not None:
            yield handler, (params,), None


class LosslintServer:
    """The server's state and handlers (registered on a pygls `LanguageServer`)."""

    def __init__(self) -> None:
        self.server = LanguageServer(
            "losslint",
            __version__,
            text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
            protocol_cls=LosslintProtocol,
        )
        self.documents: dict[str, Document] = {}
        self.outcomes: dict[str, Outcome] = {}
        self.timers: dict[str, asyncio.TimerHandle] = {}
        self.tasks: set[asyncio.Future[Any]] = set()
        self.running: dict[str, tuple[str, asyncio.Future[Outcome | None]]] = {}
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
        text = doc.text
        for change in params.content_changes:
            if isinstance(change, types.TextDocumentContentChangePartial):
                start, end = change.range.start, change.range.end
                text = apply_change(
                    text,
                    (start.line, start.character),
                    (end.line, end.character),
                    change.text,
                    self.encoding,
                )
            else:
                text = change.text
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

    async def did_change_watched_files(self, params: types.DidChangeWatchedFilesParams) -> None:
        if any(change.type != types.FileChangeType.Changed for change in params.changes):
            await self._run(self.sessions.files_changed)  # in the lint thread, between lints
        self._refresh_all()

    async def code_action(self, params: types.CodeActionParams) -> list[types.CodeAction] | None:
        uri = params.text_document.uri
        if uri not in self.documents:
            return None
        outcome = await self._lint(uri)
        doc = self.documents.get(uri)
        if outcome is None or doc is None or doc.text != outcome.text:
            return None
        only = params.context.only
        index = LineIndex(doc.text)
        start, end = params.range.start, params.range.end
        lo = index.from_lsp(start.line, start.character, self.encoding)
        hi = index.from_lsp(end.line, end.character, self.encoding)
        fixes: list[types.CodeAction] = []
        suppressions: list[types.CodeAction] = []
        for diagnostic in outcome.diagnostics:
            first, last = index.offset(diagnostic.location), index.offset(diagnostic.end_location)
            if first > hi or last < lo or not wanted(QUICK_FIX, only):
                continue
            lsp_diagnostic = self._diagnostic(diagnostic, index, self._verdicts(doc))
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
                        edit=self._edit(doc, index, spans),
                        is_preferred=safe,
                    )
                )
            noqa = noqa_edit(doc.text, diagnostic.noqa_row, diagnostic.code)
            if noqa is not None and diagnostic.code != "LL000":
                span = (index.offset(noqa.location), index.offset(noqa.end_location), noqa.content)
                suppressions.append(
                    types.CodeAction(
                        title=f"losslint ({diagnostic.code}): Suppress with "
                        f"`# noqa: {diagnostic.code}`",
                        kind=types.CodeActionKind.QuickFix,
                        diagnostics=[lsp_diagnostic],
                        edit=self._edit(doc, index, [span]),
                    )
                )
        actions = fixes + suppressions + self._confirm_actions(doc, outcome, index, lo, hi, only)
        if wanted(FIX_ALL_KIND, only) and any(
            d.fix is not None and d.fix.applicability is Applicability.SAFE
            for d in outcome.diagnostics
        ):
            fix_all = types.CodeAction(
                title="losslint: Fix all safe fixes",
                kind=FIX_ALL_KIND,
                data={"uri": uri, "version": doc.version},
            )
            if not self.resolve_edits:
                fix_all = await self.resolve_code_action(fix_all)
            if self.resolve_edits or fix_all.edit is not None:
                actions.append(fix_all)
        return actions

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
        if doc is None or outcome is None or outcome.text != doc.text:
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
        if known is not None and known.text == current.text:
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
        outcome = await self._run(
            self.sessions.lint, doc.path, doc.text, self._overlays(), fix=True
        )
        if self.documents.get(doc.uri) != doc or outcome.fixed_text is None:
            return action
        index = LineIndex(doc.text)
        action.edit = self._edit(doc, index, [minimal_edit(doc.text, outcome.fixed_text)])
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

    def _path(self, uri: str, language_id: str | None) -> Path | None:
        """The file a document is linted as, or None for documents losslint does not lint."""
        parsed = urlparse(uri)
        if parsed.scheme not in SCHEMES:
            return None
        if parsed.scheme == "file":
            fs_path = to_fs_path(uri)
            path = Path(fs_path) if fs_path else None
        else:  # an unsaved new buffer: lint it as a file in the workspace
            name = Path(parsed.path).name or "untitled"
            path = (self.root or Path(os.getcwd())) / f"{name}.py"
        if path is None or (language_id != "python" and path.suffix not in SUFFIXES):
            return None
        return resolved(path)

    def _overlays(self) -> dict[Path, bytes]:
        return {doc.path: source_bytes(doc.text) for doc in self.documents.values()}

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
            if known is not None and known.text == doc.text and not force:
                return known
            running = self.running.get(uri)
            if running is None:
                break
            text, future = running
            if future.done():
                self._finished(uri, future)
            elif text == doc.text and not force:
                return await asyncio.shield(future)
            else:
                await asyncio.wait([future])
        future = asyncio.ensure_future(self._lint_once(doc))
        self.running[uri] = (doc.text, future)
        future.add_done_callback(functools.partial(self._finished, uri))
        return await asyncio.shield(future)

    def _finished(self, uri: str, future: asyncio.Future[Outcome | None]) -> None:
        running = self.running.get(uri)
        if running is not None and running[1] is future:
            del self.running[uri]

    async def _lint_once(self, doc: Document) -> Outcome | None:
        started = time.perf_counter()
        outcome = await self._run(self.sessions.lint, doc.path, doc.text, self._overlays())
        linted = time.perf_counter()
        current = self.documents.get(doc.uri)
        if current is None or current.text != outcome.text:
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
        index = LineIndex(doc.text)
        known = self._verdicts(doc)
        diagnostics = [self._diagnostic(d, index, known) for d in outcome.diagnostics]
        if outcome.problem is not None:
            self._show(outcome.problem)
            diagnostics.insert(
                0,
                types.Diagnostic(
                    range=types.Range(types.Position(0, 0), types.Position(0, 0)),
                    message=f"losslint could not check this file: {outcome.problem}",
                    severity=types.DiagnosticSeverity.Error,
                    source="losslint",
                ),
            )
        self.server.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(
                uri=doc.uri, diagnostics=diagnostics, version=doc.version
            )
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

    def _edit(self, doc: Document, index: LineIndex, spans: Iterable[Span]) -> types.WorkspaceEdit:
        edits = [
            types.TextEdit(
                range=types.Range(
                    types.Position(*index.to_lsp(lo, self.encoding)),
                    types.Position(*index.to_lsp(hi, self.encoding)),
                ),
                new_text=content,
            )
            for lo, hi, content in spans
        ]
        if self.document_changes:
            return types.WorkspaceEdit(
                document_changes=[
                    types.TextDocumentEdit(
                        text_document=types.OptionalVersionedTextDocumentIdentifier(
                            uri=doc.uri, version=doc.version
                        ),
                        edits=list(edits),
                    )
                ]
            )
        return types.WorkspaceEdit(changes={doc.uri: list(edits)})

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
