"""Notebooks in `losslint-lsp`, driven as an editor drives them: LSP 3.17 notebook document
synchronisation over stdio against the real server process.

Expectations are computed without the server: positions by counting UTF-16 units in the test,
findings by `losslint --format json` on the same notebook saved as an .ipynb file, fixed cell
sources by `losslint --fix` on that file.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from conftest import run_subprocess
from lsp_client import LspClient, apply_edits, workspace_edits
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

pytestmark = pytest.mark.slow

SERVER = Path(sys.executable).with_name("losslint-lsp")
PUBLISH = "textDocument/publishDiagnostics"
CODE, MARKUP = 2, 1  # NotebookCellKind
META = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}

# non-ASCII before the finding on its line: é (1 UTF-16 unit), 😀 (2 units)
LOSS = (
    "import tensorflow as tf\n\n\ndef mse(y_true, y_pred):\n"
    '    tag = "é😀"; return tf.reduce_mean(tf.square(y_true - y_pred))'
)
COMPILE = 'model = tf.keras.Sequential()\nmodel.compile(optimizer="adam", loss=mse)'
NOTES = "# Training\nThe loss is defined above."
MAGIC_LOSS = "%matplotlib inline\n!pip install -q tensorflow\n" + LOSS
OTHER_LOSS = "def sse(y_true, y_pred):\n    return tf.reduce_sum(tf.square(y_true - y_pred))"


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def capabilities() -> dict[str, Any]:
    """What an editor with notebook support announces (VS Code does)."""
    return {
        "workspace": {"workspaceEdit": {"documentChanges": True}},
        "textDocument": {
            "codeAction": {
                "codeActionLiteralSupport": {
                    "codeActionKind": {"valueSet": ["quickfix", "source", "source.fixAll"]}
                },
                "resolveSupport": {"properties": ["edit"]},
            },
            "publishDiagnostics": {"versionSupport": True},
        },
        "notebookDocument": {"synchronization": {"executionSummarySupport": False}},
    }


class Notebook:
    """An editor's view of an open notebook: cells with URIs, kinds, texts and versions."""

    def __init__(self, client: LspClient, path: Path, cells: list[tuple[int, str]]) -> None:
        self.client = client
        self.path = path
        self.uri = path.as_uri()
        self.version = 1
        self.cells = [self._cell(kind, text, n) for n, (kind, text) in enumerate(cells)]
        self.counter = len(cells)

    def _cell(self, kind: int, text: str, number: int) -> dict[str, Any]:
        # a VS Code cell URI: the notebook's path, a fragment per cell
        uri = f"vscode-notebook-cell:{self.path.as_posix()}#W{number}sZmlsZQ%3D%3D"
        return {"uri": uri, "kind": kind, "text": text, "version": 1}

    def item(self, cell: dict[str, Any]) -> dict[str, Any]:
        language = "python" if cell["kind"] == CODE else "markdown"
        return {
            "uri": cell["uri"],
            "languageId": language,
            "version": cell["version"],
            "text": cell["text"],
        }

    def open(self) -> None:
        self.client.notify(
            "notebookDocument/didOpen",
            {
                "notebookDocument": {
                    "uri": self.uri,
                    "notebookType": "jupyter-notebook",
                    "version": self.version,
                    "cells": [{"kind": c["kind"], "document": c["uri"]} for c in self.cells],
                },
                "cellTextDocuments": [self.item(c) for c in self.cells],
            },
        )

    def change(self, change: dict[str, Any]) -> None:
        self.version += 1
        self.client.notify(
            "notebookDocument/didChange",
            {"notebookDocument": {"uri": self.uri, "version": self.version}, "change": change},
        )

    def edit(self, number: int, edits: list[dict[str, Any]]) -> None:
        """Apply TextEdits to a cell (1-based) as the editor does, and send them."""
        cell = self.cells[number - 1]
        cell["text"] = apply_edits(cell["text"], edits)
        cell["version"] += 1
        ordered = sorted(
            edits,
            key=lambda e: (e["range"]["start"]["line"], e["range"]["start"]["character"]),
            reverse=True,
        )
        self.change(
            {
                "cells": {
                    "textContent": [
                        {
                            "document": {"uri": cell["uri"], "version": cell["version"]},
                            "changes": [
                                {"range": e["range"], "text": e["newText"]} for e in ordered
                            ],
                        }
                    ]
                }
            }
        )

    def insert(self, at: int, kind: int, text: str) -> dict[str, Any]:
        """Insert a cell before 0-based position `at` (a structure change)."""
        cell = self._cell(kind, text, self.counter)
        self.counter += 1
        self.cells.insert(at, cell)
        self.change(
            {
                "cells": {
                    "structure": {
                        "array": {
                            "start": at,
                            "deleteCount": 0,
                            "cells": [{"kind": kind, "document": cell["uri"]}],
                        },
                        "didOpen": [self.item(cell)],
                    }
                }
            }
        )
        return cell

    def delete(self, at: int) -> dict[str, Any]:
        cell = self.cells.pop(at)
        self.change(
            {
                "cells": {
                    "structure": {
                        "array": {"start": at, "deleteCount": 1},
                        "didClose": [{"uri": cell["uri"]}],
                    }
                }
            }
        )
        return cell

    def diagnostics(self, number: int) -> list[dict[str, Any]]:
        """The diagnostics published next for cell `number` (1-based) at its current version."""
        cell = self.cells[number - 1]
        while True:
            params = self.client.wait_for(PUBLISH, cell["uri"])[1]
            if params.get("version") == cell["version"]:
                return params["diagnostics"]

    def code_actions(self, number: int, rng: dict[str, Any]) -> list[dict[str, Any]]:
        return self.client.request(
            "textDocument/codeAction",
            {
                "textDocument": {"uri": self.cells[number - 1]["uri"]},
                "range": rng,
                "context": {"diagnostics": []},
            },
        )

    def save_as_ipynb(self) -> Path:
        """The same cells as a notebook file, for the CLI."""
        nb = new_notebook(metadata=META)
        nb.cells = [
            new_code_cell(c["text"]) if c["kind"] == CODE else new_markdown_cell(c["text"])
            for c in self.cells
        ]
        for i, cell in enumerate(nb.cells):
            cell["id"] = f"id{i}"
        nbformat.write(nb, str(self.path))
        return self.path


