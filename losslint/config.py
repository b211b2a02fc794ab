"""`[tool.losslint]` in pyproject.toml: the project root, discovery, validation, defaults."""

from __future__ import annotations

import functools
import os
import re
import sys
from collections.abc import Callable
from dataclasses import field, replace
from pathlib import Path
from typing import Any

from losslint.codes import DEFAULT_SELECT, did_you_mean, selector_error
from losslint.frozen import frozen

DEFAULT_EXCLUDE: tuple[str, ...] = (
    ".bzr",
    ".direnv",
    ".eggs",
    ".git",
    ".hg",
    ".ipynb_checkpoints",
    ".losslint_cache",
    ".mypy_cache",
    ".nox",
    ".pytest_cache",
    ".ruff_cache",
    ".svn",
    ".tox",
    ".venv",
    "__pycache__",
    "__pypackages__",
    "_build",
    "build",
    "dist",
    "node_modules",
    "site-packages",
    "venv",
)

# ruff's `include`: glob patterns of the files a folder walk lints (notebooks on by default)
DEFAULT_INCLUDE: tuple[str, ...] = ("*.py", "*.ipynb")

DEFAULT_LOSS_ARG_NAMES: tuple[tuple[str, str], ...] = (
    ("y_true", "y_pred"),
    ("ytrue", "ypred"),
    ("y_true", "y_predicted"),
    ("true", "pred"),
    ("target", "output"),
    ("target", "pred"),
    ("target", "prediction"),
    ("targets", "predictions"),
    ("gt", "pr"),
    ("gt", "pred"),
    ("labels", "predictions"),
    ("label", "pred"),
    # spellings seen in research code (the GitHub corpus) and the TensorFlow tutorials
    ("real", "pred"),
    ("y_true", "y_hat"),
    ("y", "y_hat"),
    ("yt", "yp"),
    ("y_obs", "y_pred"),
    ("Y_true", "Y_pred"),
    ("true", "predicted"),
    ("label", "prediction"),
    ("labels", "preds"),
    ("ypred", "ytrue"),
    ("logits", "labels"),
    ("y", "p"),
)


_NAME_TOKEN = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")


def name_tokens(name: str) -> tuple[str, ...]:
    """The words of a parameter name, lower-cased: `true_targets` -> (true, targets),
    `predY` -> (pred, y)."""
    return tuple(t.lower() for t in _NAME_TOKEN.findall(name))


class LossSpellings(frozenset[tuple[str, str]]):
    """The parameter pairs that make a function loss-shaped (`pair in spellings`): the pairs
    themselves; the same words cased or joined otherwise (`y_t, y_p` for `yt, yp`); and names
    made only of the pairs' words and single letters that contain a pair of words of two
    letters or more (`trueY, predY` for `true, pred`; `gt, y_pred` for `gt, pred`), so never
    `y_train, p_value` (for `y, p`) nor `pose_true` (another word). A pair listed both ways
    (`ytrue, ypred` and `ypred, ytrue`) is taken literally: `y_pred, y_true`, a helper's
    reversed order, is no spelling.
    """

    def __contains__(self, pair: object) -> bool:
        if frozenset.__contains__(self, pair):
            return True
        if not isinstance(pair, tuple) or len(pair) != 2:
            return False
        return _contains_words(self, *pair)


@functools.lru_cache(maxsize=8)
def _spelling_forms(
    pairs: LossSpellings,
) -> tuple[frozenset[tuple[str, str]], dict[str, frozenset[str]], frozenset[str]]:
    """The pairs' words joined (`y_true` -> `ytrue`); for each first word of two letters or
    more, the second words a longer name may contain with it; and every word of the pairs. A
    pair listed both ways (`ytrue, ypred` and `ypred, ytrue`) is taken literally."""
    joined: set[tuple[str, str]] = set()
    words: dict[str, set[str]] = {}
    vocabulary: set[str] = set()
    for a, b in pairs:
        vocabulary.update(name_tokens(a), name_tokens(b))
        if frozenset.__contains__(pairs, (b, a)):
            continue
        joined.add(("".join(name_tokens(a)), "".join(name_tokens(b))))
        if len(a) >= 2 and len(b) >= 2 and a.isalpha() and b.isalpha():
            words.setdefault(a, set()).add(b)
    return frozenset(joined), {a: frozenset(b) for a, b in words.items()}, frozenset(vocabulary)


