"""A small on-disk cache of files known to hold no loss, keyed by content hash.

Such files need neither parsing nor analysis on the next run. The cache lives in
`.losslint_cache/` at the project root and is ignored by git (`--no-cache` bypasses it).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path

from losslint import __version__

CACHE_DIR = ".losslint_cache"


def content_hash(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


class Cache:
    """Hashes of loss-free file contents for one losslint version and naming setup."""

    def __init__(self, root: Path, setup: str) -> None:
        key = hashlib.blake2b(f"{__version__}\n{setup}".encode(), digest_size=8).hexdigest()
        self.folder = root / CACHE_DIR
        self.file = self.folder / f"clean-{key}.json"
        self.clean: set[str] = set()
        self._dirty = False
        with contextlib.suppress(OSError, ValueError, TypeError):
            data = json.loads(self.file.read_text("utf-8"))
            if isinstance(data, list):
                self.clean = {h for h in data if isinstance(h, str)}

    def add(self, hashes: set[str]) -> None:
        if not hashes <= self.clean:
            self.clean |= hashes
            self._dirty = True

    def save(self) -> None:
        """Write the cache; a read-only or missing folder is silently skipped."""
        if not self._dirty:
            return
        with contextlib.suppress(OSError):
            self.folder.mkdir(exist_ok=True)
            gitignore = self.folder / ".gitignore"
            if not gitignore.exists():
                gitignore.write_text("# Automatically created by losslint.\n*\n", "utf-8")
            fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(sorted(self.clean), handle)
            os.replace(tmp, self.file)
            self._dirty = False
