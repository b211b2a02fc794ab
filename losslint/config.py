"""`[tool.losslint]` in pyproject.toml: discovery, validation, defaults."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from losslint.rules import DEFAULT_SELECT, is_valid_selector
from losslint.source import real_path

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
)

KNOWN_KEYS = frozenset(
    {
        "select",
        "ignore",
        "extend-select",
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


class ConfigError(Exception):
    """An invalid configuration: the CLI reports it and exits 2."""


@dataclass(frozen=True)
class RuntimeConfig:
    shapes: tuple[tuple[int, ...], ...] = ()
    timeout: float = 20.0


@dataclass(frozen=True)
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


def _has_table(path: Path) -> bool:
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False
    return isinstance(data.get("tool"), dict) and "losslint" in data["tool"]


def find_config(start: Path) -> tuple[Path | None, Path]:
    """(nearest pyproject.toml with [tool.losslint], project root) above `start`."""
    start = real_path(start)
    base = start if start.is_dir() else start.parent
    fallback_root: Path | None = None
    for folder in (base, *base.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            if _has_table(candidate):
                return candidate, folder
            fallback_root = fallback_root or folder
        if (folder / ".git").exists() and fallback_root is None:
            fallback_root = folder
    return None, fallback_root or base


def _strings(key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"`{key}` must be a list of strings")
    return tuple(value)


def _selectors(key: str, value: Any) -> tuple[str, ...]:
    items = _strings(key, value)
    for item in items:
        if not is_valid_selector(item):
            raise ConfigError(f"`{key}`: unknown rule selector `{item}`")
    return items


def parse_table(table: dict[str, Any], root: Path, path: Path | None) -> Config:
    """Validate a `[tool.losslint]` table into a Config."""
    unknown = sorted(set(table) - KNOWN_KEYS)
    if unknown:
        raise ConfigError(
            f"unknown key `{unknown[0]}` in [tool.losslint]" + (f" ({path})" if path else "")
        )
    config = Config(root=root, path=path)
    changes: dict[str, Any] = {}
    if "select" in table:
        changes["select"] = _selectors("select", table["select"])
    if "ignore" in table:
        changes["ignore"] = _selectors("ignore", table["ignore"])
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
        value = table["per-file-ignores"]
        if not isinstance(value, dict):
            raise ConfigError("`per-file-ignores` must be a table of glob = [codes]")
        changes["per_file_ignores"] = tuple(
            (glob, _selectors(f"per-file-ignores.{glob}", codes)) for glob, codes in value.items()
        )
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
        changes["runtime"] = _runtime(table["runtime"])
    return replace(config, **changes)


def _runtime(value: Any) -> RuntimeConfig:
    if not isinstance(value, dict):
        raise ConfigError("`runtime` must be a table")
    unknown = sorted(set(value) - RUNTIME_KEYS)
    if unknown:
        raise ConfigError(f"unknown key `{unknown[0]}` in [tool.losslint.runtime]")
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


def load_config(start: Path, explicit: Path | None = None) -> Config:
    """The configuration for a run whose first path is `start` (or from `--config FILE`)."""
    if explicit is not None:
        path = real_path(explicit)
        try:
            data = tomllib.loads(path.read_text("utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read config file {explicit}: {exc.strerror}") from exc
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"invalid TOML in {explicit}: {exc}") from exc
        table = data.get("tool", {}).get("losslint") if path.name == "pyproject.toml" else data
        if table is None:
            table = data.get("tool", {}).get("losslint", {})
        return parse_table(table, path.parent, path)
    path, root = find_config(start)
    if path is None:
        return Config(root=root)
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    return parse_table(data["tool"]["losslint"], root, path)
