"""Plain, immutable values shared by every layer (no libcst nodes past the engine)."""

from __future__ import annotations

import enum
from dataclasses import field
from pathlib import Path
from typing import Any

from losslint.frozen import frozen


class Applicability(str, enum.Enum):
    """How safe a fix is, in ruff's terms."""

    SAFE = "safe"
    UNSAFE = "unsafe"


@frozen(order=True)
class Position:
    """A 1-based row and a 1-based column (in characters)."""

    row: int
    column: int


@frozen
class Edit:
    """Replace the text between two positions (end exclusive) with `content`."""

    content: str
    location: Position
    end_location: Position


@frozen
class Fix:
    """One or more edits that together repair a finding."""

    applicability: Applicability
    message: str
    edits: tuple[Edit, ...]


@frozen
class LossTarget:
    """How a loss was identified and how Keras would call it (used by runtime mode).

    `kind` is one of `function`, `method`, `lambda`, `factory`, `partial`, `loss_class`.
    `site_path`/`site_expr` name the module and source text of the compile-site
    expression that produced the loss (e.g. ``focal(gamma=2.0)``), when there is one.
    """

    kind: str
    path: Path
    qualname: str
    line: int
    site_path: Path | None = None
    site_expr: str | None = None
    site_line: int | None = None


@frozen
class Diagnostic:
    """One finding, ready for any reporter."""

    code: str
    name: str
    message: str
    path: Path
    location: Position
    end_location: Position
    noqa_row: int
    fix: Fix | None = None
    function: str | None = None
    role: str | None = None
    evidence: str | None = None
    cell: int | None = None
    runtime: dict[str, Any] | None = None
    losses: tuple[str, ...] = ()
    target: LossTarget | None = field(default=None, compare=False)

    def sort_key(self) -> tuple[str, int, int, int, str]:
        """File, then cell (notebooks), row, column and code."""
        return (str(self.path), self.cell or 0, self.location.row, self.location.column, self.code)


@frozen
class FileResult:
    """Findings for one file, and the fixed text when fixes were applied."""

    path: Path
    diagnostics: tuple[Diagnostic, ...]
    source: str | None = None
    fixed_source: str | None = None
    fixed_count: int = 0
