"""Configuration and rule selection: strict selectors, strict keys, broken TOML, project root."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import REPO, run_cli

from losslint.rules import ALL_RULES

BAD = "import tensorflow as tf\n\n\ndef mse(y_true, y_pred):\n    return tf.reduce_mean(tf.square(y_true - y_pred))\n"
FINDING = (
    "losses.py:5:12: LL001 [*] loss `mse` returns a value reduced over the batch axis:"
    " `tf.reduce_mean` without `axis`; Keras expects one loss per sample\n"
)


def pyproject(project: Path, text: str) -> Path:
    path = project / "pyproject.toml"
    path.write_text(text)
    return path


# rule codes and selectors ----------------------------------------------------------------


def test_rule_codes_are_the_registered_rules() -> None:
    """Selectors are checked against the rule modules' names, without importing them."""
    from losslint.codes import rule_codes

    assert rule_codes() == tuple(sorted(rule.code for rule in ALL_RULES))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--select", "LL999"], "unknown rule selector `LL999` in --select: it matches no rule"),
        (
            ["--select", "LL01"],
            "unknown rule selector `LL01` in --select: it matches no rule (did you mean `LL001`?)",
        ),
        (
            ["--select", "LL5"],
            "unknown rule selector `LL5` in --select: it matches no rule (did you mean `LL1`?)",
        ),
        (
            ["--select", "LL001,LL0001"],
            "unknown rule selector `LL0001` in --select: it matches no rule (did you mean `LL001`?)",
        ),
        (["--ignore", "LL999"], "unknown rule selector `LL999` in --ignore: it matches no rule"),
        (
            ["--extend-select", "LL01"],
            "unknown rule selector `LL01` in --extend-select: it matches no rule"
            " (did you mean `LL001`?)",
        ),
        (
            ["--extend-ignore", "LL01"],
            "unknown rule selector `LL01` in --extend-ignore: it matches no rule"
            " (did you mean `LL001`?)",
        ),
        (["--select", "XX"], "unknown rule selector `XX` in --select: it matches no rule"),
        (["--select", "E501"], "unknown rule selector `E501` in --select: it matches no rule"),
        (["--select", ","], "--select needs at least one rule selector"),
    ],
)
def test_unknown_selector_on_the_command_line_is_exit_2(
    project: Path, args: list[str], message: str
) -> None:
    (project / "losses.py").write_text(BAD)
    result = run_cli([*args, "."], project)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == f"losslint: error: {message}\n"


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('select = ["LL01"]', "`select`: it matches no rule (did you mean `LL001`?)"),
        ('ignore = ["LL999"]', "`ignore`: it matches no rule"),
        ('extend-select = ["LL5"]', "`extend-select`: it matches no rule (did you mean `LL1`?)"),
        ('extend-ignore = ["ll01"]', "`extend-ignore`: it matches no rule (did you mean `LL001`?)"),
        ('select = ["ll001"]', "`select`: it matches no rule (did you mean `LL001`?)"),
        (
            'per-file-ignores = { "tests/**" = ["LL01"] }',
            '`per-file-ignores."tests/**"`: it matches no rule (did you mean `LL001`?)',
        ),
    ],
)
def test_unknown_selector_in_the_config_is_exit_2_naming_the_file(
    project: Path, table: str, message: str
) -> None:
    path = pyproject(project, f"[tool.losslint]\n{table}\n")
    (project / "losses.py").write_text(BAD)
    result = run_cli(["--exit-zero", "."], project)
    assert result.exit_code == 2
    assert result.stdout == ""
    selector = table.split('["')[1].split('"')[0]
    assert result.stderr == (
        f"losslint: error: {path}: unknown rule selector `{selector}` in {message}\n"
    )


@pytest.mark.parametrize("selector", ["LL001", "LL00", "LL0", "LL", "ALL", "ll001", "LL001,LL003"])
def test_selectors_that_match_a_rule_are_accepted(project: Path, selector: str) -> None:
    (project / "losses.py").write_text(BAD)
    result = run_cli(["--select", selector, "."], project)
    assert (result.exit_code, result.stdout) == (1, FINDING)


