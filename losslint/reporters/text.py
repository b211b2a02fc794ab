"""`path:line:col: CODE [*] message`, one line per finding (flake8 / ruff concise format)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from losslint.model import Applicability, Diagnostic
from losslint.reporters.paths import display_path

if TYPE_CHECKING:
    from losslint.reporters import ReportContext


def fix_marker(diagnostic: Diagnostic, unsafe_fixes: bool) -> bool:
    fix = diagnostic.fix
    return fix is not None and (fix.applicability is Applicability.SAFE or unsafe_fixes)


def render_line(diagnostic: Diagnostic, ctx: ReportContext) -> str:
    path = display_path(diagnostic.path, ctx.cwd)
    where = f"{path}:"
    if diagnostic.cell is not None:
        where += f"cell {diagnostic.cell}:"
    where += f"{diagnostic.location.row}:{diagnostic.location.column}:"
    code = diagnostic.code
    marker = " [*]" if fix_marker(diagnostic, ctx.unsafe_fixes) else ""
    message = diagnostic.message
    if diagnostic.runtime:
        message += (
            f" [runtime: {diagnostic.runtime.get('verdict')}"
            + (f": {diagnostic.runtime['detail']}" if diagnostic.runtime.get("detail") else "")
            + "]"
        )
    if ctx.color:
        where = click.style(where, bold=True)
        code = click.style(code, fg="red", bold=True)
        marker = click.style(marker, fg="cyan")
    return f"{where} {code}{marker} {message}"


def render(diagnostics: Sequence[Diagnostic], ctx: ReportContext) -> str:
    return "".join(render_line(d, ctx) + "\n" for d in diagnostics)


def statistics(diagnostics: Sequence[Diagnostic], unsafe_fixes: bool) -> str:
    """flake8 / ruff `--statistics`: count, code, fixable marker, rule name."""
    counts = Counter(d.code for d in diagnostics)
    names = {d.code: d.name for d in diagnostics}
    fixable = {d.code for d in diagnostics if fix_marker(d, unsafe_fixes)}
    lines = []
    for code, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        marker = "[*]" if code in fixable else "[ ]"
        lines.append(f"{count}\t{code}\t{marker}\t{names[code]}\n")
    return "".join(lines)
