"""Reading, decoding and parsing source files; anything unreadable becomes an LL000 finding."""

from __future__ import annotations

import ast
import contextlib
import io
import os
import stat
import tokenize
import warnings
from pathlib import Path

from losslint.frozen import frozen
from losslint.model import Diagnostic, Position

UNREADABLE_CODE = "LL000"
UNREADABLE_NAME = "unreadable-file"


@frozen
class SourceText:
    """A decoded file: its text without BOM, and what is needed to write it back unchanged."""

    path: Path
    text: str
    encoding: str
    bom: bool

    def encode(self, text: str) -> bytes:
        """Encode `text` the way the original file was encoded (BOM included)."""
        data = text.encode(self.encoding)
        return (b"\xef\xbb\xbf" + data) if self.bom else data


class SourceError(Exception):
    """A file that cannot be read, decoded or parsed, with the position to report."""

    def __init__(self, message: str, row: int = 1, column: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.row = row
        self.column = column

    def diagnostic(self, path: Path) -> Diagnostic:
        pos = Position(self.row, self.column)
        return Diagnostic(
            code=UNREADABLE_CODE,
            name=UNREADABLE_NAME,
            message=self.message,
            path=path,
            location=pos,
            end_location=pos,
            noqa_row=self.row,
        )


_REAL_PATHS: dict[str, Path] = {}
_MAX_REAL_PATHS = 65536


def real_path(path: Path | str) -> Path:
    """The absolute path with symlinks resolved; never raises (a link loop stays as it is).

    Memoised: long-lived sessions (the language server) call `forget_paths` on file events.
    """
    key = os.fspath(path)
    found = _REAL_PATHS.get(key)
    if found is None:
        found = Path(os.path.realpath(key))
        remember_real_path(key, found)
    return found


def remember_real_path(path: str, real: Path | str) -> None:
    """Record a resolution found some other way (a folder walk knows where no link is)."""
    if len(_REAL_PATHS) >= _MAX_REAL_PATHS:
        _REAL_PATHS.clear()
    _REAL_PATHS[path] = real if isinstance(real, Path) else Path(real)


def forget_paths() -> None:
    """Drop memoised path resolutions (after files or links were created or removed)."""
    _REAL_PATHS.clear()


def read_bytes(path: Path) -> bytes:
    """Read a regular file; FIFOs, devices, directories and broken links raise SourceError."""
    try:
        info = os.stat(path)
    except OSError as exc:
        raise SourceError(f"cannot read file: {exc.strerror or exc}") from exc
    if not stat.S_ISREG(info.st_mode):
        raise SourceError("not a regular file")
    try:  # unbuffered: one read of the whole file, without copying it through a buffer
        with open(path, "rb", buffering=0) as handle:
            return handle.read()
    except OSError as exc:
        raise SourceError(f"cannot read file: {exc.strerror or exc}") from exc


def read_module_bytes(path: Path) -> bytes:
    """A file's bytes as Python source: a notebook's code cells as one module (magics masked)."""
    raw = read_bytes(path)
    if not str(path).endswith(".ipynb"):
        return raw
    from losslint.notebook import Notebook, NotebookError

    try:
        return Notebook.parse(raw).virtual_bytes
    except NotebookError as exc:
        raise SourceError(exc.message, exc.row, exc.column) from exc


def decode(path: Path, raw: bytes) -> SourceText:
    """Decode bytes as Python source (BOM, PEP 263 cookie); binary data raises SourceError."""
    if b"\x00" in raw:
        raise SourceError("binary file (contains NUL bytes)")
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(raw).readline)
    except SyntaxError as exc:
        raise SourceError(f"cannot decode file: {exc.msg}") from exc
    bom = encoding == "utf-8-sig"
    body = raw[3:] if bom else raw
    codec = "utf-8" if bom else encoding
    try:
        text = body.decode(codec)
    except UnicodeDecodeError as exc:
        row = body.count(b"\n", 0, exc.start) + 1
        column = exc.start - (body.rfind(b"\n", 0, exc.start) + 1) + 1
        raise SourceError(f"cannot decode file as {codec}: invalid byte", row, column) from exc
    except LookupError as exc:
        raise SourceError(f"unknown encoding {encoding!r}") from exc
    return SourceText(path=path, text=text, encoding=codec, bom=bom)


def check_syntax(text: str, path: Path) -> ast.Module:
    """A fast syntax check with CPython's own parser; returns the `ast` tree.

    The linted code's own warnings (an invalid escape sequence, ...) are not losslint's to
    print."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = compile(text, str(path), "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
    except SyntaxError as exc:
        raise SourceError(
            f"cannot parse file: {exc.msg}", exc.lineno or 1, exc.offset or 1
        ) from exc
    except (ValueError, RecursionError, MemoryError) as exc:
        raise SourceError(f"cannot parse file: {type(exc).__name__}") from exc
    assert isinstance(tree, ast.Module)
    return tree


def parses(text: str, path: Path) -> bool:
    """Whether Python's parser accepts the text: `check_syntax` without building the `ast`
    tree, about twice as fast (the parser and the symbol table, which also refuses what
    Python refuses at import, such as `nonlocal` at module level)."""
    import symtable

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            symtable.symtable(text, str(path), "exec")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


def write_atomic(path: Path, data: bytes) -> None:
    """Replace a file's content atomically, keeping its permission bits (and symlinks)."""
    import tempfile

    path = Path(os.path.realpath(path))
    mode = stat.S_IMODE(os.stat(path).st_mode)
    folder = path.parent
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".losslint", dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