@functools.lru_cache(maxsize=4096)
def _contains_words(pairs: LossSpellings, first: str, second: str) -> bool:
    joined, words, vocabulary = _spelling_forms(pairs)
    firsts, seconds = name_tokens(first), name_tokens(second)
    if ("".join(firsts), "".join(seconds)) in joined:
        return True  # the same words, cased or joined otherwise: `y_t, y_p` for `yt, yp`
    if any(len(t) > 1 and t not in vocabulary for t in (*firsts, *seconds)):
        return False  # another word (`pose_true`, `label_smoothing`): not a loss's spelling
    return any(not words.get(token, frozenset()).isdisjoint(seconds) for token in firsts)


@functools.lru_cache(maxsize=8)
def loss_pairs(names: tuple[tuple[str, str], ...]) -> LossSpellings:
    """The parameter spellings that make a function loss-shaped: `loss-arg-names`, each also
    with the `y_` prefix research code puts on both (`y_gt, y_pr` for `gt, pr`), and names
    that contain a pair's words (`LossSpellings`)."""
    pairs = set(names)
    for first, second in names:
        if not first.startswith("y") and not second.startswith("y"):
            pairs.add((f"y_{first}", f"y_{second}"))
    return LossSpellings(pairs)


KNOWN_KEYS = frozenset(
    {
        "select",
        "ignore",
        "extend-select",
        "extend-ignore",
        "exclude",
        "extend-exclude",
        "include",
        "extend-include",
        "per-file-ignores",
        "respect-gitignore",
        "loss-arg-names",
        "runtime",
    }
)
RUNTIME_KEYS = frozenset({"shapes", "timeout"})
ROOT_MARKERS = ("pyproject.toml", "setup.cfg", ".git")

# a TOML file that mentions our table: when it does not parse, our settings would be lost
_MENTIONS_LOSSLINT = re.compile(r"\btool\s*\.\s*[\"']?losslint\b")
_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$|\s*\(at end of document\)$")

Warn = Callable[[str], None]


def print_warning(message: str) -> None:
    """The default way to report a configuration warning: one line on stderr."""
    print(f"losslint: warning: {message}", file=sys.stderr)


class ConfigError(Exception):
    """An invalid configuration: the CLI reports it and exits 2."""


@frozen
class RuntimeConfig:
    shapes: tuple[tuple[int, ...], ...] = ()
    timeout: float = 20.0


@frozen
class Config:
    root: Path
    path: Path | None = None
    select: tuple[str, ...] = DEFAULT_SELECT
    ignore: tuple[str, ...] = ()
    extend_select: tuple[str, ...] = ()
    exclude: tuple[str, ...] = DEFAULT_EXCLUDE
    extend_exclude: tuple[str, ...] = ()
    include: tuple[str, ...] = DEFAULT_INCLUDE
    extend_include: tuple[str, ...] = ()
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    respect_gitignore: bool = True
    loss_arg_names: tuple[tuple[str, str], ...] = DEFAULT_LOSS_ARG_NAMES
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    # the nearest folder with a root marker, when it is inside `root` (the configuration's
    # folder, which path patterns are relative to); None: `root` itself
    project_root: Path | None = None

    @property
    def project(self) -> Path:
        """The folder whose files a run analyses, and where the cache lives."""
        return self.project_root or self.root


# reading TOML ----------------------------------------------------------------------------


def _real(path: Path | str) -> Path:
    return Path(os.path.realpath(path))


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc


