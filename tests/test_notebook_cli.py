"""Notebooks through the real CLI: discovery, output formats, noqa, per-file-ignores, fixes,
--diff, stdin, and what happens without nbformat."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest
from conftest import copy_case, run_cli, run_subprocess
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

BAD_CELL = "def mse(y_true, y_pred):\n    return tf.reduce_mean(tf.square(y_true - y_pred))"
GOOD_CELL = (
    "def mse(y_true, y_pred):\n    return tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)"
)
META = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}


def notebook(root: Path, name: str, *sources: str) -> Path:
    """A notebook as Jupyter saves it: a markdown cell, then one code cell per source."""
    nb = new_notebook(metadata=META)
    nb.cells = [new_markdown_cell("# Notes")] + [
        new_code_cell(s, execution_count=i, outputs=[new_output("stream", text="ok\n")])
        for i, s in enumerate(sources, 1)
    ]
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"id{i}"
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


def cell_source(path: Path, cell: int) -> str:
    return "".join(json.loads(path.read_text())["cells"][cell - 1]["source"])


def test_folders_are_walked_for_notebooks_and_findings_name_the_cell(project: Path) -> None:
    notebook(project, "nbs/train.ipynb", "import tensorflow as tf", BAD_CELL)
    result = run_cli(["."], project)
    assert result.exit_code == 1
    assert result.stdout == (
        "nbs/train.ipynb:cell 3:2:12: LL001 [*] loss `mse` returns a value reduced over the "
        "batch axis: `tf.reduce_mean` without `axis`; Keras expects one loss per sample\n"
    )
    assert "Found 1 error." in result.stderr


def test_a_loss_behind_a_notebooks_own_cell_magic_is_checked_and_fixed(project: Path) -> None:
    magic = (
        "from IPython.core.magic import register_cell_magic\n\n"
        "@register_cell_magic\ndef backend(line, cell):\n    get_ipython().run_cell(cell)"
    )
    path = notebook(project, "train.ipynb", magic, "%%backend tensorflow\n" + BAD_CELL)
    result = run_cli(["."], project)
    assert result.exit_code == 1
    assert result.stdout.startswith("train.ipynb:cell 3:3:12: LL001 [*] loss `mse`")
    run_cli(["--fix", "."], project)
    assert cell_source(path, 3) == "%%backend tensorflow\n" + GOOD_CELL


def test_json_gives_the_cell_and_rows_inside_it(project: Path) -> None:
    notebook(project, "train.ipynb", "import tensorflow as tf", BAD_CELL)
    (finding,) = json.loads(run_cli(["--format", "json", "."], project).stdout)
    assert finding["cell"] == 3
    assert finding["location"] == {"row": 2, "column": 12}
    assert finding["end_location"] == {"row": 2, "column": 54}
    assert finding["noqa_row"] == 2
    assert finding["fix"]["edits"] == [
        {
            "content": ", axis=-1",
            "location": {"row": 2, "column": 53},
            "end_location": {"row": 2, "column": 53},
        }
    ]
    assert finding["function"] == "train.mse"


def test_sarif_and_github_point_at_the_notebooks_json_line(project: Path) -> None:
    path = notebook(project, "train.ipynb", "import tensorflow as tf", BAD_CELL)
    lines = path.read_text().split("\n")
    sarif = json.loads(run_cli(["--format", "sarif", "."], project).stdout)
    (result,) = sarif["runs"][0]["results"]
    region = result["locations"][0]["physicalLocation"]["region"]
    assert "return tf.reduce_mean" in lines[region["startLine"] - 1]
    assert region["endLine"] == region["startLine"]
    assert result["message"]["text"].startswith("cell 3:2:12: loss `mse`")
    assert result["properties"]["cell"] == 3
    github = run_cli(["--format", "github", "."], project).stdout
    assert github.startswith(
        f"::error title=losslint (LL001),file=train.ipynb,line={region['startLine']},"
        f"endLine={region['startLine']}::cell 3:2:12: LL001 loss `mse`"
    )


def test_noqa_comments_inside_cells(project: Path) -> None:
    notebook(project, "a.ipynb", "import tensorflow as tf", BAD_CELL + "  # noqa: LL001")
    notebook(project, "b.ipynb", "# losslint: noqa\nimport tensorflow as tf", BAD_CELL)
    assert run_cli(["."], project).exit_code == 0
    shown = run_cli(["--disable-noqa", "."], project)
    assert shown.stdout.count("LL001") == 2
    assert "a.ipynb:cell 3:2:12:" in shown.stdout
    assert "b.ipynb:cell 3:2:12:" in shown.stdout


def test_per_file_ignores_match_the_notebooks_path(project: Path) -> None:
    path = notebook(project, "nbs/train.ipynb", "import tensorflow as tf", BAD_CELL)
    (project / "losses.py").write_text("import tensorflow as tf\n\n\n" + BAD_CELL + "\n")
    (project / "pyproject.toml").write_text(
        '[tool.losslint]\nper-file-ignores = { "*.ipynb" = ["LL001"] }\n'
    )
    result = run_cli(["--fix", "."], project)
    assert result.exit_code == 0
    assert cell_source(path, 3) == BAD_CELL  # an ignored finding is not fixed either
    assert "axis=-1" in (project / "losses.py").read_text()


def test_include_and_extend_include(project: Path) -> None:
    notebook(project, "train.ipynb", "import tensorflow as tf", BAD_CELL)
    (project / "scripts").mkdir()
    (project / "scripts" / "job.pyw").write_text("import tensorflow as tf\n\n\n" + BAD_CELL + "\n")
    assert run_cli(["."], project).stdout.startswith("train.ipynb:cell 3:2:12:")
    (project / "pyproject.toml").write_text(
        '[tool.losslint]\ninclude = ["*.py"]\nextend-include = ["scripts/*.pyw"]\n'
    )
    walked = run_cli(["."], project)
    assert walked.stdout.startswith("scripts/job.pyw:5:12: LL001")
    assert "train.ipynb" not in walked.stdout
    # a notebook named on the command line is linted whatever `include` says
    assert run_cli(["train.ipynb"], project).stdout.startswith("train.ipynb:cell 3:2:12:")
    (project / "pyproject.toml").write_text('[tool.losslint]\ninclude = "*.ipynb"\n')
    bad = run_cli(["."], project)
    assert bad.exit_code == 2
    assert "`include` must be a list of strings" in bad.stderr


def test_fix_writes_only_the_fixed_cell_and_a_second_fix_changes_nothing(project: Path) -> None:
    path = notebook(project, "train.ipynb", "%matplotlib inline\nimport tensorflow as tf", BAD_CELL)
    before = path.read_text()
    first = run_cli(["--fix", "."], project)
    assert first.exit_code == 0
    assert "Found 1 error (1 fixed, 0 remaining)." in first.stderr
    after = path.read_text()
    assert after == before.replace('y_pred))"', 'y_pred), axis=-1)"')
    assert cell_source(path, 2) == "%matplotlib inline\nimport tensorflow as tf"
    second = run_cli(["--fix", "."], project)
    assert path.read_text() == after
    assert "All checks passed!" in second.stderr


def test_diff_shows_cells_and_writes_nothing(project: Path) -> None:
    path = notebook(project, "train.ipynb", "import tensorflow as tf", BAD_CELL)
    before = path.read_bytes()
    result = run_cli(["--diff", "."], project)
    assert result.exit_code == 1
    assert result.stdout == (
        "--- a/train.ipynb:cell 3\n"
        "+++ b/train.ipynb:cell 3\n"
        "@@ -1,2 +1,2 @@\n"
        " def mse(y_true, y_pred):\n"
        "-    return tf.reduce_mean(tf.square(y_true - y_pred))\n"
        "+    return tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)\n"
    )
    assert path.read_bytes() == before


def test_stdin_lints_and_fixes_a_notebook(project: Path) -> None:
    path = notebook(project, "train.ipynb", "import tensorflow as tf", BAD_CELL)
    data = path.read_bytes()
    lint = run_cli(["--stdin-filename", "train.ipynb", "-"], project, stdin=data)
    assert lint.exit_code == 1
    assert lint.stdout.startswith("train.ipynb:cell 3:2:12: LL001")
    fixed = run_cli(["--fix", "--stdin-filename", "train.ipynb", "-"], project, stdin=data)
    assert fixed.exit_code == 0
    assert fixed.stdout == data.decode().replace('y_pred))"', 'y_pred), axis=-1)"')
    broken = run_cli(["--stdin-filename", "x.ipynb", "-"], project, stdin=b'{"cells": [')
    assert broken.exit_code == 1
    assert broken.stdout.startswith("x.ipynb:1:12: LL000 not valid JSON")


def test_a_syntax_error_in_a_cell_is_reported_in_that_cell(project: Path) -> None:
    # named on the command line, or holding something loss-shaped: parsed, and the error shown
    notebook(project, "train.ipynb", "import tensorflow as tf", "x = (1,\ny = 2")
    result = run_cli(["--format", "json", "train.ipynb"], project)
    (finding,) = json.loads(result.stdout)
    assert (finding["code"], finding["cell"]) == ("LL000", 3)
    notebook(project, "other.ipynb", "def loss(y_true, y_pred):\n    return y_pred", "x = (1,")
    result = run_cli(["--format", "json", "."], project)
    findings = json.loads(result.stdout)
    assert [(f["filename"].rsplit("/", 1)[1], f["code"], f["cell"]) for f in findings] == [
        ("other.ipynb", "LL000", 3)
    ]


def test_a_cell_that_does_not_parse_hides_no_other_cell(project: Path) -> None:
    """Jupyter runs each cell on its own: an exercise stub that does not parse is LL000 in its
    cell, the other cells are still checked and fixed, and the stub is written back as it was."""
    stub = "def build_model():\n    # TODO: your code here\n"
    compile_cell = "model = tf.keras.Sequential()\nmodel.compile(loss=mse)"
    path = notebook(project, "lab.ipynb", "import tensorflow as tf", BAD_CELL, stub, compile_cell)
    result = run_cli(["--format", "json", "."], project)
    assert result.exit_code == 1
    found = [(f["code"], f["cell"], f["location"]["row"]) for f in json.loads(result.stdout)]
    assert found == [("LL001", 3, 2), ("LL000", 4, 2)]
    message = json.loads(result.stdout)[1]["message"]
    assert message.startswith("cannot parse cell: expected an indented block")
    warm = run_cli(["--format", "json", "."], project)  # the cache holds the module's LL000
    assert warm.stdout == result.stdout
    fixed = run_cli(["--fix", "."], project)
    assert fixed.exit_code == 1  # the stub is still a syntax error
    cells = ["".join(c["source"]) for c in json.loads(path.read_text())["cells"]]
    assert cells[2] == GOOD_CELL and cells[3] == stub and cells[4] == compile_cell
    again = path.read_bytes()
    run_cli(["--fix", "."], project)
    assert path.read_bytes() == again


def test_a_recovered_notebooks_compile_site_counts_for_the_project(project: Path) -> None:
    """A metric defined in a module and compiled by a notebook with an unparsable cell is
    judged with that compile site: one LL004 in the module, none left in the notebook."""
    (project / "metrics.py").write_text("import tensorflow as tf\n\n\n" + BAD_CELL + "\n")
    compile_cell = "model = tf.keras.Sequential()\nmodel.compile(loss='mse', metrics=[mse])"
    stub = "def build_model():\n    # TODO\n"
    notebook(
        project, "lab.ipynb", "import tensorflow as tf\nfrom metrics import mse", stub, compile_cell
    )
    result = run_cli(["--format", "json", "."], project)
    found = [(f["filename"].rsplit("/", 1)[1], f["code"]) for f in json.loads(result.stdout)]
    assert sorted(found) == [("lab.ipynb", "LL000"), ("metrics.py", "LL004")]


def test_a_notebook_whose_fix_would_not_validate_is_not_written(project: Path) -> None:
    path = notebook(project, "train.ipynb", "import tensorflow as tf", BAD_CELL)
    doc = json.loads(path.read_text())
    del doc["cells"][1]["outputs"]  # readable, but Jupyter's schema requires it
    path.write_text(json.dumps(doc, indent=1) + "\n")
    before = path.read_bytes()
    result = run_cli(["--fix", "."], project)
    assert result.exit_code == 1
    assert "warning: " in result.stderr and "not fixed: does not validate" in result.stderr
    assert "train.ipynb:cell 3:2:12: LL001" in result.stdout
    assert path.read_bytes() == before


def test_jobs_give_the_same_findings(project: Path) -> None:
    for i in range(3):
        notebook(project, f"nb{i}.ipynb", "import tensorflow as tf", BAD_CELL)
        (project / f"m{i}.py").write_text("import tensorflow as tf\n\n\n" + BAD_CELL + "\n")
    one = run_cli(["--jobs", "1", "--no-cache", "."], project).stdout
    assert one.count("LL001") == 6
    assert run_cli(["--jobs", "3", "--no-cache", "."], project).stdout == one


NO_NBFORMAT = textwrap.dedent(
    """
    import sys

    class Forbid:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] == "nbformat":
                raise ImportError("nbformat is not installed")
            return None

    sys.meta_path.insert(0, Forbid())
    import losslint.cli
    from click.testing import CliRunner

    result = CliRunner().invoke(losslint.cli.main, sys.argv[1:])
    print(result.exit_code, "nbformat" in sys.modules)
    print(result.stdout, file=sys.stderr)
    print(result.stderr, file=sys.stderr)
    """
)


@pytest.mark.slow
def test_without_nbformat_lint_works_and_fix_exits_2(project: Path) -> None:
    path = notebook(project, "train.ipynb", "import tensorflow as tf", BAD_CELL)
    (project / "losses.py").write_text("import tensorflow as tf\n\n\n" + BAD_CELL + "\n")
    before = {p: p.read_bytes() for p in (path, project / "losses.py")}

    def run(*args: str) -> tuple[str, str]:
        proc = subprocess.run(
            [sys.executable, "-c", NO_NBFORMAT, *args],
            cwd=project,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.strip(), proc.stderr

    assert run("--no-cache", ".")[0] == "1 False"  # findings; nbformat never imported
    assert run("--no-cache", "losses.py")[0] == "1 False"
    status, output = run("--fix", "--no-cache", ".")
    assert status == "2 False"
    assert "error: writing notebooks needs nbformat: pip install 'losslint[notebooks]'" in output
    assert {p: p.read_bytes() for p in before} == before  # nothing written, .py included


@pytest.mark.slow
def test_subprocess_lints_a_notebook_named_explicitly(project: Path) -> None:
    notebook(project, "train.ipynb", "import tensorflow as tf", BAD_CELL)
    proc = run_subprocess(["train.ipynb"], project)
    assert proc.returncode == 1
    assert proc.stdout.decode().startswith("train.ipynb:cell 3:2:12: LL001")


def test_good_notebook_is_clean(project: Path) -> None:
    notebook(project, "train.ipynb", "import tensorflow as tf", GOOD_CELL)
    result = run_cli(["."], project)
    assert result.exit_code == 0
    assert "All checks passed!" in result.stderr


@pytest.mark.slow
@pytest.mark.runtime
def test_runtime_confirms_the_notebook_fixtures_losses(tmp_path: Path) -> None:
    pytest.importorskip("tensorflow")
    root = copy_case("notebooks", tmp_path)
    proc = run_subprocess(["--runtime", "--format", "json", "--no-cache", "."], root)
    findings = [d for d in json.loads(proc.stdout) if d["code"] == "LL001"]
    assert len(findings) == 7
    for d in findings:
        assert d["runtime"]["verdict"] == "confirmed", d
        assert d["runtime"]["output_shape"] == []
        assert d["runtime"]["fix_verified"] is True, d
    assert {d["cell"] for d in findings if d["filename"].endswith("train_magics.ipynb")} == {5, 7}


def test_lambda_names_and_evidence_name_cells_only_for_the_notebook(project: Path) -> None:
    (project / "train.py").write_text(
        "import tensorflow as tf\n\nmodel.compile(loss=lambda yt, yp: tf.reduce_mean(yt - yp))\n"
    )
    notebook(
        project,
        "train.ipynb",
        "import tensorflow as tf",
        "x = 1\nmodel.compile(loss=lambda yt, yp: tf.reduce_sum(yt - yp))",
    )
    found = json.loads(run_cli(["--format", "json", "."], project).stdout)
    got = {(Path(d["filename"]).name, d["function"], d["evidence"]) for d in found}
    assert got == {
        ("train.ipynb", "train.<lambda>@cell 3:2", "compiled at train.ipynb:cell 3:2"),
        ("train.py", "train.<lambda>@3", "compiled at train.py:3"),
    }


def test_an_indented_cell_is_linted_and_fixed_where_it_is_written(project: Path) -> None:
    path = notebook(
        project, "train.ipynb", "import tensorflow as tf", "  " + BAD_CELL.replace("\n", "\n  ")
    )
    result = run_cli(["."], project)
    assert result.stdout.startswith("train.ipynb:cell 3:2:14: LL001")
    run_cli(["--fix", "."], project)
    assert cell_source(path, 3) == "  " + GOOD_CELL.replace("\n", "\n  ")
