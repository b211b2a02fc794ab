"""Runtime mode end to end, with real TensorFlow: the CLI (as a process and with CliRunner) on
the `fixtures/runtime` project. The fixture's own config sets a 5 s timeout per loss."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, copy_case, run_cli

from losslint.runtime import tensorflow_available

pytestmark = [
    pytest.mark.slow,
    pytest.mark.runtime,
    pytest.mark.skipif(not tensorflow_available(), reason="runtime mode needs TensorFlow"),
]

TIMEOUT = 20.0  # fixtures/runtime/pyproject.toml: reached only by the loss that blocks
# a small memory headroom for these tests (the default is 2048 MiB): `hungry_loss` asks for
# 64 GiB at once, which fails at once, on any machine
MEMORY_ENV = {"LOSSLINT_RUNTIME_MEMORY_MB": "512"}

# the script runs the real CLI in a fresh interpreter and records, at exit, whether the
# linter process itself ever imported TensorFlow or Keras
_RUNNER = """
import atexit, json, os, sys
def _record():
    with open(os.environ["MODULES_OUT"], "w") as fh:
        json.dump(sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "tf_keras")), fh)
atexit.register(_record)
from losslint.cli import main
main(sys.argv[1:], prog_name="losslint")
"""


def _run_process(
    args: list[str], cwd: Path, tmp: Path, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], list[str], float]:
    modules_out = tmp / "modules.json"
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _RUNNER, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "NO_COLOR": "1",
            "MODULES_OUT": str(modules_out),
            **MEMORY_ENV,
            **(env or {}),
        },
        timeout=600,
    )
    wall = time.perf_counter() - started
    return proc, json.loads(modules_out.read_text()), wall


@pytest.fixture(scope="module")
def full_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """`losslint --runtime-all --show-refuted --format json .` on the whole fixture project."""
    tmp = tmp_path_factory.mktemp("runtime")
    root = copy_case("runtime", tmp)
    stats = tmp / "stats.json"
    scratch = tmp / "scratch"  # TMPDIR: where `sleepy_loss`'s child writes its pid
    scratch.mkdir()
    proc, modules, wall = _run_process(
        ["--runtime-all", "--show-refuted", "--format", "json", "."],
        root,
        tmp,
        env={"LOSSLINT_RUNTIME_STATS": str(stats), "TMPDIR": str(scratch)},
    )
    assert proc.returncode == 1, proc.stderr
    findings = json.loads(proc.stdout)
    by_function: dict[str, list[dict[str, Any]]] = {}
    for finding in findings:
        by_function.setdefault(finding["function"], []).append(finding)
    return {
        "root": root,
        "findings": findings,
        "by": by_function,
        "stderr": proc.stderr,
        "modules": modules,
        "wall": wall,
        "stats": json.loads(stats.read_text()),
        "child_pid_file": scratch / "losslint-child.pid",
    }


def _runtime(run: dict[str, Any], function: str) -> list[dict[str, Any]]:
    found = run["by"].get(function)
    assert found, f"no finding for {function}: {sorted(run['by'])}"
    return [f["runtime"] for f in found]


TRUE_POSITIVES = {
    # function: (expected input shape, safe fix?) -- one of every kind of loss
    "pkg.losses.custom_mse": ([5, 7], True),  # plain function, compiled in another module
    "pkg.losses.focal_loss.<locals>.focal_loss_fixed": (
        [5, 7],
        True,
    ),  # factory focal_loss(gamma=2.0)
    "pkg.losses.weighted_mae": ([5, 7], True),  # partial(losses.weighted_mae, weight=3.0)
    "pkg.losses.CustomMSE.call": ([5, 7], True),  # Loss subclass CustomMSE(0.1)
    "train.<lambda>@20": ([5, 7], True),  # lambda at the compile site
    "pkg.losses.helper_loss": ([5, 7], False),  # reduction in a helper module
    "pkg.losses.bce_plus_l1": ([5, 7], False),  # Loss object inside a loss: found by coupling
    "pkg.losses.outer_mean": ([5, 7], True),  # a metric: mean over per-sample values
    "pkg.losses.total_abs_error": ([5, 7], False),  # K.sum: unsafe fix
    "pkg.losses.sparse_ce": ([5, 7], True),  # integer labels
    "pkg.losses.mask_dice": ([5, 16, 12, 3], True),  # rank 2 and 3 fail: rank 4
    "pkg.losses.channel_gap": (
        [5, 8, 8, 2],
        True,
    ),  # `# losslint: shape=(None, 8, 8, 2)`, split on channels
    "pkg.losses.graph_mse": ([5, 7], True),  # @tf.function: autograph reads the (fixed) source
}


@pytest.mark.parametrize("function", sorted(TRUE_POSITIVES))
def test_true_positives_are_confirmed(full_run: dict[str, Any], function: str) -> None:
    shape, safe = TRUE_POSITIVES[function]
    for runtime in _runtime(full_run, function):
        assert set(runtime) == {
            "verdict",
            "input_shape",
            "output_shape",
            "batch_coupled",
            "fix_verified",
            "detail",
            "reason",
            "keras",
            "arguments",
        }
        assert runtime["verdict"] == "confirmed", runtime
        assert runtime["reason"] is None and runtime["keras"] == "3"
        assert runtime["input_shape"] == shape
        lost = runtime["output_shape"] == [] or runtime["output_shape"][:1] != shape[:1]
        assert lost or runtime["batch_coupled"] is True
        if safe is None:
            assert runtime["fix_verified"] is None
        else:
            assert runtime["fix_verified"] is True, runtime["detail"]
            assert ("same mean" in runtime["detail"]) is safe


def test_batch_coupling_is_measured(full_run: dict[str, Any]) -> None:
    (runtime,) = _runtime(full_run, "pkg.losses.bce_plus_l1")
    assert runtime["output_shape"] == [5]
    assert runtime["batch_coupled"] is True
    assert "samples 0, 1, 2, 3 changes when only sample 4 changes" in runtime["detail"]


@pytest.mark.parametrize("function", ["pkg.losses.rank_aware_mse", "pkg.losses.table_mse"])
def test_static_false_alarms_are_refuted(full_run: dict[str, Any], function: str) -> None:
    (runtime,) = _runtime(full_run, function)
    assert runtime["verdict"] == "refuted"
    assert runtime["output_shape"] == [5] and runtime["batch_coupled"] is False
    assert runtime["fix_verified"] is None


def _alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def test_misbehaving_losses_are_inconclusive_and_the_rest_still_run(
    full_run: dict[str, Any],
) -> None:
    expected = {
        "pkg.misbehaving.sleepy_loss": (f"timed out after {TIMEOUT:g} s", "timeout"),
        "pkg.misbehaving.raising_loss": ("ValueError: this loss always fails", "raised"),
        "pkg.misbehaving.hungry_loss": ("ran out of memory", "memory"),
        "pkg.misbehaving.crashing_loss": ("SIGSEGV", "crash"),
    }
    for function, (text, reason) in expected.items():
        (runtime,) = _runtime(full_run, function)
        assert runtime["verdict"] == "inconclusive"
        assert text in runtime["detail"], runtime["detail"]
        assert runtime["reason"] == reason
        assert "; to run it: " in runtime["detail"]
    (crash,) = _runtime(full_run, "pkg.misbehaving.crashing_loss")
    assert "cudart_stub" not in crash["detail"]  # TensorFlow's start-up notices are not quoted
    jobs = {job["qualname"]: job for job in full_run["stats"]["jobs"] if job["mode"] == "probe"}
    assert jobs["sleepy_loss"]["elapsed_s"] >= TIMEOUT  # it blocked until the timeout
    # the worker was replaced after the hang and after the crash, and later losses ran
    assert full_run["stats"]["worker_starts"] == 3
    assert _runtime(full_run, "train.<lambda>@20")[0]["verdict"] == "confirmed"
    # a loss that floods stderr with 2 MB is run like any other
    assert _runtime(full_run, "pkg.misbehaving.noisy_loss")[0]["verdict"] == "confirmed"


def test_a_timeout_kills_the_processes_the_loss_started(full_run: dict[str, Any]) -> None:
    """`sleepy_loss` starts a child, then blocks: killing the worker's process group takes
    the child too."""
    pid = int(full_run["child_pid_file"].read_text())
    assert not _alive(pid)


def test_runtime_all_reports_what_static_analysis_missed(full_run: dict[str, Any]) -> None:
    (finding,) = full_run["by"]["pkg.opaque.opaque_loss"]
    assert finding["code"] == "LL001" and finding["name"] == "batch-axis-reduction"
    assert finding["evidence"] == "found at runtime: output shape () for input (5, 7)"
    assert finding["location"] == {"row": 10, "column": 1}
    assert finding["fix"] is None and finding["runtime"]["verdict"] == "confirmed"
    # per-sample losses found only by discovery are not reported
    for quiet in (
        "pkg.opaque.opaque_per_sample",
        "pkg.losses.good_mse",
        "pkg.helpers.squared_error",
    ):
        assert quiet not in full_run["by"]


def test_top_level_code_never_runs(full_run: dict[str, Any]) -> None:
    """train.py and pkg/helpers.py write files and call os.system at their top level."""
    leftovers = [p.name for p in full_run["root"].rglob("*SIDE_EFFECT*")]
    assert leftovers == []
    # ...and yet both modules were loaded: their losses ran
    assert _runtime(full_run, "train.<lambda>@20")[0]["verdict"] == "confirmed"
    assert _runtime(full_run, "pkg.losses.helper_loss")[0]["verdict"] == "confirmed"


def test_linter_process_never_imports_tensorflow(full_run: dict[str, Any]) -> None:
    assert full_run["modules"] == []


def test_summary_and_progress_on_stderr(full_run: dict[str, Any]) -> None:
    stderr = full_run["stderr"]
    counted = sum(len(v) for k, v in full_run["by"].items() if k != "pkg.opaque.opaque_loss")
    lines = [line for line in stderr.splitlines() if line.startswith("runtime: ")]
    assert lines, stderr
    summary = [line for line in lines if re.match(r"runtime: \d+ confirmed", line)][-1]
    assert summary.startswith(
        "runtime: 15 confirmed, 2 refuted, 4 inconclusive; 1 more found at runtime"
    ), stderr
    assert counted == 15 + 2 + 4
    assert "runtime probe [1/" in stderr and "runtime fix [1/" in stderr
    # --runtime-all: the losses static analysis did not flag are counted too
    assert re.search(r"^runtime: \d+ more losses probed \(--runtime-all\): ", stderr, re.M)
    reasons = stderr.split("runtime: inconclusive, by reason (what to do):\n", 1)[1]
    table = {line.split()[1]: int(line.split()[0]) for line in reasons.splitlines()[:4]}
    assert table == {"timeout": 1, "raised": 1, "memory": 1, "crash": 1}


def test_static_mode_and_import_never_load_tensorflow(tmp_path: Path) -> None:
    root = copy_case("runtime", tmp_path)
    proc, modules, _ = _run_process(["--format", "json", "."], root, tmp_path)
    assert proc.returncode == 1
    assert all(f["runtime"] is None for f in json.loads(proc.stdout))
    assert modules == []
    code = "import sys, losslint, losslint.runtime, losslint.runtime.bridge, losslint.runtime.probe, losslint.runtime.child; print(sorted(m for m in sys.modules if m.startswith(('tensorflow', 'keras'))))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_missing_tensorflow_is_a_one_line_error(tmp_path: Path) -> None:
    blocker = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'tensorflow':\n"
        "            raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "from losslint.cli import main\n"
        "main(sys.argv[1:], prog_name='losslint')\n"
    )
    root = copy_case("runtime", tmp_path)
    proc = subprocess.run(
        [sys.executable, "-c", blocker, "--runtime", "."],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [
        "error: runtime mode needs TensorFlow: pip install 'losslint[runtime]'"
    ]


def test_text_output_with_config_shapes_drops_refuted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CliRunner, text format, `--runtime` only, shapes from `--config shapes.toml`."""
    for key, value in MEMORY_ENV.items():
        monkeypatch.setenv(key, value)
    root = copy_case("runtime", tmp_path)
    result = run_cli(
        ["--runtime", "--config", "shapes.toml", "proj/pkg/losses.py", "proj/train.py"], cwd=root
    )
    assert result.exit_code == 1, result.stderr
    lines = result.stdout.splitlines()
    assert not any("rank_aware_mse" in line or "table_mse" in line for line in lines)  # refuted
    (custom,) = [line for line in lines if "`custom_mse`" in line]
    assert re.search(
        r"Keras expects one loss per sample \[runtime: confirmed: output shape \(\) for input \(3, 4\): "
        r"the batch axis is gone; fix verified: fixed output \(3,\) is per-sample, same mean [0-9.e-]+\]$",
        custom,
    ), custom
    (dice,) = [line for line in lines if "`mask_dice`" in line]
    assert "for input (3, 10, 9, 4)" in dice
    assert "runtime: 14 confirmed, 2 refuted, 0 inconclusive" in result.stderr
    assert "Found 14 errors." in result.stderr


