"""A JSON array of findings with ruff-compatible field names (README, "Rules": the JSON format)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from losslint.codes import rule_url
from losslint.model import Diagnostic, Position

if TYPE_CHECKING:
    from losslint.reporters import ReportContext


def _pos(position: Position) -> dict[str, int]:
    return {"row": position.row, "column": position.column}


def to_dict(diagnostic: Diagnostic) -> dict[str, Any]:
    fix = diagnostic.fix
    return {
        "code": diagnostic.code,
        "name": diagnostic.name,
        "message": diagnostic.message,
        "filename": str(diagnostic.path),
        "location": _pos(diagnostic.location),
        "end_location": _pos(diagnostic.end_location),
        "cell": diagnostic.cell,
        "noqa_row": diagnostic.noqa_row,
        "url": rule_url(diagnostic.code, diagnostic.name),
        "severity": "error",
        "fix": None
        if fix is None
        else {
            "applicability": fix.applicability.value,
            "message": fix.message,
            "edits": [
                {
                    "content": edit.content,
                    "location": _pos(edit.location),
                    "end_location": _pos(edit.end_location),
                }
                for edit in fix.edits
            ],
        },
        "function": diagnostic.function,
        "role": diagnostic.role,
        "evidence": diagnostic.evidence,
        "runtime": diagnostic.runtime,
        "losses": list(diagnostic.losses),
    }


def render(diagnostics: Sequence[Diagnostic], ctx: ReportContext) -> str:
    return json.dumps([to_dict(d) for d in diagnostics], indent=2, ensure_ascii=False) + "\n"
