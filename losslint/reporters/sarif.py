"""SARIF 2.1.0 for GitHub code scanning; rule metadata comes from the rule docstrings.

A notebook finding's region is the notebook's JSON lines (see `reporters.cells`); its cell,
row and column are in the message and in `properties`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from losslint import __version__
from losslint.codes import rule_docs
from losslint.model import Diagnostic
from losslint.reporters.cells import NotebookRows, cell_prefix
from losslint.reporters.paths import display_path

if TYPE_CHECKING:
    from losslint.reporters import ReportContext

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def _rules() -> list[dict[str, Any]]:
    rules = []
    for doc in rule_docs():
        body = doc.doc.split("\n", 1)[1].strip() if "\n" in doc.doc else doc.doc
        rules.append(
            {
                "id": doc.code,
                "name": doc.name,
                "shortDescription": {"text": doc.summary},
                "fullDescription": {"text": body},
                "helpUri": doc.url,
                "help": {"text": body, "markdown": body},
                "defaultConfiguration": {"level": "error"},
                "properties": {"precision": "high", "problem.severity": "error", "tags": ["keras"]},
            }
        )
    return rules


def render(diagnostics: Sequence[Diagnostic], ctx: ReportContext) -> str:
    rules = _rules()
    index = {rule["id"]: i for i, rule in enumerate(rules)}
    results = []
    notebooks = NotebookRows()
    for d in diagnostics:
        region: dict[str, int] = {
            "startLine": d.location.row,
            "startColumn": d.location.column,
            "endLine": d.end_location.row,
            "endColumn": d.end_location.column,
        }
        if d.cell is not None:  # the notebook's JSON lines; columns there mean nothing
            start, end = notebooks.rows(d)
            region = {"startLine": start, "endLine": end}
        result: dict[str, Any] = {
            "ruleId": d.code,
            "ruleIndex": index.get(d.code, 0),
            "level": "error",
            "message": {"text": f"{cell_prefix(d)}{d.message}"},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {
                            "uri": display_path(d.path, ctx.root),
                            "uriBaseId": "%SRCROOT%",
                        },
                        "region": region,
                    }
                }
            ],
        }
        properties: dict[str, Any] = {}
        if d.function:
            properties.update(function=d.function, role=d.role, evidence=d.evidence)
        if d.cell is not None:
            properties.update(cell=d.cell, cellRow=d.location.row, cellColumn=d.location.column)
        if properties:
            result["properties"] = properties
        results.append(result)
    log = {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "losslint",
                        "version": __version__,
                        "informationUri": "https://pypi.org/project/losslint/",
                        "rules": rules,
                    }
                },
                "originalUriBaseIds": {
                    "%SRCROOT%": {"uri": Path(os.path.realpath(ctx.root)).as_uri() + "/"}
                },
                "results": results,
            }
        ],
    }
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"
