"""Notebooks as source (`losslint.notebook`): the virtual module, masking, positions, write-back."""

from __future__ import annotations

import json
import sys

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output, new_raw_cell

from losslint.model import Edit, Position
from losslint.notebook import (
    Notebook,
    NotebookDependencyError,
    NotebookError,
    cell_diff,
    json_row,
    mask_cell,
    validate,
)

PY = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}


def jupyter(*cells: dict, metadata: dict | None = None) -> str:
    """A notebook's text exactly as Jupyter saves it (nbformat's writer, final newline)."""
    nb = new_notebook(metadata=metadata if metadata is not None else PY)
    nb.cells = list(cells)
    for index, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{index}"
    return nbformat.writes(nb) + "\n"


def code(source: str, count: int | None = None, outputs: list | None = None) -> dict:
    return new_code_cell(source, execution_count=count, outputs=outputs or [])


# -- the virtual module -------------------------------------------------------------------


def test_code_cells_in_order_make_one_module_and_rows_map_both_ways() -> None:
    text = jupyter(
        new_markdown_cell("# Title\n\n    indented = 'code-like'"),
        code("a = 1\nb = 2"),
        new_raw_cell("raw"),
        code("c = 3"),
    )
    nb = Notebook.from_text(text)
    assert nb.virtual == "a = 1\nb = 2\nc = 3\n"
    assert nb.cell_count == 4
    assert [c.cell for c in nb.code_cells] == [2, 4]
    assert nb.skipped == ()
    assert [nb.cell_row(r) for r in (1, 2, 3)] == [(2, 1), (2, 2), (4, 1)]
    assert nb.to_cell(Position(3, 5)) == (4, Position(1, 5))
    for row in (1, 2, 3):
        cell, pos = nb.to_cell(Position(row, 2))
        assert nb.to_virtual(cell, pos) == Position(row, 2)
    with pytest.raises(ValueError):
        nb.to_virtual(1, Position(1, 1))  # a markdown cell is not part of the module


def test_source_as_a_string_or_a_list_gives_the_same_module() -> None:
    as_list = jupyter(code("import tensorflow as tf\nx = 1\n"))
    doc = json.loads(as_list)
    doc["cells"][0]["source"] = "import tensorflow as tf\nx = 1\n"
    as_string = json.dumps(doc, indent=1)
    assert Notebook.from_text(as_list).virtual == Notebook.from_text(as_string).virtual
    # a cell ending with a newline has an empty last row, kept so that rows stay exact
    assert Notebook.from_text(as_string).virtual == "import tensorflow as tf\nx = 1\n\n"


def test_a_position_past_the_end_maps_to_the_end_of_the_last_cell() -> None:
    nb = Notebook.from_text(jupyter(code("x = (1,"), code("y = 2")))
    assert nb.to_cell(Position(3, 1)) == (2, Position(1, 6))


def test_empty_notebook_has_an_empty_module() -> None:
    nb = Notebook.from_text(jupyter())
    assert nb.virtual == ""
    assert nb.code_cells == ()


# -- masking IPython syntax ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "masked_rows"),
    [
        ("%matplotlib inline\nimport tensorflow as tf", (1,)),
        ("import os\n!pip install -q tensorflow", (2,)),
        ("!!ls -la", (1,)),
        ("files = !ls data\nprint(files)", (1,)),
        ("a, b = %sx ls\nt = 1", (1,)),
        ("tf.reduce_mean?", (1,)),
        ("?tf.reduce_mean", (1,)),
        ("tf.reduce_mean??", (1,)),
        ("get_ipython().system('ls')", (1,)),
        ("get_ipython().run_cell_magic(\n    'bash', '', 'ls\\n'\n)\nx = 1", (1, 2, 3)),
        ("pip install keras-tuner\nimport keras_tuner", (1,)),
        ("%time result = f(a,\n               b)\nx = 1", (1, 2)),
        ("!pip install \\\n    tensorflow \\\n    keras\nx = 1", (1, 2, 3)),
        ("for i in range(3):\n    %time f(i)\n    x = i", (2,)),
        ("if True:\n    !echo (unbalanced\n    y = 1", (2,)),
    ],
)
def test_ipython_lines_are_masked_with_same_length_placeholders(
    cell: str, masked_rows: tuple[int, ...]
) -> None:
    result = mask_cell(cell)
    assert result is not None
    masked, rows = result
    assert rows == masked_rows
    assert [len(line) for line in masked.split("\n")] == [len(line) for line in cell.split("\n")]
    for row, (before, after) in enumerate(
        zip(cell.split("\n"), masked.split("\n"), strict=True), 1
    ):
        assert (before == after) == (row not in masked_rows)
    compile(masked, "<cell>", "exec")  # the masked cell is Python


