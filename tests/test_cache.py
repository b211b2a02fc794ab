"""The cache: results reused only when nothing they depend on changed; never fatal."""

from __future__ import annotations

import json
import os
from pathlib import Path

from conftest import copy_case, run_cli
from test_cli import BAD, write

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
REGISTRY_SAFE = 'def get_loss():\n    return "mse"\n'
REGISTRY_REDUCING = (
    "import tensorflow as tf\n\n"
    "def my_loss(a, b):\n"
    "    return tf.reduce_mean(tf.square(a - b))\n\n"
    "def get_loss():\n"
    "    return my_loss\n"
)
TRAIN = "from registry import get_loss\n\nmodel.compile(optimizer='adam', loss=get_loss())\n"


def _cache_file(root: Path) -> Path:
    (found,) = (root / ".losslint_cache").glob("units-*.json")
    return found


def test_cached_run_reads_the_cache_and_gives_the_same_findings(tmp_path: Path) -> None:
    root = copy_case("keras_project", tmp_path)
    (root / ".git").mkdir()  # a project root: its cache goes there
    expected = (FIXTURES / "keras_project" / "expected" / "findings.txt").read_text()
    assert run_cli(["."], root).stdout == expected
    cache = _cache_file(root)
    assert run_cli(["."], root).stdout == expected
    # the cached run reads the cache: a record planted in the entry of an unchanged file is
    # reported, which proves the analysis did not run again
    data = json.loads(cache.read_text())
    entry = data["units"][str((root / "mlproj" / "losses.py").resolve())]
    planted = dict(entry["records"][0])
    planted["message"] = "planted in the cache"
    planted["fix"] = None
    planted["origin"] = dict(planted["origin"], start=[1, 1], end=[1, 2])
    entry["records"].append(planted)
    cache.write_text(json.dumps(data))
    assert "mlproj/losses.py:1:1: LL001 planted in the cache" in run_cli(["."], root).stdout
    # a change to the file's content invalidates its entry: the planted record is gone
    path = root / "mlproj" / "losses.py"
    path.write_text(path.read_text() + "\n# edited\n")
    assert "planted" not in run_cli(["."], root).stdout


def test_editing_a_dependency_changes_the_findings_of_an_unchanged_file(project: Path) -> None:
    """Issue reproduction: `train.py` compiles `get_loss()`; the cache must follow `registry`."""
    write(project, "registry.py", REGISTRY_SAFE)
    write(project, "train.py", TRAIN)
    first = run_cli(["."], project)
    assert (first.exit_code, first.stdout) == (0, "")
    write(project, "registry.py", REGISTRY_REDUCING)
    cached = run_cli(["."], project)
    uncached = run_cli(["--no-cache", "."], project)
    assert cached.stdout == uncached.stdout
    assert cached.exit_code == 1
    assert cached.stdout.startswith("registry.py:4:12: LL001")
    # and back
    write(project, "registry.py", REGISTRY_SAFE)
    assert run_cli(["."], project).stdout == ""


def test_a_new_module_that_an_import_now_resolves_to_invalidates(project: Path) -> None:
    write(project, "train.py", "from helpers import get_loss\n\nmodel.compile(loss=get_loss())\n")
    assert run_cli(["."], project).stdout == ""
    write(project, "helpers.py", REGISTRY_REDUCING)
    assert run_cli(["."], project).stdout.startswith("helpers.py:4:12: LL001")


def test_corrupt_and_unwritable_cache_are_ignored(project: Path) -> None:
    write(project, "losses.py", BAD)
    expected = run_cli(["--no-cache", "."], project).stdout
    assert run_cli(["."], project).stdout == expected
    cache = _cache_file(project)
    cache.write_text("{not json")
    assert run_cli(["."], project).stdout == expected
    cache.write_text(json.dumps({"units": {"x": 1}, "stats": []}))
    assert run_cli(["."], project).stdout == expected
    folder = project / ".losslint_cache"
    for item in folder.iterdir():
        item.unlink()
    os.chmod(folder, 0o500)
    try:
        result = run_cli(["."], project)
        assert (result.exit_code, result.stdout) == (1, expected)
    finally:
        os.chmod(folder, 0o700)


def test_the_cache_folder_is_at_the_project_root(project: Path) -> None:
    write(project, "pkg/__init__.py", "")
    write(project, "pkg/losses.py", BAD)
    run_cli(["pkg/losses.py"], project / "pkg")
    assert (project / ".losslint_cache").is_dir()
    assert not (project / "pkg" / ".losslint_cache").exists()
