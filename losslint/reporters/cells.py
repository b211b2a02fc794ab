"""Where a notebook finding is in the notebook's raw JSON, for formats that know no cells.

SARIF viewers and GitHub annotations show a file's lines as stored: a finding in a notebook is
placed on the JSON line that holds its cell's source line (Jupyter writes one JSON string per
source line), and its message starts with `cell N:row:column:`.
"""

from __future__ import annotations

from pathlib import Path

from losslint.model import Diagnostic
from losslint.notebook import json_row


class NotebookRows:
    """JSON line numbers of notebook findings, reading each notebook once."""

    def __init__(self) -> None:
        self._texts: dict[Path, str | None] = {}

    def _text(self, path: Path) -> str | None:
        if path not in self._texts:
            try:
                self._texts[path] = path.read_text("utf-8-sig")
            except (OSError, UnicodeDecodeError):
                self._texts[path] = None
        return self._texts[path]

    def rows(self, diagnostic: Diagnostic) -> tuple[int, int]:
        """(start, end) lines of the finding in the file as stored (1 when unknown)."""
        assert diagnostic.cell is not None
        text = self._text(diagnostic.path)
        if text is None:
            return 1, 1
        start = json_row(text, diagnostic.cell, diagnostic.location.row) or 1
        end = json_row(text, diagnostic.cell, diagnostic.end_location.row) or start
        return start, max(start, end)


def cell_prefix(diagnostic: Diagnostic) -> str:
    """`cell N:row:column: ` for a notebook finding, as the text format prints it."""
    if diagnostic.cell is None:
        return ""
    location = diagnostic.location
    return f"cell {diagnostic.cell}:{location.row}:{location.column}: "
