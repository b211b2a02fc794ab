"""The catalogue of TensorFlow / Keras APIs (`catalogue.toml`) and name canonicalisation."""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass
from importlib import resources
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@dataclass(frozen=True)
class Entry:
    """What the catalogue says about one qualified name."""

    category: str
    op: str = ""
    axis_position: int = 1
    default_axis: Any = None
    has_default_axis: bool = False
    delta: int = 0
    operands: int = 1


@dataclass(frozen=True)
class Catalogue:
    aliases: tuple[tuple[str, str], ...]
    entries: dict[str, Entry]
    loss_bases: frozenset[str]
    loss_classes: frozenset[str]
    metric_bases: frozenset[str]
    scalar_prefixes: tuple[str, ...]

    def canonical(self, qualname: str) -> str:
        """Rewrite known aliases (`tensorflow.keras.x` -> `keras.x`, ...)."""
        for prefix, replacement in self.aliases:
            if qualname == prefix or qualname.startswith(prefix + "."):
                return replacement + qualname[len(prefix) :]
        return qualname

    def lookup(self, qualname: str) -> Entry | None:
        entry = self.entries.get(qualname)
        if entry is None and qualname.startswith(self.scalar_prefixes):
            return Entry("scalar_op", op=qualname.rsplit(".", 1)[-1])
        return entry


def _axis_entry(category: str, spec: dict[str, Any], op: str = "") -> Entry:
    return Entry(
        category,
        op=op,
        axis_position=int(spec.get("axis-position", 1)),
        default_axis=spec.get("default-axis"),
        has_default_axis="default-axis" in spec,
        delta=int(spec.get("delta", 0)),
        operands=int(spec.get("operands", 1)),
    )


@functools.cache
def load() -> Catalogue:
    """Load and index `catalogue.toml` once per process."""
    text = resources.files("losslint.shapes").joinpath("catalogue.toml").read_text("utf-8")
    data = tomllib.loads(text)
    entries: dict[str, Entry] = {}
    for op, spec in data["reduction"].items():
        for name in spec["names"]:
            entries[name] = _axis_entry("reduction", spec, op)
    for name in data["elementwise"]["names"]:
        entries[name] = Entry("elementwise")
    for category in ("normalize", "axis_change", "join"):
        for name, spec in data[category].items():
            entries[name] = _axis_entry(category, spec)
    for name in data["per_sample"]["names"]:
        entries[name] = Entry("per_sample")
    for name in data["per_image"]["names"]:
        entries[name] = Entry("per_image")
    for name, spec in data["scatter"].items():
        entries[name] = _axis_entry("scatter", spec)
    for name in data["diagonal"]["names"]:
        entries[name] = Entry("diagonal", op="diagonal")
    for name in data["loss_class"]["names"]:
        entries[name] = Entry("loss_class", op=name.rsplit(".", 1)[-1])
    for name in data["scalar_op"]["names"]:
        entries[name] = Entry("scalar_op", op=name.rsplit(".", 1)[-1])
    for name in data["shape"]["names"]:
        entries[name] = Entry("shape")
    for name in data["shape"]["rank"]:
        entries[name] = Entry("rank")
    for name in data["constant"]["names"]:
        entries[name] = Entry("constant")
    for name in data["batch_mixing"]["names"]:
        entries[name] = Entry("batch_mixing")
    for name in data["flatten"]["names"]:
        entries[name] = Entry("flatten")
    for name in data["flatten"]["reshape"]:
        entries[name] = Entry("reshape")
    for name in data["flatten"]["batch_flatten"]:
        entries[name] = Entry("batch_flatten")
    aliases = sorted(data["aliases"].items(), key=lambda item: -len(item[0]))
    return Catalogue(
        aliases=tuple(aliases),
        entries=entries,
        loss_bases=frozenset(data["loss_class"]["base"]),
        loss_classes=frozenset(data["loss_class"]["names"]),
        metric_bases=frozenset(data["loss_class"]["metric_base"]),
        scalar_prefixes=tuple(data["scalar_op"]["prefixes"]),
    )
