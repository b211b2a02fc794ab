"""Every rule's VALID and INVALID examples run as tests (real files, real libcst parses)."""

from __future__ import annotations

from pathlib import Path

import pytest

from losslint.config import Config
from losslint.engine import LintOptions, lint_paths
from losslint.rules import ALL_RULES
from losslint.rules.base import SECTIONS, Example

VALID = [(rule.code, i, ex) for rule in ALL_RULES for i, ex in enumerate(rule.VALID)]
INVALID = [(rule.code, i, ex) for rule in ALL_RULES for i, ex in enumerate(rule.INVALID)]


def _write(tmp_path: Path, example: Example) -> Path:
    path = tmp_path / "example.py"
    data = example.code if isinstance(example.code, bytes) else example.code.encode()
    path.write_bytes(data)
    return path


def _lint(path: Path, code: str, **options: bool):
    """Lint with the default rules plus `code` (rules off by default are tested too)."""
    config = Config(root=path.parent, extend_select=(code,))
    return lint_paths([path], config, LintOptions(**options))[0]


@pytest.mark.parametrize(
    ("code", "index", "example"), VALID, ids=[f"{c}-valid-{i}" for c, i, _ in VALID]
)
def test_valid_examples_have_no_findings(
    code: str, index: int, example: Example, tmp_path: Path
) -> None:
    result = _lint(_write(tmp_path, example), code)
    assert [d.code for d in result.diagnostics] == []


@pytest.mark.parametrize(
    ("code", "index", "example"), INVALID, ids=[f"{c}-invalid-{i}" for c, i, _ in INVALID]
)
def test_invalid_examples(code: str, index: int, example: Example, tmp_path: Path) -> None:
    path = _write(tmp_path, example)
    result = _lint(path, code)
    assert sorted(d.code for d in result.diagnostics) == sorted(example.codes)
    assert code in example.codes
    safe = _lint(path, code, fix=True)
    assert safe.fixed_source == example.fixed
    unsafe = _lint(path, code, fix=True, unsafe_fixes=True)
    expected_unsafe = example.unsafe_fixed if example.unsafe_fixed is not None else example.fixed
    assert unsafe.fixed_source == expected_unsafe
    if expected_unsafe is not None:
        # fixing again changes nothing
        path.write_text(expected_unsafe)
        again = _lint(path, code, fix=True, unsafe_fixes=True)
        assert again.fixed_source is None


@pytest.mark.parametrize("rule", ALL_RULES, ids=[r.code for r in ALL_RULES])
def test_rule_documentation_sections(rule) -> None:
    info = rule.info()
    for section in SECTIONS:
        assert f"## {section}" in info.doc, f"{rule.code} lacks '## {section}'"
    assert rule.VALID and rule.INVALID


def test_codes_unique_and_named() -> None:
    codes = [rule.code for rule in ALL_RULES]
    assert codes == sorted(set(codes))
    assert [r.name for r in ALL_RULES] == [
        "unreadable-file",
        "batch-axis-reduction",
        "reducing-loss-object",
        "scalar-only-op",
        "batch-reduced-metric",
        "dropped-sample-weight",
        "batch-level-term",
    ]
