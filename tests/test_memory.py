"""Memory and the garbage collector: what the analysis keeps, frees and never collects.

A parsed tree is most of what the analysis holds, so a file analysed on its own is dropped
after its analysis (with the memos made for it) and parsed again if a later file imports it;
nothing in a parse makes a reference cycle (the collector is paused while files are analysed,
so a cycle would keep a tree until the end of the run); and results never depend on what was
dropped.
"""

from __future__ import annotations

import ast
import gc
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_cli import write

from losslint.analysis.memos import Memos
from losslint.config import load_config
from losslint.engine import Session
from losslint.engine import units as units_module
from losslint.engine.collector import collector_paused
from losslint.index.modules import Binding, collect_bindings

LOSSES = (
    "import tensorflow as tf\n\n\n"
    "def distinctive_l1(y_true, y_pred):\n"
    "    return tf.reduce_mean(tf.abs(y_true - y_pred))\n"
)
TRAIN = "from pkg.losses import distinctive_l1\n\n\ndef build(model):\n    model.compile(loss=distinctive_l1)\n"
SCRIPT = (
    "import tensorflow as tf\n\n\n"
    "def script_only_loss(y_true, y_pred):\n"
    "    return tf.reduce_sum(tf.square(y_true - y_pred))\n\n\n"
    "def build(model):\n    model.compile(loss=script_only_loss)\n"
)


@pytest.fixture
def no_collection() -> Iterator[None]:
    """The collector off, as in a command-line run: only reference counts free memory."""
    gc.collect()
    with collector_paused():
        yield


def _project(root: Path) -> Path:
    (root / ".git").mkdir()
    write(root, "pkg/__init__.py", "")
    write(root, "pkg/losses.py", LOSSES)
    write(root, "pkg/train.py", TRAIN)
    write(root, "script.py", SCRIPT)
    return root


def _analyser(root: Path) -> units_module.UnitAnalyser:
    return units_module.UnitAnalyser(root, {}, load_config(root), render=False)


def _live_defs(name: str) -> int:
    """How many `def name` nodes are still alive."""
    return sum(1 for o in gc.get_objects() if isinstance(o, ast.FunctionDef) and o.name == name)


def test_a_file_analysed_on_its_own_is_freed_with_its_memos(
    tmp_path: Path, no_collection: None
) -> None:
    root = _project(tmp_path)
    analyser = _analyser(root)
    mark = analyser.evaluator.memos.mark()
    result = analyser.analyse(root / "script.py")
    assert {(r.code, r.function) for r in result.records} == {("LL001", "script.script_only_loss")}
    assert analyser.index.parsed_tree(root / "script.py") is None
    assert analyser.evaluator.memos.mark() == mark  # every memo made for it dropped
    assert _live_defs("script_only_loss") == 0  # no cycle keeps its tree


def test_a_module_an_analysed_file_imports_stays_loaded(tmp_path: Path) -> None:
    root = _project(tmp_path)
    analyser = _analyser(root)
    analyser.analyse(root / "pkg" / "train.py")
    assert analyser.index.parsed_tree(root / "pkg" / "train.py") is None
    losses = root / "pkg" / "losses.py"
    tree = analyser.index.parsed_tree(losses)
    assert tree is not None  # a dependency: the next files that import it reuse it
    analyser.analyse(losses)
    assert analyser.index.parsed_tree(losses) is tree  # kept: an earlier unit loaded it


@pytest.mark.parametrize("first", ["pkg/losses.py", "pkg/train.py"])
def test_results_do_not_depend_on_what_was_freed(tmp_path: Path, first: str) -> None:
    root = _project(tmp_path)
    paths = [root / "script.py", root / "pkg/losses.py", root / "pkg/train.py"]
    alone = {p: _analyser(root).analyse(p) for p in paths}  # one analyser per file
    analyser = _analyser(root)
    order = sorted(paths, key=lambda p: p != root / first)
    shared = {p: analyser.analyse(p) for p in order}  # losses.py freed, then parsed again
    assert shared == alone
    assert [r.function for r in shared[root / "pkg/train.py"].records] == [
        "pkg.losses.distinctive_l1"
    ]


def test_bindings_make_no_reference_cycle(no_collection: None) -> None:
    gc.collect()
    tree = ast.parse(
        "try:\n    import a\nexcept ImportError:\n    a = None\n"
        "if a:\n    def f(x): return x\nelse:\n    class F: pass\n"
    )
    bindings, _ = collect_bindings(tree.body)
    assert set(bindings) == {"a", "f", "F"}
    del tree, bindings
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        cyclic = [o for o in gc.garbage if isinstance(o, ast.AST | Binding)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert cyclic == []


def test_the_collector_is_paused_while_files_are_analysed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _project(tmp_path)
    seen: list[bool] = []
    original = units_module.UnitAnalyser.analyse

    def analyse(
        self: units_module.UnitAnalyser,
        path: Path,
        parse_anyway: bool = False,
        gated: bool = False,
    ) -> units_module.UnitResult:
        seen.append(gc.isenabled())
        return original(self, path, parse_anyway, gated)

    monkeypatch.setattr(units_module.UnitAnalyser, "analyse", analyse)
    assert gc.isenabled()
    found = Session(load_config(root)).lint([root / "pkg/train.py", root / "script.py"])
    assert seen and not any(seen)
    assert gc.isenabled()  # restored for the session's next use
    assert sorted(d.code for r in found for d in r.diagnostics) == ["LL001", "LL001"]


def test_rewinding_drops_what_came_after_the_mark_in_every_table() -> None:
    memos = Memos()
    old = memos.table()
    old.update(a=1, b=2)
    mark = memos.mark()
    old["b"] = 20  # updated in place: an entry from before the mark stays
    old["c"] = 3
    late = memos.table()  # made after the mark
    late["x"] = 1
    memos.rewind(mark)
    assert old == {"a": 1, "b": 20}
    assert late == {}
