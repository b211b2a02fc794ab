"""Displaying paths relative to the working directory or the project root."""

from __future__ import annotations

import os
from pathlib import Path


def display_path(path: Path, base: str) -> str:
    """`path` relative to `base` when it lies below it, else as given (POSIX separators)."""
    text = str(path)
    if text == "-":
        return text
    try:
        rel = os.path.relpath(text, base)
    except ValueError:
        return Path(text).as_posix()
    if rel.startswith(".."):
        return Path(text).as_posix()
    return Path(rel).as_posix()
