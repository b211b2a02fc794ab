"""Unified diffs for `--diff`."""

from __future__ import annotations

import difflib

from losslint.model import FileResult
from losslint.reporters.paths import display_path


def render(results: list[FileResult], cwd: str) -> str:
    chunks = []
    for result in results:
        if result.fixed_source is None or result.source is None:
            continue
        name = display_path(result.path, cwd)
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
