"""The engine's shortcuts answer exactly what the long way answers.

The text gate never rules out a file the `ast` gate keeps; imports read from text include every
import the parsed closure has; a partial run reports what the whole run reports for those
files; a warm run analyses nothing; a long-lived session re-analyses only what an edit can
change; worker processes change nothing; the start-up imports stay light.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import FIXTURES, copy_case
from test_cli import BAD, write

from losslint.analysis.catalogue import load as load_catalogue
from losslint.cli import FORMATS, main
from losslint.config import DEFAULT_LOSS_ARG_NAMES, load_config
from losslint.engine import LintOptions, Session
from losslint.engine import session as session_module
from losslint.engine import units as units_module
from losslint.engine import workers as workers_module
from losslint.index.gate import may_hold_losses, text_may_hold_losses
from losslint.index.project import ProjectIndex
from losslint.model import FileResult
from losslint.reporters import REPORTERS
from losslint.source import SourceError, decode

PAIRS = frozenset(DEFAULT_LOSS_ARG_NAMES)
FRAMEWORKS = load_catalogue().frameworks

# -- the text gate ----------------------------------------------------------------------------

LITERAL_COMPILES = [
    'model.compile(optimizer="adam", loss="mse", metrics=["mae", "acc"])\n',
    'model.compile("sgd", "mse")\n',
    'model.compile(loss=None, metrics=("mae",), weighted_metrics=[])\n',
    "model.compile(  # see (x) and 'y'\n    loss='mse)',\n    optimizer=opt,\n)\n",
    'PATTERN = re.compile(r"(a|b)", re.I)\nother = regex.compile("x", flags)\n',
    "from keras.src import losses, metrics\nimport tensorflow as tf\n\n"
    "model.compile(loss=losses.MeanSquaredError(), metrics=[metrics.AUC(), tf.keras.metrics.MAE])\n",
    '"""The losses module: losses = ..."""\nfrom keras import losses  # losses = mine\n'
    "model.compile(loss=losses.Huber())\n",
    "from keras.losses import mse\nmodel.compile(loss=mse)\n",  # Keras' own mse
    # quotes inside strings: one in a docstring, an escaped one, one in a comment
    '"""A "quote: losses = x."""\nfrom keras import losses  # it\'s\n'
    "NOTE = 'it\\'s losses = z'\nmodel.compile(loss=losses.Huber())\n",
]
PROJECT_COMPILES = [
    "model.compile(optimizer='adam', loss=my_loss)\n",
    "model.compile(loss=lambda a, b: a - b)\n",
    "model.compile(**settings)\n",
    "model.compile(*args)\n",
    "model.compile('sgd', custom)\n",
    "model.compile('sgd', 'mse', None, [acc])\n",
    "model.compile(loss={'out': my_loss})\n",
    "model.compile(loss=losses.Huber())\n",
    "model.compile(  # see (x)\n    loss='mse)',\n    metrics=[custom],\n)\n",
    "model . compile (loss=custom)\n",
    "model.\\\ncompile(loss=custom)\n",
    "model.compile(loss=custom",  # cut short: cannot be told, so it counts
    "x.re.compile(a, b)\n",  # not the `re` module
    'print("model.compile(loss=my_loss)")\n',  # in a string: counts, to be safe
    "from keras import losses\nlosses = mine\nmodel.compile(loss=losses.Huber())\n",
    "import tensorflow as tf\nmodel.compile(loss=tf.keras.losses.get(name))\n",
    "from keras import losses\nfrom mine import losses\nmodel.compile(loss=losses.Huber())\n",
    "from keras import losses\n\ndef f(losses):\n    model.compile(loss=losses.Huber())\n",
]


@pytest.mark.parametrize("text", LITERAL_COMPILES)
def test_compile_calls_with_literal_losses_are_gated_out_unparsed(text: str) -> None:
    assert not text_may_hold_losses(text, PAIRS)


@pytest.mark.parametrize("text", PROJECT_COMPILES)
def test_compile_calls_that_may_name_a_loss_pass_the_text_gate(text: str) -> None:
    assert text_may_hold_losses(text, PAIRS)


