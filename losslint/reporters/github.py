"""GitHub Actions workflow commands (`::error file=...::message`); notebook findings sit on\ntheir JSON line, with `cell N:row:column:` in the message."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from losslint.model import Diagnostic
from losslint.reporters.cells import NotebookRows, cell_prefix
from losslint.reporters.paths import display_path

if TYPE_CHECKING:
    from losslint.reporters import ReportContext


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render(diagnostics: Sequence[Diagnostic], ctx: ReportContext) -> str:
    lines = []
    notebooks = NotebookRows()
    for d in diagnostics:
        props = [
            f"title={escape_property(f'losslint ({d.code})')}",
            f"file={escape_property(display_path(d.path, ctx.cwd))}",
        ]
        if d.cell is not None:  # the notebook's JSON line; columns there mean nothing
            start, end = notebooks.rows(d)
            props += [f"line={start}", f"endLine={end}"]
        else:
            props.append(f"line={d.location.row}")
            if d.location.row == d.end_location.row:
                props.append(f"col={d.location.column}")
            props.append(f"endLine={d.end_location.row}")
            if d.location.row == d.end_location.row:
                props.append(f"endColumn={d.end_location.column}")
        message = f"{cell_prefix(d)}{d.code} {d.message}"
        lines.append(f"::error {','.join(props)}::{escape_data(message)}\n")
    return "".join(lines)