@pytest.mark.parametrize(
    "cell",
    [
        "x = a % b\ny = '%d' % x",
        's = """\n%not a magic\n!nor a shell escape\n"""',
        "y = (a\n% b)",
        "x %= 2\nz = x != 3",
        "x = 1  # why?\nq = 'what?'",
        "ls -la",  # valid Python (ls minus la): not an automagic to mask
        "env = {}\nenv ['A'] = 1",
    ],
)
def test_python_that_looks_like_ipython_is_not_masked(cell: str) -> None:
    assert mask_cell(cell) == (cell, ())


@pytest.mark.parametrize(
    "magic", ["%%bash", "%%writefile losses.py", "%%html", "%%sh", "%%javascript", "%%script"]
)
def test_non_python_cell_magics_skip_the_cell(magic: str) -> None:
    text = jupyter(code("x = 1"), code(f"{magic}\ndef f(y_true, y_pred):\n    return 1"))
    nb = Notebook.from_text(text)
    assert [c.cell for c in nb.code_cells] == [1]
    assert [(s.cell, s.reason) for s in nb.skipped] == [(2, f"cell magic {magic.split()[0]}")]
    assert nb.virtual == "x = 1\n"


@pytest.mark.parametrize("magic", ["%%time", "%%timeit -n 3", "%%capture out", "%%prun"])
def test_python_cell_magics_keep_their_body(magic: str) -> None:
    nb = Notebook.from_text(jupyter(code(f"\n{magic}\ndef f():\n    return 1")))
    (cell,) = nb.code_cells
    assert cell.masked_rows == (2,)
    assert cell.masked.split("\n")[2:] == ["def f():", "    return 1"]


def test_a_cell_magic_of_the_notebooks_own_keeps_a_python_body() -> None:
    """`%%backend tensorflow`, registered by an earlier cell, runs its body in the kernel: read
    as Python when it parses as Python; an unknown magic whose body does not parse (another
    language) is skipped as before."""
    python = "%%backend tensorflow\ndef f(y_true, y_pred):\n    return 1"
    other = "%%cypher\nMATCH (n) RETURN n"
    nb = Notebook.from_text(jupyter(code(python), code(other)))
    (cell,) = nb.code_cells
    assert cell.cell == 1 and cell.masked_rows == (1,)
    assert cell.masked.split("\n")[1:] == ["def f(y_true, y_pred):", "    return 1"]
    assert [(s.cell, s.reason) for s in nb.skipped] == [(2, "cell magic %%cypher")]


def test_cells_of_other_languages_are_skipped() -> None:
    r_meta = {"kernelspec": {"name": "ir", "display_name": "R", "language": "R"}}
    nb = Notebook.from_text(jupyter(code("x <- 1"), metadata=r_meta))
    assert nb.code_cells == ()
    assert nb.skipped[0].reason == "the notebook's language is R"
    sql = code("SELECT 1")
    sql["metadata"] = {"vscode": {"languageId": "sql"}}
    nb = Notebook.from_text(jupyter(sql, code("x = 1")))
    assert [c.cell for c in nb.code_cells] == [2]
    assert nb.skipped[0].reason == "the cell's language is sql"


def test_a_coding_cookie_on_the_first_rows_is_blanked() -> None:
    nb = Notebook.from_text(jupyter(code("# -*- coding: latin-1 -*-\nx = 'é'")))
    assert nb.virtual.split("\n")[0] == "#" + " " * 24
    assert nb.code_cells[0].masked_rows == (1,)


# -- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message", "row", "column"),
    [
        (b'{\n "cells": [\n  {"cell_type": "code",\n', "not valid JSON", 4, 1),
        (b'{"cells": [], "nbformat": 4,\n "x": "\xff"}', "invalid UTF-8", 2, 8),
        (b"[1, 2]", "not a notebook: the JSON document is not an object", 1, 1),
        (b'{\n "cells": [],\n "nbformat": 3\n}', "not an nbformat 4 notebook (nbformat 3)", 3, 2),
        (b'{"cells": []}', "not an nbformat 4 notebook (no `nbformat` key)", 1, 1),
        (b'{"cells": [], "nbformat": "4"}', "not an nbformat 4 notebook (nbformat '4')", 1, 15),
        (b'{\n "metadata": {},\n "nbformat": 4\n}', "not a notebook: no `cells` list", 1, 1),
        (
            b'{"nbformat": 4,\n "cells": [\n  {"cell_type": "code", "source": 7}]}',
            "cell 1 has a `source` that is neither a string nor a list of strings",
            3,
            3,
        ),
    ],
)
def test_unreadable_notebooks_raise_with_a_position(
    data: bytes, message: str, row: int, column: int
) -> None:
    with pytest.raises(NotebookError) as info:
        Notebook.parse(data)
    assert message in info.value.message
    assert (info.value.row, info.value.column) == (row, column)


