"""Materialise the GitHub corpus at its pinned commits into ``.cache/github/<owner>+<name>/``.

    python bench/realworld/fetch_github.py                 # every repository in github_repos.toml
    python bench/realworld/fetch_github.py --repo owner/name
    python bench/realworld/fetch_github.py --mirror /path   # where local bare mirrors live

Each repository comes from a local mirror when one exists (``<mirror>/<owner>+<name>/repo``, a git
directory holding the pinned commit), otherwise from ``git clone https://github.com/<owner>/<name>``
followed by a checkout of the pinned commit. Only the files of that commit are written (no ``.git``).
Mirrors may lack large blobs (data files, weights); those files are left out and counted. A
``.commit`` file records what was extracted, so re-running does nothing. Stdlib and the git CLI only.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import tomllib

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache" / "github"
REPOS_FILE = HERE / "github_repos.toml"
DEFAULT_MIRROR = Path(os.environ.get("LOSSLINT_GITHUB_MIRROR", "/work/.mirror"))


def load_repos() -> list[dict[str, str]]:
    """The ``[[repo]]`` tables of github_repos.toml."""
    with open(REPOS_FILE, "rb") as handle:
        return tomllib.load(handle)["repo"]


def repo_dir(name: str) -> Path:
    """Where a repository (``owner/name``) is extracted."""
    return CACHE / name.replace("/", "+")


def _git(git_dir: Path, *args: str, data: bytes | None = None) -> bytes:
    proc = subprocess.run(
        ["git", f"--git-dir={git_dir}", *args], input=data, capture_output=True, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {proc.stderr.decode(errors='replace')}")
    return proc.stdout


def find_mirror(mirror_root: Path, name: str, commit: str) -> Path | None:
    """The git directory of a local mirror of ``name`` that has ``commit``, if any."""
    base = mirror_root / name.replace("/", "+") / "repo"
    for candidate in (base / ".git", base):
        if (candidate / "HEAD").is_file():
            try:
                _git(candidate, "cat-file", "-e", f"{commit}^{{commit}}")
            except RuntimeError:
                continue
            return candidate
    return None


def extract_commit(git_dir: Path, commit: str, dest: Path) -> tuple[int, int]:
    """Write every blob of ``commit`` under ``dest``; return (written, missing) counts."""
    listing = _git(git_dir, "ls-tree", "-r", "-z", "--full-tree", commit)
    written = missing = 0
    for entry in listing.split(b"\0"):
        if not entry:
            continue
        meta, path = entry.split(b"\t", 1)
        mode, kind, sha = meta.split()
        if kind != b"blob" or mode == b"120000":  # submodules and symlinks are left out
            continue
        try:
            blob = _git(git_dir, "cat-file", "blob", sha.decode())
        except RuntimeError:
            missing += 1  # the mirror has no content for this file (large or LFS)
            continue
        target = dest / path.decode("utf-8", errors="surrogateescape")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(blob)
        if mode == b"100755":
            target.chmod(0o755)
        written += 1
    return written, missing


def clone_commit(name: str, commit: str, dest: Path) -> tuple[int, int]:
    """Clone from GitHub, check out ``commit`` and keep its files only."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "clone"
        subprocess.run(
            ["git", "clone", "--quiet", f"https://github.com/{name}", str(work)], check=True
        )
        subprocess.run(["git", "-C", str(work), "checkout", "--quiet", commit], check=True)
        return extract_commit(work / ".git", commit, dest)


def mark_project_root(dest: Path) -> None:
    """An empty `.git` folder: the tree is a project of its own, as its real checkout would be
    (otherwise linting it inside this repository would take this repository as its project)."""
    (dest / ".git").mkdir(exist_ok=True)


def materialise(repo: dict[str, str], mirror_root: Path) -> str:
    """Bring one repository to its pinned commit; return a one-line status."""
    name, commit = repo["name"], repo["commit"]
    dest = repo_dir(name)
    stamp = dest / ".commit"
    if stamp.is_file() and stamp.read_text().strip() == commit:
        mark_project_root(dest)
        return f"{name}: up to date"
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    git_dir = find_mirror(mirror_root, name, commit)
    if git_dir is not None:
        written, missing = extract_commit(git_dir, commit, dest)
        source = f"mirror {git_dir}"
    else:
        written, missing = clone_commit(name, commit, dest)
        source = "git clone"
    stamp.write_text(commit + "\n")
    mark_project_root(dest)
    note = f", {missing} large files absent from the mirror" if missing else ""
    return f"{name}: {written} files from {source}{note}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", action="append", help="only this owner/name (repeatable)")
    parser.add_argument("--mirror", type=Path, default=DEFAULT_MIRROR, help="local mirrors root")
    options = parser.parse_args()
    repos = [r for r in load_repos() if not options.repo or r["name"] in options.repo]
    if options.repo and len(repos) != len(set(options.repo)):
        known = {r["name"] for r in repos}
        raise SystemExit(f"unknown repositories: {sorted(set(options.repo) - known)}")
    failures = 0
    for repo in repos:
        try:
            print(materialise(repo, options.mirror), flush=True)
        except (RuntimeError, subprocess.CalledProcessError) as error:
            failures += 1
            print(f"{repo['name']}: FAILED: {error}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
