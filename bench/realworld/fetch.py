"""Download, verify and unpack the pinned packages of the real-world evaluation set.

Stdlib only. Reads ``packages.toml`` next to this file, downloads each pinned archive from PyPI
into ``.cache/`` (URL looked up through PyPI's JSON API; ``pip download`` as a fallback), checks
its sha256, and unpacks the ``.py`` files into ``.cache/src/<name>-<version>/`` (paths relative
to the archive's package root, which is what ``triage.tsv`` uses). Idempotent: an archive whose
hash matches is not downloaded again, and a source tree with a matching ``.unpacked`` stamp is
left alone.

Usage::

    python bench/realworld/fetch.py                # everything
    python bench/realworld/fetch.py keras focal-loss
    python bench/realworld/fetch.py --offline      # only verify/unpack what is in .cache/
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath

import tomllib

HERE = Path(__file__).resolve().parent
PACKAGES_TOML = HERE / "packages.toml"
CACHE = HERE / ".cache"
SRC = CACHE / "src"
JSON_API = "https://pypi.org/pypi/{name}/json"


def load_packages(path: Path = PACKAGES_TOML) -> list[dict]:
    with path.open("rb") as f:
        data = tomllib.load(f)
    pkgs = data["package"]
    for p in pkgs:
        for key in ("name", "version", "kind", "filename", "sha256"):
            if key not in p:
                raise ValueError(f"{path}: package {p.get('name')!r} lacks {key!r}")
        if p["kind"] not in ("wheel", "sdist"):
            raise ValueError(f"{path}: {p['name']}: kind must be 'wheel' or 'sdist'")
    return pkgs


def src_dir(pkg: dict) -> Path:
    return SRC / f"{pkg['name']}-{pkg['version']}"


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _url_from_json_api(pkg: dict) -> str | None:
    try:
        with urllib.request.urlopen(JSON_API.format(name=pkg["name"]), timeout=60) as r:
            data = json.load(r)
            base = r.geturl()
    except OSError as e:
        print(f"  JSON API unavailable for {pkg['name']}: {e}", file=sys.stderr)
        return None
    for f in data.get("releases", {}).get(pkg["version"], []):
        if f["filename"] == pkg["filename"]:
            if f["digests"]["sha256"] != pkg["sha256"]:
                raise SystemExit(
                    f"{pkg['filename']}: PyPI lists sha256 {f['digests']['sha256']}, "
                    f"packages.toml pins {pkg['sha256']}"
                )
            return urllib.parse.urljoin(base, f["url"])  # some mirrors serve relative URLs
    print(f"  {pkg['filename']} not listed by the JSON API", file=sys.stderr)
    return None


def _download(pkg: dict, dest: Path) -> None:
    url = _url_from_json_api(pkg)
    if url:
        print(f"  downloading {url}")
        tmp = dest.with_suffix(dest.suffix + ".part")
        with urllib.request.urlopen(url, timeout=300) as r, tmp.open("wb") as out:
            shutil.copyfileobj(r, out)
        tmp.replace(dest)
        return
    # Fallback: pip knows mirrors/proxies configured on this machine.
    print("  falling back to pip download")
    fmt = ["--only-binary", ":all:"] if pkg["kind"] == "wheel" else ["--no-binary", ":all:"]
    with tempfile.TemporaryDirectory() as td:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                *fmt,
                "-d",
                td,
                f"{pkg['name']}=={pkg['version']}",
            ],
            check=True,
        )
        got = Path(td) / pkg["filename"]
        if not got.exists():
            raise SystemExit(f"pip did not produce {pkg['filename']}: {list(Path(td).iterdir())}")
        shutil.move(str(got), dest)


def _members_py(names: list[str], strip_first: bool) -> dict[str, str]:
    """Map archive member names of .py files to safe relative output paths."""
    out = {}
    for n in names:
        if not n.endswith(".py"):
            continue
        p = PurePosixPath(n)
        parts = p.parts[1:] if strip_first else p.parts
        if not parts or any(x in ("..", "") for x in parts) or p.is_absolute():
            continue
        out[n] = "/".join(parts)
    return out


def unpack(pkg: dict, archive: Path) -> Path:
    dest = src_dir(pkg)
    stamp = dest / ".unpacked"
    if stamp.exists() and stamp.read_text().strip() == pkg["sha256"]:
        (dest / ".git").mkdir(exist_ok=True)
        return dest
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    n = 0
    if pkg["kind"] == "wheel":
        with zipfile.ZipFile(archive) as z:
            for member, rel in _members_py(z.namelist(), strip_first=False).items():
                (dest / rel).parent.mkdir(parents=True, exist_ok=True)
                (dest / rel).write_bytes(z.read(member))
                n += 1
    else:
        if archive.name.endswith(".zip"):
            with zipfile.ZipFile(archive) as z:
                for member, rel in _members_py(z.namelist(), strip_first=True).items():
                    (dest / rel).parent.mkdir(parents=True, exist_ok=True)
                    (dest / rel).write_bytes(z.read(member))
                    n += 1
        else:
            with tarfile.open(archive) as t:
                members = {m.name: m for m in t.getmembers() if m.isfile()}
                for member, rel in _members_py(list(members), strip_first=True).items():
                    data = t.extractfile(members[member])
                    assert data is not None
                    (dest / rel).parent.mkdir(parents=True, exist_ok=True)
                    with (dest / rel).open("wb") as out:
                        shutil.copyfileobj(io.BufferedReader(data), out)
                    n += 1
    stamp.write_text(pkg["sha256"] + "\n")
    # an empty `.git` folder: the package is a project of its own, not part of this repository
    (dest / ".git").mkdir(exist_ok=True)
    print(f"  unpacked {n} .py files into {dest.relative_to(HERE)}")
    return dest


def fetch(pkg: dict, offline: bool = False) -> Path:
    CACHE.mkdir(parents=True, exist_ok=True)
    archive = CACHE / pkg["filename"]
    print(f"{pkg['name']}=={pkg['version']} ({pkg['kind']})")
    if archive.exists() and sha256_of(archive) != pkg["sha256"]:
        print(f"  cached {archive.name} has the wrong sha256; fetching again")
        archive.unlink()
    if not archive.exists():
        if offline:
            raise SystemExit(f"  {archive.name} not in .cache/ and --offline given")
        _download(pkg, archive)
    got = sha256_of(archive)
    if got != pkg["sha256"]:
        archive.unlink()
        raise SystemExit(f"  sha256 mismatch for {archive.name}: got {got}, want {pkg['sha256']}")
    return unpack(pkg, archive)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Fetch the real-world evaluation packages.")
    ap.add_argument("names", nargs="*", help="only these packages (default: all)")
    ap.add_argument("--offline", action="store_true", help="never download")
    args = ap.parse_args(argv)
    pkgs = load_packages()
    unknown = set(args.names) - {p["name"] for p in pkgs}
    if unknown:
        ap.error(f"not in packages.toml: {', '.join(sorted(unknown))}")
    for p in pkgs:
        if not args.names or p["name"] in args.names:
            fetch(p, offline=args.offline)
    return 0


if __name__ == "__main__":
    sys.exit(main())
