"""Runtime mode without TensorFlow: definitions-only modules, site expressions, verdict rules."""

from __future__ import annotations

import ast
import functools
import os
import runpy
import sys
import textwrap
from pathlib import Path

import pytest

from losslint.runtime.bridge import Judgement, judge, judge_fix
from losslint.runtime.importer import ProjectImporter, module_name
from losslint.runtime.probe import parse_shape_comment
from losslint.runtime.rebuild import definitions_only
from losslint.runtime.site import SiteError, evaluate_site
from losslint.runtime.worker import Reply

SIDE_EFFECTS = """\
import os
from pathlib import Path

import helpers

OUT = Path(__file__).with_name("WRITTEN.txt")
OUT.write_text("top level ran")
os.system("touch SYSTEM.txt")
status = os.system("touch ASSIGNED.txt")
os.environ["LOSSLINT_TEST_MUTATED"] = "1"
SCALE = 2.0
TABLE = dict(a=1, b=2)
UNUSED = sorted([3, 1, 2])
UNUSED_PROJECT = helpers.double(3)


def loss(y_true, y_pred):
    return helpers.double(y_true - y_pred) * SCALE + TABLE["a"]


if __name__ == "__main__":
    Path("MAIN.txt").write_text("main ran")
"""

HELPERS = """\
from pathlib import Path

Path(__file__).with_name("HELPER_WRITTEN.txt").write_text("helper top level ran")


def double(x):
    return 2 * x
"""


def _kept_source(source: str, **kwargs: object) -> str:
    return ast.unparse(definitions_only(textwrap.dedent(source), "m.py", **kwargs).tree)  # type: ignore[arg-type]


@pytest.fixture
def side_effect_project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "train.py").write_text(SIDE_EFFECTS)
    (root / "helpers.py").write_text(HELPERS)
    return root