CALL = "    def call(self, x, y=None):\n        return x\n"
# classes with a `call` that loss discovery can never take for a Loss: their bases are
# framework classes that are no Loss, or classes of the file built on those
NO_LOSS_CLASSES = [
    f"from keras.src.ops.operation import Operation\n\nclass Abs(Operation):\n{CALL}",
    f"import tensorflow as tf\n\nclass Conv(tf.keras.layers.Conv2D):\n{CALL}",
    f"from tensorflow.keras import layers\n\nclass D(layers.Dense):\n{CALL}",
    "from keras.src.ops.operation import Operation\n\n"
    f"class Base(Operation):\n    pass\n\nclass Abs(Base):\n{CALL}",
    f'"""An Operation, a RNN."""\nfrom keras.src.layers import RNN  # the RNN\n\nclass G(RNN):\n{CALL}',
    "try:\n    from keras.src.layers import Dense as Base\n"
    "except ImportError:\n    from tf_keras.layers import Dense as Base\n\n"
    f"class D(Base):\n{CALL}x = Base(3)\ny = Base.from_config(c)\n",
]
# ... and classes that may be one (or that the text cannot tell)
MAYBE_LOSS_CLASSES = [
    f"from keras.losses import Loss\n\nclass L(Loss):\n{CALL}",
    f"import tensorflow as tf\n\nclass L(tf.keras.losses.Loss):\n{CALL}",
    f"from tensorflow.keras.losses import Huber as Base\n\nclass L(Base):\n{CALL}",
    "from keras.src.ops.operation import Operation\n\n"
    f"class B(Operation):\n    pass\n\nclass L(B, keras.losses.Loss):\n{CALL}",
    f"from keras.src.ops.operation import Operation\nOperation = make()\n\nclass A(Operation):\n{CALL}",
    f"from keras.src.ops.operation import Operation\n\ndef f(Operation):\n    class A(Operation):\n{CALL}",
    f"from keras.src.ops.operation import Operation\nfor Operation in x:\n    pass\n\nclass A(Operation):\n{CALL}",
    f"from keras.src.ops.operation import Operation\nfrom losses import *\n\nclass A(Operation):\n{CALL}",
    f"from .base import Operation\n\nclass A(Operation):\n{CALL}",
    f"from keras.src.ops.operation import Operation\nfrom mine import Operation\n\nclass A(Operation):\n{CALL}",
    f"from keras.src.saving import KerasSaveable\n\nclass Loss(KerasSaveable):\n{CALL}",
    "from keras.src.ops.operation import Operation\n\n"
    f"class B(Operation):\n    pass\n\nclass B(Mine):\n    pass\n\nclass A(B):\n{CALL}",
    "from keras.src.ops.operation import Operation\n\n"
    f"class B(Operation):\n    pass\nB = Mine\n\nclass A(B):\n{CALL}",
    "from keras.src.ops.operation import Operation\n\n"
    f"class B(Operation):\n    pass\n\nclass A(B.Inner):\n{CALL}",
]


@pytest.mark.parametrize("text", NO_LOSS_CLASSES)
def test_classes_on_framework_bases_that_are_no_loss_are_gated_out(text: str) -> None:
    assert not text_may_hold_losses(text, PAIRS)


@pytest.mark.parametrize("text", MAYBE_LOSS_CLASSES)
def test_classes_that_may_subclass_a_loss_pass_the_text_gate(text: str) -> None:
    assert text_may_hold_losses(text, PAIRS)


def _sources() -> list[tuple[str, str]]:
    found = []
    for path in sorted(FIXTURES.rglob("*.py")):
        try:
            found.append((str(path), decode(path, path.read_bytes()).text))
        except SourceError:
            continue
    snippets = LITERAL_COMPILES + PROJECT_COMPILES + NO_LOSS_CLASSES + MAYBE_LOSS_CLASSES
    return found + [(f"<snippet {i}>", text) for i, text in enumerate(snippets)]


def test_the_text_gate_never_rules_out_what_the_ast_gate_keeps() -> None:
    kept = 0
    for name, text in _sources():
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        if may_hold_losses(tree, text, PAIRS, FRAMEWORKS):
            kept += 1
            assert text_may_hold_losses(text, PAIRS), name
    assert kept > 30  # the fixtures really exercise it


# -- imports read from text ---------------------------------------------------------------------

