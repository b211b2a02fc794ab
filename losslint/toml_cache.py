"""losslint's own TOML data files, parsed once and kept beside them as marshal data.

Parsing `analysis/catalogue.toml` with tomllib costs about 8 ms of every run; its parsed form,
kept in the `__pycache__` folder next to it (as Python keeps bytecode) under the text's content
hash and the interpreter's cache tag, loads in about 0.1 ms. The parsed form is plain data
(tables, arrays, strings, numbers, booleans), which marshal writes and reads back exactly. A
missing or corrupt copy is parsed again; a folder that cannot be written is never an error.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import sys
from typing import Any

try:  # hashlib's blake2b is this one; importing hashlib also loads OpenSSL (~10 ms)
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - another Python implementation
    from hashlib import blake2b

_SUFFIX = ".marshal"


def cached_path(path: str, text: str) -> str:
    """Where the parsed form of the TOML file `path` with content `text` is kept."""
    digest = blake2b(text.encode("utf-8"), digest_size=16).hexdigest()
    tag = sys.implementation.cache_tag or "python"
    name = f"{os.path.basename(path)}.{tag}-{digest}{_SUFFIX}"
    return os.path.join(os.path.dirname(path), "__pycache__", name)


def load(path: str) -> dict[str, Any]:
    """The TOML document in `path` (read as text, like `open(path, encoding="utf-8")`)."""
    with open(path, encoding="utf-8") as file:
        text = file.read()
    cached = cached_path(path, text)
    with contextlib.suppress(OSError, EOFError, ValueError, TypeError):
        with open(cached, "rb") as file:
            data = marshal.load(file)
        if isinstance(data, dict):
            return data
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    data = tomllib.loads(text)
    _write(cached, data)
    return data


def _write(cached: str, data: dict[str, Any]) -> None:
    """Keep the parsed form (atomically), replacing older copies of the same file."""
    try:
        raw = marshal.dumps(data)
    except ValueError:  # a value marshal cannot hold (a TOML date): parse every time
        return
    folder = os.path.dirname(cached)
    prefix = os.path.basename(cached).rsplit("-", 1)[0] + "-"
    tmp = f"{cached}.{os.getpid()}.tmp"
    with contextlib.suppress(OSError):
        os.makedirs(folder, exist_ok=True)
        for name in os.listdir(folder):
            if name.startswith(prefix) and name.endswith(_SUFFIX):
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(folder, name))
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(raw)
            os.replace(tmp, cached)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