def cli_findings(project: Path, path: Path) -> list[dict[str, Any]]:
    result = run_subprocess(["--format", "json", path.name], project)
    assert result.returncode in (0, 1), result.stderr
    return json.loads(result.stdout)


def cli_fixed_cells(project: Path, path: Path) -> list[str]:
    result = run_subprocess(["--fix", path.name], project)
    assert result.returncode in (0, 1), result.stderr
    return ["".join(c["source"]) for c in json.loads(path.read_text())["cells"]]


@pytest.fixture
def client(project: Path) -> Iterator[LspClient]:
    assert SERVER.exists(), "losslint-lsp is not installed (pip install -e '.[dev]')"
    lsp = LspClient([str(SERVER)], project)
    yield lsp
    if lsp.process.poll() is None:
        assert lsp.close() == 0


def test_notebook_sync_is_advertised_to_clients_with_notebook_support(
    project: Path, client: LspClient
) -> None:
    caps = client.initialize(project, capabilities())["capabilities"]
    assert caps["notebookDocumentSync"] == {
        "notebookSelector": [{"notebook": "jupyter-notebook", "cells": [{"language": "python"}]}],
        "save": True,
    }


def test_open_quick_fix_change_clears(project: Path, client: LspClient) -> None:
    client.initialize(project, capabilities())
    nb = Notebook(client, project / "train.ipynb", [(CODE, LOSS), (MARKUP, NOTES), (CODE, COMPILE)])
    nb.open()
    [diagnostic] = nb.diagnostics(1)
    assert nb.diagnostics(3) == []  # the compiling cell: an empty list on its own URI
    line = LOSS.split("\n")[4]
    start = line.index("tf.reduce_mean")
    assert diagnostic["range"] == {
        "start": {"line": 4, "character": utf16(line[:start])},
        "end": {"line": 4, "character": utf16(line)},
    }
    assert diagnostic["code"] == "LL001"
    # the same finding `--format json` prints for the notebook saved as a file
    [cli] = cli_findings(project, nb.save_as_ipynb())
    assert cli["cell"] == 1
    assert diagnostic["data"] == cli

    actions = nb.code_actions(1, diagnostic["range"])
    assert [a["title"] for a in actions] == [
        "losslint (LL001): Add `axis=-1`",
        "losslint (LL001): Suppress with `# noqa: LL001`",
        "losslint: Fix all safe fixes",
    ]
    fix = actions[0]
    [doc_edit] = fix["edit"]["documentChanges"]
    assert doc_edit["textDocument"] == {"uri": nb.cells[0]["uri"], "version": 1}
    nb.edit(1, workspace_edits(fix["edit"], nb.cells[0]["uri"]))
    assert nb.diagnostics(1) == []
    assert nb.cells[0]["text"] == cli_fixed_cells(project, nb.path)[0]