TRICKY = (
    '"""A docstring that says: import nothing."""\n'
    "import os, pkg.a as pa, \\\n    pkg.b\n"
    "from pkg import (c,  # a comment with ) inside\n    d)\n"
    "from pkg . e import f\n"
    "from . import g\n"
    "x = 1; import h\n"
    "if x: from i import j\n"
    "try: import k\nexcept ImportError: pass\n"
    "from l import \\\n    m\n"
    "\n\ndef gen():\n    yield from range(3)\nfrom n import o\n\n\n"
    "def fail():\n    raise ValueError() from None\nimport p\n"
    "import\tq\n"
    "\x0cfrom r import (\n    s,\n)\n"
)
TRICKY_TARGETS = ["pkg/a", "pkg/b", "pkg/c", "pkg/d", "pkg/e", "g", "h", "i", "k", "l", "n", "p"]


def _parsed_index(root: Path, frameworks: frozenset[str]) -> ProjectIndex:
    """An index that has parsed every module (so `import_closure` reads `ast` trees)."""
    index = ProjectIndex(root, None, frameworks)
    for path in sorted(root.rglob("*.py")):
        assert index.module(path) is not None or index.error(path) is not None
    return index


def _text_closure(index: ProjectIndex, start: Path) -> set[Path]:
    seen: set[Path] = set()
    stack = [start.resolve()]
    while stack:
        path = stack.pop()
        if path not in seen:
            seen.add(path)
            stack.extend(index.text_imports(path))
    return seen


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_text_imports_hold_every_parsed_import(project: Path, newline: str) -> None:
    write(project, "pkg/__init__.py", "")
    for name in [*TRICKY_TARGETS, "q", "r", "pkg/s", "m"]:
        write(project, f"{name}.py", "")
    write(project, "pkg/m.py", "")
    main = project / "main.py"
    main.write_bytes(TRICKY.replace("\n", newline).encode())
    compile(main.read_bytes(), "main.py", "exec")  # it is real Python
    for frameworks in (FRAMEWORKS, frozenset()):
        index = _parsed_index(project, frameworks)
        parsed, _ = index.import_closure(main)
        assert {(project / f"{t}.py").resolve() for t in TRICKY_TARGETS} <= parsed
        assert parsed <= _text_closure(index, main)
        # a closure built without parsing (modules the analysis did not read) holds it too
        unparsed, _ = ProjectIndex(project, None, frameworks).import_closure(main)
        assert parsed <= unparsed


def test_text_imports_hold_the_fixtures_closures() -> None:
    for case in ["keras_project", "realworld_patterns", "src_layout", "layout"]:
        # the fixture folder is the project (the repository around it may hold large corpora)
        root = FIXTURES / case
        index = _parsed_index(root, FRAMEWORKS)
        edges = 0
        for path in sorted((FIXTURES / case).rglob("*.py")):
            parsed, misses = index.import_closure(path)
            edges += len(parsed) - 1
            assert parsed <= _text_closure(index, path), path
            fresh = ProjectIndex(root, None, FRAMEWORKS)
            unparsed, unparsed_misses = fresh.import_closure(path)
            assert parsed <= unparsed and misses <= unparsed_misses, path
        assert edges > 0 or case == "layout"


# -- partial, warm, long-lived and parallel runs ------------------------------------------------

# Which of several equally ranked reductions a compile-site message names (`(losses.py:62)`
# or `(losses.py:63)` for `CustomMSE.call` in keras_project) depends on the order of a
# frozenset in the analysis, that is on memory layout: compared without that line number.
_ORIGIN_LINE = re.compile(r"\(([\w/.]+\.py):\d+\)")


def _findings(results: list[FileResult]) -> dict[Path, list[tuple[object, ...]]]:
    return {
        r.path: [
            (
                d.code,
                d.location,
                d.end_location,
                d.function,
                d.losses,
                d.fix is not None,
                _ORIGIN_LINE.sub(r"(\1:N)", d.message),
            )
            for d in r.diagnostics
        ]
        for r in results
    }


