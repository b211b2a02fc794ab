"""Output formats. Each reporter renders findings to a string for stdout."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from losslint.model import Diagnostic
from losslint.reporters import github, json_format, sarif, text

Reporter = Callable[[Sequence[Diagnostic], "ReportContext"], str]


class ReportContext:
    """What reporters need besides the findings."""

    def __init__(self, root: str, cwd: str, unsafe_fixes: bool, color: bool = False) -> None:
        self.root = root
        self.cwd = cwd
        self.unsafe_fixes = unsafe_fixes
        self.color = color


REPORTERS: dict[str, Reporter] = {
    "text": text.render,
    "json": json_format.render,
    "sarif": sarif.render,
    "github": github.render,
}
