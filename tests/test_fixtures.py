"""Golden multi-file fixtures: expected findings and expected fixed files, end to end."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from conftest import FIXTURES, copy_case, run_cli

UPDATE = os.environ.get("LOSSLINT_UPDATE_FIXTURES") == "1"
CASES = sorted(p.name for p in FIXTURES.iterdir() if (p / "expected").is_dir())


def _snapshot(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts and ".losslint_cache" not in p.parts
    }


def _check_tree(case: str, kind: str, before: dict[str, bytes], after: dict[str, bytes]) -> None:
    expected_dir = FIXTURES / case / "expected" / kind
    changed = {name: data for name, data in after.items() if before.get(name) != data}
    if UPDATE:
        shutil.rmtree(expected_dir, ignore_errors=True)
        for name, data in changed.items():
            (expected_dir / name).parent.mkdir(parents=True, exist_ok=True)
            (expected_dir / name).write_bytes(data)
    expected = (
        {
            p.relative_to(expected_dir).as_posix(): p.read_bytes()
            for p in sorted(expected_dir.rglob("*"))
            if p.is_file()
        }
        if expected_dir.exists()
        else {}
    )
    assert sorted(changed) == sorted(expected), f"{kind}: changed files differ from expected"
    for name, data in expected.items():
        assert changed[name] == data, f"{kind}: {name} differs from expected/{kind}/{name}"


@pytest.mark.parametrize("case", CASES)
def test_findings_match_expected(case: str, tmp_path: Path) -> None:
    root = copy_case(case, tmp_path)
    result = run_cli(["."], cwd=root)
    expected_file = FIXTURES / case / "expected" / "findings.txt"
    if UPDATE:
        expected_file.write_text(result.stdout)
    assert result.stdout == expected_file.read_text()
    assert result.exit_code == (1 if result.stdout else 0)


def _portable(findings: list[dict[str, object]], root: Path) -> list[dict[str, object]]:
    """JSON findings with file names relative to the case (everything else as printed)."""
    for finding in findings:
        finding["filename"] = Path(str(finding["filename"])).relative_to(root).as_posix()
    return findings


@pytest.mark.parametrize("case", CASES)
def test_json_findings_match_expected(case: str, tmp_path: Path) -> None:
    """The full JSON form: codes, positions, cells, function, losses, evidence, and fix edits
    with their applicability (text output shows only a `[*]`)."""
    root = copy_case(case, tmp_path).resolve()
    result = run_cli(["--format", "json", "."], cwd=root)
    found = _portable(json.loads(result.stdout), root)
    expected_file = FIXTURES / case / "expected" / "report.json"
    if UPDATE:
        expected_file.write_text(json.dumps(found, indent=1, ensure_ascii=False) + "\n")
    assert found == json.loads(expected_file.read_text())


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("kind", ["fixed", "fixed-unsafe"])
def test_fix_matches_expected_and_is_idempotent(case: str, kind: str, tmp_path: Path) -> None:
    root = copy_case(case, tmp_path)
    before = _snapshot(root)
    modes = {p: p.stat().st_mode for p in root.rglob("*.py")}
    args = ["--fix", "."] + (["--unsafe-fixes"] if kind == "fixed-unsafe" else [])
    first = run_cli(args, cwd=root)
    remaining = len(first.stdout.splitlines())
    assert first.exit_code == (1 if remaining else 0)
    after = _snapshot(root)
    _check_tree(case, kind, before, after)
    # file modes survive, and a second run changes nothing
    assert {p: p.stat().st_mode for p in root.rglob("*.py")} == modes
    second = run_cli(args, cwd=root)
    assert _snapshot(root) == after
    # the second run fixes nothing: it reports exactly what the first one left
    assert (second.exit_code, second.stdout) == (first.exit_code, first.stdout)
    assert second.stderr.splitlines()[0] == (
        f"Found {remaining} error{'s' if remaining != 1 else ''}."
        if remaining
        else "All checks passed!"
    )
