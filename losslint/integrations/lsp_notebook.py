"""Notebooks as editors hold them (LSP 3.17 notebook document synchronisation).

An open notebook is a list of cells, each its own text document with its own URI. The server
keeps its own copy (cell text edits are applied by the same routine as text documents', so
lines break where LSP says), and `NotebookCells.notebook` is the `losslint.notebook.Notebook`
made of those cells: the virtual module the engine lints, and the map back to cells.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import replace

from lsprotocol import types

from losslint.frozen import frozen
from losslint.integrations.noqa import noqa_edit
from losslint.integrations.text import apply_change
from losslint.model import Edit, Position
from losslint.notebook import Cell, CodeCell, Notebook

NOTEBOOK_TYPE = "jupyter-notebook"
SYNC_OPTIONS = types.NotebookDocumentSyncOptions(
    notebook_selector=[
        types.NotebookDocumentFilterWithCells(
            notebook=NOTEBOOK_TYPE, cells=[types.NotebookCellLanguage(language="python")]
        )
    ],
    save=True,
)


@frozen
class CellDocument:
    """One cell: its URI, whether it is a code cell, and its text document (if synced)."""

    uri: str
    code: bool
    text: str | None = None  # None: the client syncs no text for it (another language)
    language: str | None = None
    version: int | None = None


@frozen
class NotebookCells:
    """The cells of an open notebook, in order, and cells taken out of it whose text
    documents the client has not closed (a move sent as a deletion, then an insertion)."""

    cells: tuple[CellDocument, ...]
    detached: tuple[CellDocument, ...] = ()

    @functools.cached_property
    def notebook(self) -> Notebook:
        """The notebook made of these cells (markdown cells and cells without text left out);
        a cell being typed that does not parse yet is left out alone, and the others are
        still checked."""
        return Notebook.from_cells(
            [
                Cell("code", c.text, c.language)
                if c.code and c.text is not None
                else Cell("markdown" if not c.code else "raw", "")
                for c in self.cells
            ],
            alone=True,
        )

    def cell(self, uri: str) -> tuple[int, CellDocument] | None:
        """The 1-based index (as the notebook counts cells) and the cell of a cell URI."""
        for index, cell in enumerate(self.cells, start=1):
            if cell.uri == uri:
                return index, cell
        return None

    @property
    def code_uris(self) -> list[str]:
        """The URIs of the cells that are part of the virtual module."""
        return [self.cells[c.cell - 1].uri for c in self.notebook.code_cells]

    @classmethod
    def opened(cls, params: types.DidOpenNotebookDocumentParams) -> NotebookCells:
        documents = {d.uri: d for d in params.cell_text_documents}
        return cls(tuple(_cell(c, documents) for c in params.notebook_document.cells))

    def changed(self, change: types.NotebookDocumentChangeEvent, encoding: str) -> NotebookCells:
        """The cells after a `notebookDocument/didChange` event: structure (insertions,
        deletions, moves), then cell kinds, then text edits."""
        cells, detached = list(self.cells), list(self.detached)
        changes = change.cells
        if changes is None:
            return self
        if changes.structure is not None:
            structure = changes.structure
            opened = {d.uri: d for d in structure.did_open or ()}
            known = {c.uri: c for c in [*detached, *cells]}
            array = structure.array
            new = [
                _cell(c, opened)
                if c.document in opened or c.document not in known
                else replace(known[c.document], code=c.kind == types.NotebookCellKind.Code)
                for c in array.cells or ()
            ]
            removed = cells[array.start : array.start + array.delete_count]
            cells[array.start : array.start + array.delete_count] = new
            closed = {d.uri for d in structure.did_close or ()}
            present = {c.uri for c in cells}
            detached = [
                c for c in [*detached, *removed] if c.uri not in closed and c.uri not in present
            ]
        kinds = {c.document: c.kind == types.NotebookCellKind.Code for c in changes.data or ()}
        cells = [replace(c, code=kinds[c.uri]) if c.uri in kinds else c for c in cells]
        for content in changes.text_content or ():
            cells = [
                _edited(c, content.document.version, content.changes, encoding)
                if c.uri == content.document.uri
                else c
                for c in cells
            ]
        return NotebookCells(tuple(cells), tuple(detached))


def _cell(cell: types.NotebookCell, documents: dict[str, types.TextDocumentItem]) -> CellDocument:
    document = documents.get(cell.document)
    code = cell.kind == types.NotebookCellKind.Code
    if document is None:
        return CellDocument(cell.document, code)
    return CellDocument(cell.document, code, document.text, document.language_id, document.version)


def apply_content_changes(
    text: str, changes: Sequence[types.TextDocumentContentChangeEvent], encoding: str
) -> str:
    """A document's (or a cell's) text after an LSP `didChange`'s content changes, in order."""
    for change in changes:
        if isinstance(change, types.TextDocumentContentChangePartial):
            start, end = change.range.start, change.range.end
            text = apply_change(
                text,
                (start.line, start.character),
                (end.line, end.character),
                change.text,
                encoding,
            )
        else:
            text = change.text
    return text


def _edited(
    cell: CellDocument,
    version: int,
    changes: Sequence[types.TextDocumentContentChangeEvent],
    encoding: str,
) -> CellDocument:
    return replace(
        cell, text=apply_content_changes(cell.text or "", changes, encoding), version=version
    )


def noqa_in_cell(code: CodeCell, row: int, rule: str) -> Edit | None:
    """The `# noqa: RULE` edit for a cell's row, in the cell's own text: found on the cell as
    Python reads it (IPython syntax masked, common indent removed), so cells with magics get
    one too."""
    edit = noqa_edit(code.masked, row, rule)
    if edit is None:
        return None
    shift = code.shift(row)
    return Edit(
        edit.content,
        Position(row, edit.location.column + shift),
        Position(row, edit.end_location.column + shift),
    )
