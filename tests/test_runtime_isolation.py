"""What runtime mode executes and in which process (no TensorFlow): one test per row of the
README's "what runtime mode executes" table, the import rules for project packages named like
other modules, and the worker's environment, working directory, process group and log."""

from __future__ import annotations

import ast
import os
import re
import sys
import textwrap
import time
from pathlib import Path
from types import ModuleType

import pytest

from losslint.runtime import worker as worker_module
from losslint.runtime.allowlist import allowed_library_call
from losslint.runtime.importer import PRIVATE_SUFFIX, ProjectImporter
from losslint.runtime.rebuild import definitions_only


def _kept(source: str) -> str:
    return ast.unparse(definitions_only(textwrap.dedent(source), "m.py").tree)


# -- the README table, row by row ---------------------------------------------------------


def test_row_imports_run_top_level_expressions_do_not() -> None:
    kept = _kept(
        """
        import os
        import tensorflow as tf
        from keras import ops
        os.system("touch X")
        print("hello")
        tf.random.set_seed(0)
        model.fit(x, y)
        """
    )
    assert (
        "import os" in kept
        and "import tensorflow as tf" in kept
        and "from keras import ops" in kept
    )
    for dropped in ("os.system", "print(", "set_seed", "model.fit"):
        assert dropped not in kept


def test_row_definitions_run_the_main_block_does_not() -> None:
    kept = _kept(
        """
        import tensorflow as tf

        @tf.function
        def loss(y_true: "Tensor" = None, y_pred: SomeType = None) -> Missing:
            return y_pred

        class Loss(tf.keras.losses.Loss):
            scale: float = 2.0

        if __name__ == "__main__":
            train()
        """
    )
    # annotations are kept as their text, never evaluated
    assert "@tf.function" in kept
    assert "def loss(y_true: 'Tensor'=None, y_pred: 'SomeType'=None):" in kept
    assert "class Loss(tf.keras.losses.Loss):" in kept
    assert "train()" not in kept


def test_row_literal_assignments_run_blocks_do_not() -> None:
    kept = _kept(
        """
        import tensorflow as tf
        EPS = 1e-6
        alias = tf.reduce_mean
        with open("log.txt", "w") as fh:
            fh.write("x")
        for i in range(3):
            STEP = i
        while False:
            pass
        del EPS
        assert False
        raise SystemExit
        """
    )
    assert "EPS = 1e-06" in kept and "alias = tf.reduce_mean" in kept
    for dropped in ("open(", "STEP", "while", "del ", "assert", "raise"):
        assert dropped not in kept


@pytest.mark.parametrize(
    "value",
    [
        "tf.keras.losses.BinaryCrossentropy(from_logits=True)",
        "keras.metrics.MeanIoU(num_classes=3)",
        "keras.layers.Dense(4)",
        "tf.constant([1.0, 2.0])",
        "tf.math.log(2.0)",
        "np.array([1, 2])",
        "float(np.finfo(np.float32).eps)",
        "keras.ops.ones((2,))",
        "K.epsilon()",
        "math.sqrt(2.0)",
        "functools.partial(max, 1)",
        "int(keras.__version__.split('.')[0]) >= 3",
        "Version(tf.__version__) >= Version('2.13')",
        "sorted([3, 1, 2])",
    ],
)
def test_row_value_building_calls_run(value: str) -> None:
    kept = _kept(
        f"""
        import functools, math
        import keras
        import numpy as np
        import tensorflow as tf
        from keras import backend as K
        from packaging.version import Version
        VALUE = {value}
        """
    )
    assert f"VALUE = {ast.unparse(ast.parse(value))}" in kept


