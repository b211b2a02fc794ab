"""The command line, end to end: options, formats, stdin, exit codes, stdout/stderr split."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FIXTURES, copy_case, run_cli, run_subprocess

from losslint import __version__

BAD = "import tensorflow as tf\n\n\ndef mse(y_true, y_pred):\n    return tf.reduce_mean(tf.square(y_true - y_pred))\n"
GOOD = "import tensorflow as tf\n\n\ndef mse(y_true, y_pred):\n    return tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)\n"
FINDING = (
    "losses.py:5:12: LL001 [*] loss `mse` returns a value reduced over the batch axis:"
    " `tf.reduce_mean` without `axis`; Keras expects one loss per sample\n"
)
SUM = "import tensorflow as tf\n\n\ndef sse(y_true, y_pred):\n    return tf.reduce_sum(tf.square(y_true - y_pred))\n"


def write(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_clean_project_exits_0_with_summary_on_stderr(project: Path) -> None:
    write(project, "losses.py", GOOD)
    result = run_cli(["."], project)
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "All checks passed!" in result.stderr


def test_findings_exit_1_payload_on_stdout_summary_on_stderr(project: Path) -> None:
    write(project, "losses.py", BAD)
    result = run_cli(["."], project)
    assert result.exit_code == 1
    assert result.stdout.startswith("losses.py:5:12: LL001 [*] loss `mse` returns a value reduced")
    assert "Found 1 error." in result.stderr
    assert "Found" not in result.stdout
    assert "[*] 1 fixable with the `--fix` option." in result.stderr


def test_exit_zero_turns_1_into_0_but_not_2(project: Path) -> None:
    write(project, "losses.py", BAD)
    zero = run_cli(["--exit-zero", "."], project)
    assert (zero.exit_code, zero.stdout) == (0, FINDING)
    path = project / "pyproject.toml"
    path.write_text("[tool.losslint]\nbogus = 1\n")
    error = run_cli(["--exit-zero", "."], project)
    assert (error.exit_code, error.stdout) == (2, "")
    assert error.stderr == f"losslint: error: {path}: unknown key `bogus` in [tool.losslint]\n"


def test_unknown_config_key_is_exit_2_naming_it(project: Path) -> None:
    path = project / "pyproject.toml"
    path.write_text("[tool.losslint]\nselect = ['LL0']\nloss-names = []\n")
    write(project, "losses.py", GOOD)
    result = run_cli(["."], project)
    assert result.exit_code == 2
    assert result.stderr == (
        f"losslint: error: {path}: unknown key `loss-names` in [tool.losslint]"
        " (did you mean `loss-arg-names`?)\n"
    )


def test_bad_option_value_is_exit_2(project: Path) -> None:
    selector = run_cli(["--select", "XYZ123", "."], project)
    assert selector.exit_code == 2
    assert selector.stderr == (
        "losslint: error: unknown rule selector `XYZ123` in --select: it matches no rule\n"
    )
    fmt = run_cli(["--format", "xml", "."], project)
    assert fmt.exit_code == 2
    assert "Invalid value for '--format'" in fmt.stderr  # click's own usage error


def test_internal_error_is_exit_2(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(project, "losses.py", BAD)

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("losslint.engine.Session.lint", boom)
    result = run_cli(["--exit-zero", "."], project)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == "losslint: internal error: RuntimeError: boom\n"


def test_fix_writes_files_and_exits_0_when_all_fixed(project: Path) -> None:
    path = write(project, "losses.py", BAD)
    result = run_cli(["--fix", "."], project)
    assert result.exit_code == 0
    assert path.read_text() == GOOD
    assert "Found 1 error (1 fixed, 0 remaining)." in result.stderr


def test_fix_exit_1_when_findings_remain_and_unsafe_needs_flag(project: Path) -> None:
    path = write(project, "losses.py", SUM)
    result = run_cli(["--fix", "."], project)
    assert result.exit_code == 1
    assert path.read_text() == SUM
    assert "1 hidden fix can be enabled with the `--unsafe-fixes` option." in result.stderr
    assert "[*]" not in result.stdout
    shown = run_cli(["--unsafe-fixes", "."], project)
    assert "LL001 [*]" in shown.stdout
    fixed = run_cli(["--fix", "--unsafe-fixes", "."], project)
    assert fixed.exit_code == 0
    assert "axis=-1" in path.read_text()


def test_exit_non_zero_on_fix(project: Path) -> None:
    write(project, "losses.py", BAD)
    assert run_cli(["--fix", "--exit-non-zero-on-fix", "."], project).exit_code == 1


def test_diff_prints_diff_writes_nothing_and_exits_1(project: Path) -> None:
    path = write(project, "losses.py", BAD)
    result = run_cli(["--diff", "."], project)
    assert result.exit_code == 1
    assert path.read_text() == BAD
    assert "--- a/losses.py" in result.stdout
    assert "+    return tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)" in result.stdout
    assert "Would fix 1 error." in result.stderr
    write(project, "losses.py", GOOD)
    clean = run_cli(["--diff", "."], project)
    assert clean.exit_code == 0
    assert clean.stdout == ""


def test_stdin_lint_uses_stdin_filename(project: Path) -> None:
    result = run_cli(["--stdin-filename", "src/losses.py", "-"], project, stdin=BAD)
    assert result.exit_code == 1
    assert result.stdout.startswith("src/losses.py:5:12: LL001")


def test_stdin_fix_prints_whole_source_and_reports_on_stderr(project: Path) -> None:
    result = run_cli(
        ["--fix", "--unsafe-fixes", "--stdin-filename", "x.py", "-"],
        project,
        stdin=BAD + SUM.replace("import tensorflow as tf\n", ""),
    )
    assert result.exit_code == 0
    assert result.stdout.count("axis=-1") == 2
    assert result.stdout.startswith("import tensorflow as tf\n")
    # nothing to fix: the input comes back unchanged
    same = run_cli(["--fix", "--stdin-filename", "x.py", "-"], project, stdin=GOOD)
    assert same.stdout == GOOD
    assert same.exit_code == 0


def test_stdin_fix_keeps_encoding(project: Path) -> None:
    source = "# -*- coding: latin-1 -*-\n# é\n" + BAD
    proc = run_subprocess(
        ["--fix", "--stdin-filename", "x.py", "-"], project, stdin=source.encode("latin-1")
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == source.replace("y_pred))\n", "y_pred), axis=-1)\n").encode("latin-1")


def test_stdin_force_exclude_echoes_input(project: Path) -> None:
    (project / "pyproject.toml").write_text('[tool.losslint]\nextend-exclude = ["generated"]\n')
    result = run_cli(
        ["--fix", "--force-exclude", "--stdin-filename", "generated/x.py", "-"], project, stdin=BAD
    )
    assert result.exit_code == 0
    assert result.stdout == BAD


def test_json_format(project: Path) -> None:
    write(project, "losses.py", BAD)
    result = run_cli(["--format", "json", "."], project)
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert len(data) == 1
    item = data[0]
    assert set(item) == {
        "code",
        "name",
        "message",
        "filename",
        "location",
        "end_location",
        "cell",
        "noqa_row",
        "url",
        "severity",
        "fix",
        "function",
        "role",
        "evidence",
        "runtime",
        "losses",
    }
    assert item["code"] == "LL001" and item["name"] == "batch-axis-reduction"
    assert item["filename"] == str((project / "losses.py").resolve())
    assert item["location"] == {"row": 5, "column": 12}
    assert item["end_location"] == {"row": 5, "column": 54}
    assert item["noqa_row"] == 5 and item["cell"] is None and item["runtime"] is None
    assert item["function"] == "losses.mse" and item["role"] == "loss"
    assert item["losses"] == ["losses.mse"]
    assert item["evidence"] == "parameters named like a loss (`y_true`, `y_pred`)"
    assert item["url"] == (
        "https://github.com/losslint/losslint/blob/main/docs/rules.md#ll001-batch-axis-reduction"
    )
    assert item["severity"] == "error"
    assert item["fix"] == {
        "applicability": "safe",
        "message": "Add `axis=-1`",
        "edits": [
            {
                "content": ", axis=-1",
                "location": {"row": 5, "column": 53},
                "end_location": {"row": 5, "column": 53},
            }
        ],
    }
    assert "Found" not in result.stdout


def test_sarif_format(project: Path) -> None:
    write(project, "src/losses.py", BAD)
    result = run_cli(["--format", "sarif", "."], project)
    log = json.loads(result.stdout)
    assert log["version"] == "2.1.0"
    run = log["runs"][0]
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == [
        "LL000",
        "LL001",
        "LL002",
        "LL003",
        "LL004",
        "LL101",
        "LL102",
    ]
    assert all(
        r["fullDescription"]["text"] and r["help"]["text"] for r in run["tool"]["driver"]["rules"]
    )
    assert run["tool"]["driver"]["rules"][1]["helpUri"] == (
        "https://github.com/losslint/losslint/blob/main/docs/rules.md#ll001-batch-axis-reduction"
    )
    (res,) = run["results"]
    assert res["ruleId"] == "LL001"
    loc = res["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"] == "src/losses.py"
    assert loc["region"] == {"startLine": 5, "startColumn": 12, "endLine": 5, "endColumn": 54}


def test_github_format_escapes(project: Path) -> None:
    write(project, "a,b.py", BAD)
    result = run_cli(["--format", "github", "."], project)
    line = result.stdout.strip()
    assert line.startswith(
        "::error title=losslint (LL001),file=a%2Cb.py,line=5,col=12,endLine=5,endColumn=54::LL001 loss"
    )


def test_statistics(project: Path) -> None:
    write(project, "a.py", BAD)
    write(project, "b.py", BAD.replace("mse", "mse2") + SUM)
    result = run_cli(["--statistics", "."], project)
    assert result.stdout == "3\tLL001\t[*]\tbatch-axis-reduction\n"
    assert result.exit_code == 1


def test_select_ignore_and_prefixes(project: Path) -> None:
    write(
        project,
        "a.py",
        BAD + "\n\ndef l2(y_true, y_pred):\n    return tf.nn.l2_loss(y_true - y_pred)\n",
    )
    codes = lambda args: sorted(  # noqa: E731
        line.split()[1] for line in run_cli([*args, "."], project).stdout.splitlines()
    )
    assert codes([]) == ["LL001", "LL003"]
    assert codes(["--select", "LL003"]) == ["LL003"]
    assert codes(["--ignore", "LL001"]) == ["LL003"]
    assert codes(["--select", "ALL", "--ignore", "LL00"]) == []
    assert codes(["--select", "LL001", "--extend-select", "LL003"]) == ["LL001", "LL003"]
    (project / "pyproject.toml").write_text('[tool.losslint]\nignore = ["LL003"]\n')
    assert codes([]) == ["LL001"]
    assert codes(["--select", "LL0"]) == ["LL001", "LL003"]  # the command line beats the file


def test_a_deselected_rule_does_not_hide_another_at_the_same_place(project: Path) -> None:
    """A metric and a loss share one reduction: the place is the loss's (LL001) by default,
    and selecting only LL004 (or ignoring LL001) still reports the metric there."""
    write(
        project,
        "train.py",
        "from tensorflow.keras import backend as K\n\n\n"
        "def dice(y_true, y_pred):\n"
        "    t, p = K.flatten(y_true), K.flatten(y_pred)\n"
        "    return (2.0 * K.sum(t * p) + 1.0) / (K.sum(t + p) + 1.0)\n\n\n"
        "def build(model):\n"
        "    def my_loss(y_true, y_pred):\n"
        "        return 1 - dice(y_true, y_pred)\n\n"
        "    def my_dice(y_true, y_pred):\n"
        "        return dice(y_true, y_pred)\n\n"
        '    model.compile(optimizer="adam", loss=my_loss, metrics=[my_dice])\n',
    )

    def codes(args: list[str]) -> list[list[str]]:
        lines = run_cli([*args, "train.py"], project).stdout.splitlines()
        return [line.split()[:2] for line in lines]

    assert codes([]) == [["train.py:6:19:", "LL001"]]
    assert codes(["--select", "LL004"]) == [["train.py:6:19:", "LL004"]]
    assert codes(["--ignore", "LL001"]) == [["train.py:6:19:", "LL004"]]


def test_noqa_comments(project: Path) -> None:
    body = (
        "import tensorflow as tf\n\n\n"
        "def a(y_true, y_pred):\n    return tf.reduce_mean(y_true - y_pred)  # noqa\n\n\n"
        "def b(y_true, y_pred):\n    return tf.reduce_mean(y_true - y_pred)  # NOQA: LL001\n\n\n"
        "def c(y_true, y_pred):\n    return tf.reduce_mean(y_true - y_pred)  # noqa: LL002\n\n\n"
        "def d(y_true, y_pred):\n    return tf.reduce_mean(y_true - y_pred)  # '# noqa' in a comment after code counts\n\n\n"
        "def e(y_true, y_pred):\n    return tf.reduce_mean(y_true - y_pred) if '# noqa' else 0\n"
    )
    write(project, "a.py", body)
    result = run_cli(["."], project)
    rows = [int(line.split(":")[1]) for line in result.stdout.splitlines()]
    assert rows == [13, 21]
    assert len(run_cli(["--disable-noqa", "."], project).stdout.splitlines()) == 5


@pytest.mark.parametrize(
    ("header", "remaining"),
    [
        ("# losslint: noqa\n", 0),
        ("# losslint: noqa: LL003\n", 1),
        ("# flake8: noqa\n", 0),
        ("x = 1  # losslint: noqa\n", 1),
    ],
)
def test_file_level_noqa(project: Path, header: str, remaining: int) -> None:
    write(project, "a.py", header + BAD)
    assert len(run_cli(["."], project).stdout.splitlines()) == remaining


def test_per_file_ignores(project: Path) -> None:
    (project / "pyproject.toml").write_text(
        '[tool.losslint.per-file-ignores]\n"tests/**" = ["LL001"]\n"!src/**" = ["LL003"]\n'
    )
    write(project, "tests/test_losses.py", BAD)
    write(project, "src/losses.py", BAD)
    result = run_cli(["."], project)
    assert [line.split(":")[0] for line in result.stdout.splitlines()] == ["src/losses.py"]


def test_discovery_excludes_and_gitignore(project: Path) -> None:
    for name in [
        ".venv/lib/x.py",
        "build/x.py",
        "node_modules/x.py",
        "site-packages/x.py",
        "ignored/x.py",
        "keep/x.py",
        "keep/notes.txt",
        "gen/x.py",
    ]:
        write(project, name, BAD)
    (project / ".gitignore").write_text("ignored/\n")
    (project / "pyproject.toml").write_text('[tool.losslint]\nextend-exclude = ["gen"]\n')

    def files(args):
        return sorted(line.split(":")[0] for line in run_cli(args, project).stdout.splitlines())

    assert files(["."]) == ["keep/x.py"]
    assert files(["--no-respect-gitignore", "."]) == ["ignored/x.py", "keep/x.py"]
    # explicit files are linted even when excluded, unless --force-exclude
    assert files(["gen/x.py"]) == ["gen/x.py"]
    assert files(["--force-exclude", "gen/x.py"]) == []
    assert files(["--force-exclude", "ignored/x.py"]) == []


def test_nested_gitignore_and_config_from_subfolder(project: Path) -> None:
    write(project, "pkg/sub/x.py", BAD)
    write(project, "pkg/sub/y.py", BAD)
    (project / "pkg" / ".gitignore").write_text("sub/y.py\n")
    (project / "pyproject.toml").write_text('[tool.losslint]\nselect = ["LL001"]\n')
    result = run_cli(["pkg/sub"], project)
    assert [line.split(":")[0] for line in result.stdout.splitlines()] == ["pkg/sub/x.py"]


def test_config_option(project: Path, tmp_path: Path) -> None:
    write(project, "a.py", BAD)
    config = tmp_path / "custom.toml"
    config.write_text('ignore = ["LL001"]\n')
    assert run_cli(["--config", str(config), "."], project).exit_code == 0
    assert run_cli(["--config", str(tmp_path / "missing.toml"), "."], project).exit_code == 2


def test_loss_arg_names_config(project: Path) -> None:
    write(
        project,
        "a.py",
        BAD.replace("y_true, y_pred", "truth, guess").replace("y_true - y_pred", "truth - guess"),
    )
    assert run_cli(["."], project).exit_code == 0
    (project / "pyproject.toml").write_text(
        '[tool.losslint]\nloss-arg-names = [["truth", "guess"]]\n'
    )
    assert run_cli(["."], project).exit_code == 1
    (project / "pyproject.toml").write_text('[tool.losslint]\nloss-arg-names = ["truth"]\n')
    assert run_cli(["."], project).exit_code == 2


def test_missing_path_is_ll000(project: Path) -> None:
    result = run_cli(["nope.py"], project)
    assert result.exit_code == 1
    assert "nope.py:1:1: LL000" in result.stdout


def test_explain_list_rules_version(project: Path) -> None:
    explained = run_cli(["--explain", "ll001"], project)
    assert explained.exit_code == 0
    assert explained.stdout.startswith(
        "# batch-axis-reduction (LL001)\n\nFix is sometimes available.\n\n"
    )
    for section in (
        "## What it does",
        "## Why is this bad?",
        "## Example",
        "## Use instead",
        "## Fix safety",
    ):
        assert section in explained.stdout
    unsafe = run_cli(["--explain", "LL002"], project)
    assert unsafe.stdout.startswith(
        "# reducing-loss-object (LL002)\n\n"
        "Fix is sometimes available (unsafe: applied with `--unsafe-fixes`).\n\n"
    )
    none = run_cli(["--explain", "LL000"], project)
    assert none.stdout.startswith("# unreadable-file (LL000)\n\nFix is not available.\n\n")
    unknown = run_cli(["--explain", "LL01"], project)
    assert unknown.exit_code == 2
    assert unknown.stderr == (
        "losslint: error: unknown rule code `LL01` for --explain (did you mean `LL001`?)\n"
    )
    assert run_cli(["--version"], project).stdout == f"losslint, version {__version__}\n"


def test_list_rules_marks_safe_and_unsafe_fixes(project: Path) -> None:
    """`[*]`: a safe fix exists (an INVALID example with `fixed`); `[unsafe]`: only unsafe."""
    listed = run_cli(["--list-rules"], project)
    assert listed.exit_code == 0
    rows = [line.split("\t") for line in listed.stdout.splitlines()]
    assert [row[:3] for row in rows] == [
        ["LL000", "", "unreadable-file"],
        ["LL001", "[*]", "batch-axis-reduction"],
        ["LL002", "[unsafe]", "reducing-loss-object"],
        ["LL003", "[unsafe]", "scalar-only-op"],
        ["LL004", "[*]", "batch-reduced-metric"],
        ["LL101", "", "dropped-sample-weight"],
        ["LL102", "[unsafe]", "batch-level-term"],
    ]
    assert rows[1][3] == "A loss's returned value is reduced over the batch axis."


def test_show_fixes_prints_paths_relative_to_the_current_folder(project: Path) -> None:
    write(project, "src/losses.py", BAD)
    write(project, "other.py", SUM)
    result = run_cli(["--fix", "--unsafe-fixes", "--show-fixes", "."], project)
    assert result.exit_code == 0
    assert result.stderr == (
        "Fixed 1 in other.py\nFixed 1 in src/losses.py\nFound 2 errors (2 fixed, 0 remaining).\n"
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    "args",
    [
        ["--version"],
        ["--help"],
        ["--select", "LL999", "."],
        ["--list-rules"],
        ["--explain", "LL001"],
    ],
)
def test_fast_paths_import_no_analysis(args: list[str], tmp_path: Path) -> None:
    """`python -X importtime` lists every module a command imports (on stderr)."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "losslint", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == (2 if "--select" in args else 0), proc.stderr[-2000:]
    imported = {
        line.rsplit("|", 1)[1].strip()
        for line in proc.stderr.splitlines()
        if line.startswith("import time:")
    }
    # the listing was read (`--version` alone is answered before click is even imported)
    assert (
        {"losslint"} <= imported if args == ["--version"] else {"click", "losslint.cli"} <= imported
    )
    heavy = sorted(
        name
        for name in imported
        if name.split(".")[0] == "libcst"
        or name.startswith(("losslint.engine", "losslint.shapes", "losslint.index"))
    )
    assert heavy == []


