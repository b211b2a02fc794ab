"""IPython syntax in notebook cells, masked so that a cell reads as Python.

`%` and `%%` magics, `!` shell escapes, `?` help, automagics and `get_ipython()` lines become
placeholders of the same length, line for line, so that a (row, column) in the masked text is
the same in the cell; a cell indented as a whole loses its common indent as IPython reads it.
Used by `losslint.notebook` to build a notebook's virtual module.
"""

from __future__ import annotations

import re

from losslint.frozen import frozen

# cell magics whose body is Python run in the kernel's own namespace
PYTHON_CELL_MAGICS = frozenset({"capture", "debug", "prun", "time", "timeit"})
# IPython's cell magics whose body is another language, a file's content, or Python run in
# another process: never the kernel's code. A cell magic in neither list is one the notebook
# or an extension defines (`%%backend tensorflow` running its body with `run_cell`): its body
# is read as Python when it parses as Python.
OTHER_CELL_MAGICS = frozenset(
    {
        "bash", "sh", "script", "system", "sx", "html", "HTML", "javascript", "js", "latex",
        "markdown", "svg", "perl", "ruby", "python2", "python3", "pypy", "writefile", "file",
        "sql", "R", "octave", "matlab", "julia", "cmd", "powershell", "dot", "mermaid",
    }
)  # fmt: skip
# line magics IPython runs without `%` (automagic) when the line is not Python
AUTOMAGICS = frozenset(
    {
        "cd",
        "conda",
        "env",
        "load_ext",
        "ls",
        "mamba",
        "matplotlib",
        "micromamba",
        "pip",
        "pwd",
        "reload_ext",
        "set_env",
        "uv",
    }
)

LINE_BREAK = re.compile(r"\r\n|\r|\n")
_ASSIGN_MAGIC = re.compile(r"[ \t]*[\w.]+(?:[ \t]*,[ \t]*[\w.]+)*[ \t]*=[ \t]*(?=[%!])")


@frozen
class _State:
    """Where a line starts: inside a string (its quote), inside brackets, after a backslash."""

    quote: str | None = None
    depth: int = 0
    continued: bool = False

    @property
    def top(self) -> bool:
        return self.quote is None and self.depth == 0 and not self.continued


def _advance(line: str, state: _State) -> tuple[_State, bool]:
    """Scan one line of Python-like text; returns the next line's state and whether the
    line's code (outside strings and comments) holds a `?`."""
    quote, depth, question, backslash = state.quote, state.depth, False, False
    i, n = 0, len(line)
    while i < n:
        ch = line[i]
        if ch == "\\":
            backslash = i == n - 1
            i += 2
            continue
        if quote is not None:
            if line.startswith(quote, i):
                i += len(quote)
                quote = None
            else:
                i += 1
            continue
        if ch == "#":
            break
        if ch in "\"'":
            quote = ch * 3 if line.startswith(ch * 3, i) else ch
            i += len(quote)
            continue
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth = max(0, depth - 1)
        elif ch == "?":
            question = True
        i += 1
    if quote is not None and len(quote) == 1 and not backslash:
        quote = None  # an unterminated one-line string ends with its line
    return _State(quote, depth, backslash and quote is None), question


def _bracket_balance(text: str) -> int:
    return sum(text.count(c) for c in "([{") - sum(text.count(c) for c in ")]}")


def _magic_extent(lines: list[str], start: int, column: int, shell: bool) -> int:
    """The last line of an escaped command that starts at `lines[start][column:]`: lines
    ending with a backslash continue it, and (not for shell escapes) open brackets."""
    end, balance = start, _bracket_balance(lines[start][column:])
    while end + 1 < len(lines):
        if lines[end].endswith("\\"):
            end += 1
        elif not shell and balance > 0:
            end += 1
            balance += _bracket_balance(lines[end])
        else:
            break
    return end


def _python_extent(lines: list[str], start: int) -> int:
    """The last line of the Python logical line that starts at `lines[start]`."""
    state, end = _advance(lines[start], _State())[0], start
    while not state.top and end + 1 < len(lines):
        end += 1
        state = _advance(lines[end], state)[0]
    return end


