"""LSP latency for notebooks: a cell edit's round trip, next to the same module as one file.

    python bench/lsp_notebook_bench.py            # 30 edits each

The 500-line synthetic losses module of bench/lsp_bench.py is split into one code cell per
top-level block, with a markdown cell after each (132 cells), and opened in `losslint-lsp`
with LSP notebook synchronisation (tests/lsp_client.py's `NotebookEditor`); a second server
opens the same module as a Python text document. Each server gets incremental edits that
alternately fix and un-fix one loss (the script checks that the findings really change), the
two servers' edits alternating so that both see the same machine load. Printed: the median
time from sending the change to receiving `publishDiagnostics` for that version (for the
notebook: for the edited cell's URI), with `debounce: 0`, and the engine call's time from
each server's log.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "bench"))

from lsp_bench import EDITED_LINE, build_module  # noqa: E402
from lsp_client import (  # noqa: E402
    CODE,
    MARKUP,
    PUBLISH,
    LspClient,
    NotebookEditor,
    notebook_capabilities,
)

SERVER = Path(sys.executable).with_name("losslint-lsp")
LINTED = re.compile(r"linted in ([0-9.]+) ms")
FIX = ", axis=-1"


def edit(line: int, fixed: bool) -> dict[str, Any]:
    """Add `, axis=-1` before the line's last parenthesis, or take it out again."""
    column = len(EDITED_LINE) - 1
    end = column if fixed else column + len(FIX)
    return {
        "range": {
            "start": {"line": line, "character": column},
            "end": {"line": line, "character": end},
        },
        "newText": FIX if fixed else "",
    }


def text_round_trip(client: LspClient, uri: str, version: int, change: dict[str, Any]) -> float:
    started = time.perf_counter()
    client.notify(
        "textDocument/didChange",
        {
            "textDocument": {"uri": uri, "version": version},
            "contentChanges": [{"range": change["range"], "text": change["newText"]}],
        },
    )
    while client.wait_for(PUBLISH, uri)[1].get("version") != version:
        pass
    return (time.perf_counter() - started) * 1000


def engine_times(client: LspClient) -> list[float]:
    """The server's engine call per lint, from its log (the first, on open, left out)."""
    return [float(m.group(1)) for m in LINTED.finditer(client.stderr.decode())][1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--edits", type=int, default=30)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp()) / "proj"
    root.mkdir()
    (root / "pyproject.toml").write_text('[project]\nname = "bench"\n')
    text = build_module(500)
    blocks = re.split(r"\n(?=def |class )", text)
    cells: list[tuple[int, str]] = []
    for block in blocks:
        cells += [(CODE, block.rstrip("\n")), (MARKUP, "Notes.")]
    command = [str(SERVER), "--log-level", "INFO"]
    notebook_server, text_server = LspClient(command, root), LspClient(command, root)
    for client in (notebook_server, text_server):
        client.initialize(root, notebook_capabilities(), {"debounce": 0})
    nb = NotebookEditor(notebook_server, root / "losses.ipynb", cells)
    nb.open()
    target = next(i for i, c in enumerate(nb.cells, 1) if EDITED_LINE in c["text"])
    findings = len(nb.diagnostics(target))
    cell_line = nb.cells[target - 1]["text"].split("\n").index(EDITED_LINE)
    py = root / "losses.py"
    text_server.notify(
        "textDocument/didOpen",
        {"textDocument": {"uri": py.as_uri(), "languageId": "python", "version": 1, "text": text}},
    )
    text_server.wait_for(PUBLISH, py.as_uri())
    text_line = text.split("\n").index(EDITED_LINE)
    notebook_ms: list[float] = []
    text_ms: list[float] = []
    for k in range(args.edits):
        fixed = k % 2 == 0
        started = time.perf_counter()
        nb.edit(target, [edit(cell_line, fixed)])
        published = nb.diagnostics(target)
        notebook_ms.append((time.perf_counter() - started) * 1000)
        if len(published) != findings - fixed:
            raise SystemExit(
                f"edit {k}: {len(published)} findings in the cell, not {findings - fixed}"
            )
        text_ms.append(text_round_trip(text_server, py.as_uri(), k + 2, edit(text_line, fixed)))
    for client in (notebook_server, text_server):
        client.close()
    print(f"{len(cells)} cells ({len(blocks)} code cells), {text.count(chr(10))} lines")
    print("| document | didChange -> publish median (min-max) ms | engine median ms | edits |")
    print("|---|---:|---:|---:|")
    for name, times, client in (
        ("notebook (cell edit)", notebook_ms, notebook_server),
        ("the same module as a .py text document", text_ms, text_server),
    ):
        engine = engine_times(client)
        print(
            f"| {name} | {statistics.median(times):.0f} ({min(times):.0f}-{max(times):.0f}) "
            f"| {statistics.median(engine):.0f} | {len(times)} |"
        )


if __name__ == "__main__":
    main()