def test_quiet_and_silent(project: Path) -> None:
    write(project, "a.py", BAD)
    quiet = run_cli(["-q", "."], project)
    assert quiet.stdout and quiet.stderr == "" and quiet.exit_code == 1
    silent = run_cli(["-s", "."], project)
    assert silent.stdout == "" and silent.stderr == "" and silent.exit_code == 1


def test_python_m_and_console_script(project: Path) -> None:
    write(project, "a.py", BAD)
    proc = run_subprocess(["."], project)
    assert proc.returncode == 1
    assert proc.stdout.decode().startswith("a.py:5:12: LL001")
    assert b"Found 1 error." in proc.stderr


def test_jobs_give_the_same_findings(tmp_path: Path) -> None:
    root = copy_case("keras_project", tmp_path)
    expected = (FIXTURES / "keras_project" / "expected" / "findings.txt").read_text()
    parallel = run_subprocess(["--jobs", "2", "--no-cache", "."], root)
    assert parallel.stdout.decode() == expected
    assert not (root / ".losslint_cache").exists()  # --no-cache writes nothing
    assert run_cli(["--jobs", "1", "--no-cache", "."], root).stdout == expected


def test_color_only_when_asked(project: Path) -> None:
    write(project, "a.py", BAD)
    assert "\x1b[" not in run_cli(["."], project).stdout
    env_proc = run_subprocess(["--color", "always", "."], project)
    assert b"\x1b[" in env_proc.stdout


def test_nothing_to_check_is_never_all_checks_passed(tmp_path: Path) -> None:
    """An empty folder, or one whose files are all excluded, says that nothing was checked."""
    (tmp_path / "empty").mkdir()
    excluded = tmp_path / "excluded"
    excluded.mkdir()
    (excluded / "pyproject.toml").write_text('[tool.losslint]\nexclude = ["losses.py"]\n')
    (excluded / "losses.py").write_text(
        "import tensorflow as tf\n\n\ndef mse(y_true, y_pred):\n"
        "    return tf.reduce_mean(tf.square(y_true - y_pred))\n"
    )
    for folder in (tmp_path / "empty", excluded):
        result = run_cli(["."], folder)
        assert result.exit_code == 0, result.stderr
        assert "All checks passed!" not in result.stderr
        assert "No files were checked." in result.stderr
        assert "nothing was checked" in result.stderr
    # the same folder with its file checked passes or fails as usual
    (excluded / "pyproject.toml").write_text("[tool.losslint]\n")
    result = run_cli(["."], excluded)
    assert result.exit_code == 1 and "Found 1 error." in result.stderr