def test_magic_lines_keep_positions_and_noqa_lands_in_the_cell(
    project: Path, client: LspClient
) -> None:
    client.initialize(project, capabilities())
    nb = Notebook(client, project / "magic.ipynb", [(CODE, MAGIC_LOSS), (CODE, COMPILE)])
    nb.open()
    [diagnostic] = nb.diagnostics(1)
    line = MAGIC_LOSS.split("\n")[6]
    assert diagnostic["range"]["start"] == {
        "line": 6,
        "character": utf16(line[: line.index("tf.reduce_mean")]),
    }
    [cli] = cli_findings(project, nb.save_as_ipynb())
    assert diagnostic["data"] == cli
    [noqa] = [a for a in nb.code_actions(1, diagnostic["range"]) if "noqa" in a["title"]]
    nb.edit(1, workspace_edits(noqa["edit"], nb.cells[0]["uri"]))
    assert nb.cells[0]["text"].split("\n")[6].endswith("  # noqa: LL001")
    assert nb.cells[0]["text"].startswith("%matplotlib inline\n!pip install")
    assert nb.diagnostics(1) == []


def test_inserted_cell_is_analysed_and_deleted_cell_cleared(
    project: Path, client: LspClient
) -> None:
    client.initialize(project, capabilities())
    nb = Notebook(client, project / "train.ipynb", [(CODE, LOSS), (MARKUP, NOTES), (CODE, COMPILE)])
    nb.open()
    assert len(nb.diagnostics(1)) == 1
    inserted = nb.insert(2, CODE, OTHER_LOSS)  # after the markdown cell, before the compile
    [diagnostic] = nb.diagnostics(3)
    line = OTHER_LOSS.split("\n")[1]
    assert diagnostic["range"]["start"] == {"line": 1, "character": line.index("tf.reduce_sum")}
    [cli] = [f for f in cli_findings(project, nb.save_as_ipynb()) if f["cell"] == 3]
    assert diagnostic["data"] == cli

    nb.delete(2)
    while True:  # the deleted cell's findings are withdrawn
        params = client.wait_for(PUBLISH, inserted["uri"])[1]
        if params["diagnostics"] == []:
            break
    assert len(nb.diagnostics(1)) == 1


def test_fix_all_edits_every_cell(project: Path, client: LspClient) -> None:
    client.initialize(project, capabilities())
    cells = [(CODE, MAGIC_LOSS), (MARKUP, NOTES), (CODE, "import tensorflow as tf\n" + OTHER_LOSS)]
    nb = Notebook(client, project / "train.ipynb", cells)
    nb.open()
    [diagnostic] = nb.diagnostics(1)
    [fix_all] = [
        a for a in nb.code_actions(1, diagnostic["range"]) if a["kind"] == "source.fixAll.losslint"
    ]
    resolved = client.request("codeAction/resolve", fix_all)
    expected = cli_fixed_cells(project, nb.save_as_ipynb())
    for number in (1, 3):
        uri = nb.cells[number - 1]["uri"]
        edits = workspace_edits(resolved["edit"], uri)
        assert apply_edits(nb.cells[number - 1]["text"], edits) == expected[number - 1]


def test_moved_cells_keep_their_text_and_findings_follow(project: Path, client: LspClient) -> None:
    client.initialize(project, capabilities())
    nb = Notebook(client, project / "train.ipynb", [(CODE, LOSS), (MARKUP, NOTES), (CODE, COMPILE)])
    nb.open()
    [before] = nb.diagnostics(1)
    # one structure change that reorders cells: [loss, notes, compile] -> [notes, loss, compile]
    loss, notes = nb.cells[0], nb.cells[1]
    nb.cells[0:2] = [notes, loss]
    nb.change(
        {
            "cells": {
                "structure": {
                    "array": {
                        "start": 0,
                        "deleteCount": 2,
                        "cells": [
                            {"kind": MARKUP, "document": notes["uri"]},
                            {"kind": CODE, "document": loss["uri"]},
                        ],
                    }
                }
            }
        }
    )
    [moved] = nb.diagnostics(2)
    assert moved["range"] == before["range"]
    [cli] = cli_findings(project, nb.save_as_ipynb())
    assert cli["cell"] == 2
    assert moved["data"] == cli
    # a move sent as a deletion, then an insertion (no didClose, no didOpen): the text is kept
    nb.cells.pop(1)
    nb.change({"cells": {"structure": {"array": {"start": 1, "deleteCount": 1}}}})
    nb.cells.append(loss)
    nb.change(
        {
            "cells": {
                "structure": {
                    "array": {
                        "start": 2,
                        "deleteCount": 0,
                        "cells": [{"kind": CODE, "document": loss["uri"]}],
                    }
                }
            }
        }
    )
    [last] = nb.diagnostics(3)
    assert last["range"] == before["range"]
    [cli] = cli_findings(project, nb.save_as_ipynb())
    assert last["data"] == cli


