"""Custom training loops are parsed only when a finding may need their objectives.

A file that passes the gate only for a custom training loop (index/gate.py `has_loop_sink`)
gets a deferred result first; it is analysed once a finding's loss lies in its import
closure, whether the finding is new in this run or the loop's result comes from the cache.
"""

from __future__ import annotations

import json
from pathlib import Path

from conftest import run_cli
from test_cli import write

LOSSES_SAFE = (
    "import tensorflow as tf\n\n"
    "def total(a, b):\n"
    "    return tf.reduce_mean(tf.square(a - b), axis=-1)\n"
)
LOSSES_REDUCING = (
    "import tensorflow as tf\n\ndef total(a, b):\n    return tf.reduce_mean(tf.square(a - b))\n"
)
# the custom loop takes `total` as its objective: a scalar is right there
LOOP = (
    "import tensorflow as tf\n"
    "from losses import total\n\n"
    "def step(model, x, y, optimizer):\n"
    "    with tf.GradientTape() as tape:\n"
    "        loss = total(y, model(x))\n"
    "    grads = tape.gradient(loss, model.trainable_variables)\n"
    "    optimizer.apply_gradients(zip(grads, model.trainable_variables))\n"
)
# a loop that imports nothing of the project: its objectives can touch no finding
OTHER_LOOP = (
    "import tensorflow as tf\n\n"
    "def step(model, x):\n"
    "    with tf.GradientTape() as tape:\n"
    "        out = tf.reduce_sum(model(x))\n"
    "    return tape.gradient(out, model.trainable_variables)\n"
)
COMPILE_MSE = "import losses\n\nmodel.compile(optimizer='adam', loss='mse')\n"
COMPILE_TOTAL = "from losses import total\n\nmodel.compile(optimizer='adam', loss=total)\n"
NOTE = "also a custom training loop's objective"


def _units(root: Path) -> dict[str, dict[str, object]]:
    (cache,) = (root / ".losslint_cache").glob("units-*.json")
    units = json.loads(cache.read_text())["units"]
    return {Path(path).name: entry for path, entry in units.items()}


def _write(project: Path, losses: str, model: str, loop: str) -> None:
    write(project, "losses.py", losses)
    write(project, "model.py", model)
    write(project, "loop.py", loop)


def test_a_loop_whose_imports_reach_no_finding_is_not_parsed(project: Path) -> None:
    _write(project, LOSSES_REDUCING, COMPILE_TOTAL, OTHER_LOOP)
    result = run_cli(["."], project)
    assert result.exit_code == 1
    assert "losses.py:4:12: LL001" in result.stdout
    assert NOTE not in result.stdout
    units = _units(project)
    assert units["loop.py"]["deferred"] is True
    assert units["loop.py"]["parsed"] is False
    assert units["model.py"]["deferred"] is False


def test_a_loop_is_analysed_when_a_finding_lies_in_its_imports(project: Path) -> None:
    _write(project, LOSSES_REDUCING, COMPILE_TOTAL, LOOP)
    result = run_cli(["."], project)
    assert result.exit_code == 1
    (line,) = [line for line in result.stdout.splitlines() if "LL001" in line]
    assert line.startswith("losses.py:4:12: LL001 ") and NOTE in line
    units = _units(project)
    assert units["loop.py"]["deferred"] is False
    assert units["loop.py"]["objectives"] == [[str((project / "losses.py").resolve()), "total"]]


def test_a_cached_deferred_loop_is_analysed_once_a_new_finding_needs_it(project: Path) -> None:
    """The loop and the loss module are unchanged, so the loop's deferred result stays
    valid in the cache; only the compile site changes. The finding it makes must still
    carry the loop's objective."""
    _write(project, LOSSES_REDUCING, COMPILE_MSE, LOOP)
    first = run_cli(["."], project)
    assert (first.exit_code, first.stdout) == (0, "")  # `total` is no loss of this project
    assert _units(project)["loop.py"]["deferred"] is True
    write(project, "model.py", COMPILE_TOTAL)
    second = run_cli(["."], project)
    (line,) = [line for line in second.stdout.splitlines() if "LL001" in line]
    assert NOTE in line
    assert _units(project)["loop.py"]["deferred"] is False


def test_a_deferred_loop_follows_an_edited_loss_module(project: Path) -> None:
    _write(project, LOSSES_SAFE, COMPILE_TOTAL, LOOP)
    assert run_cli(["."], project).stdout == ""
    assert _units(project)["loop.py"]["deferred"] is True
    write(project, "losses.py", LOSSES_REDUCING)
    result = run_cli(["."], project)
    assert "losses.py:4:12: LL001" in result.stdout and NOTE in result.stdout


def test_a_loop_python_cannot_parse_is_reported_at_once(project: Path) -> None:
    """A deferred loop must not hide a syntax error: a loop file Python's parser refuses is
    parsed at once, and its LL000 reported, whether or not a finding needs its objectives.
    A symbol-table error (`nonlocal` at module level) is one too, though `ast` accepts it."""
    _write(project, LOSSES_SAFE, COMPILE_MSE, OTHER_LOOP.replace("def step(", "def step(("))
    write(project, "scope.py", OTHER_LOOP + "nonlocal out\n")
    for args in (["."], ["--no-cache", "."], ["."]):  # cold, uncached, warm
        result = run_cli(["--format", "json", *args], project)
        found = json.loads(result.stdout)
        assert [(Path(f["filename"]).name, f["code"]) for f in found] == [("loop.py", "LL000")]
        assert "cannot parse file" in found[0]["message"]
        assert result.exit_code == 1
    assert _units(project)["scope.py"]["deferred"] is False
    assert _units(project)["loop.py"]["deferred"] is False


def test_a_run_over_part_of_the_project_leaves_unchecked_loops_uncached(project: Path) -> None:
    """A run that reports on other files (pre-commit's changed files) does not check the
    syntax of the project's loops: their deferred results serve that run only, so a later
    run over the loop still finds its LL000."""
    _write(project, LOSSES_SAFE, COMPILE_MSE, OTHER_LOOP.replace("def step(", "def step(("))
    part = run_cli(["--format", "json", "model.py"], project)
    assert (part.exit_code, json.loads(part.stdout)) == (0, [])
    assert "loop.py" not in _units(project) and "model.py" in _units(project)
    for args in (["loop.py"], ["."]):
        result = run_cli(["--format", "json", *args], project)
        found = [(Path(f["filename"]).name, f["code"]) for f in json.loads(result.stdout)]
        assert (result.exit_code, found) == (1, [("loop.py", "LL000")])
