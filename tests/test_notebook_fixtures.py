"""The notebook fixtures: hand-written golden findings, checked against the cells' text and
against the real CLI; golden fixed notebooks, checked with nbformat and a JSON diff.

`fixtures/notebooks/expected/findings.json` was written by reading the cells, not by running
losslint; `findings.txt` and `fixed*/` are checked by `test_fixtures.py` like every fixture.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat
import pytest
from conftest import FIXTURES, copy_case, run_cli

CASE = FIXTURES / "notebooks"
GOLDEN: list[dict[str, Any]] = json.loads((CASE / "expected" / "findings.json").read_text())


def _cell_text(path: Path, cell: int) -> str:
    """A cell's source read with plain `json` (independent of `losslint.notebook`)."""
    source = json.loads(path.read_text("utf-8"))["cells"][cell - 1]["source"]
    return "".join(source) if isinstance(source, list) else source


@pytest.mark.parametrize("golden", GOLDEN, ids=lambda g: f"{g['file']}:{g['cell']}:{g['row']}")
def test_each_golden_points_at_its_expression(golden: dict[str, Any]) -> None:
    path = CASE / golden["file"]
    text = path.read_text("utf-8") if golden["cell"] is None else _cell_text(path, golden["cell"])
    line = text.split("\n")[golden["row"] - 1]
    assert line[golden["column"] - 1 :].startswith(golden["text"]), line


def test_the_cli_finds_exactly_the_golden_findings(tmp_path: Path) -> None:
    root = copy_case("notebooks", tmp_path)
    result = run_cli(["--format", "json", "--no-cache", "."], root)
    assert result.exit_code == 1
    found = json.loads(result.stdout)
    key = ("file", "code", "cell", "row", "column", "function")
    got = [
        (
            Path(d["filename"]).name,
            d["code"],
            d["cell"],
            d["location"]["row"],
            d["location"]["column"],
            d["function"],
        )
        for d in found
    ]
    assert sorted(got, key=str) == sorted((tuple(g[k] for k in key) for g in GOLDEN), key=str)
    evidence = {(Path(d["filename"]).name, d["cell"], d["location"]["row"]): d for d in found}
    for golden in GOLDEN:
        if "evidence" in golden:
            d = evidence[(golden["file"], golden["cell"], golden["row"])]
            assert d["evidence"] == golden["evidence"]
    # the autosaved copy in .ipynb_checkpoints is never linted
    assert not any(".ipynb_checkpoints" in d["filename"] for d in found)


def test_json_fix_edits_are_in_cell_coordinates(tmp_path: Path) -> None:
    """Applying a finding's `fix.edits` to its cell's source gives the golden fixed cell."""
    root = copy_case("notebooks", tmp_path)
    found = json.loads(run_cli(["--format", "json", "--no-cache", "."], root).stdout)
    checked = 0
    for d in found:
        if d["cell"] is None or d["fix"] is None:
            continue
        name = Path(d["filename"]).name
        lines = _cell_text(CASE / name, d["cell"]).split("\n")
        for edit in sorted(d["fix"]["edits"], key=lambda e: e["location"]["column"], reverse=True):
            start, end = edit["location"], edit["end_location"]
            assert start["row"] == end["row"]
            line = lines[start["row"] - 1]
            lines[start["row"] - 1] = (
                line[: start["column"] - 1] + edit["content"] + line[end["column"] - 1 :]
            )
        assert "\n".join(lines) == _cell_text(CASE / "expected" / "fixed" / name, d["cell"])
        checked += 1
    assert checked == 6


FIXED = sorted((CASE / "expected" / "fixed").glob("*.ipynb"))


@pytest.mark.parametrize("fixed", FIXED, ids=lambda p: p.name)
def test_fixed_notebooks_validate_and_differ_only_in_fixed_sources(fixed: Path) -> None:
    original = CASE / fixed.name
    nbformat.validate(nbformat.reads(fixed.read_text("utf-8"), as_version=nbformat.NO_CONVERT))
    before, after = json.loads(original.read_text("utf-8")), json.loads(fixed.read_text("utf-8"))
    flagged = {g["cell"] for g in GOLDEN if g["file"] == fixed.name}
    changed = set()
    for index, (a, b) in enumerate(zip(before["cells"], after["cells"], strict=True), 1):
        if a != b:
            assert {k for k in a if a[k] != b.get(k)} == {"source"}, f"cell {index}"
            changed.add(index)
    assert changed == flagged
    for index in changed:  # put the old sources back: the rest is identical JSON
        after["cells"][index - 1]["source"] = before["cells"][index - 1]["source"]
    assert after == before
    # byte level: only lines holding a fixed source line differ, and the file ends as it did
    old_lines = original.read_bytes().split(b"\n")
    new_lines = fixed.read_bytes().split(b"\n")
    if len(old_lines) == len(new_lines):
        differing = [a for a, b in zip(old_lines, new_lines, strict=True) if a != b]
        assert differing and all(b"reduce_mean" in a or b"mean(" in a for a in differing)
    assert original.read_bytes().endswith(b"\n") == fixed.read_bytes().endswith(b"\n")


def test_unreadable_notebooks_are_never_written(tmp_path: Path) -> None:
    root = copy_case("notebooks", tmp_path)
    before = {p: (root / p).read_bytes() for p in ("broken.ipynb", "nbformat3.ipynb")}
    run_cli(["--fix", "--unsafe-fixes", "--no-cache", "."], root)
    assert {p: (root / p).read_bytes() for p in before} == before