@pytest.fixture(params=["keras_project", "realworld_patterns", "src_layout"])
def case(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    root = copy_case(request.param, tmp_path)
    (root / ".git").mkdir(exist_ok=True)
    return root.resolve()


def test_one_file_runs_report_what_analysing_everything_reports(
    case: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = load_config(case)
    files = Session(config).project_files()
    Session(config, cache=True).lint(files)  # fills the cache
    expected = {}
    with monkeypatch.context() as every_file:  # the long way: no file left out
        every_file.setattr(Session, "_importers", lambda self, run, analyser, starts, _: starts)
        for path in files:
            expected[path] = _findings(Session(config).lint([path]))[path]
    assert sum(map(len, expected.values())) > 5
    for path in files:
        assert _findings(Session(config).lint([path])) == {path: expected[path]}, path
        warm = Session(config, cache=True).lint([path])
        assert _findings(warm) == {path: expected[path]}, path


UTILS = "import tensorflow as tf\n\n\ndef l1(a, b):\n    return tf.reduce_mean(tf.abs(a - b))\n"
MODEL = "from pkg.utils import l1\n\n\ndef build(model):\n    model.compile(loss=l1)\n"


def _count_analyses(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Path, bool]]:
    """Record every file the engine analyses from now on (and whether it was parsed)."""
    calls: list[tuple[Path, bool]] = []
    original = units_module.UnitAnalyser.analyse

    def analyse(
        self: units_module.UnitAnalyser,
        path: Path,
        parse_anyway: bool = False,
        gated: bool = False,
    ) -> units_module.UnitResult:
        result = original(self, path, parse_anyway, gated)
        calls.append((path, result.parsed))
        return result

    gated_out = session_module._gated_out

    def ruled_out(index: ProjectIndex, path: Path, render: bool) -> units_module.UnitResult | None:
        result = gated_out(index, path, render)
        if result is not None:  # (its result needs no analysis, but it is a file analysed)
            calls.append((path, False))
        return result

    monkeypatch.setattr(units_module.UnitAnalyser, "analyse", analyse)
    monkeypatch.setattr(session_module, "_gated_out", ruled_out)
    return calls


def test_a_partial_run_analyses_only_what_can_land_a_finding(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(project, "pkg/__init__.py", "")
    write(project, "pkg/utils.py", UTILS)
    write(project, "pkg/model.py", MODEL)
    write(project, "pkg/train.py", "import pkg.model\n")
    write(project, "other.py", BAD)  # loss-shaped, but imports nothing of the project
    config = load_config(project)
    analysed = _count_analyses(monkeypatch)
    [result] = Session(config).lint([project / "pkg" / "utils.py"])
    assert [d.code for d in result.diagnostics] == ["LL001"]
    parsed = {p.name for p, parsed in analysed if parsed}
    assert "other.py" not in parsed  # it could only hold findings of its own
    assert "model.py" in parsed  # (utils.py is analysed too, gated out: its `l1` is no loss
    assert "utils.py" in {p.name for p, _ in analysed}  # until model.py compiles it)
    [site] = Session(config).lint([project / "pkg" / "model.py"])[0].diagnostics
    assert "`compile(loss=l1)`" in site.message  # the loss's own file was analysed too


def test_a_warm_run_analyses_nothing(case: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_config(case)
    files = Session(config).project_files()
    cold = Session(config, cache=True).lint(files)
    analysed = _count_analyses(monkeypatch)
    warm = Session(config, cache=True).lint(files, LintOptions(keep_sources=False))
    assert [r.diagnostics for r in warm] == [r.diagnostics for r in cold]
    assert sum(len(r.diagnostics) for r in warm) > 3
    assert analysed == []
    # without sources kept, only the files with findings carry their text
    assert all((r.source is not None) == bool(r.diagnostics) for r in warm)


def test_a_long_lived_session_reanalyses_only_what_an_edit_can_change(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(project, "pkg/__init__.py", "")
    utils = write(project, "pkg/utils.py", UTILS)
    write(project, "pkg/model.py", MODEL)
    write(project, "pkg/train.py", "import pkg.model\n\nmodel.compile(loss=pkg.model.l1)\n")
    data = write(project, "pkg/data.py", "def load(target, output):\n    return target\n")
    config = load_config(project)
    session = Session(config)
    files = session.project_files()
    first = _findings(session.lint(files))
    assert sum(map(len, first.values())) == 1  # at the loss
    analysed = _count_analyses(monkeypatch)
    session.set_overlay(data, data.read_bytes() + b"\n# edited\n")
    assert _findings(session.lint(files)) == first
    assert {p.name for p, _ in analysed} == {"data.py"}
    analysed.clear()
    session.set_overlay(utils, UTILS.replace("))", "), axis=-1)").encode())
    fixed = _findings(session.lint(files))
    assert all(not v for v in fixed.values())  # the edit really changed the findings
    assert {p.name for p, _ in analysed} == {"utils.py", "model.py", "train.py"}


def test_a_fix_run_leaves_the_sessions_buffers_as_they_were(project: Path) -> None:
    path = write(project, "losses.py", BAD)
    session = Session(load_config(project), overlays={path: BAD.encode()})
    before = session.lint([path])[0].diagnostics
    fixed = session.lint([path], LintOptions(fix=True))[0]
    assert fixed.fixed_source is not None and "axis=-1" in fixed.fixed_source
    assert session.overlays[path.resolve()] == BAD.encode()
    assert session.lint([path])[0].diagnostics == before != ()


def test_gated_out_files_get_the_analysers_result_without_it(case: Path) -> None:
    write(case, "extra/data.py", "import numpy as np\n\n\ndef load(p):\n    return np.load(p)\n")
    write(case, "extra/fit.py", "model.compile(optimizer='adam', loss='mse', metrics=['mae'])\n")
    write(case, "extra/empty.py", "")
    write(case, "extra/broken.py", "def f(:\n")  # a syntax error the gate never parses
    config = load_config(case)
    files = Session(config).project_files()
    reader = ProjectIndex(config.root, None)
    pairs = frozenset(config.loss_arg_names)
    analyser = units_module.UnitAnalyser(config.root, {}, config, render=False)
    gated = [p for p in files if session_module._gate_size(reader, pairs, p) is None]
    assert len(gated) > 3
    for path in gated:
        assert session_module._gated_out(reader, path, False) == analyser.analyse(path)


def test_job_count_follows_the_work_and_the_idle_cpus(monkeypatch: pytest.MonkeyPatch) -> None:
    job_count = session_module._job_count
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(os, "getloadavg", lambda: (0.1, 0.1, 0.1))
    assert job_count(0, [1_000_000] * 10) == 2  # enough to parse, two idle CPUs
    assert job_count(0, [50_000] * 10) == 1  # not worth a fork
    assert job_count(0, [10_000_000]) == 1  # one file cannot be shared
    monkeypatch.setattr(os, "getloadavg", lambda: (1.7, 1.0, 1.0))
    assert job_count(0, [1_000_000] * 10) == 2  # a load under 2: earlier runs, mostly
    monkeypatch.setattr(os, "getloadavg", lambda: (2.7, 3.0, 3.0))
    assert job_count(0, [1_000_000] * 10) == 1  # other work keeps both CPUs busy
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    assert job_count(0, [1_000_000] * 40) == 8  # never more processes than CPUs
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert job_count(3, [1] * 10) == 3 and job_count(3, [1, 1]) == 2 and job_count(1, [1] * 9) == 1
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    assert job_count(0, [1_000_000] * 10) == 1  # `taskset -c 0`


@pytest.mark.slow
def test_worker_processes_give_the_same_results(
    case: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = load_config(case)
    files = Session(config).project_files()
    one = _findings(Session(config, jobs=1).lint(files))
    assert _findings(Session(config, jobs=2).lint(files)) == one
    assert _findings(Session(config, jobs=3).lint(files)) == one

    def die(_make: Any, _args: Any, total: int, counter: Any, _send: Any) -> None:
        next(workers_module._take(counter, total))  # takes a file, and is killed
        os._exit(1)

    monkeypatch.setattr(workers_module, "_serve", die)
    assert _findings(Session(config, jobs=2).lint(files)) == one


@pytest.mark.slow
def test_a_gate_shared_with_worker_processes_gives_the_same_results(
    case: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a large tree the text gate is shared between processes (`gate_shared`); here every
    tree counts as large. A gate worker that dies loses nothing."""
    config = load_config(case)
    files = Session(config).project_files()
    one = _findings(Session(config, jobs=1).lint(files))
    monkeypatch.setattr(session_module, "_GATE_CHARS_PER_JOB", 1)
    shared: list[int] = []
    gate_shared = workers_module.gate_shared

    def spy(*args: Any) -> Any:
        shared.append(len(args[2]))
        return gate_shared(*args)

    monkeypatch.setattr(workers_module, "gate_shared", spy)
    assert _findings(Session(config, jobs=2).lint(files)) == one
    assert shared and shared[0] == len(files)  # every file went through the shared gate

    def die(_make: Any, _args: Any, total: int, counter: Any, _send: Any) -> None:
        next(workers_module._take(counter, total))  # takes a file, and is killed
        os._exit(1)

    monkeypatch.setattr(workers_module, "_serve", die)
    assert _findings(Session(config, jobs=2).lint(files)) == one
    assert len(shared) == 2


# -- start-up ---------------------------------------------------------------------------------


def _imported(args: list[str], cwd: Path, exit_code: int = 0) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "losslint", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == exit_code, proc.stderr[-2000:]
    return {
        line.rsplit("|", 1)[1].strip()
        for line in proc.stderr.splitlines()
        if line.startswith("import time:")
    }


@pytest.mark.slow
def test_version_imports_only_the_package(tmp_path: Path) -> None:
    imported = _imported(["--version"], tmp_path)
    assert "losslint" in imported
    assert sorted(name for name in imported if name.startswith("losslint.")) == []
    assert not {"click", "pathspec", "tomllib", "dataclasses", "hashlib"} & imported
    script = Path(sys.executable).with_name("losslint")
    for command in ([sys.executable, "-m", "losslint", "--version"], [str(script), "--version"]):
        fast = subprocess.run(command, capture_output=True, text=True, check=True)
        assert fast.stdout == CliRunner().invoke(main, ["--version"]).output  # click's answer


@pytest.mark.slow
def test_a_text_lint_imports_no_libcst_and_no_process_pool(project: Path) -> None:
    write(project, "losses.py", BAD)
    imported = _imported(["--no-cache", "losses.py"], project, exit_code=1)  # BAD: a finding
    assert "losslint.engine.units" in imported  # it did lint
    heavy = {"libcst", "multiprocessing", "concurrent.futures", "pathspec", "hashlib"}
    assert not heavy & {name.split(".")[0] for name in imported} - {"concurrent"}
    assert "concurrent.futures" not in imported
    # the catalogue is read without importlib.resources; no `noqa` comment, no suppression module
    assert not {"importlib.resources", "losslint.suppression"} & imported


@pytest.mark.slow
def test_a_fresh_git_repository_needs_no_gitignore_matcher(project: Path) -> None:
    """`git init` writes .git/info/exclude with comments only: no pattern, no pathspec; a
    real pattern there still excludes."""
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    exclude = project / ".git" / "info" / "exclude"
    assert exclude.read_text().startswith("#")  # what git wrote: comments only
    write(project, "losses.py", BAD)
    write(project, "skipped.py", BAD)
    assert "pathspec" not in _imported(["--no-cache", "."], project, exit_code=1)
    exclude.write_text(exclude.read_text() + "skip*.py\n")
    proc = subprocess.run(
        [sys.executable, "-m", "losslint", "--no-cache", "."],
        cwd=project,
        capture_output=True,
        text=True,
    )
    assert "losses.py" in proc.stdout and "skipped.py" not in proc.stdout


@pytest.mark.slow
def test_a_small_lint_parses_no_toml_it_has_parsed_before(tmp_path: Path) -> None:
    """The catalogue's parsed form is kept beside it (`toml_cache`); a project without a
    pyproject.toml then needs no TOML parser, a `--no-cache` run no JSON, a file without
    custom-loop sinks no loop analysis."""
    root = tmp_path / "proj"
    write(root, ".git/HEAD", "")
    write(root, "losses.py", BAD)
    _imported(["--no-cache", "losses.py"], root, exit_code=1)  # the catalogue's copy exists
    imported = _imported(["--no-cache", "losses.py"], root, exit_code=1)
    assert "losslint.engine.units" in imported  # it did lint
    assert not {"tomllib", "tomli", "json", "losslint.analysis.loops"} & imported


@pytest.mark.slow
def test_a_run_with_nothing_to_analyse_imports_no_analysis(project: Path) -> None:
    write(project, "data.py", "import numpy as np\n\n\ndef load(path):\n    return np.load(path)\n")
    write(project, "train.py", "from data import load\n\nmodel.compile(loss='mse')\n")
    imported = _imported(["--no-cache", "."], project)
    assert "losslint.engine.session" in imported  # it did lint
    assert not [name for name in imported if name.startswith("losslint.analysis")]
    assert "losslint.engine.units" not in imported


def test_format_names_match_the_reporters() -> None:
    assert tuple(sorted(REPORTERS)) == FORMATS
