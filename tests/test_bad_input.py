"""Bad input never crashes or hangs: LL000 findings, or the file is skipped; fixes never lose code."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from conftest import run_cli, run_subprocess

from losslint.config import Config
from losslint.engine import LintOptions, lint_paths

BAD = "import tensorflow as tf\n\n\ndef mse(y_true, y_pred):\n    return tf.reduce_mean(tf.square(y_true - y_pred))\n"


def lines(output: str) -> list[str]:
    return [line.split(" loss ")[0].split(" cannot")[0] for line in output.splitlines()]


def test_syntax_error_is_ll000_and_other_files_are_still_linted(project: Path) -> None:
    (project / "broken.py").write_text("def loss(y_true, y_pred)\n    return y_pred\n")
    (project / "losses.py").write_text(BAD)
    result = run_cli(["."], project)
    assert result.exit_code == 1
    out = result.stdout.splitlines()
    assert out[0].startswith("broken.py:1:")
    assert "LL000" in out[0] and "cannot parse file" in out[0]
    assert out[1].startswith("losses.py:5:12: LL001")


def test_syntax_error_in_a_file_without_losses(project: Path) -> None:
    """A file that cannot hold a loss is never parsed when found by walking a folder; named on
    the command line, it is parsed and its syntax error reported."""
    (project / "util.py").write_text("x = (1,\n")
    walked = run_cli(["."], project)
    assert (walked.exit_code, walked.stdout) == (0, "")
    named = run_cli(["util.py"], project)
    assert named.exit_code == 1
    assert named.stdout == "util.py:1:5: LL000 cannot parse file: '(' was never closed\n"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"x = 1\n\x00\x01binary", "binary file"),
        (b"# -*- coding: utf-8 -*-\nx = 1\ny = '\xff\xfe'\n", "cannot decode file as utf-8"),
        (b"# -*- coding: klingon -*-\nx = 1\n", "cannot decode file"),
        (b"\xef\xbb\xbf# -*- coding: latin-1 -*-\nx = 1\n", "cannot decode file"),
    ],
)
def test_undecodable_and_binary_files(project: Path, data: bytes, message: str) -> None:
    (project / "weird.py").write_bytes(data)
    (project / "losses.py").write_text(BAD)
    result = run_cli(["."], project)
    assert result.exit_code == 1
    first, second = result.stdout.splitlines()
    assert first.startswith("losses.py:5:12: LL001")
    assert second.startswith("weird.py:") and "LL000" in second and message in second


def test_undecodable_position_points_at_the_byte(project: Path) -> None:
    (project / "weird.py").write_bytes(b"# -*- coding: utf-8 -*-\nx = 1\ny = '\xff'\n")
    result = run_cli(["weird.py"], project)
    assert result.stdout.startswith("weird.py:3:6: LL000")


def test_fifo_is_skipped_when_walking_and_ll000_when_named(project: Path) -> None:
    os.mkfifo(project / "pipe.py")
    (project / "losses.py").write_text(BAD)
    walked = run_subprocess(["."], project)  # a real process: a hang would hit the timeout
    assert walked.returncode == 1
    assert walked.stdout.decode().splitlines()[0].startswith("losses.py:5:12: LL001")
    assert b"pipe.py" not in walked.stdout
    named = run_subprocess(["pipe.py", "losses.py"], project)
    out = named.stdout.decode()
    assert "pipe.py:1:1: LL000" in out and "not a regular file" in out
    assert "losses.py:5:12: LL001" in out


def test_symlink_loops_and_broken_links(project: Path) -> None:
    (project / "loop_a.py").symlink_to(project / "loop_b.py")
    (project / "loop_b.py").symlink_to(project / "loop_a.py")
    (project / "dangling.py").symlink_to(project / "missing.py")
    sub = project / "sub"
    sub.mkdir()
    (sub / "again").symlink_to(project, target_is_directory=True)
    (sub / "losses.py").write_text(BAD)
    walked = run_subprocess(["."], project)
    assert walked.returncode == 1
    # links that loop or dangle are skipped while walking; `sub/again` is the project itself
    assert walked.stdout.decode() == (
        "sub/losses.py:5:12: LL001 [*] loss `mse` returns a value reduced over the batch axis:"
        " `tf.reduce_mean` without `axis`; Keras expects one loss per sample\n"
    )
    named = run_subprocess(["loop_a.py"], project)
    assert named.returncode == 1
    assert "loop_a.py:1:1: LL000" in named.stdout.decode()
    assert b"Traceback" not in named.stderr


def test_symlinked_file_is_linted_once_and_fix_keeps_the_link(project: Path) -> None:
    real = project / "real.py"
    real.write_text(BAD)
    link = project / "link.py"
    link.symlink_to(real)
    result = run_cli(["--fix", "real.py", "link.py"], project)
    assert result.exit_code == 0
    assert link.is_symlink()
    assert "axis=-1" in real.read_text()


def test_fix_preserves_file_mode_and_is_atomic(project: Path) -> None:
    path = project / "losses.py"
    path.write_text(BAD)
    path.chmod(0o751)
    inode_dir = sorted(p.name for p in project.iterdir())
    run_cli(["--fix", "--no-cache", "."], project)
    assert stat.S_IMODE(path.stat().st_mode) == 0o751
    assert sorted(p.name for p in project.iterdir()) == inode_dir  # no temporary file left behind


def test_fix_never_writes_text_that_does_not_parse(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = project / "losses.py"
    path.write_text(BAD)

    def broken(text: str, fixes: object) -> tuple[str, int]:
        return text.replace("return", "return return"), 1

    monkeypatch.setattr("losslint.engine.session.apply_fixes", broken)
    result = run_cli(["--fix", "."], project)
    assert path.read_text() == BAD
    assert result.exit_code == 1


def test_file_changed_during_run_is_not_overwritten(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = project / "losses.py"
    path.write_text(BAD)
    from losslint.engine import Session

    real = Session.lint

    def racing(*args: object, **kwargs: object):  # the user saves while losslint runs
        results = real(*args, **kwargs)  # type: ignore[arg-type]
        path.write_text(BAD + "# edited\n")
        return results

    monkeypatch.setattr(Session, "lint", racing)
    result = run_cli(["--fix", "."], project)
    assert path.read_text() == BAD + "# edited\n"
    assert "changed while losslint ran" in result.stderr


def test_empty_and_huge_nesting(project: Path) -> None:
    (project / "empty.py").write_bytes(b"")
    (project / "deep.py").write_text(
        "y_true, y_pred = 1, 2\nx = " + "(" * 200 + "1" + ")" * 200 + "\n"
    )
    result = run_subprocess(["."], project)
    assert (result.returncode, result.stdout, result.stderr) == (0, b"", b"All checks passed!\n")
    # one level deeper than Python's parser allows, in a file that may hold a loss (it passes
    # the gate, so it is parsed): a finding, never a crash
    (project / "deeper.py").write_text(
        "x = " + "(" * 201 + "1" + ")" * 201 + "\ndef loss(y_true, y_pred):\n    return y_pred\n"
    )
    result = run_subprocess(["."], project)
    assert result.returncode == 1
    assert (
        result.stdout == b"deeper.py:1:205: LL000 cannot parse file: too many nested parentheses\n"
    )
    assert result.stderr == b"Found 1 error.\n"


def test_engine_reports_unreadable_overlay(tmp_path: Path) -> None:
    path = tmp_path / "x.py"
    result = lint_paths([path], Config(root=tmp_path), LintOptions(), overlays={path: b"\x00"})[0]
    assert [d.code for d in result.diagnostics] == ["LL000"]
