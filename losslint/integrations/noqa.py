"""The "suppress with `# noqa: LLxxx`" edit: add a code to a line's noqa comment, or add one."""

from __future__ import annotations

import ast
import io
import re
import tokenize

from losslint.integrations.text import LineIndex
from losslint.model import Edit, Position
from losslint.suppression import parse_suppressions

_NOQA_CODES = re.compile(
    r"#\s*noqa:\s?(?P<codes>[A-Z]+[0-9]+(?:[,\s]+[A-Z]+[0-9]+)*)", re.IGNORECASE
)


def _comments(text: str, row: int) -> list[tokenize.TokenInfo]:
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError):
        return []
    return [t for t in tokens if t.type == tokenize.COMMENT and t.start[0] == row]


def noqa_edit(text: str, row: int, code: str) -> Edit | None:
    """The edit that makes `# noqa` suppress `code` on 1-based `row`, or None if none can.

    An existing `# noqa: A, B` comment gets `, CODE` appended; a line without one gets
    `  # noqa: CODE` at its end (after any other comment). The result is checked with the
    same suppression reader the engine uses, so an edit that would land inside a string or
    not suppress the finding is never offered.
    """
    index = LineIndex(text)
    if not 1 <= row <= len(index.starts):
        return None
    edit = None
    for comment in _comments(text, row):
        match = _NOQA_CODES.search(comment.string)
        if match:
            column = comment.start[1] + match.end("codes") + 1
            edit = Edit(f", {code}", Position(row, column), Position(row, column))
            break
    if edit is None:
        start, end = index.starts[row - 1], index.line_end(row - 1)
        content = text[start:end].rstrip(" \t")
        if not content.strip():
            return None
        edit = Edit(
            f"  # noqa: {code}",
            Position(row, len(content) + 1),
            Position(row, end - start + 1),
        )
    lo, hi = index.offset(edit.location), index.offset(edit.end_location)
    fixed = text[:lo] + edit.content + text[hi:]
    if not parse_suppressions(fixed).suppresses(code, row):
        return None
    try:
        compile(fixed, "<noqa>", "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
    except (SyntaxError, ValueError):
        return None
    return edit