def test_ll1_is_accepted_exactly_when_a_rule_starts_with_it(project: Path) -> None:
    from losslint.codes import rule_codes

    (project / "losses.py").write_text(BAD)
    result = run_cli(["--extend-select", "LL1", "."], project)
    if any(code.startswith("LL1") for code in rule_codes()):
        assert result.exit_code == 1
    else:
        assert result.exit_code == 2
        assert "unknown rule selector `LL1` in --extend-select" in result.stderr


@pytest.mark.slow
def test_a_new_rule_module_is_a_valid_selector_at_once(tmp_path: Path) -> None:
    """`LL2` becomes valid as soon as `rules/ll201_*.py` exists (a copy of the package)."""
    shutil.copytree(
        REPO / "losslint", tmp_path / "losslint", ignore=shutil.ignore_patterns("*.pyc")
    )
    check = (
        "from losslint.codes import is_valid_selector, rule_codes;"
        "print(rule_codes()[-1], is_valid_selector('LL2'), is_valid_selector('LL20'),"
        " is_valid_selector('LL202'))"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    (tmp_path / "losslint" / "rules" / "ll201_example_rule.py").write_text("")
    proc = subprocess.run(
        [sys.executable, "-c", check],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.stdout == "LL201 True True False\n", proc.stderr


def test_extend_ignore_adds_to_the_ignored_rules(project: Path) -> None:
    (project / "losses.py").write_text(
        BAD + "\n\ndef l2(y_true, y_pred):\n    return tf.nn.l2_loss(y_true - y_pred)\n"
    )

    def codes(args: list[str]) -> list[str]:
        return [line.split()[1] for line in run_cli([*args, "."], project).stdout.splitlines()]

    assert codes([]) == ["LL001", "LL003"]
    assert codes(["--extend-ignore", "LL003"]) == ["LL001"]
    assert codes(["--ignore", "LL001", "--extend-ignore", "LL003"]) == []
    pyproject(project, '[tool.losslint]\nignore = ["LL001"]\nextend-ignore = ["LL003"]\n')
    assert codes([]) == []
    assert codes(["--select", "LL0"]) == ["LL001", "LL003"]  # the command line beats the file


def test_per_file_ignores_all(project: Path) -> None:
    pyproject(project, '[tool.losslint.per-file-ignores]\n"tests/**" = ["ALL"]\n')
    (project / "tests").mkdir()
    (project / "tests" / "losses.py").write_text(BAD)
    (project / "losses.py").write_text(BAD)
    result = run_cli(["."], project)
    assert (result.exit_code, result.stdout) == (1, FINDING)


# unknown keys ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[tool.losslint]\nselct = ["LL001"]\n',
            "unknown key `selct` in [tool.losslint] (did you mean `select`?)",
        ),
        (
            '[tool.losslint]\nextend_select = ["LL001"]\n',
            "unknown key `extend_select` in [tool.losslint] (did you mean `extend-select`?)",
        ),
        ("[tool.losslint]\nbogus = 1\n", "unknown key `bogus` in [tool.losslint]"),
        (
            "[tool.losslint.runtime]\ntimout = 5\n",
            "unknown key `timout` in [tool.losslint.runtime] (did you mean `timeout`?)",
        ),
        (
            "[tool.losslint.runtime]\nshape = [[5, 7]]\n",
            "unknown key `shape` in [tool.losslint.runtime] (did you mean `shapes`?)",
        ),
        ('[tool]\nlosslint = "LL001"\n', "[tool.losslint] must be a table"),
        ("[tool.losslint]\nruntime = 3\n", "[tool.losslint.runtime] must be a table"),
        ('[tool.losslint]\nper-file-ignores = ["LL001"]\n', "`per-file-ignores` must be a table"),
    ],
)
def test_unknown_or_mistyped_key_is_exit_2_naming_file_and_key(
    project: Path, text: str, message: str
) -> None:
    path = pyproject(project, text)
    (project / "losses.py").write_text(BAD)
    result = run_cli(["--exit-zero", "."], project)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"losslint: error: {path}: {message}")
    assert "Usage:" not in result.stderr


