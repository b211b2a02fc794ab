"""The analysis' memo tables, and rewinding them.

Every memo of the analysis is a cache of facts about the project's code (a module's bound
names, a function's parameters, a class's kind, the closure of a nested function, ...):
dropping an entry only means computing it again. The engine drops the entries made while it
analysed a file it then forgets, so that the file's `ast` tree can be freed
(`UnitAnalyser.analyse` in engine/units.py).
"""

from __future__ import annotations

from itertools import islice
from typing import Any

Mark = tuple[int, ...]


class Memos:
    """The memo tables of one evaluator: dictionaries that only ever grow."""

    def __init__(self) -> None:
        self._tables: list[dict[Any, Any]] = []

    def table(self) -> dict[Any, Any]:
        """A new, empty memo table."""
        table: dict[Any, Any] = {}
        self._tables.append(table)
        return table

    def mark(self) -> Mark:
        """Where every table stands now."""
        return tuple(len(table) for table in self._tables)

    def rewind(self, mark: Mark) -> None:
        """Drop the entries added since `mark` (dictionaries keep insertion order); a table
        made after the mark is emptied."""
        for index, table in enumerate(self._tables):
            size = mark[index] if index < len(mark) else 0
            if len(table) > size:
                for key in list(islice(table, size, None)):
                    del table[key]
