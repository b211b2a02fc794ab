"""docs/editors.md: its JSON, TOML and YAML snippets parse, the VS Code problem matcher reads
the CLI's real output, and the code scanning workflow runs a command that writes SARIF."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO, run_cli

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DOC = REPO / "docs" / "editors.md"
WORKFLOW = REPO / "docs" / "examples" / "losslint-code-scanning.yml"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)
BAD = (
    "import tensorflow as tf\n\n\ndef mse(y_true, y_pred):\n"
    "    return tf.reduce_mean(tf.square(y_true - y_pred))\n\n\n"
    "def sse(y_true, y_pred):\n    return tf.reduce_sum(tf.square(y_true - y_pred))\n"
)


def blocks(language: str) -> list[str]:
    return [body for lang, body in BLOCK.findall(DOC.read_text()) if lang == language]


def test_snippets_parse() -> None:
    assert len(blocks("json")) == 2 and len(blocks("toml")) == 2
    for body in blocks("json"):
        json.loads(body)
    for body in blocks("toml"):
        tomllib.loads(body)
    for body in blocks("elisp"):
        assert body.count("(") == body.count(")")
    for body in blocks("lua"):
        assert body.count("{") == body.count("}") and body.count("(") == body.count(")")


def test_ruff_snippet_keeps_ll_codes() -> None:
    [ruff] = [tomllib.loads(b) for b in blocks("toml") if "ruff" in b]
    assert ruff["tool"]["ruff"]["lint"]["external"] == ["LL"]


def test_problem_matcher_reads_the_cli_output(project: Path) -> None:
    tasks = next(json.loads(b) for b in blocks("json") if "problemMatcher" in b)
    [task] = tasks["tasks"]
    matcher = task["problemMatcher"]["pattern"]
    (project / "losses.py").write_text(BAD)
    text = run_cli([*task["args"]], project)
    findings = json.loads(run_cli(["--format", "json", "."], project).stdout)
    lines = text.stdout.splitlines()
    assert len(lines) == len(findings) == 2
    for line, finding in zip(lines, findings, strict=True):
        match = re.match(matcher["regexp"], line)
        assert match is not None, line
        assert (project / match[matcher["file"]]).resolve() == Path(finding["filename"])
        assert int(match[matcher["line"]]) == finding["location"]["row"]
        assert int(match[matcher["column"]]) == finding["location"]["column"]
        assert match[matcher["code"]] == finding["code"]
        assert match[matcher["message"]] == finding["message"]


@pytest.mark.slow
def test_code_scanning_workflow(project: Path) -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    assert workflow["permissions"]["security-events"] == "write"
    steps = workflow["jobs"]["losslint"]["steps"]
    [run] = [s["run"] for s in steps if s.get("name") == "Run losslint"]
    [upload] = [
        s for s in steps if str(s.get("uses", "")).startswith("github/codeql-action/upload-sarif@")
    ]
    command, _, output = run.partition(" > ")
    assert output == upload["with"]["sarif_file"]
    args = command.split()
    assert args[0] == "losslint"
    (project / "losses.py").write_text(BAD)
    result = run_cli(args[1:], project)
    assert result.exit_code == 0  # --exit-zero: the upload step runs
    sarif = json.loads(result.stdout)
    assert sarif["version"] == "2.1.0"
    assert len(sarif["runs"][0]["results"]) == 2
    (project / "pyproject.toml").write_text("[tool.losslint]\nbogus = 1\n")
    assert run_cli(args[1:], project).exit_code == 2  # a broken config still fails the job
