"""Editor buffers: lines as LSP counts them, column units, incremental changes, encoding.

losslint positions are 1-based rows and 1-based columns in Unicode code points; LSP positions
are 0-based lines and 0-based columns in the negotiated unit (UTF-16 code units unless the
client and server agree on UTF-8 or UTF-32). LSP ends a line at `\\r\\n`, `\\r` or `\\n` only
(never at the other breaks `str.splitlines` knows, such as form feeds or U+2028).
"""

from __future__ import annotations

import bisect
import io
import os
import re
import tokenize
from pathlib import Path

from losslint.model import Position

LINE_BREAK = re.compile(r"\r\n|\r|\n")
UTF8, UTF16, UTF32 = "utf-8", "utf-16", "utf-32"


def units(text: str, encoding: str) -> int:
    """How many code units of `encoding` the text takes (utf-8, utf-16 or utf-32)."""
    if encoding == UTF16:
        return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)
    if encoding == UTF8:
        return len(text.encode("utf-8", "surrogatepass"))
    return len(text)


class LineIndex:
    """Offsets (code points into the text) <-> losslint positions <-> LSP positions."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = [0, *(m.end() for m in LINE_BREAK.finditer(text))]

    def line_end(self, line: int) -> int:
        """Offset of the end of a 0-based line's content (before its line break)."""
        if line + 1 < len(self.starts):
            end = self.starts[line + 1] - 1
            if self.text[end] == "\n" and end > self.starts[line] and self.text[end - 1] == "\r":
                end -= 1
            return end
        return len(self.text)

    def offset(self, position: Position) -> int:
        """The offset of a 1-based losslint position, clamped to the line's content."""
        line = min(max(position.row - 1, 0), len(self.starts) - 1)
        start = self.starts[line]
        return min(start + max(position.column - 1, 0), self.line_end(line))

    def to_lsp(self, offset: int, encoding: str) -> tuple[int, int]:
        """(line, character) of an offset, in `encoding` units."""
        offset = min(max(offset, 0), len(self.text))
        line = bisect.bisect_right(self.starts, offset) - 1
        start = self.starts[line]
        offset = min(offset, self.line_end(line))
        return line, units(self.text[start:offset], encoding)

    def from_lsp(self, line: int, character: int, encoding: str) -> int:
        """The offset of an LSP position; past the end of a line means its end (as LSP says)."""
        if line < 0:
            return 0
        if line >= len(self.starts):
            return len(self.text)
        start, end = self.starts[line], self.line_end(line)
        if encoding == UTF32:
            return min(start + max(character, 0), end)
        count = 0
        for offset in range(start, end):
            step = units(self.text[offset], encoding)
            if count + step > character:
                return offset
            count += step
        return end

    def lsp_position(self, position: Position, encoding: str) -> tuple[int, int]:
        return self.to_lsp(self.offset(position), encoding)


def apply_change(
    text: str, start: tuple[int, int], end: tuple[int, int], new: str, encoding: str
) -> str:
    """Replace the text between two LSP positions (an incremental `didChange` event)."""
    index = LineIndex(text)
    lo = index.from_lsp(*start, encoding)
    hi = max(lo, index.from_lsp(*end, encoding))
    return text[:lo] + new + text[hi:]


def minimal_edit(before: str, after: str) -> tuple[int, int, str]:
    """(start, end, content): the one replacement of before[start:end] that gives `after`.

    It never starts or ends between the `\\r` and `\\n` of a line break.
    """
    limit = min(len(before), len(after))
    start = 0
    while start < limit and before[start] == after[start]:
        start += 1
    end_before, end_after = len(before), len(after)
    while (
        end_before > start and end_after > start and before[end_before - 1] == after[end_after - 1]
    ):
        end_before -= 1
        end_after -= 1
    if start > 0 and before[start - 1] == "\r" and before[start : start + 1] == "\n":
        start -= 1
    if (
        end_before < len(before)
        and before[end_before] == "\n"
        and before[end_before - 1 : end_before] == "\r"
    ):
        end_before += 1
        end_after += 1
    return start, end_before, after[start:end_after]


def source_bytes(text: str) -> bytes:
    """Encode an editor buffer as the file would be saved: by its coding cookie, else UTF-8.

    The engine decodes bytes by the same rule, so it sees exactly this text. A buffer that
    its own cookie cannot encode is passed as UTF-8, and the engine reports it like the file.
    """
    data = text.encode("utf-8", "surrogatepass")
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError:
        return data
    if encoding in ("utf-8", "utf-8-sig"):
        return data
    try:
        return text.encode(encoding)
    except (UnicodeError, LookupError):
        return data


def resolved(path: Path | str) -> Path:
    """The absolute path with symlinks resolved: how the engine names a file."""
    return Path(os.path.realpath(path))


def saved_text(path: Path) -> str | None:
    """A file's text as Python reads it (BOM, coding cookie), or None if it cannot be read."""
    try:
        raw = path.read_bytes()
        encoding, _ = tokenize.detect_encoding(io.BytesIO(raw).readline)
        return raw.decode(encoding)
    except (OSError, SyntaxError, UnicodeError, LookupError):
        return None