def test_unknown_key_in_a_config_file_given_with_config(project: Path, tmp_path: Path) -> None:
    config = tmp_path / "losslint.toml"
    config.write_text('ignore = ["LL001"]\n\n[runtime]\ntimeuot = 3\n')
    result = run_cli(["--config", str(config), "."], project)
    assert result.exit_code == 2
    assert result.stderr == (
        f"losslint: error: {config}: unknown key `timeuot` in [runtime] (did you mean `timeout`?)\n"
    )
    config.write_text('[tool.losslint]\nignore = ["LL001"]\n')
    result = run_cli(["--config", str(config), "."], project)
    assert result.exit_code == 2
    assert result.stderr == f"losslint: error: {config}: unknown key `tool` in the top level\n"


# broken TOML -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "position", "reason"),
    [
        ('[tool.losslint]\nignore = ["LL001]\n', "2:18", "Illegal character '\\n'"),
        ('[tool.losslint\nignore = ["LL001"]\n', "1:15", "Expected ']' at the end of a table"),
        ('[project]\nname = "p"\n\n[tool.losslint]\nignore = ["LL001",\n', "6:1", "Invalid value"),
        ("[tool.losslint]\nignore = [1,\n", "3:1", "Invalid value"),  # at the end
        ('[tool.losslint]\nignore = """LL001', "2:18", "Unterminated string"),  # at the end
        (
            'tool.losslint.ignore = ["LL001"]\ntool.losslint.ignore = []\n',
            "2:26",
            "Cannot overwrite a value",
        ),
    ],
)
def test_discovered_pyproject_that_is_not_toml_is_exit_2_with_line_and_column(
    project: Path, text: str, position: str, reason: str
) -> None:
    path = pyproject(project, text)
    (project / "losses.py").write_text(BAD)
    result = run_cli(["--exit-zero", "."], project)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"losslint: error: {path}:{position}: invalid TOML: {reason}")
    assert "Usage:" not in result.stderr
    assert result.stderr.count("\n") == 1


def test_pyproject_that_is_not_utf8_is_exit_2(project: Path) -> None:
    path = project / "pyproject.toml"
    path.write_bytes(b'[tool.losslint]\nignore = ["LL001"]  # caf\xe9\n')
    result = run_cli(["."], project)
    assert result.exit_code == 2
    assert result.stderr == f"losslint: error: {path}:2:26: invalid TOML: not UTF-8\n"


def test_broken_pyproject_without_our_table_is_skipped_with_a_warning(project: Path) -> None:
    path = pyproject(project, '[project]\nname = "p\n')
    (project / "losses.py").write_text(BAD)
    result = run_cli(["."], project)
    assert result.exit_code == 1
    assert result.stdout == FINDING
    assert result.stderr.startswith(
        f"losslint: warning: {path}:2:10: invalid TOML: Illegal character '\\n'"
        " (skipped: it has no [tool.losslint] table)\nFound 1 error."
    )
    # the warning is the only thing --silent would hide; the exit code still tells
    silent = run_cli(["-s", "."], project)
    assert (silent.exit_code, silent.stdout, silent.stderr) == (1, "", "")


def test_broken_config_file_given_with_config(project: Path, tmp_path: Path) -> None:
    config = tmp_path / "custom.toml"
    config.write_text('ignore = ["LL001"\n')
    result = run_cli(["--config", str(config), "."], project)
    assert result.exit_code == 2
    assert result.stderr == f"losslint: error: {config}:2:1: invalid TOML: Unclosed array\n"
    missing = run_cli(["--config", str(tmp_path / "missing.toml"), "."], project)
    assert missing.exit_code == 2
    assert missing.stderr == (
        f"losslint: error: {tmp_path / 'missing.toml'}: cannot read: No such file or directory\n"
    )


# the project root ------------------------------------------------------------------------


