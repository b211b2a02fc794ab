"""Applying fixes: non-overlapping text edits, in order (no libcst here).

Fix edits are rendered by `losslint.fixes.render` (libcst), only when they are needed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from losslint.model import Applicability, Diagnostic, Fix, Position

_NEWLINE = re.compile(r"\r\n|\r|\n")


def offset_to_position(text: str, offset: int) -> Position:
    row, line_start = 1, 0
    for match in _NEWLINE.finditer(text, 0, offset):
        if match.end() > offset:
            break
        row += 1
        line_start = match.end()
    return Position(row, offset - line_start + 1)


def _line_starts(text: str) -> list[int]:
    return [0, *(m.end() for m in _NEWLINE.finditer(text))]


def position_to_offset(starts: Sequence[int], position: Position) -> int:
    return starts[position.row - 1] + position.column - 1


def apply_fixes(text: str, fixes: Iterable[Fix]) -> tuple[str, int]:
    """Apply non-overlapping fixes (in order); returns the new text and how many applied.

    Identical edits shared by several fixes (one fix for a group of reductions) apply once.
    """
    starts = _line_starts(text)
    accepted: list[tuple[int, int, str]] = []
    applied = 0
    for fix in fixes:
        spans = []
        for edit in fix.edits:
            lo = position_to_offset(starts, edit.location)
            hi = position_to_offset(starts, edit.end_location)
            spans.append((lo, hi, edit.content))
        new = [s for s in spans if s not in accepted]
        if not new:
            applied += 1
            continue
        if any(_overlap(span, other) for span in new for other in accepted):
            continue
        accepted.extend(new)
        applied += 1
    result = text
    for lo, hi, content in sorted(accepted, reverse=True):
        result = result[:lo] + content + result[hi:]
    return result, applied


def _overlap(a: tuple[int, int, str], b: tuple[int, int, str]) -> bool:
    if a[0] == a[1] == b[0] == b[1]:
        return True  # two insertions at one point: their order would be a guess
    return a[0] < b[1] and b[0] < a[1]


def applicable(diagnostics: Iterable[Diagnostic], unsafe: bool) -> list[Fix]:
    """The fixes to apply under the current flags, in source order."""
    fixes = []
    for diag in sorted(diagnostics, key=Diagnostic.sort_key):
        if diag.fix is None:
            continue
        if diag.fix.applicability is Applicability.SAFE or unsafe:
            fixes.append(diag.fix)
    return fixes