@pytest.mark.parametrize(
    "value",
    [
        "keras.applications.VGG19(weights='imagenet')",
        "tf.keras.applications.ResNet50()",
        "keras.models.load_model('m.keras')",
        "keras.Sequential([])",
        "keras.Model()",
        "tf.summary.create_file_writer('logs')",
        "tf.io.read_file('x')",
        "tf.data.Dataset.range(3)",
        "tf.config.list_physical_devices()",
        "np.fromfile('weights.bin')",
        "np.load('x.npy')",
        "np.genfromtxt('x.csv')",
        "open('x').read()",
        "os.getcwd()",
        "subprocess.run(['ls'])",
        "urllib.request.urlopen('http://example.com')",
        "keras.layers.TFSMLayer('model')",
        "keras.backend.set_floatx('float64')",
        "tf.random.set_seed(0)",
        "helpers_lib.prepare()",
    ],
)
def test_row_other_calls_never_run(value: str) -> None:
    kept = _kept(
        f"""
        import os, subprocess, urllib.request
        import helpers_lib
        import keras
        import numpy as np
        import tensorflow as tf
        VALUE = {value}

        def loss(y_true, y_pred):
            return VALUE
        """
    )
    assert "VALUE =" not in kept, value


def test_row_project_calls_run_only_when_needed() -> None:
    kept = _kept(
        """
        def make_bce():
            return 1

        def build_model():
            return 2

        bce = make_bce()
        model = build_model()
        os.environ["X"] = "1"
        CONFIG["lr"] = 0.1

        def loss(y_true, y_pred):
            return bce
        """
    )
    assert "bce = make_bce()" in kept
    assert "model = build_model()" not in kept
    assert "os.environ" not in kept and "CONFIG" not in kept


def test_row_import_time_patches_of_framework_modules_run_through_the_hook() -> None:
    kept = _kept(
        """
        import os
        import keras.backend as K
        import tensorflow as tf
        from proj import helpers

        def where(c, x, y):
            return tf.where(c, x, y)

        def make():
            return where

        K.where = where
        setattr(tf.nn, "where2", where)
        K.logsumexp = getattr(K, "logsumexp", None) or tf.math.reduce_logsumexp
        K.made = make()
        K.log = open("log.txt")
        os.sep = where
        helpers.where = where
        """
    )
    assert "__losslint_patch__(K, 'where', where)" in kept
    assert "__losslint_patch__(tf.nn, 'where2', where)" in kept
    assert "__losslint_patch__(K, 'logsumexp', getattr(K, 'logsumexp'" in kept
    for dropped in ("made", "open(", "os.sep", "helpers.where"):
        assert dropped not in kept


def test_import_time_patches_set_only_functions_on_framework_modules_and_are_undone(
    tmp_path: Path,
) -> None:
    """The hook refuses other modules and other values, and undoing restores what was there
    (stand-in modules named like Keras: the real ones import TensorFlow)."""
    backend = ModuleType("keras.backend")
    backend.epsilon = lambda: 1e-7  # type: ignore[attr-defined]
    original = backend.epsilon  # type: ignore[attr-defined]
    importer = ProjectImporter(tmp_path, [tmp_path])

    def where(c: object, x: object, y: object) -> object:
        return x if c else y

    importer.patch("proj.backend", backend, "where", where)
    importer.patch("proj.backend", backend, "epsilon", where)
    assert backend.where is where and backend.epsilon is where  # type: ignore[attr-defined]
    with pytest.raises(TypeError):
        importer.patch("proj.backend", ModuleType("os"), "sep", where)
    with pytest.raises(TypeError):
        importer.patch("proj.backend", backend, "EPSILON", 0.5)
    importer.undo_patches()
    assert not hasattr(backend, "where") and backend.epsilon is original  # type: ignore[attr-defined]
    assert importer.patches == []


def test_row_if_and_try_blocks_are_filtered_by_the_same_rules() -> None:
    kept = _kept(
        """
        import os
        try:
            import tensorflow.keras.backend as K
        except ImportError:
            import keras.backend as K
            os.system("echo fallback")
        if K is not None:
            SMOOTH = K.epsilon()
            LOG = open("log.txt", "w")
        """
    )
    assert "import tensorflow.keras.backend as K" in kept and "import keras.backend as K" in kept
    assert "SMOOTH = K.epsilon()" in kept
    assert "os.system" not in kept and "open(" not in kept


def test_allow_list_reads_every_keras_spelling() -> None:
    for spelling in ("keras", "tensorflow.keras", "tf_keras", "keras.src", "keras.api"):
        assert allowed_library_call(f"{spelling}.losses.Huber")
        assert not allowed_library_call(f"{spelling}.applications.VGG19")


# -- project packages named like other modules ---------------------------------------------