def _parse_toml(path: Path, raw: bytes) -> dict[str, Any]:
    """The TOML document; a ConfigError names the file, line and column of the problem."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - raw.rfind(b"\n", 0, exc.start)
        raise ConfigError(f"{path}:{line}:{column}: invalid TOML: not UTF-8") from exc
    # imported here: a project without a pyproject.toml never needs a TOML parser
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = _TOML_POSITION.search(message)
        if match and match.group(1):
            line, column = int(match.group(1)), int(match.group(2))
        else:  # at the end of the document
            line, column = text.count("\n") + 1, len(text) - text.rfind("\n")
        reason = message[: match.start()] if match else message
        raise ConfigError(f"{path}:{line}:{column}: invalid TOML: {reason}") from exc


def _tool_table(data: dict[str, Any]) -> Any:
    tool = data.get("tool")
    return tool.get("losslint") if isinstance(tool, dict) else None


# finding the configuration and the project root ------------------------------------------


def _fallback_root(base: Path) -> Path:
    """No root marker: the current folder when it holds `base`, else `base`; never a package."""
    cwd = _real(os.getcwd())
    folder = cwd if base == cwd or cwd in base.parents else base
    while (folder / "__init__.py").is_file() and folder != folder.parent:
        folder = folder.parent
    return folder


def _start_folder(start: Path) -> Path:
    start = _real(start)
    return start if start.is_dir() else start.parent


def find_project_root(start: Path) -> Path:
    """The nearest folder above `start` with a pyproject.toml or .git, else `_fallback_root`."""
    base = _start_folder(start)
    for folder in (base, *base.parents):
        if any((folder / marker).exists() for marker in ROOT_MARKERS):
            return folder
    return _fallback_root(base)


def _discovered_table(path: Path, warn: Warn) -> Any:
    """The `[tool.losslint]` table of a pyproject.toml found by discovery, or None.

    A file that does not parse is an error when it mentions `tool.losslint` (its settings
    would be lost), else it is skipped with a warning, as black does.
    """
    raw = _read(path)
    try:
        data = _parse_toml(path, raw)
    except ConfigError as exc:
        if _MENTIONS_LOSSLINT.search(raw.decode("utf-8", errors="replace")):
            raise
        warn(f"{exc} (skipped: it has no [tool.losslint] table)")
        return None
    return _tool_table(data)


def find_config(start: Path, warn: Warn = print_warning) -> tuple[Path | None, Any, Path]:
    """(nearest pyproject.toml with [tool.losslint], its table, project root) above `start`."""
    base = _start_folder(start)
    for folder in (base, *base.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            table = _discovered_table(candidate, warn)
            if table is not None:
                return candidate, table, folder
    return None, None, find_project_root(base)


# validation ------------------------------------------------------------------------------


def _strings(key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"`{key}` must be a list of strings")
    return tuple(value)


def _selectors(key: str, value: Any) -> tuple[str, ...]:
    items = _strings(key, value)
    for item in items:
        error = selector_error(item, f"`{key}`")
        if error is not None:
            raise ConfigError(error)
    return items


def _unknown_key(table: dict[str, Any], known: frozenset[str], section: str) -> None:
    unknown = sorted(set(table) - known)
    if unknown:
        key = unknown[0]
        where = f"[{section}]" if section else "the top level"
        raise ConfigError(f"unknown key `{key}` in {where}{did_you_mean(key, known)}")


def parse_table(
    table: Any, root: Path, path: Path | None, section: str = "tool.losslint"
) -> Config:
    """Validate a `[tool.losslint]` table into a Config; errors name the file."""
    try:
        return _parse_table(table, root, path, section)
    except ConfigError as exc:
        if path is None:
            raise
        raise ConfigError(f"{path}: {exc}") from None


def _parse_table(table: Any, root: Path, path: Path | None, section: str) -> Config:
    if not isinstance(table, dict):
        raise ConfigError(f"[{section}] must be a table")
    _unknown_key(table, KNOWN_KEYS, section)
    config = Config(root=root, path=path)
    changes: dict[str, Any] = {}
    if "select" in table:
        changes["select"] = _selectors("select", table["select"])
    if "ignore" in table or "extend-ignore" in table:
        # no command-line `--select` keeps the file's ignores: both lists act as one
        changes["ignore"] = _selectors("ignore", table.get("ignore", [])) + _selectors(
            "extend-ignore", table.get("extend-ignore", [])
        )
    if "extend-select" in table:
        changes["extend_select"] = _selectors("extend-select", table["extend-select"])
    if "exclude" in table:
        changes["exclude"] = _strings("exclude", table["exclude"])
    if "extend-exclude" in table:
        changes["extend_exclude"] = _strings("extend-exclude", table["extend-exclude"])
    if "include" in table:
        changes["include"] = _strings("include", table["include"])
    if "extend-include" in table:
        changes["extend_include"] = _strings("extend-include", table["extend-include"])
    if "per-file-ignores" in table:
        changes["per_file_ignores"] = _per_file_ignores(table["per-file-ignores"])
    if "respect-gitignore" in table:
        if not isinstance(table["respect-gitignore"], bool):
            raise ConfigError("`respect-gitignore` must be true or false")
        changes["respect_gitignore"] = table["respect-gitignore"]
    if "loss-arg-names" in table:
        value = table["loss-arg-names"]
        if not isinstance(value, list) or not all(
            isinstance(pair, list) and len(pair) == 2 and all(isinstance(n, str) for n in pair)
            for pair in value
        ):
            raise ConfigError(
                '`loss-arg-names` must be a list of [true, pred] name pairs, e.g. [["y_true", "y_pred"]]'
            )
        changes["loss_arg_names"] = tuple((a, b) for a, b in value)
    if "runtime" in table:
        changes["runtime"] = _runtime(table["runtime"], f"{section}.runtime".lstrip("."))
    return replace(config, **changes)


def _per_file_ignores(value: Any) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if not isinstance(value, dict):
        raise ConfigError("`per-file-ignores` must be a table of glob = [codes]")
    entries = []
    for glob, codes in value.items():
        selectors = _selectors(f'per-file-ignores."{glob}"', codes)
        # per-file ignores match code prefixes; every code starts with "LL"
        entries.append((glob, tuple("LL" if s == "ALL" else s for s in selectors)))
    return tuple(entries)


def _runtime(value: Any, section: str) -> RuntimeConfig:
    if not isinstance(value, dict):
        raise ConfigError(f"[{section}] must be a table")
    _unknown_key(value, RUNTIME_KEYS, section)
    shapes: tuple[tuple[int, ...], ...] = ()
    if "shapes" in value:
        raw = value["shapes"]
        if not isinstance(raw, list) or not all(
            isinstance(shape, list)
            and len(shape) >= 1
            and all(isinstance(d, int) and d > 0 for d in shape)
            for shape in raw
        ):
            raise ConfigError(
                "`runtime.shapes` must be a list of shapes such as [[5, 7], [5, 8, 8, 2]]"
            )
        shapes = tuple(tuple(shape) for shape in raw)
    timeout = 20.0
    if "timeout" in value:
        if (
            not isinstance(value["timeout"], int | float)
            or isinstance(value["timeout"], bool)
            or value["timeout"] <= 0
        ):
            raise ConfigError("`runtime.timeout` must be a positive number of seconds")
        timeout = float(value["timeout"])
    return RuntimeConfig(shapes=shapes, timeout=timeout)


def load_config(start: Path, explicit: Path | None = None, warn: Warn = print_warning) -> Config:
    """The configuration for a run whose first path is `start` (or from `--config FILE`).

    `--config pyproject.toml` makes its folder the project root; any other TOML file (keys
    at the top level) only supplies settings, and the root is found from `start`.
    """
    config = _load(start, explicit, warn)
    # the project (what a run analyses, where the cache goes) is the nearest root marker: a
    # repository nested under another project's configuration is a project of its own
    project = find_project_root(start)
    if config.root == project or config.root in project.parents:
        return replace(config, project_root=project)
    return config


def _load(start: Path, explicit: Path | None, warn: Warn) -> Config:
    if explicit is not None:
        path = _real(explicit)
        data = _parse_toml(path, _read(path))
        if path.name == "pyproject.toml":
            return parse_table(_tool_table(data) or {}, path.parent, path)
        return parse_table(data, find_project_root(start), path, section="")
    path, table, root = find_config(start, warn)
    if path is None:
        return Config(root=root)
    return parse_table(table, root, path)