def test_a_code_cell_turned_markdown_loses_its_findings(project: Path, client: LspClient) -> None:
    client.initialize(project, capabilities())
    nb = Notebook(client, project / "train.ipynb", [(CODE, LOSS), (CODE, COMPILE)])
    nb.open()
    assert len(nb.diagnostics(1)) == 1
    nb.cells[0]["kind"] = MARKUP
    nb.change({"cells": {"data": [{"kind": MARKUP, "document": nb.cells[0]["uri"]}]}})
    while True:
        params = client.wait_for(PUBLISH, nb.cells[0]["uri"])[1]
        if params["diagnostics"] == []:
            break


def test_save_checks_again_and_close_clears(project: Path, client: LspClient) -> None:
    """A loss imported from a module on disk: reported at the notebook's compile site; saving
    the notebook re-checks it against the files on disk."""
    helpers = project / "helpers.py"
    good = LOSS.replace("tf.square(y_true - y_pred))", "tf.square(y_true - y_pred), axis=-1)")
    helpers.write_text(good + "\n")
    client.initialize(project, capabilities())
    imports = "import tensorflow as tf\nfrom helpers import mse"
    nb = Notebook(client, project / "train.ipynb", [(CODE, imports), (CODE, COMPILE)])
    nb.open()
    assert nb.diagnostics(2) == []
    helpers.write_text(LOSS + "\n")
    client.notify("notebookDocument/didSave", {"notebookDocument": {"uri": nb.uri}})
    [diagnostic] = nb.diagnostics(2)
    line = COMPILE.split("\n")[1]
    assert diagnostic["range"]["start"] == {"line": 1, "character": line.index("mse")}
    [cli] = cli_findings(project, nb.save_as_ipynb())
    assert diagnostic["data"] == cli
    client.notify(
        "notebookDocument/didClose",
        {
            "notebookDocument": {"uri": nb.uri},
            "cellTextDocuments": [{"uri": c["uri"]} for c in nb.cells],
        },
    )
    assert client.wait_for(PUBLISH, nb.cells[1]["uri"])[1]["diagnostics"] == []


def test_no_notebook_sync_for_clients_without_notebook_support(
    project: Path, client: LspClient
) -> None:
    caps = client.initialize(project, {})["capabilities"]
    assert "notebookDocumentSync" not in caps
    assert caps["textDocumentSync"]["change"] == 2  # text documents as before


def test_indented_cell_quick_fix_and_noqa(project: Path, client: LspClient) -> None:
    """A cell indented as a whole (IPython removes the common indent): positions, the fix and
    the noqa comment refer to the cell as written."""
    indented = "\n".join("  " + line if line else line for line in LOSS.split("\n"))
    client.initialize(project, capabilities())
    nb = Notebook(client, project / "train.ipynb", [(CODE, indented), (CODE, COMPILE)])
    nb.open()
    [diagnostic] = nb.diagnostics(1)
    line = indented.split("\n")[4]
    assert diagnostic["range"]["start"] == {
        "line": 4,
        "character": utf16(line[: line.index("tf.reduce_mean")]),
    }
    [cli] = cli_findings(project, nb.save_as_ipynb())
    assert diagnostic["data"] == cli
    actions = nb.code_actions(1, diagnostic["range"])
    [fix] = [a for a in actions if a["title"] == "losslint (LL001): Add `axis=-1`"]
    [noqa] = [a for a in actions if "noqa" in a["title"]]
    uri = nb.cells[0]["uri"]
    fixed = apply_edits(indented, workspace_edits(fix["edit"], uri))
    assert fixed == cli_fixed_cells(project, nb.path)[0]
    nb.edit(1, workspace_edits(noqa["edit"], uri))
    assert nb.cells[0]["text"] == indented.replace(line, line + "  # noqa: LL001")
    assert nb.diagnostics(1) == []
