"""GitHub Actions workflow commands (`::error file=...::message`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from losslint.model import Diagnostic
from losslint.reporters.paths import display_path

if TYPE_CHECKING:
    from losslint.reporters import ReportContext


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render(diagnostics: Sequence[Diagnostic], ctx: ReportContext) -> str:
    lines = []
    for d in diagnostics:
        props = [
            f"title={escape_property(f'losslint ({d.code})')}",
            f"file={escape_property(display_path(d.path, ctx.cwd))}",
            f"line={d.location.row}",
        ]
        if d.location.row == d.end_location.row:
            props.append(f"col={d.location.column}")
        props.append(f"endLine={d.end_location.row}")
        if d.location.row == d.end_location.row:
            props.append(f"endColumn={d.end_location.column}")
        lines.append(f"::error {','.join(props)}::{escape_data(f'{d.code} {d.message}')}\n")
    return "".join(lines)
