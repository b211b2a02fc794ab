"""Unified diffs for `--diff` (for notebooks: of the changed cells' sources, by cell)."""

from __future__ import annotations

import difflib

from losslint.model import FileResult
from losslint.notebook import cell_diff, is_notebook
from losslint.reporters.paths import display_path


def render(results: list[FileResult], cwd: str) -> str:
    chunks = []
    for result in results:
        if result.fixed_source is None or result.source is None:
            continue
        name = display_path(result.path, cwd)
        if is_notebook(result.path):
            chunks.append(cell_diff(result.source, result.fixed_source, name))
            continue
        for line in difflib.unified_diff(
            result.source.splitlines(keepends=True),
            result.fixed_source.splitlines(keepends=True),
            fromfile=f"a/{name}",
            tofile=f"b/{name}",
        ):
            if not line.endswith(("\n", "\r")):
                line += "\n\\ No newline at end of file\n"
            chunks.append(line)
    return "".join(chunks)
