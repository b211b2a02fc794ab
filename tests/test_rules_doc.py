"""docs/rules.md is generated from the rule docstrings; JSON and SARIF `url`s point into it.

Regenerate it with `LOSSLINT_UPDATE_DOCS=1 pytest tests/test_rules_doc.py`.
"""

from __future__ import annotations

import os
import re

from conftest import REPO

from losslint.codes import RuleDoc, rule_docs, rule_url

DOC = REPO / "docs" / "rules.md"
UPDATE = os.environ.get("LOSSLINT_UPDATE_DOCS") == "1"
FIX = {
    "safe": "sometimes available (`--fix`)",
    "unsafe": "sometimes available, unsafe only (`--fix --unsafe-fixes`)",
    None: "not available",
}


def _demote(doc: str) -> str:
    """The docstring's `## Section` headings become `### Section` (outside code blocks)."""
    lines, fenced = [], False
    for line in doc.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        lines.append("#" + line if not fenced and line.startswith("## ") else line)
    return "\n".join(lines)


def render(docs: list[RuleDoc]) -> str:
    parts = [
        "# losslint rules\n\n"
        "<!-- Generated from the rule docstrings:"
        " LOSSLINT_UPDATE_DOCS=1 pytest tests/test_rules_doc.py -->\n\n"
        "| code | name | summary | fix |\n| --- | --- | --- | --- |\n"
    ]
    for doc in docs:
        anchor = rule_url(doc.code, doc.name).split("#")[1]
        parts.append(f"| [{doc.code}](#{anchor}) | {doc.name} | {doc.summary} | {FIX[doc.fix]} |\n")
    for doc in docs:
        parts.append(f"\n## {doc.code} {doc.name}\n\nFix: {FIX[doc.fix]}.\n\n{_demote(doc.doc)}\n")
    return "".join(parts)


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading: lower case, punctuation dropped, `-` for spaces."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_rules_doc_is_current() -> None:
    expected = render(rule_docs())
    if UPDATE:
        DOC.write_text(expected, encoding="utf-8")
    assert DOC.read_text(encoding="utf-8") == expected, (
        "docs/rules.md is stale: LOSSLINT_UPDATE_DOCS=1 pytest tests/test_rules_doc.py"
    )


def test_rule_urls_point_at_the_rule_headings() -> None:
    headings = {
        github_anchor(line[3:]) for line in DOC.read_text("utf-8").splitlines() if line[:3] == "## "
    }
    for doc in rule_docs():
        base, anchor = doc.url.split("#")
        assert base == "https://github.com/losslint/losslint/blob/main/docs/rules.md"
        assert anchor in headings, doc.code