def _is_automagic(stripped: str) -> bool:
    word = stripped.split(None, 1)[0] if stripped.strip() else ""
    if word not in AUTOMAGICS or stripped == word or not stripped[len(word)].isspace():
        return False
    try:
        compile(stripped, "<cell>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return True
    return False


def _placeholder(length: int) -> str:
    """A statement of `length` characters that binds nothing: `0` and spaces."""
    return "0" + " " * (length - 1) if length else ""


def cell_magic(text: str) -> str | None:
    """The cell magic (`%%name`) on the cell's first non-blank line, if any."""
    for line in LINE_BREAK.split(text):
        if line.strip():
            match = re.match(r"%%(\S*)", line)
            return f"%%{match.group(1)}" if match else None
    return None


def dedent_cell(text: str) -> tuple[str, tuple[int, ...]]:
    """IPython's `leading_indent`: when a cell's first non-blank line is indented, that
    indent is removed from every line that starts with it. Returns the text and, per row,
    how many characters were removed (empty when nothing was)."""
    lines = LINE_BREAK.split(text)
    first = next((line for line in lines if line.strip()), "")
    indent = first[: len(first) - len(first.lstrip(" \t"))]
    if not indent:
        return text, ()
    breaks = [m.group() for m in LINE_BREAK.finditer(text)]
    shifts = tuple(len(indent) if line.startswith(indent) else 0 for line in lines)
    parts = [line[shift:] for line, shift in zip(lines, shifts, strict=True)]
    return "".join(p + b for p, b in zip(parts, [*breaks, ""], strict=True)), shifts


def mask_cell(text: str, any_magic: bool = False) -> tuple[str, tuple[int, ...]] | None:
    """The cell's text with IPython syntax replaced by same-length placeholders, and the
    masked rows (1-based); None when a cell magic makes the cell something other than Python
    (`any_magic`: every cell magic outside `OTHER_CELL_MAGICS` runs its body as Python)."""
    breaks = [m.group() for m in LINE_BREAK.finditer(text)]
    lines = LINE_BREAK.split(text)
    masked_rows: list[int] = []

    def mask(first: int, last: int, column: int) -> None:
        lines[first] = lines[first][:column] + _placeholder(len(lines[first]) - column)
        for k in range(first + 1, last + 1):
            lines[k] = " " * len(lines[k])
        masked_rows.extend(range(first + 1, last + 2))

    magic = cell_magic(text)
    state, i = _State(), 0
    if magic is not None:
        name = magic[2:]
        if name not in PYTHON_CELL_MAGICS and (not any_magic or name in OTHER_CELL_MAGICS):
            return None
        i = next(k for k, line in enumerate(lines) if line.strip())
        mask(i, i, 0)
        i += 1
    while i < len(lines):
        line = lines[i]
        if not state.top:
            state = _advance(line, state)[0]
            i += 1
            continue
        stripped = line.lstrip()
        column = len(line) - len(stripped)
        assign = _ASSIGN_MAGIC.match(line)
        end: int | None = None
        if stripped.startswith(("%", "!")):
            end = _magic_extent(lines, i, column, shell=stripped.startswith("!"))
        elif assign is not None:
            column = assign.end()
            end = _magic_extent(lines, i, column, shell=line[column] == "!")
        elif stripped.startswith("get_ipython()"):
            end = _python_extent(lines, i)
        elif stripped.startswith("?") or _is_automagic(stripped):
            end = _magic_extent(lines, i, column, shell=False)
        else:
            next_state, question = _advance(line, state)
            if question and next_state.top:
                end = i  # `obj?` / `obj??` help
            else:
                state = next_state
                i += 1
                continue
        mask(i, end, column)
        state, i = _State(), end + 1
    masked = "".join(line + brk for line, brk in zip(lines, [*breaks, ""], strict=True))
    return masked, tuple(masked_rows)