def test_project_package_named_like_a_stdlib_module_is_private(tmp_path: Path) -> None:
    """`code/` (a standard-library module) and `json/`: the project gets its own, everything
    else keeps the standard library's."""
    for package in ("code", "json"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "code" / "losses.py").write_text(
        "import json\nfrom code.helpers import twice\n\n"
        "def loss(y_true, y_pred):\n    return twice(y_pred) + json.VALUE\n"
    )
    (tmp_path / "code" / "helpers.py").write_text("def twice(x):\n    return 2 * x\n")
    (tmp_path / "json" / "__init__.py").write_text("VALUE = 10\n")
    importer = ProjectImporter(tmp_path, [tmp_path])
    importer.install()
    try:
        module = importer.load_path(tmp_path / "code" / "losses.py")
        assert module.__name__ == f"code{PRIVATE_SUFFIX}.losses"
        assert module.loss(0, 1) == 12
        import code
        import json

        assert Path(code.__file__).parent != tmp_path / "code"  # the standard library's
        assert json.dumps([1]) == "[1]"
    finally:
        importer.uninstall()
    assert not any(name.startswith(f"code{PRIVATE_SUFFIX}") for name in sys.modules)


def test_relative_import_in_a_folder_without_init(tmp_path: Path) -> None:
    folder = tmp_path / "flat"
    folder.mkdir()
    (folder / "helpers.py").write_text("def one():\n    return 1\n")
    (folder / "losses.py").write_text(
        "from .helpers import one\n\ndef loss(y_true, y_pred):\n    return one()\n"
    )
    importer = ProjectImporter(tmp_path, [tmp_path])
    importer.install()
    try:
        module = importer.load_path(folder / "losses.py")
        assert module.__name__ == "flat.losses" and module.loss(0, 0) == 1
    finally:
        importer.uninstall()


