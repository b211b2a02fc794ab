"""Notebooks in `losslint-lsp`, driven as an editor drives them: LSP 3.17 notebook document
synchronisation over stdio against the real server process.

Expectations are computed without the server: positions by counting UTF-16 units in the test,
findings by `losslint --format json` on the same notebook saved as an .ipynb file, fixed cell
sources by `losslint --fix` on that file.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from conftest import run_subprocess
from lsp_client import (
    CODE,
    MARKUP,
    PUBLISH,
    LspClient,
    NotebookEditor,
    apply_edits,
    notebook_capabilities,
    running_server,
    workspace_edits,
)
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

pytestmark = pytest.mark.slow

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


def save_as_ipynb(nb: NotebookEditor) -> Path:
    """The editor's cells as a notebook file, for the CLI."""
    notebook = new_notebook(metadata=META)
    notebook.cells = [
        new_code_cell(c["text"]) if c["kind"] == CODE else new_markdown_cell(c["text"])
        for c in nb.cells
    ]
    for i, cell in enumerate(notebook.cells):
        cell["id"] = f"id{i}"
    nbformat.write(notebook, str(nb.path))
    return nb.path


def cli_findings(project: Path, path: Path) -> list[dict[str, Any]]:
    result = run_subprocess(["--format", "json", path.name], project)
    findings = json.loads(result.stdout)
    assert result.returncode == (1 if findings else 0), result.stderr
    return findings


def cli_fixed_cells(project: Path, path: Path) -> list[str]:
    result = run_subprocess(["--fix", path.name], project)
    remaining = cli_findings(project, path)  # exit 1 exactly when findings remain
    assert result.returncode == (1 if remaining else 0), result.stderr
    return ["".join(c["source"]) for c in json.loads(path.read_text())["cells"]]


@pytest.fixture
def client(project: Path) -> Iterator[LspClient]:
    yield from running_server(project)


def test_notebook_sync_is_advertised_to_clients_with_notebook_support(
    project: Path, client: LspClient
) -> None:
    caps = client.initialize(project, notebook_capabilities())["capabilities"]
    assert caps["notebookDocumentSync"] == {
        "notebookSelector": [{"notebook": "jupyter-notebook", "cells": [{"language": "python"}]}],
        "save": True,
    }


def test_open_quick_fix_change_clears(project: Path, client: LspClient) -> None:
    client.initialize(project, notebook_capabilities())
    nb = NotebookEditor(
        client, project / "train.ipynb", [(CODE, LOSS), (MARKUP, NOTES), (CODE, COMPILE)]
    )
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
    [cli] = cli_findings(project, save_as_ipynb(nb))
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
    client.initialize(project, notebook_capabilities())
    nb = NotebookEditor(client, project / "magic.ipynb", [(CODE, MAGIC_LOSS), (CODE, COMPILE)])
    nb.open()
    [diagnostic] = nb.diagnostics(1)
    line = MAGIC_LOSS.split("\n")[6]
    assert diagnostic["range"]["start"] == {
        "line": 6,
        "character": utf16(line[: line.index("tf.reduce_mean")]),
    }
    [cli] = cli_findings(project, save_as_ipynb(nb))
    assert diagnostic["data"] == cli
    [noqa] = [a for a in nb.code_actions(1, diagnostic["range"]) if "noqa" in a["title"]]
    nb.edit(1, workspace_edits(noqa["edit"], nb.cells[0]["uri"]))
    assert nb.cells[0]["text"].split("\n")[6].endswith("  # noqa: LL001")
    assert nb.cells[0]["text"].startswith("%matplotlib inline\n!pip install")
    assert nb.diagnostics(1) == []


def test_inserted_cell_is_analysed_and_deleted_cell_cleared(
    project: Path, client: LspClient
) -> None:
    client.initialize(project, notebook_capabilities())
    nb = NotebookEditor(
        client, project / "train.ipynb", [(CODE, LOSS), (MARKUP, NOTES), (CODE, COMPILE)]
    )
    nb.open()
    assert len(nb.diagnostics(1)) == 1
    inserted = nb.insert(2, CODE, OTHER_LOSS)  # after the markdown cell, before the compile
    [diagnostic] = nb.diagnostics(3)
    line = OTHER_LOSS.split("\n")[1]
    assert diagnostic["range"]["start"] == {"line": 1, "character": line.index("tf.reduce_sum")}
    [cli] = [f for f in cli_findings(project, save_as_ipynb(nb)) if f["cell"] == 3]
    assert diagnostic["data"] == cli

    nb.delete(2)
    while True:  # the deleted cell's findings are withdrawn
        params = client.wait_for(PUBLISH, inserted["uri"])[1]
        if params["diagnostics"] == []:
            break
    assert len(nb.diagnostics(1)) == 1


def test_fix_all_edits_every_cell(project: Path, client: LspClient) -> None:
    client.initialize(project, notebook_capabilities())
    cells = [(CODE, MAGIC_LOSS), (MARKUP, NOTES), (CODE, "import tensorflow as tf\n" + OTHER_LOSS)]
    nb = NotebookEditor(client, project / "train.ipynb", cells)
    nb.open()
    [diagnostic] = nb.diagnostics(1)
    [fix_all] = [
        a for a in nb.code_actions(1, diagnostic["range"]) if a["kind"] == "source.fixAll.losslint"
    ]
    resolved = client.request("codeAction/resolve", fix_all)
    expected = cli_fixed_cells(project, save_as_ipynb(nb))
    for number in (1, 3):
        uri = nb.cells[number - 1]["uri"]
        edits = workspace_edits(resolved["edit"], uri)
        assert apply_edits(nb.cells[number - 1]["text"], edits) == expected[number - 1]


def test_moved_cells_keep_their_text_and_findings_follow(project: Path, client: LspClient) -> None:
    client.initialize(project, notebook_capabilities())
    nb = NotebookEditor(
        client, project / "train.ipynb", [(CODE, LOSS), (MARKUP, NOTES), (CODE, COMPILE)]
    )
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
    [cli] = cli_findings(project, save_as_ipynb(nb))
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
    [cli] = cli_findings(project, save_as_ipynb(nb))
    assert last["data"] == cli


def test_a_code_cell_turned_markdown_loses_its_findings(project: Path, client: LspClient) -> None:
    client.initialize(project, notebook_capabilities())
    nb = NotebookEditor(client, project / "train.ipynb", [(CODE, LOSS), (CODE, COMPILE)])
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
    client.initialize(project, notebook_capabilities())
    imports = "import tensorflow as tf\nfrom helpers import mse"
    nb = NotebookEditor(client, project / "train.ipynb", [(CODE, imports), (CODE, COMPILE)])
    nb.open()
    assert nb.diagnostics(2) == []
    helpers.write_text(LOSS + "\n")
    client.notify("notebookDocument/didSave", {"notebookDocument": {"uri": nb.uri}})
    [diagnostic] = nb.diagnostics(2)
    line = COMPILE.split("\n")[1]
    assert diagnostic["range"]["start"] == {"line": 1, "character": line.index("mse")}
    [cli] = cli_findings(project, save_as_ipynb(nb))
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
    client.initialize(project, notebook_capabilities())
    nb = NotebookEditor(client, project / "train.ipynb", [(CODE, indented), (CODE, COMPILE)])
    nb.open()
    [diagnostic] = nb.diagnostics(1)
    line = indented.split("\n")[4]
    assert diagnostic["range"]["start"] == {
        "line": 4,
        "character": utf16(line[: line.index("tf.reduce_mean")]),
    }
    [cli] = cli_findings(project, save_as_ipynb(nb))
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