def test_running_the_module_normally_has_side_effects(
    side_effect_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The control: executed as a script, the fixture module does write files."""
    monkeypatch.chdir(side_effect_project)
    monkeypatch.syspath_prepend(str(side_effect_project))
    monkeypatch.delenv("LOSSLINT_TEST_MUTATED", raising=False)
    try:
        runpy.run_path(str(side_effect_project / "train.py"), run_name="__main__")
    finally:
        sys.modules.pop("helpers", None)
    names = {p.name for p in side_effect_project.iterdir()}
    assert {"WRITTEN.txt", "SYSTEM.txt", "ASSIGNED.txt", "MAIN.txt", "HELPER_WRITTEN.txt"} <= names


def test_definitions_only_import_runs_no_top_level_code(
    side_effect_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(side_effect_project)
    monkeypatch.delenv("LOSSLINT_TEST_MUTATED", raising=False)
    importer = ProjectImporter(side_effect_project, [side_effect_project])
    importer.install()
    try:
        module = importer.load_path(side_effect_project / "train.py")
        assert module.loss(3.0, 1.0) == 2 * 2.0 * 2.0 + 1  # helpers were rebuilt and work
        assert sys.modules["helpers"].__file__ == str(side_effect_project / "helpers.py")
        assert not hasattr(module, "status") and not hasattr(module, "OUT")
        assert module.UNUSED == [1, 2, 3]  # a value-building builtin call is kept
        assert not hasattr(module, "UNUSED_PROJECT")  # a project call nothing needs is not run
    finally:
        importer.uninstall()
    assert sorted(p.name for p in side_effect_project.iterdir()) == ["helpers.py", "train.py"]
    assert "LOSSLINT_TEST_MUTATED" not in os.environ
    assert "helpers" not in sys.modules and "train" not in sys.modules


def test_keeps_what_the_loss_needs_and_drops_the_rest() -> None:
    kept = _kept_source(
        """
        import tensorflow as tf
        from functools import partial
        import wandb

        bce = tf.keras.losses.BinaryCrossentropy()
        unused_bce = tf.keras.losses.BinaryCrossentropy()
        weights = tf.constant([1.0, 2.0])
        model = build_model()
        history = model.fit(x, y)
        data = np.load("data.npy")
        run = wandb.init(project="x")
        alias = tf.reduce_mean
        print("hello")
        tf.random.set_seed(0)

        def build_model():
            return None

        def loss(y_true, y_pred):
            return bce(y_true, y_pred) * weights + alias(y_pred) + data

        with open("log.txt", "w") as fh:
            fh.write("x")
        for i in range(3):
            pass
        """
    )
    assert "bce = tf.keras.losses.BinaryCrossentropy()" in kept
    assert "weights = tf.constant([1.0, 2.0])" in kept
    assert "alias = tf.reduce_mean" in kept
    assert "import wandb" in kept  # imports are kept (guarded)
    assert "unused_bce = tf.keras.losses.BinaryCrossentropy()" in kept  # builds a value only
    for dropped in (
        "model =",
        "model.fit",
        "np.load",
        "wandb.init",
        "print(",
        "set_seed",
        "open(",
        "for i",
    ):
        assert dropped not in kept, dropped
    assert "def loss" in kept and "def build_model" in kept


def test_aliases_of_dangerous_functions_are_not_callable() -> None:
    kept = _kept_source(
        """
        import os
        import tensorflow as tf
        run_shell = os.system
        rc = run_shell("rm -rf /tmp/x")
        mean = tf.reduce_mean
        value = mean([1.0])

        def loss(y_true, y_pred):
            return rc + value
        """
    )
    assert "run_shell = os.system" in kept  # harmless by itself
    assert "rc = " not in kept
    assert "value = mean([1.0])" in kept


def test_main_guard_decorators_and_class_bodies() -> None:
    kept = _kept_source(
        """
        import keras
        import tensorflow as tf
        import numba

        @keras.saving.register_keras_serializable()
        class MyLoss(keras.losses.Loss):
            factor = 0.5
            print("class body")
            table = load_table()

            def call(self, y_true, y_pred):
                return tf.reduce_mean(y_pred) * self.factor

        @numba.jit
        def fast(y_true, y_pred):
            return y_pred

        if __name__ == "__main__":
            MyLoss()(1, 2)
        else:
            ELSE = 1
        """
    )
    assert "@keras.saving.register_keras_serializable()" in kept
    assert "factor = 0.5" in kept
    assert "print(" not in kept and "load_table" not in kept
    assert "numba.jit" not in kept and "def fast" in kept  # decorator dropped, function kept
    assert "MyLoss()(1, 2)" not in kept
    assert "ELSE = 1" in kept


def test_failed_top_level_statement_is_reported_not_fatal(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text(
        "import not_a_real_module_xyz\nX = 1\n\ndef loss(y_true, y_pred):\n    return not_a_real_module_xyz.f(y_pred)\n"
    )
    importer = ProjectImporter(tmp_path, [tmp_path])
    importer.install()
    try:
        module = importer.load_path(tmp_path / "m.py")
        assert module.X == 1
        why = importer.explain_missing("not_a_real_module_xyz")
        assert why is not None and "ModuleNotFoundError" in why
    finally:
        importer.uninstall()


def test_overrides_replace_file_text_and_reset_modules(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("def loss(y_true, y_pred):\n    return 1\n")
    importer = ProjectImporter(tmp_path, [tmp_path])
    importer.install()
    try:
        assert importer.load_path(tmp_path / "m.py").loss(0, 0) == 1
        importer.activate({tmp_path / "m.py": "def loss(y_true, y_pred):\n    return 2\n"})
        assert importer.load_path(tmp_path / "m.py").loss(0, 0) == 2
        importer.activate({})
        assert importer.load_path(tmp_path / "m.py").loss(0, 0) == 1
    finally:
        importer.uninstall()


def test_module_names_follow_packages(tmp_path: Path) -> None:
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "sub" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "sub" / "losses.py").write_text("")
    (tmp_path / "script.py").write_text("")
    assert module_name(tmp_path / "pkg" / "sub" / "losses.py") == "pkg.sub.losses"
    assert module_name(tmp_path / "script.py") == "script"


def _project_call(obj: object) -> bool:
    return obj is functools.partial or getattr(obj, "__module__", None) == "proj"


def test_site_expressions_only_call_allowed_things() -> None:
    def focal(gamma: float = 2.0) -> object:
        return ("focal", gamma)

    focal.__module__ = "proj"
    namespace = {"focal": focal, "partial": functools.partial, "os": os, "W": 3}
    assert evaluate_site("focal(gamma=2.0)", namespace, _project_call) == ("focal", 2.0)
    assert evaluate_site("partial(focal, gamma=-W)", namespace, _project_call)() == ("focal", -3)
    assert evaluate_site("lambda yt, yp: yt - yp", namespace, _project_call)(3, 1) == 2
    with pytest.raises(SiteError, match="will not call"):
        evaluate_site("os.system('touch X')", namespace, _project_call)
    with pytest.raises(SiteError, match="not defined"):
        evaluate_site("focal(gamma=g)", namespace, _project_call)
    with pytest.raises(SiteError):
        evaluate_site("focal(*args)", namespace, _project_call)


@pytest.mark.parametrize(
    ("line", "shape"),
    [
        ("def f(y_true, y_pred):  # losslint: shape=(None, 8, 8, 2)", (5, 8, 8, 2)),
        ("def f(y_true, y_pred):  # losslint: shape=(None, 5, 6)", (7, 5, 6)),
        ("def f(y_true, y_pred):  # losslint: shape=(4, 3)", (4, 3)),
        ("def f(y_true, y_pred):  # losslint: shape=(None, None)", None),
        ("def f(y_true, y_pred):", None),
    ],
)
def test_shape_comment(line: str, shape: tuple[int, ...] | None) -> None:
    assert parse_shape_comment(line) == shape


def _ok(**facts: object) -> Reply:
    message = {
        "status": "ok",
        "input_shape": [5, 7],
        "labels": "float",
        "output_shape": [5],
        "lost_batch": False,
        "deterministic": True,
        "batch_coupled": False,
        "changed": [],
        "mean": 1.0,
    }
    message.update(facts)
    return Reply("ok", message=message)


def test_verdicts() -> None:
    assert judge(_ok(output_shape=[], lost_batch=True, batch_coupled=None)).verdict == "confirmed"
    assert judge(_ok(output_shape=[7], lost_batch=True, batch_coupled=None)).verdict == "confirmed"
    coupled = judge(_ok(batch_coupled=True, changed=[0, 3]))
    assert coupled.verdict == "confirmed" and coupled.batch_coupled is True
    assert "samples 0, 3" in coupled.detail
    refuted = judge(_ok())
    assert refuted.verdict == "refuted" and refuted.batch_coupled is False
    assert judge(_ok(deterministic=False, batch_coupled=None)).verdict == "inconclusive"
    assert judge(Reply("timeout", detail="timed out after 5 s")).detail == "timed out after 5 s"
    crashed = judge(Reply("crashed", detail="killed by SIGSEGV"))
    assert crashed.verdict == "inconclusive" and "SIGSEGV" in crashed.detail
    memory = judge(Reply("ok", message={"status": "memory", "error": "MemoryError: "}))
    assert memory.verdict == "inconclusive" and "memory" in memory.detail


def _failed(status: str, error: str, **extra: object) -> Reply:
    if status == "call_error":
        message = {"status": status, "tried": [{"input_shape": [5, 7], "error": error}]}
    else:
        message = {"status": status, "error": error}
    return Reply("ok", message={**message, **extra})


@pytest.mark.parametrize(
    ("reply", "legacy", "reason"),
    [
        (
            _failed(
                "call_error",
                "AttributeError: module 'keras.backend' has no attribute 'flatten'",
                keras2=True,
            ),
            False,
            "keras2-api",
        ),
        (
            _failed(
                "build_error",
                "LossBuildError: `CELoss` needs arguments (index) and none were found",
            ),
            False,
            "arguments",
        ),
        (
            _failed("call_error", "TypeError: loss() missing 1 required positional argument: 'n'"),
            False,
            "arguments",
        ),
        (_failed("build_error", "ModuleNotFoundError: No module named 'wandb'"), False, "import"),
        (
            _failed(
                "build_error",
                "LossBuildError: `inner` is nested in `main`, which does not return it; ...",
            ),
            False,
            "nested",
        ),
        (
            _failed(
                "call_error",
                "NameError: name 'X' is not defined (`X` is bound by a top-level statement runtime mode does not run (m.py:3: ...))",
            ),
            False,
            "rebuild",
        ),
        (
            _failed(
                "call_error", "AttributeError: module 'yolo.config' has no attribute 'anchors'"
            ),
            False,
            "rebuild",
        ),
        (
            _failed("call_error", "InvalidArgumentError: Incompatible shapes: [5,6] vs. [5,7]"),
            False,
            "input-shape",
        ),
        (_failed("call_error", "ValueError: this loss always fails"), False, "raised"),
        (
            _failed(
                "call_error",
                "AttributeError: 'EagerTensor' object has no attribute '_keras_history'",
            ),
            True,
            "graph-only",
        ),
        (
            _failed("call_error", "AttributeError: module 'tensorflow' has no attribute 'log'"),
            True,
            "tf1-api",
        ),
        (Reply("timeout", detail="timed out after 5 s"), False, "timeout"),
        (Reply("crashed", detail="killed by SIGSEGV"), False, "crash"),
        (Reply("unavailable", detail="no TensorFlow"), False, "worker"),
    ],
)
def test_inconclusive_reasons_and_hints(reply: Reply, legacy: bool, reason: str) -> None:
    from losslint.runtime.bridge import HINTS

    judgement = judge(reply, legacy_available=legacy)
    assert judgement.verdict == "inconclusive" and judgement.reason == reason
    runtime = judgement.runtime()
    assert runtime["reason"] == reason
    assert runtime["detail"].endswith(f"; to run it: {HINTS[reason]}")
    assert "\n" not in runtime["detail"]  # one line


def test_fix_verification_rules() -> None:
    base = Judgement(
        "confirmed", "", input_shape=[5, 7], output_shape=[], mean=0.5, lost_batch=True
    )
    assert judge_fix(_ok(mean=0.5 * (1 + 5e-6)), base, safe=True)[0] is True
    assert judge_fix(_ok(mean=0.5 * (1 + 5e-5)), base, safe=True)[0] is False  # value changed
    assert judge_fix(_ok(mean=0.1), base, safe=False)[0] is True  # unsafe: per-sample is enough
    assert judge_fix(_ok(lost_batch=True, output_shape=[]), base, safe=True)[0] is False
    assert judge_fix(_ok(batch_coupled=True, changed=[1]), base, safe=False)[0] is False
    assert judge_fix(Reply("timeout", detail="timed out after 5 s"), base, safe=True)[0] is False


FAKE_WORKER = r"""
import json, os, sys, time
out = sys.stdout
out.write(json.dumps({"type": "ready", "tensorflow_import_s": 0.0, "keras_import_s": 0.0}) + "\n")
out.flush()
for line in sys.stdin:
    job = json.loads(line)
    if job.get("type") == "exit":
        break
    if job["target"] == "hang":
        time.sleep(60)
    if job["target"] == "die":
        os._exit(7)
    out.write(json.dumps({"type": "result", "id": job["id"], "status": "ok", "echo": job["target"]}) + "\n")
    out.flush()
"""


def test_worker_timeouts_and_crashes_restart_the_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    """The process protocol with a stand-in worker (no TensorFlow): hang, crash, continue."""
    from losslint.runtime import worker as worker_module

    monkeypatch.setattr(worker_module, "_BOOTSTRAP", FAKE_WORKER)
    worker = worker_module.Worker()
    try:
        assert worker.request({"target": "a"}, 5).message["echo"] == "a"
        hung = worker.request({"target": "hang"}, 0.5)
        assert hung.status == "timeout" and hung.detail == "timed out after 0.5 s"
        assert hung.elapsed < 30  # killed at the timeout, not after the 60 s sleep
        assert worker.request({"target": "b"}, 5).message["echo"] == "b"
        died = worker.request({"target": "die"}, 5)
        assert died.status == "crashed" and "exit code 7" in died.detail
        assert worker.request({"target": "c"}, 5).message["echo"] == "c"
        assert len(worker.starts) == 3
    finally:
        worker.close()
    assert not worker.alive()


def test_worker_that_cannot_start_is_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    from losslint.runtime import worker as worker_module

    monkeypatch.setattr(
        worker_module,
        "_BOOTSTRAP",
        "import sys; print('no TensorFlow here', file=sys.stderr); sys.exit(3)",
    )
    worker = worker_module.Worker()
    try:
        first = worker.request({"target": "a"}, 5)
        assert first.status == "unavailable"
        assert "exit code 3" in first.detail and "no TensorFlow here" in first.detail
        assert worker.request({"target": "b"}, 5).status == "unavailable"
        assert worker.starts == []
    finally:
        worker.close()


def test_override_of_a_helper_rebuilds_its_importers_only(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "helpers.py").write_text("def f():\n    return 1\n")
    (pkg / "losses.py").write_text(
        "from pkg import helpers\n\ndef loss(y_true, y_pred):\n    return helpers.f()\n"
    )
    (pkg / "other.py").write_text("def loss(y_true, y_pred):\n    return 0\n")
    importer = ProjectImporter(tmp_path, [tmp_path])
    importer.install()
    try:
        assert importer.load_path(pkg / "losses.py").loss(0, 0) == 1
        other = importer.load_path(pkg / "other.py")
        importer.activate({pkg / "helpers.py": "def f():\n    return 2\n"})
        assert importer.load_path(pkg / "losses.py").loss(0, 0) == 2
        assert importer.load_path(pkg / "other.py") is other  # not rebuilt
        importer.activate({})
        assert importer.load_path(pkg / "losses.py").loss(0, 0) == 1
    finally:
        importer.uninstall()


def test_callbacks_cannot_smuggle_calls() -> None:
    kept = _kept_source(
        """
        import os
        import tensorflow as tf
        ran = list(map(os.system, ["touch X"]))
        order = sorted(["touch Y"], key=os.system)
        squares = [x * x for x in range(3)]
        table = {name: getattr(tf, name) for name in ["reduce_mean"]}

        def loss(y_true, y_pred):
            return ran, order, squares, table
        """
    )
    assert "ran =" not in kept and "order =" not in kept
    assert "squares = [x * x for x in range(3)]" in kept
    assert "table = {name: getattr(tf, name)" in kept


def test_runtime_all_findings_follow_selection_and_noqa(tmp_path: Path) -> None:
    from losslint.config import Config
    from losslint.engine import DiscoveredLoss, LintOptions
    from losslint.model import FileResult, LossTarget
    from losslint.runtime.bridge import _Probe, _Session

    path = tmp_path / "m.py"

    def found(text: str, options: LintOptions | None = None) -> list[str]:
        path.write_text(text)
        target = LossTarget(kind="function", path=path, qualname="opaque", line=1)
        probe = _Probe(
            target, "m.opaque", discovered=DiscoveredLoss("m.opaque", "loss", "", target)
        )
        probe.judgement = Judgement(
            "confirmed", "", input_shape=[5, 7], output_shape=[], lost_batch=True
        )
        session = _Session(
            [FileResult(path, (), source=text)], Config(root=tmp_path), True, options
        )
        return [
            f"{d.code} {d.location.row}:{d.location.column} {d.evidence}"
            for found in session._runtime_findings([probe]).values()
            for d in found
        ]

    plain = "def opaque(y_true, y_pred):\n    return reduce(y_pred)\n"
    assert found(plain) == ["LL001 1:1 found at runtime: output shape () for input (5, 7)"]
    assert found(plain, LintOptions(ignore=("LL001",))) == []
    noqa = "def opaque(y_true, y_pred):  # noqa: LL001\n    return reduce(y_pred)\n"
    assert found(noqa) == []
    assert len(found(noqa, LintOptions(disable_noqa=True))) == 1


def test_conventional_names_fill_only_names_the_module_never_binds() -> None:
    """`np.` in a snippet that never imports NumPy is NumPy; a `K` that a left-out or failed
    statement binds (`K = load_backend()`) stays unbound, as the static analysis reads it."""
    import numpy

    from losslint.runtime.importer import _conventional_names

    text = "def loss(y_true, y_pred):\n    return np.mean(K.abs(y_true - y_pred))\n"
    namespace: dict[str, object] = {}
    _conventional_names(namespace, text, bound={"K"})
    assert namespace == {"np": numpy}