# -- write-back ---------------------------------------------------------------------------

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC"


def _busy_notebook() -> str:
    return jupyter(
        new_markdown_cell("A loss: `tf.reduce_mean(x)`"),
        code(
            "%matplotlib inline\nimport tensorflow as tf\n!pip install -q keras",
            1,
            [new_output("stream", name="stdout", text="ok\n")],
        ),
        code(
            "def mse(y_true, y_pred):\n    return tf.reduce_mean(tf.square(y_true - y_pred))",
            2,
        ),
        code(
            "plot(history)",
            3,
            [new_output("display_data", data={"image/png": PNG, "text/plain": ["<Figure>"]})],
        ),
    )


def test_a_fix_changes_only_that_cells_source_byte_for_byte() -> None:
    text = _busy_notebook()
    nb = Notebook.from_text(text)
    row = nb.to_virtual(3, Position(2, 53))  # after `tf.square(y_true - y_pred)`
    new = nb.apply_edits([Edit(", axis=-1", row, row)])
    old_lines, new_lines = text.splitlines(keepends=True), new.splitlines(keepends=True)
    changed = [i for i, (a, b) in enumerate(zip(old_lines, new_lines, strict=True)) if a != b]
    assert len(changed) == 1
    assert new_lines[changed[0]] == (
        '    "    return tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)"\n'
    )
    before, after = json.loads(text), json.loads(new)
    after["cells"][2]["source"] = before["cells"][2]["source"]
    assert after == before  # outputs, image, ids, counts, metadata untouched
    assert new.endswith("}\n")
    validate(new)


def test_masked_lines_come_back_as_written() -> None:
    text = jupyter(
        code(
            "%load_ext autoreload\nimport tensorflow as tf\nfiles = !ls\n"
            "def mae(y_true, y_pred):\n    return tf.reduce_mean(tf.abs(y_true - y_pred))"
        )
    )
    nb = Notebook.from_text(text)
    assert "%load_ext" not in nb.virtual and "!ls" not in nb.virtual
    fixed = nb.virtual.replace("y_pred))\n", "y_pred), axis=-1)\n")
    new = Notebook.from_text(nb.apply_virtual_text(fixed))
    assert new.code_cells[0].text == (
        "%load_ext autoreload\nimport tensorflow as tf\nfiles = !ls\n"
        "def mae(y_true, y_pred):\n    return tf.reduce_mean(tf.abs(y_true - y_pred), axis=-1)"
    )


def test_a_fix_that_adds_a_line_is_written_to_its_cell_only() -> None:
    text = jupyter(code("x = 1"), code("def f(a):\n    return a"), code("y = 2"))
    nb = Notebook.from_text(text)
    fixed = nb.virtual.replace("    return a\n", "    b = a\n    return b\n")
    new = nb.apply_virtual_text(fixed)
    cells = json.loads(new)["cells"]
    assert [c["source"] for c in cells] == [
        ["x = 1"],
        ["def f(a):\n", "    b = a\n", "    return b"],
        ["y = 2"],
    ]
    assert Notebook.from_text(new).cell_row(4) == (2, 3)


def test_fixes_touching_masked_lines_or_crossing_cells_are_refused() -> None:
    nb = Notebook.from_text(jupyter(code("!ls\nx = 1"), code("y = 2")))
    with pytest.raises(NotebookError, match="masked IPython syntax"):
        nb.apply_edits([Edit("z", Position(1, 1), Position(1, 2))])
    with pytest.raises(NotebookError, match="crosses a cell boundary"):
        nb.apply_edits([Edit("", Position(2, 5), Position(3, 1))])


def test_indent_key_order_escaping_and_missing_final_newline_are_kept() -> None:
    # Colab: 2-space indent, its own key order, no final newline; a script: escaped non-ASCII
    cell = {
        "cell_type": "code",
        "source": ["# Fehler\n", "y = mean(x)  # für alle ✓"],
        "metadata": {"id": "abc"},
        "execution_count": 1,
        "outputs": [],
    }
    doc = {"nbformat": 4, "nbformat_minor": 0, "metadata": {}, "cells": [cell]}
    for ensure_ascii in (False, True):
        text = json.dumps(doc, indent=2, ensure_ascii=ensure_ascii)
        nb = Notebook.from_text(text)
        new = nb.apply_virtual_text(nb.virtual.replace("mean(x)", "mean(x, axis=-1)"))
        assert new == text.replace("mean(x)", "mean(x, axis=-1)")


