"""The on-disk cache: each analysed file's findings, keyed on what they depend on.

A unit's entry is trusted only when the file's content hash and the content hash of every
project module its analysis may read (its import closure) are unchanged; the cache file's name
carries the losslint version, the catalogue and the analysis settings. File hashes are keyed
by (size, mtime, inode): a file whose stat is unchanged is not read again. A corrupt, missing
or unwritable cache is ignored, never fatal. The cache lives in `.losslint_cache/` at the
project root (`--no-cache` bypasses it).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from losslint import __version__

try:  # hashlib's blake2b is this one; importing hashlib also loads OpenSSL (~10 ms)
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - another Python implementation
    from hashlib import blake2b

CACHE_DIR = ".losslint_cache"
FORMAT = 5
_CATALOGUE = Path(__file__).parent / "analysis" / "catalogue.toml"


def content_hash(data: bytes) -> str:
    return blake2b(data, digest_size=16).hexdigest()


def stat_key(path: Path) -> tuple[int, int, int] | None:
    """(size, mtime, inode): while it is unchanged, a file's content hash is reused."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_size, info.st_mtime_ns, info.st_ino)


def _code_stamp() -> str:
    """The size and mtime of losslint's own modules: an edited install (a development checkout)
    never reuses results an older analysis produced under the same version number."""
    package = os.path.dirname(os.path.abspath(__file__))
    parts = []
    for folder, dirs, files in os.walk(package):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith((".py", ".toml")):
                with contextlib.suppress(OSError):
                    info = os.stat(os.path.join(folder, name))
                    parts.append(f"{folder}/{name}:{info.st_size}:{info.st_mtime_ns}")
    return blake2b("\n".join(parts).encode(), digest_size=8).hexdigest()


class Cache:
    """Unit entries and file hashes for one losslint version and analysis setup."""

    def __init__(self, root: Path, setup: str) -> None:
        import json  # (only runs with the cache: `--no-cache` never imports it)

        catalogue = _CATALOGUE.read_bytes()
        key = blake2b(
            f"{FORMAT}\n{__version__}\n{setup}\n{_code_stamp()}\n".encode() + catalogue,
            digest_size=8,
        ).hexdigest()
        self.folder = root / CACHE_DIR
        self.file = self.folder / f"units-{key}.json"
        self.units: dict[str, dict[str, Any]] = {}
        self.stats: dict[str, list[Any]] = {}
        self._dirty = False
        with contextlib.suppress(OSError, ValueError, TypeError, AttributeError):
            data = json.loads(self.file.read_text("utf-8"))
            if isinstance(data.get("units"), dict) and isinstance(data.get("stats"), dict):
                self.units = data["units"]
                self.stats = data["stats"]

    def known_hash(self, path: Path, stat: tuple[int, int, int] | None) -> str | None:
        """The content hash of a file on disk whose stat (`stat_key`) has not changed since
        it was hashed."""
        entry = self.stats.get(str(path))
        if stat is None or not isinstance(entry, list) or len(entry) != 2:
            return None
        return entry[1] if list(stat) == entry[0] else None

    def remember_hash(self, path: Path, stat: tuple[int, int, int], digest: str) -> None:
        entry = [list(stat), digest]
        if self.stats.get(str(path)) != entry:
            self.stats[str(path)] = entry
            self._dirty = True

    def unit(self, path: Path) -> dict[str, Any] | None:
        entry = self.units.get(str(path))
        return entry if isinstance(entry, dict) else None

    def put(self, path: Path, entry: dict[str, Any]) -> None:
        self.units[str(path)] = entry
        self._dirty = True

    def save(self) -> None:
        """Write the cache atomically; a read-only or missing folder is silently skipped."""
        if not self._dirty:
            return
        import json
        import tempfile

        with contextlib.suppress(OSError):
            self.folder.mkdir(exist_ok=True)
            gitignore = self.folder / ".gitignore"
            if not gitignore.exists():
                gitignore.write_text("# Automatically created by losslint.\n*\n", "utf-8")
            fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
            try:
                # dumps, not dump: only the one-shot encoder is json's C one (4x faster here)
                text = json.dumps({"units": self.units, "stats": self.stats})
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(text)
                os.replace(tmp, self.file)
            except OSError:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
            self._dirty = False
