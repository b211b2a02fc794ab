"""Jupyter notebooks as Python source.

A notebook's code cells, in order, make one virtual module: each cell's text, one cell after
another with a newline between. IPython syntax (`%` and `%%` magics, `!` shell escapes, `?`
help, automagics, `get_ipython()` lines) is masked line for line with placeholders of the same
length, so that a (row, column) in the virtual module maps exactly to (cell, row, column); a
cell indented as a whole loses its common indent as IPython reads it, with per-row column
shifts to map back. Cells whose cell magic does not run their body in the kernel (`%%bash`,
`%%writefile`, ...) are left out; markdown and raw cells are ignored.

Write-back splices new `source` values into the original JSON text: every byte outside the
fixed cells' `source` stays as it was (outputs, metadata, ids, key order, indentation,
escaping, trailing newline), and masked lines come back as they were written.
"""

from __future__ import annotations

import bisect
import difflib
import json
import re
import warnings
from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from losslint.frozen import frozen
from losslint.model import Edit, Position
from losslint.notebook_masking import LINE_BREAK, cell_magic, dedent_cell, mask_cell

NOTEBOOK_SUFFIX = ".ipynb"
INSTALL_HINT = "writing notebooks needs nbformat: pip install 'losslint[notebooks]'"

PYTHON_LANGUAGES = frozenset({"python", "python2", "python3", "ipython", "ipython3"})

_CODING = re.compile(r"^[ \t\f]*#.*?coding[:=]")
_WS = re.compile(r"[ \t\n\r]*")
_NON_ASCII_ESCAPE = re.compile(r"\\u(?:00[89a-f]|0[1-9a-f][0-9a-f]|[1-9a-f][0-9a-f]{2})", re.I)
_DECODER = json.JSONDecoder()