def test_windows_line_endings_in_the_json_are_kept() -> None:
    text = jupyter(code("a = 1\nb = mean(x)\nc = 2")).replace("\n", "\r\n")
    nb = Notebook.from_text(text)
    new = nb.apply_virtual_text(nb.virtual.replace("mean(x)", "mean(x, axis=-1)"))
    assert new == text.replace("mean(x)", "mean(x, axis=-1)")


def test_a_bom_is_kept() -> None:
    data = b"\xef\xbb\xbf" + jupyter(code("x = 1")).encode()
    nb = Notebook.parse(data)
    assert nb.bom
    assert nb.encode(nb.text) == data


def test_validate_rejects_a_notebook_jupyter_would_reject() -> None:
    doc = json.loads(jupyter(code("x = 1")))
    del doc["cells"][0]["outputs"]
    with pytest.raises(NotebookError, match="does not validate as nbformat 4"):
        validate(json.dumps(doc))
    validate(jupyter(code("x = 1")))


def test_validate_without_nbformat_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    text = jupyter(code("x = 1"))
    monkeypatch.setitem(sys.modules, "nbformat", None)  # `import nbformat` now fails
    with pytest.raises(NotebookDependencyError, match=r"pip install 'losslint\[notebooks\]'"):
        validate(text)


# -- diffs and raw-file lines -------------------------------------------------------------


def test_cell_diff_is_labelled_by_cell() -> None:
    old = jupyter(new_markdown_cell("m"), code("x = 1"), code("y = mean(x)"))
    new = old.replace("mean(x)", "mean(x, axis=-1)")
    assert cell_diff(old, new, "nb.ipynb") == (
        "--- a/nb.ipynb:cell 3\n"
        "+++ b/nb.ipynb:cell 3\n"
        "@@ -1 +1 @@\n"
        "-y = mean(x)\n"
        "+y = mean(x, axis=-1)\n"
    )


def test_json_row_finds_the_line_a_cell_row_is_stored_on() -> None:
    text = _busy_notebook()
    lines = text.split("\n")
    line = json_row(text, 3, 2)
    assert line is not None
    assert "return tf.reduce_mean" in lines[line - 1]
    assert "%matplotlib" in lines[json_row(text, 2, 1) - 1]  # type: ignore[operator]
    assert json_row(text, 9, 1) is None


def test_a_cells_common_indent_is_removed_as_ipython_does_and_columns_map_back() -> None:
    # IPython strips the first line's indent from every line that has it (TensorFlow's own
    # docs have such cells); positions and fixes still refer to the cell as written
    # (a line without that indent, here inside brackets, keeps its text)
    source = "\n  def mse(y_true, y_pred):\n    return mean(y_true - (\n y_pred))"
    nb = Notebook.from_text(jupyter(code(source)))
    (cell,) = nb.code_cells
    assert nb.virtual == "\ndef mse(y_true, y_pred):\n  return mean(y_true - (\n y_pred))\n"
    assert cell.shifts == (0, 2, 2, 0)
    assert nb.to_cell(Position(3, 10)) == (1, Position(3, 12))  # `mean(` in the cell
    assert nb.to_virtual(1, Position(3, 12)) == Position(3, 10)
    fixed = nb.virtual.replace("y_pred))", "y_pred), axis=-1)")
    new = Notebook.from_text(nb.apply_virtual_text(fixed))
    assert new.code_cells[0].text == source.replace("y_pred))", "y_pred), axis=-1)")
    edit_at = nb.to_virtual(1, Position(4, 9))
    assert edit_at == Position(4, 9)
    assert Notebook.from_text(nb.apply_edits([Edit(", axis=-1", edit_at, edit_at)])).code_cells[
        0
    ].text == source.replace("y_pred))", "y_pred), axis=-1)")


def test_cells_are_parsed_one_by_one_only_when_asked() -> None:
    """A notebook's module is made of all its code cells; `alone=True` (once the module has
    failed to parse) leaves out each cell that does not parse on its own, with where."""
    text = jupyter(code("import keras"), code("def build():\n    # TODO\n"), code("x = 1"))
    whole = Notebook.from_text(text)
    assert not whole.split and "def build():" in whole.virtual
    alone = Notebook.from_text(text, alone=True)
    assert alone.split and "def build():" not in alone.virtual
    [(cell, error)] = [(s.cell, s.error) for s in alone.skipped if s.error]
    assert cell == 2 and error is not None and error.row == 2
    assert [c.cell for c in alone.code_cells] == [1, 3]
