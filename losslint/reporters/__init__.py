"""Output formats. Each reporter renders findings to a string for stdout."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping, Sequence

from losslint.model import Diagnostic

Reporter = Callable[[Sequence[Diagnostic], "ReportContext"], str]


class ReportContext:
    """What reporters need besides the findings."""

    def __init__(self, root: str, cwd: str, unsafe_fixes: bool, color: bool = False) -> None:
        self.root = root
        self.cwd = cwd
        self.unsafe_fixes = unsafe_fixes
        self.color = color


class _Reporters(Mapping[str, Reporter]):
    """Format name -> reporter, each module imported when its format is used."""

    _MODULES = {"text": "text", "json": "json_format", "sarif": "sarif", "github": "github"}

    def __getitem__(self, name: str) -> Reporter:
        module = importlib.import_module(f"losslint.reporters.{self._MODULES[name]}")
        render: Reporter = module.render
        return render

    def __iter__(self) -> Iterator[str]:
        return iter(self._MODULES)

    def __len__(self) -> int:
        return len(self._MODULES)


REPORTERS: Mapping[str, Reporter] = _Reporters()