class NotebookError(Exception):
    """A notebook that cannot be read or written, with the position (in its JSON) to report."""

    def __init__(self, message: str, row: int = 1, column: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.row = row
        self.column = column


class NotebookDependencyError(RuntimeError):
    """nbformat, needed to validate a notebook before writing it, is not installed."""


def is_notebook(path: Path | str) -> bool:
    return str(path).lower().endswith(NOTEBOOK_SUFFIX)


@frozen
class Cell:
    """A cell as read from a notebook file or held by an editor."""

    kind: str  # "code", "markdown" or "raw"
    source: str
    language: str | None = None  # the cell's own language, when it names one


@frozen
class CodeCell:
    """A code cell that is part of the virtual module."""

    cell: int  # 1-based index among all cells, markdown and raw included
    first_row: int  # the cell's first row in the virtual module
    offset: int  # the cell's first character in the virtual module
    text: str  # the source as written
    masked: str  # the text as Python: IPython syntax masked (same lengths), common indent removed
    masked_rows: tuple[int, ...]  # rows (1-based, within the cell) that were masked
    shifts: tuple[int, ...] = ()  # per row: characters of leading indent removed (IPython does)

    @property
    def rows(self) -> int:
        return len(LINE_BREAK.split(self.masked))

    def shift(self, row: int) -> int:
        return self.shifts[row - 1] if self.shifts else 0

    def original_offset(self, local: int) -> int:
        """The offset in `text` of an offset in `masked`."""
        if not self.shifts:
            return local
        row = len(LINE_BREAK.findall(self.masked, 0, local)) + 1
        masked_start = _row_span(self.masked, row)[0]
        return _row_span(self.text, row)[0] + self.shift(row) + local - masked_start


@frozen
class SkippedCell:
    """A code cell left out of the virtual module, and why; `error` is where a cell that
    does not parse fails (row and column within the cell), reported as LL000."""

    cell: int
    reason: str
    error: Position | None = None


@frozen
class Notebook:
    """A parsed notebook: its JSON text and the virtual module made of its code cells."""

    text: str  # the JSON text, without a BOM
    bom: bool
    cell_count: int
    code_cells: tuple[CodeCell, ...]
    skipped: tuple[SkippedCell, ...]
    virtual: str

    @property
    def split(self) -> bool:
        """Whether code cells that do not parse were left out (`alone`)."""
        return any(s.error is not None for s in self.skipped)

    @classmethod
    def parse(cls, data: bytes, alone: bool = False) -> Notebook:
        """Read .ipynb bytes; raises NotebookError (with a position in the JSON text)."""
        bom = data.startswith(b"\xef\xbb\xbf")
        body = data[3:] if bom else data
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            row = body.count(b"\n", 0, exc.start) + 1
            column = exc.start - (body.rfind(b"\n", 0, exc.start) + 1) + 1
            raise NotebookError("not valid JSON: invalid UTF-8 byte", row, column) from exc
        return cls.from_text(text, bom, alone)

    @classmethod
    def from_text(cls, text: str, bom: bool = False, alone: bool = False) -> Notebook:
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise NotebookError(f"not valid JSON: {exc.msg}", exc.lineno, exc.colno) from exc
        except RecursionError as exc:
            raise NotebookError("not valid JSON: nested too deeply") from exc
        if not isinstance(doc, dict):
            raise NotebookError("not a notebook: the JSON document is not an object")
        version = doc.get("nbformat")
        if version != 4 or isinstance(version, bool):
            found = "no `nbformat` key" if "nbformat" not in doc else f"nbformat {version!r}"
            raise NotebookError(
                f"not an nbformat 4 notebook ({found}); losslint reads nbformat 4 only",
                *_key_position(text, "nbformat"),
            )
        cells = doc.get("cells")
        if not isinstance(cells, list):
            raise NotebookError("not a notebook: no `cells` list", *_key_position(text, "cells"))
        language = _language(doc.get("metadata"))
        sources = [_cell_source(text, cell, index) for index, cell in enumerate(cells, start=1)]
        return cls.from_cells(
            [
                Cell(cell["cell_type"], source, _cell_language(cell))
                for cell, source in zip(cells, sources, strict=True)
            ],
            language,
            text,
            bom,
            alone,
        )

    @classmethod
    def from_cells(
        cls,
        cells: Sequence[Cell],
        language: str | None = None,
        text: str = "",
        bom: bool = False,
        alone: bool = False,
    ) -> Notebook:
        """The notebook made of `cells` (in order; `language`: the notebook's kernel language).

        Editors hold cells in memory: such a notebook has no JSON `text` (positions, cell
        mapping and `fixed_cells` work; JSON write-back needs `from_text`). `alone`: parse
        each code cell on its own, as Jupyter runs it, and leave out those that do not parse
        (an exercise stub, Python 2), so that the other cells are still checked; only worth
        its parses once the whole module has failed to parse.
        """
        code: list[CodeCell] = []
        skipped: list[SkippedCell] = []
        row, offset = 1, 0
        for index, cell in enumerate(cells, start=1):
            if cell.kind != "code":
                continue
            reason = _skip_reason(cell.language, language)
            dedented, shifts = dedent_cell(cell.source)
            masked = None if reason else mask_cell(dedented)
            if masked is None and not reason:
                # a cell magic of the notebook's own (`%%backend tensorflow`): Python when its
                # body parses as Python
                masked = mask_cell(dedented, any_magic=True)
                if masked is not None and _syntax_error(masked[0]) is not None:
                    masked = None
            if masked is None:
                skipped.append(SkippedCell(index, reason or f"cell magic {cell_magic(dedented)}"))
                continue
            masked_text, masked_rows = masked
            error = _syntax_error(masked_text) if alone else None
            if error is not None:
                message, at = error
                column = at.column + (shifts[at.row - 1] if shifts else 0)
                skipped.append(SkippedCell(index, message, Position(at.row, column)))
                continue
            code.append(CodeCell(index, row, offset, cell.source, masked_text, masked_rows, shifts))
            row += code[-1].rows
            offset += len(masked_text) + 1
        code = _mask_coding_cookie(code)
        virtual = "".join(c.masked + "\n" for c in code)
        return cls(text, bom, len(cells), tuple(code), tuple(skipped), virtual)

    @property
    def virtual_bytes(self) -> bytes:
        """The virtual module as the engine reads a file: UTF-8 bytes."""
        return self.virtual.encode("utf-8")

    # -- positions ------------------------------------------------------------------------

    def cell_row(self, row: int) -> tuple[int, int]:
        """(cell index, row within the cell) of a virtual row."""
        code = self._code_cell_at_row(row)
        return code.cell, row - code.first_row + 1

    def to_cell(self, position: Position) -> tuple[int, Position]:
        """A virtual position as (cell index, position within the cell).

        A position past the end (the end of the module) maps to the end of the last cell.
        """
        code = self._code_cell_at_row(position.row)
        row = position.row - code.first_row + 1
        if row > code.rows:
            last = LINE_BREAK.split(code.text)[-1]
            return code.cell, Position(code.rows, len(last) + 1)
        return code.cell, Position(row, position.column + code.shift(row))

    def to_virtual(self, cell: int, position: Position) -> Position:
        """A position within a code cell as a position in the virtual module."""
        for code in self.code_cells:
            if code.cell == cell:
                if not 1 <= position.row <= code.rows:
                    raise ValueError(f"cell {cell} has no row {position.row}")
                column = max(1, position.column - code.shift(position.row))
                return Position(code.first_row + position.row - 1, column)
        raise ValueError(f"cell {cell} is not a code cell of the virtual module")

    def _code_cell_at_row(self, row: int) -> CodeCell:
        if not self.code_cells:
            raise ValueError("the notebook has no code cells")
        starts = [c.first_row for c in self.code_cells]
        return self.code_cells[max(0, bisect.bisect_right(starts, row) - 1)]

    def offset_of(self, position: Position) -> int:
        """The character offset of a virtual position."""
        starts = [0] + [m.end() for m in LINE_BREAK.finditer(self.virtual)]
        if not 1 <= position.row <= len(starts):
            raise ValueError(f"row {position.row} is outside the virtual module")
        return starts[position.row - 1] + position.column - 1

    # -- write-back -----------------------------------------------------------------------

    def apply_edits(self, edits: Sequence[Edit]) -> str:
        """The notebook's JSON text with edits (in virtual positions) applied to its cells."""
        spans = [
            (self.offset_of(e.location), self.offset_of(e.end_location), e.content) for e in edits
        ]
        return self._apply(spans)

    def apply_virtual_text(self, fixed: str) -> str:
        """The notebook's JSON text for a changed virtual module (a fixed copy of `virtual`)."""
        if fixed == self.virtual:
            return self.text
        return self._apply(_text_edits(self.virtual, fixed))

    def fixed_cells(self, fixed: str) -> dict[int, str]:
        """The new source of each cell a changed virtual module changes, by cell index;
        raises NotebookError when a change touches masked IPython syntax or crosses cells."""
        return self._cell_texts(_text_edits(self.virtual, fixed)) if fixed != self.virtual else {}

    def encode(self, text: str) -> bytes:
        """JSON text as file bytes (with the BOM the file had)."""
        data = text.encode("utf-8")
        return b"\xef\xbb\xbf" + data if self.bom else data

    def _apply(self, spans: list[tuple[int, int, str]]) -> str:
        return replace_sources(self.text, self._cell_texts(spans))

    def _cell_texts(self, spans: list[tuple[int, int, str]]) -> dict[int, str]:
        by_cell: dict[int, list[tuple[int, int, str]]] = defaultdict(list)
        for start, end, content in spans:
            code = self._code_cell_spanning(start, end)
            local = (start - code.offset, end - code.offset, content)
            for masked_row in code.masked_rows:
                row_start, row_end = _row_span(code.masked, masked_row)
                if local[0] < row_end and local[1] > row_start:
                    raise NotebookError(f"a fix touches masked IPython syntax in cell {code.cell}")
            by_cell[code.cell].append(
                (code.original_offset(local[0]), code.original_offset(local[1]), content)
            )
        texts: dict[int, str] = {}
        for code in self.code_cells:
            if code.cell not in by_cell:
                continue
            new = code.text  # the unmasked text: masked lines come back as written
            previous_start = len(new) + 1
            for start, end, content in sorted(by_cell[code.cell], reverse=True):
                if end > previous_start:
                    raise NotebookError(f"overlapping fixes in cell {code.cell}")
                new = new[:start] + content + new[end:]
                previous_start = start
            if new != code.text:
                texts[code.cell] = new
        return texts

    def _code_cell_spanning(self, start: int, end: int) -> CodeCell:
        for code in self.code_cells:
            if code.offset <= start and end <= code.offset + len(code.masked):
                return code
        raise NotebookError("a fix crosses a cell boundary")


def _syntax_error(text: str) -> tuple[str, Position] | None:
    """Why and where a cell's masked text does not parse, as the engine parses a module."""
    from losslint.source import SourceError, check_syntax

    try:
        check_syntax(text, Path("<cell>"))
    except SourceError as exc:
        message = exc.message.replace("cannot parse file", "cannot parse cell", 1)
        return message, Position(max(1, exc.row), max(1, exc.column))
    return None


def _mask_coding_cookie(code: list[CodeCell]) -> list[CodeCell]:
    """Blank a PEP 263 cookie on the module's first two rows: cells are always UTF-8."""
    result = []
    for cell in code:
        if cell.first_row > 2:
            result.append(cell)
            continue
        lines = LINE_BREAK.split(cell.masked)
        rows = list(cell.masked_rows)
        for k in range(min(len(lines), 3 - cell.first_row)):
            if _CODING.match(lines[k]) and k + 1 not in rows:
                start, end = _row_span(cell.masked, k + 1)
                masked = cell.masked[:start] + "#" + " " * (end - start - 1) + cell.masked[end:]
                rows.append(k + 1)
                cell = replace(cell, masked=masked, masked_rows=tuple(sorted(rows)))
        result.append(cell)
    return result


def _row_span(text: str, row: int) -> tuple[int, int]:
    """(start, end) offsets of a 1-based row's characters, line break excluded."""
    start = 0
    for _ in range(row - 1):
        match = LINE_BREAK.search(text, start)
        if match is None:
            raise ValueError(f"no row {row}")
        start = match.end()
    match = LINE_BREAK.search(text, start)
    return start, match.start() if match else len(text)


# -- reading cells ------------------------------------------------------------------------


def _language(metadata: object) -> str | None:
    if not isinstance(metadata, dict):
        return None
    for key, field in (("language_info", "name"), ("kernelspec", "language")):
        value = metadata.get(key)
        if isinstance(value, dict) and isinstance(value.get(field), str):
            return value[field]
    return None


def _cell_language(cell: dict[str, object]) -> str | None:
    """The language VS Code records for a cell (`metadata.vscode.languageId`), if any."""
    metadata = cell.get("metadata")
    vscode = metadata.get("vscode") if isinstance(metadata, dict) else None
    language_id = vscode.get("languageId") if isinstance(vscode, dict) else None
    return language_id if isinstance(language_id, str) else None


def _skip_reason(cell_language: str | None, language: str | None) -> str | None:
    if language is not None and language.lower() not in PYTHON_LANGUAGES:
        return f"the notebook's language is {language}"
    if cell_language is not None and cell_language.lower() not in PYTHON_LANGUAGES:
        return f"the cell's language is {cell_language}"
    return None


def _cell_source(text: str, cell: object, index: int) -> str:
    """A cell's source as one string; a malformed cell raises NotebookError at its position."""
    problem = None
    if not isinstance(cell, dict) or not isinstance(cell.get("cell_type"), str):
        problem = "is not an object with a `cell_type`"
    else:
        source = cell.get("source", "")
        if isinstance(source, str):
            return source
        if isinstance(source, list) and all(isinstance(s, str) for s in source):
            return "".join(source)
        problem = "has a `source` that is neither a string nor a list of strings"
    layout = _layout(text)
    offset = layout.cells[index - 1].start if index <= len(layout.cells) else 0
    raise NotebookError(f"not a valid notebook: cell {index} {problem}", *_row_column(text, offset))


# -- the JSON layout: where each cell's `source` is ---------------------------------------


@frozen
class _Source:
    start: int  # the value's first character
    end: int  # after its last character
    items: tuple[tuple[int, int], ...] | None  # list form: each string's span


@frozen
class _CellLayout:
    start: int
    source: _Source | None


@frozen
class _Layout:
    keys: dict[str, int]  # top-level key -> offset of the key
    cells: tuple[_CellLayout, ...]


def _skip_ws(text: str, i: int) -> int:
    match = _WS.match(text, i)
    assert match is not None
    return match.end()


def _expect(text: str, i: int, char: str) -> int:
    if text[i : i + 1] != char:
        raise NotebookError(f"not valid JSON: expected {char!r}", *_row_column(text, i))
    return i + 1


def _members(text: str, i: int) -> list[tuple[str, int, int, int]]:
    """The members of the object at `i`: (key, key offset, value start, value end)."""
    i = _expect(text, _skip_ws(text, i), "{")
    members = []
    i = _skip_ws(text, i)
    if text[i : i + 1] == "}":
        return members
    while True:
        key_at = _skip_ws(text, i)
        _expect(text, key_at, '"')
        key, i = json.decoder.scanstring(text, key_at + 1)
        i = _expect(text, _skip_ws(text, i), ":")
        value_at = _skip_ws(text, i)
        _, i = _DECODER.raw_decode(text, value_at)
        members.append((key, key_at, value_at, i))
        i = _skip_ws(text, i)
        if text[i : i + 1] == "}":
            return members
        i = _expect(text, i, ",")


def _elements(text: str, i: int) -> list[tuple[int, int]]:
    """The spans of the elements of the array at `i`."""
    i = _expect(text, _skip_ws(text, i), "[")
    spans: list[tuple[int, int]] = []
    i = _skip_ws(text, i)
    if text[i : i + 1] == "]":
        return spans
    while True:
        start = _skip_ws(text, i)
        _, i = _DECODER.raw_decode(text, start)
        spans.append((start, i))
        i = _skip_ws(text, i)
        if text[i : i + 1] == "]":
            return spans
        i = _expect(text, i, ",")


def _layout(text: str) -> _Layout:
    keys: dict[str, int] = {}
    cells: tuple[_CellLayout, ...] = ()
    for key, key_at, start, _end in _members(text, 0):
        keys[key] = key_at
        if key == "cells" and text[start] == "[":
            found = []
            for cell_start, _cell_end in _elements(text, start):
                source = None
                if text[cell_start] == "{":
                    for name, _at, value_start, value_end in _members(text, cell_start):
                        if name == "source":
                            items = (
                                tuple(_elements(text, value_start))
                                if text[value_start] == "["
                                else None
                            )
                            source = _Source(value_start, value_end, items)
                found.append(_CellLayout(cell_start, source))
            cells = tuple(found)
    return _Layout(keys, cells)


def _row_column(text: str, offset: int) -> tuple[int, int]:
    row = text.count("\n", 0, offset) + 1
    return row, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _key_position(text: str, key: str) -> tuple[int, int]:
    try:
        offset = _layout(text).keys.get(key, 0)
    except (NotebookError, ValueError):
        offset = 0
    return _row_column(text, offset)


def json_row(text: str, cell: int, row: int) -> int | None:
    """The line of the notebook's JSON text that holds row `row` of cell `cell` (1-based).

    Jupyter writes a source as one JSON string per line, so this is the line a reader of the
    raw file (a pull request's diff, a code-scanning alert) finds the code on.
    """
    try:
        layout = _layout(text)
    except (NotebookError, ValueError):
        return None
    if not 1 <= cell <= len(layout.cells) or layout.cells[cell - 1].source is None:
        return None
    source = layout.cells[cell - 1].source
    assert source is not None
    offset = source.start
    if source.items:
        seen = 1  # the row the current string starts on
        for start, end in source.items:
            offset = start
            value = json.loads(text[start:end])
            count = len(LINE_BREAK.findall(value))
            ends_line = bool(LINE_BREAK.search(value[-1:] or "x"))
            if row < seen + count or (row == seen + count and not ends_line):
                break
            seen += count
    return _row_column(text, offset)[0]


# -- writing sources back -----------------------------------------------------------------


def _split_source(text: str) -> list[str]:
    """A source as Jupyter stores it: one string per line, each ending with its newline."""
    return [line for line in re.split(r"(?<=\n)", text) if line]


def _ensure_ascii(raw: str, whole: str) -> bool:
    """Whether to escape non-ASCII characters as the file does (looked up in the cell first)."""
    for sample in (raw, whole):
        if any(ord(c) > 127 for c in sample):
            return False
        if _NON_ASCII_ESCAPE.search(sample):
            return True
    return False


def _dump_source(text: str, new: str, source: _Source) -> str:
    raw = text[source.start : source.end]
    ascii_only = _ensure_ascii(raw, text)
    if source.items is None:
        return json.dumps(new, ensure_ascii=ascii_only)
    reusable: dict[str, deque[str]] = defaultdict(deque)
    for start, end in source.items:
        reusable[json.loads(text[start:end])].append(text[start:end])
    parts = []
    for line in _split_source(new):
        parts.append(
            reusable[line].popleft()
            if reusable[line]
            else json.dumps(line, ensure_ascii=ascii_only)
        )
    if not parts:
        return "[]"
    if not source.items:
        return json.dumps(_split_source(new), ensure_ascii=ascii_only, indent=1)
    first, last = source.items[0], source.items[-1]
    opening = text[source.start + 1 : first[0]]
    closing = text[last[1] : source.end - 1]
    between = text[first[1] : source.items[1][0]] if len(source.items) > 1 else "," + opening
    return "[" + opening + between.join(parts) + closing + "]"


def replace_sources(text: str, sources: dict[int, str]) -> str:
    """The JSON text with the `source` of some cells (by 1-based index) replaced; every
    other byte is kept. Raises NotebookError if the result is not what was asked for."""
    if not sources:
        return text
    layout = _layout(text)
    pieces, at = [], 0
    for index in sorted(sources):
        source = layout.cells[index - 1].source
        if source is None:
            raise NotebookError(f"cell {index} has no `source` to replace")
        pieces.append(text[at : source.start])
        pieces.append(_dump_source(text, sources[index], source))
        at = source.end
    pieces.append(text[at:])
    new_text = "".join(pieces)
    expected = json.loads(text)
    for index, source_text in sources.items():
        cell = expected["cells"][index - 1]
        cell["source"] = (
            _split_source(source_text) if isinstance(cell["source"], list) else source_text
        )
    if json.loads(new_text) != expected:  # only the asked-for sources may change
        raise NotebookError("internal error: rewriting the cells changed more than their source")
    return new_text


def validate(text: str) -> None:
    """Check JSON text against the nbformat 4 schema, as Jupyter reads it.

    Raises NotebookError when it does not validate, NotebookDependencyError without nbformat.
    """
    try:
        import nbformat
    except ImportError as exc:
        raise NotebookDependencyError(INSTALL_HINT) from exc
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            node = nbformat.reads(text, as_version=nbformat.NO_CONVERT)
            nbformat.validate(node)
        except Exception as exc:  # nbformat raises several types for one question
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise NotebookError(f"does not validate as nbformat 4: {first}") from exc


# -- text edits between two versions of the virtual module -------------------------------


def _text_edits(old: str, new: str) -> list[tuple[int, int, str]]:
    """Edits (start, end, replacement) in `old` that turn it into `new`: lines first, then
    characters within each changed block, so each edit stays inside the lines it changes."""
    a, b = old.splitlines(keepends=True), new.splitlines(keepends=True)
    starts = [0]
    for line in a:
        starts.append(starts[-1] + len(line))
    edits = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        before, after = "".join(a[i1:i2]), "".join(b[j1:j2])
        chars = difflib.SequenceMatcher(None, before, after, autojunk=False)
        for op, c1, c2, d1, d2 in chars.get_opcodes():
            if op != "equal":
                edits.append((starts[i1] + c1, starts[i1] + c2, after[d1:d2]))
    return edits


# -- diffs of cell sources (`--diff`) -----------------------------------------------------


def _cell_sources(text: str) -> list[str | None]:
    cells = json.loads(text).get("cells", [])
    result: list[str | None] = []
    for cell in cells:
        source = cell.get("source", "") if isinstance(cell, dict) else None
        result.append("".join(source) if isinstance(source, list) else source)
    return result


def cell_diff(old_text: str, new_text: str, name: str) -> str:
    """A unified diff of the cells whose source differs, each labelled `name:cell N`."""
    chunks: list[str] = []
    old_cells, new_cells = _cell_sources(old_text), _cell_sources(new_text)
    for index, (old, new) in enumerate(zip(old_cells, new_cells, strict=False), start=1):
        if old == new or old is None or new is None:
            continue
        if old.endswith("\n") == new.endswith("\n") and not old.endswith("\n"):
            old, new = old + "\n", new + "\n"  # Jupyter drops the last newline; don't flag it
        for line in difflib.unified_diff(
            old.splitlines(keepends=True),
            new.splitlines(keepends=True),
            fromfile=f"a/{name}:cell {index}",
            tofile=f"b/{name}:cell {index}",
        ):
            if not line.endswith(("\n", "\r")):
                line += "\n\\ No newline at end of file\n"
            chunks.append(line)
    return "".join(chunks)