def test_repository_fixture_is_untouched() -> None:
    """Runtime tests work on copies; the fixture folder never gets side-effect files."""
    assert not list((REPO / "fixtures" / "runtime").rglob("*SIDE_EFFECT*"))


def test_two_projects_with_the_same_module_names(tmp_path: Path) -> None:
    """Each loss is rebuilt from its own project even when both projects have a `train.py`."""
    for name, reduction in (("alpha", "tf.reduce_mean"), ("beta", "tf.reduce_sum")):
        project = tmp_path / name
        project.mkdir()
        (project / "losses.py").write_text(
            "import tensorflow as tf\n\n\n"
            f"def {name}_loss(y_true, y_pred):\n"
            f"    return {reduction}(tf.square(y_true - y_pred))\n"
        )
        (project / "train.py").write_text(
            f"from losses import {name}_loss\n\n\n"
            f"def main(model):\n    model.compile(optimizer='sgd', loss={name}_loss)\n"
        )
    (tmp_path / "pyproject.toml").write_text("[tool.losslint.runtime]\ntimeout = 60\n")
    proc, _, _ = _run_process(
        ["--runtime", "--format", "json", "alpha", "beta"], tmp_path, tmp_path
    )
    findings = json.loads(proc.stdout)
    verdicts = {f["function"]: f["runtime"]["verdict"] for f in findings}
    assert verdicts == {"losses.alpha_loss": "confirmed", "losses.beta_loss": "confirmed"}, (
        proc.stdout
    )
