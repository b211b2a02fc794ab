"""`# noqa` comments, file-level `# losslint: noqa`, and per-file-ignores."""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

from losslint.frozen import frozen
from losslint.source import real_path

_LINE_NOQA = re.compile(
    r"#\s*noqa(?::[\s]?(?P<codes>[A-Z]+[0-9]*(?:[,\s]+[A-Z]+[0-9]*)*))?", re.IGNORECASE
)
_FILE_NOQA = re.compile(
    r"^#\s*(?:losslint|flake8|ruff)\s*:\s*noqa(?:\s*:\s*(?P<codes>[A-Z]+[0-9]*(?:[,\s]+[A-Z]+[0-9]*)*))?\s*$",
    re.IGNORECASE,
)
_SPLIT = re.compile(r"[,\s]+")


@frozen
class Suppressions:
    """Codes suppressed per line (None = every code) and for the whole file."""

    lines: dict[int, frozenset[str] | None]
    file_codes: frozenset[str] | None
    whole_file: bool

    def suppresses(self, code: str, row: int) -> bool:
        if self.whole_file:
            return True
        if self.file_codes is not None and _matches(code, self.file_codes):
            return True
        if row in self.lines:
            codes = self.lines[row]
            return codes is None or _matches(code, codes)
        return False


def _matches(code: str, prefixes: frozenset[str]) -> bool:
    return any(code.startswith(prefix) for prefix in prefixes)


def _codes(text: str | None) -> frozenset[str] | None:
    if not text:
        return None
    return frozenset(c.upper() for c in _SPLIT.split(text.strip()) if c)


def parse_suppressions(text: str) -> Suppressions:
    """Read comments with the tokenizer, so `# noqa` inside strings never counts."""
    lines: dict[int, frozenset[str] | None] = {}
    file_codes: set[str] = set()
    whole_file = False
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        tokens = []
    line_texts = text.splitlines()
    for tok in tokens:
        if tok.type != tokenize.COMMENT:
            continue
        row = tok.start[0]
        own_line = row <= len(line_texts) and line_texts[row - 1].strip().startswith("#")
        file_match = _FILE_NOQA.match(tok.string.strip())
        if file_match and own_line:
            codes = _codes(file_match.group("codes"))
            if codes is None:
                whole_file = True
            else:
                file_codes |= codes
            continue
        match = _LINE_NOQA.search(tok.string)
        if match:
            codes = _codes(match.group("codes"))
            previous = lines.get(row, frozenset())
            if codes is None or previous is None:
                lines[row] = None
            else:
                lines[row] = previous | codes
    return Suppressions(lines, frozenset(file_codes) if file_codes else None, whole_file)


class PerFileIgnores:
    """`per-file-ignores`: glob (relative to the project root, `!` negates) -> code prefixes."""

    def __init__(self, entries: tuple[tuple[str, tuple[str, ...]], ...], root: Path) -> None:
        import pathspec  # here: most runs have no per-file-ignores, and pathspec takes ~10 ms

        self.root = real_path(root)
        self.entries = [
            (
                glob.startswith("!"),
                pathspec.GitIgnoreSpec.from_lines([glob.lstrip("!")]),
                frozenset(codes),
            )
            for glob, codes in entries
        ]

    def ignored(self, path: Path) -> frozenset[str]:
        if not self.entries:
            return frozenset()
        try:
            rel = real_path(path).relative_to(self.root).as_posix()
        except ValueError:
            rel = path.name
        codes: set[str] = set()
        for negated, spec, prefixes in self.entries:
            if spec.match_file(rel) != negated:
                codes |= prefixes
        return frozenset(codes)
