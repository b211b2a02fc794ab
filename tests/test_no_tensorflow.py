"""`import losslint` and static linting never import TensorFlow or Keras."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from conftest import FIXTURES, REPO

SCRIPT = textwrap.dedent(
    """
    import sys

    class Forbid:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {"tensorflow", "keras", "tf_keras"}:
                raise ImportError(f"static mode imported {name}")
            return None

    sys.meta_path.insert(0, Forbid())
    import losslint
    import losslint.cli
    from click.testing import CliRunner

    result = CliRunner().invoke(losslint.cli.main, ["--format", "json", sys.argv[1]])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in {"tensorflow", "keras", "tf_keras"})
    print(result.exit_code, len(result.stdout), loaded)
    """
)


def test_static_run_never_imports_tensorflow() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(FIXTURES / "keras_project")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    exit_code, size, loaded = proc.stdout.split(" ", 2)
    assert exit_code == "1"  # the fixture project has findings: the run really happened
    assert int(size) > 1000
    assert loaded.strip() == "[]"