def _markers_above(folder: Path) -> bool:
    return any(
        (parent / marker).exists()
        for parent in (folder, *folder.parents)
        for marker in ("pyproject.toml", ".git")
    )


@pytest.fixture
def bare(tmp_path: Path) -> Iterator[Path]:
    """A folder with a package and no root marker (pyproject.toml, .git) above it: pytest's
    temporary folder, or a fresh one in a system temporary folder when a marker sits above it."""
    base, made = tmp_path, None
    if _markers_above(base):
        candidates = [Path(p) for p in ("/tmp", "/var/tmp", "/dev/shm") if Path(p).is_dir()]
        free = [c for c in candidates if not _markers_above(c)]
        assert free, f"no temporary folder without a pyproject.toml or .git above it: {candidates}"
        base = made = Path(tempfile.mkdtemp(dir=free[0]))
    work = base / "work"
    (work / "pkg").mkdir(parents=True)
    (work / "pkg" / "__init__.py").write_text("")
    (work / "pkg" / "util.py").write_text("X = 1\n")
    (work / "pkg" / "losses.py").write_text(BAD)
    yield work
    if made is not None:
        shutil.rmtree(made, ignore_errors=True)


def test_without_a_root_marker_the_cache_goes_to_the_current_folder(bare: Path) -> None:
    result = run_cli(["pkg/util.py", "pkg/losses.py"], bare)
    assert result.exit_code == 1
    assert result.stdout == "pkg/" + FINDING
    assert (bare / ".losslint_cache").is_dir()
    assert not (bare / "pkg" / ".losslint_cache").exists()


def test_without_a_root_marker_the_root_is_never_inside_a_package(
    bare: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = run_cli([str(bare / "pkg" / "util.py")], elsewhere)
    assert result.exit_code == 0
    assert (bare / ".losslint_cache").is_dir()  # pkg/ is a package: its parent is the root
    assert not (bare / "pkg" / ".losslint_cache").exists()
    assert not (elsewhere / ".losslint_cache").exists()
    inside = run_cli(["util.py"], bare / "pkg")  # run from inside the package
    assert inside.exit_code == 0
    assert not (bare / "pkg" / ".losslint_cache").exists()


def test_find_project_root_prefers_markers(tmp_path: Path) -> None:
    from losslint.config import find_project_root

    (tmp_path / "proj" / "pkg").mkdir(parents=True)
    (tmp_path / "proj" / ".git").mkdir()
    (tmp_path / "proj" / "pkg" / "__init__.py").write_text("")
    assert find_project_root(tmp_path / "proj" / "pkg" / "x.py") == tmp_path / "proj"
    old = os.getcwd()
    os.chdir(tmp_path)
    try:
        assert find_project_root(tmp_path / "proj" / "pkg") == tmp_path / "proj"
    finally:
        os.chdir(old)


def test_config_file_elsewhere_keeps_the_project_root(tmp_path: Path) -> None:
    """`--config` with a shared TOML file: imports still resolve inside the project."""
    configs = tmp_path / "configs"
    configs.mkdir()
    (configs / "losslint.toml").write_text('ignore = ["LL003"]\n')
    proj = tmp_path / "proj"
    (proj / "pkg").mkdir(parents=True)
    (proj / "pyproject.toml").write_text('[project]\nname = "p"\n')
    (proj / "pkg" / "__init__.py").write_text("")
    (proj / "pkg" / "losses.py").write_text(
        "import tensorflow as tf\n\n\ndef l1(a, b):\n    return tf.reduce_mean(tf.abs(a - b))\n"
    )
    (proj / "pkg" / "train.py").write_text(
        "from pkg.losses import l1\n\n\ndef build(model):\n    model.compile(loss=l1)\n"
    )
    result = run_cli(["--config", str(configs / "losslint.toml"), "pkg"], proj)
    assert result.exit_code == 1
    assert result.stdout.startswith("pkg/losses.py:5:12: LL001 [*] loss `l1` returns a value")
    assert (proj / ".losslint_cache").is_dir()
    assert not (configs / ".losslint_cache").exists()