def test_keras_imports_can_be_read_as_tf_keras(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tf_keras worker rebuilds `import keras` as `import tf_keras as keras`, and Keras 2's
    `keras.engine` as `tf_keras.src.engine`. A stand-in package plays tf_keras here (the real
    one imports TensorFlow)."""
    fake = tmp_path / "site" / "fake_tf_keras"
    (fake / "src" / "engine").mkdir(parents=True)
    for folder in (fake, fake / "src", fake / "src" / "engine"):
        (folder / "__init__.py").write_text("")
    (fake / "backend.py").write_text("")
    (fake / "losses.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    importer = ProjectImporter(tmp_path / "proj", [tmp_path / "proj"], {"keras": "fake_tf_keras"})
    source = (
        "import keras\nfrom keras import backend as K\nimport keras.losses as L\n"
        "from keras.engine import base_layer\nimport keras.backend\n"
    )
    try:
        kept = ast.unparse(definitions_only(source, "m.py", rename=importer.rename).tree)
    finally:
        for name in [m for m in sys.modules if m.startswith("fake_tf_keras")]:
            del sys.modules[name]
    assert "import fake_tf_keras as keras" in kept
    assert "from fake_tf_keras import backend as K" in kept
    assert "import fake_tf_keras.losses as L" in kept
    assert "from fake_tf_keras.src.engine import base_layer" in kept
    assert re.search(r"import fake_tf_keras.backend\n\s+keras = fake_tf_keras\n", kept)


# -- the worker process ------------------------------------------------------------------


def test_worker_environment_is_reduced(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    monkeypatch.setenv("MY_PASSWORD", "x")
    monkeypatch.setenv("TF_NUM_INTEROP_THREADS", "1")
    monkeypatch.setenv("TF_USE_LEGACY_KERAS", "1")
    env = worker_module.worker_env(str(tmp_path))
    assert not {"GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY", "MY_PASSWORD"} & set(env)
    assert env["TF_NUM_INTEROP_THREADS"] == "1"  # TensorFlow's own settings pass
    assert env["HOME"] == str(tmp_path) and env["CUDA_VISIBLE_DEVICES"] == ""
    assert "TF_USE_LEGACY_KERAS" not in env and env["LOSSLINT_KERAS"] == "3"
    legacy = worker_module.worker_env(str(tmp_path), legacy=True)
    assert legacy["TF_USE_LEGACY_KERAS"] == "1" and legacy["LOSSLINT_KERAS"] == "tf_keras"


PROBE_PROCESS = r"""
import json, os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
sys.stderr.write("x" * 3_000_000 + "\nlast line\n")
sys.stderr.flush()
sys.stdout.write(json.dumps({"type": "ready", "cwd": os.getcwd(), "files": os.listdir("."),
    "home": os.environ["HOME"], "child": child.pid, "env": sorted(os.environ)}) + "\n")
sys.stdout.flush()
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@pytest.mark.slow
def test_worker_process_cwd_group_and_bounded_log(monkeypatch: pytest.MonkeyPatch) -> None:
    """A stand-in worker that starts a child, floods stderr with 3 MB and reports what it sees."""
    monkeypatch.setattr(worker_module, "_BOOTSTRAP", PROBE_PROCESS)
    monkeypatch.setenv("GITHUB_TOKEN", "x")
    worker = worker_module.Worker()
    try:
        assert worker.wait_ready(60)
        seen = worker.ready
        assert seen is not None
        assert seen["files"] == [] and seen["cwd"] != seen["home"]
        assert "GITHUB_TOKEN" not in seen["env"]
        deadline = time.monotonic() + 30
        while "last line" not in worker.log() and time.monotonic() < deadline:
            time.sleep(0.05)
        log = worker.log()
        assert log.endswith("last line\n") and len(log) <= worker_module.LOG_LIMIT
        assert _alive(seen["child"])
    finally:
        worker.close()
    deadline = time.monotonic() + 30
    while _alive(seen["child"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(seen["child"])  # killed with the worker's process group
    assert not os.path.exists(seen["cwd"])  # its folders are removed


def test_tf_keras_is_an_extra_named_in_the_readme() -> None:
    root = Path(__file__).resolve().parent.parent
    pyproject = (root / "pyproject.toml").read_text()
    assert 'runtime-legacy = ["tensorflow>=2.16", "tf-keras>=2.16"]' in pyproject
    assert "pip install 'losslint[runtime-legacy]'" in (root / "README.md").read_text()


def test_a_copy_of_an_installed_package_uses_the_installed_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Linting a package's own source (the PyPI corpus' `keras`): an identical file is the
    installed module; a changed one is rebuilt from the project under a private name."""
    site = tmp_path / "venv" / "site-packages"
    project = tmp_path / "proj"
    for base in (site, project):
        (base / "twinpkg").mkdir(parents=True)
        (base / "twinpkg" / "__init__.py").write_text("")
        (base / "twinpkg" / "same.py").write_text("def loss(y_true, y_pred):\n    return 1\n")
    (site / "twinpkg" / "changed.py").write_text("def loss(y_true, y_pred):\n    return 2\n")
    (project / "twinpkg" / "changed.py").write_text("def loss(y_true, y_pred):\n    return 3\n")
    monkeypatch.syspath_prepend(str(site))
    importer = ProjectImporter(project, [project])
    importer.install()
    try:
        same = importer.load_path(project / "twinpkg" / "same.py")
        assert Path(same.__file__).resolve() == (site / "twinpkg" / "same.py").resolve()
        changed = importer.load_path(project / "twinpkg" / "changed.py")
        assert changed.__name__ == f"twinpkg{PRIVATE_SUFFIX}.changed" and changed.loss(0, 0) == 3
    finally:
        importer.uninstall()
        for name in [m for m in sys.modules if m.startswith("twinpkg")]:
            del sys.modules[name]


def test_a_project_folder_without_init_never_hides_an_installed_module(tmp_path: Path) -> None:
    """A project with a `json/` folder of scripts (no `__init__.py`): `import json` is still
    the standard library's, as in Python."""
    (tmp_path / "json").mkdir()
    (tmp_path / "json" / "notes.py").write_text("")
    (tmp_path / "losses.py").write_text(
        "import json\n\ndef loss(y_true, y_pred):\n    return json.dumps([y_pred])\n"
    )
    importer = ProjectImporter(tmp_path, [tmp_path])
    importer.install()
    try:
        assert importer.load_path(tmp_path / "losses.py").loss(0, 1) == "[1]"
    finally:
        importer.uninstall()
