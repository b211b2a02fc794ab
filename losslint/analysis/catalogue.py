"""The catalogue of TensorFlow / Keras APIs (`catalogue.toml`) and name canonicalisation.

Every piece of API knowledge the analysis uses is read from here: which calls reduce, which are
elementwise, which mix samples, how their axes are passed, which fixes they admit.
"""

from __future__ import annotations

import functools
import os
from dataclasses import field
from typing import Any

from losslint import toml_cache
from losslint.frozen import frozen


@frozen
class Entry:
    """What the catalogue says about one qualified name."""

    category: str
    op: str = ""
    axis_position: int = 1
    default_axis: Any = None
    has_default_axis: bool = False
    delta: int = 0
    operands: int = 1
    axis_fix: str | None = None  # "safe" | "unsafe": set the axis to -1
    drop_fix: str | None = None  # "safe" | "unsafe": drop the call over a per-sample value
    scalar_without_axis: bool = False
    arg_reduction: bool = False


@frozen(eq=False)  # never compared: holds dicts
class MixingRules:
    """How some batch-mixing ops keep the batch axis after all (by short op name)."""

    contraction: frozenset[str]
    transposed_contraction: frozenset[str]
    indexing: dict[str, int]
    tiling: frozenset[str]
    splitting: frozenset[str]
    unstacking: frozenset[str]
    masking: frozenset[str]
    batched_indexing: frozenset[str]
    einsum: frozenset[str]
    transpose: frozenset[str]
    constant_makers: frozenset[str]
    broadcasting: frozenset[str]


@frozen(eq=False)  # never compared: holds dicts
class Catalogue:
    frameworks: frozenset[str]
    other_frameworks: frozenset[str]
    graph_mode: tuple[str, ...]
    test_cases: frozenset[str]
    test_modules: tuple[str, ...]  # file-name patterns
    alternative_constructors: frozenset[str]
    objective_calls: dict[str, str]  # custom loops: call name -> the objective's keyword
    loop_wrappers: tuple[str, ...]
    step_methods: tuple[str, ...]
    training_calls: tuple[str, ...]
    container_fills: frozenset[str]
    aliases: tuple[tuple[str, str], ...]
    entries: dict[str, Entry]
    loss_bases: frozenset[str]
    loss_classes: frozenset[str]
    loss_kept_keywords: frozenset[str]
    metric_bases: frozenset[str]
    function_wrappers: frozenset[str]
    wrapper_keywords: frozenset[str]
    scalar_prefixes: tuple[str, ...]
    reduction_keyword_prefixes: tuple[str, ...]  # scalar ops per-element with reduction="none"
    keras_inputs: frozenset[str]
    keras_models: frozenset[str]
    layer_prefixes: tuple[str, ...]
    not_layers: frozenset[str]
    linear: frozenset[str]
    scaling: frozenset[str]
    scaling_either: frozenset[str]
    list_sums: frozenset[str]
    sizes: frozenset[str]
    casts: frozenset[str]
    mixing: MixingRules
    special: dict[str, str]
    duck_backends: dict[str, str]
    keras2_modules: dict[str, str]
    tensor_methods: dict[str, str]
    string_methods: frozenset[str]
    conventional_names: dict[str, str]
    operand_keywords: tuple[str, ...]
    loss_tensor_keywords: tuple[str, ...]
    weighting_parameters: frozenset[str]
    host_calls: frozenset[str]  # calls and methods that convert a tensor to a Python value
    host_methods: frozenset[str]
    host_libraries: frozenset[str]
    # canonical names already computed: the analysis asks for the same few names again and
    # again (about 3,000 times on keras' sources)
    _canonical: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    def canonical(self, qualname: str) -> str:
        """Rewrite known aliases (`tensorflow.keras.x` -> `keras.x`, ...), one after another
        (`tf_keras.src.losses.loss.Loss` -> `keras.src.losses.loss.Loss` -> `keras.losses.Loss`)."""
        found = self._canonical.get(qualname)
        if found is None:
            found = self._canonical[qualname] = self._rewrite(qualname)
        return found

    def _rewrite(self, qualname: str) -> str:
        for _ in range(4):  # a rewrite chain is short; the bound guards against a cycle
            for prefix, replacement in self.aliases:
                if qualname == prefix or qualname.startswith(prefix + "."):
                    qualname = replacement + qualname[len(prefix) :]
                    break
            else:
                return qualname
        return qualname

    def lookup(self, qualname: str) -> Entry | None:
        entry = self.entries.get(qualname)
        if entry is not None:
            return entry
        short = qualname.rsplit(".", 1)[-1]
        if qualname.startswith(self.scalar_prefixes):
            return Entry("scalar_op", op=short)
        if qualname in self.keras_inputs:
            return Entry("keras_input", op=short)
        if self.is_layer_class(qualname):
            return Entry("layer_class", op=short)
        return None

    def is_layer_class(self, qualname: str) -> bool:
        """A Keras model or layer class: its objects map a batch to a batch."""
        if qualname in self.keras_models:
            return True
        short = qualname.rsplit(".", 1)[-1]
        return (
            qualname.startswith(self.layer_prefixes)
            and short[:1].isupper()
            and qualname not in self.not_layers
            and qualname not in self.keras_inputs
        )

    def is_framework(self, dotted: str) -> bool:
        """Whether an import of `dotted` is a framework API (read from here, never followed)."""
        return dotted.split(".", 1)[0] in self.frameworks


def _axis_entry(category: str, spec: dict[str, Any], op: str = "") -> Entry:
    return Entry(
        category,
        op=op,
        axis_position=int(spec.get("axis-position", 1)),
        default_axis=spec.get("default-axis"),
        has_default_axis="default-axis" in spec,
        delta=int(spec.get("delta", 0)),
        operands=int(spec.get("operands", 1)),
        axis_fix=spec.get("axis-fix"),
        drop_fix=spec.get("drop-fix"),
        scalar_without_axis=bool(spec.get("scalar-without-axis", False)),
        arg_reduction=bool(spec.get("arg-reduction", False)),
    )


def _mixing_rules(data: dict[str, Any]) -> MixingRules:
    names = {
        key: frozenset(data.get(key, ()))
        for key in (
            "contraction",
            "transposed-contraction",
            "tiling",
            "splitting",
            "unstacking",
            "masking",
            "batched-indexing",
            "einsum",
            "transpose",
            "constant-makers",
            "broadcasting",
        )
    }
    return MixingRules(
        contraction=names["contraction"],
        transposed_contraction=names["transposed-contraction"],
        indexing={k: int(v) for k, v in data.get("indexing", {}).items()},
        tiling=names["tiling"],
        splitting=names["splitting"],
        unstacking=names["unstacking"],
        masking=names["masking"],
        batched_indexing=names["batched-indexing"],
        einsum=names["einsum"],
        transpose=names["transpose"],
        constant_makers=names["constant-makers"],
        broadcasting=names["broadcasting"],
    )


@functools.cache
def load() -> Catalogue:
    """Load and index `catalogue.toml` once per process."""
    # next to this module (importlib.resources and what it imports: ~9 ms of a small run)
    # parsed once, kept as marshal data beside it (`toml_cache`: tomllib takes ~8 ms)
    data = toml_cache.load(os.path.join(os.path.dirname(__file__), "catalogue.toml"))
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
    for name, spec in data["counting"].items():
        entries[name] = _axis_entry("counting", {"axis-position": -1, **spec})  # -1: no axis
    for name in data["diagonal"]["names"]:
        entries[name] = Entry("diagonal", op="diagonal")
    for name in data["diagonal"]["builders"]:
        entries[name] = Entry("diagonal", op="builder")
    for name in data["loss_class"]["names"]:
        entries[name] = Entry("loss_class", op=name.rsplit(".", 1)[-1])
    for name in data["weighted_loss"]["names"]:
        entries[name] = Entry("weighted_loss", op=name.rsplit(".", 1)[-1])
    for name in data["metric_class"]["names"]:
        entries[name] = Entry("metric_class", op=name.rsplit(".", 1)[-1])
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
    # Keras 2.0-2.3 module paths (`keras.objectives`) mean the modules that replaced them
    renamed = {**data["keras2_modules"], **data["aliases"]}
    aliases = sorted(renamed.items(), key=lambda item: -len(item[0]))
    elementwise = data["elementwise"]
    return Catalogue(
        frameworks=frozenset(data["frameworks"]),
        other_frameworks=frozenset(data["other-frameworks"]),
        graph_mode=tuple(data["graph-mode"]),
        test_cases=frozenset(data["test-cases"]),
        test_modules=tuple(data["test-modules"]),
        alternative_constructors=frozenset(data["alternative-constructors"]),
        objective_calls=dict(data["loops"]["objective-calls"]),
        loop_wrappers=tuple(data["loops"]["wrappers"]),
        step_methods=tuple(data["loops"]["step-methods"]),
        training_calls=tuple(data["loops"]["training"]),
        container_fills=frozenset(data["loops"]["fills"]),
        aliases=tuple(aliases),
        entries=entries,
        loss_bases=frozenset(data["loss_class"]["base"]),
        loss_classes=frozenset(data["loss_class"]["names"]),
        loss_kept_keywords=frozenset(data["loss_class"]["kept-keywords"]),
        metric_bases=frozenset(data["loss_class"]["metric_base"]),
        function_wrappers=frozenset(data["function_wrappers"]["names"]),
        wrapper_keywords=frozenset(data["function_wrappers"]["own"]),
        scalar_prefixes=tuple(data["scalar_op"]["prefixes"]),
        reduction_keyword_prefixes=tuple(data["scalar_op"]["reduction-keyword"]),
        keras_inputs=frozenset(data["keras_tensors"]["inputs"]),
        keras_models=frozenset(data["keras_tensors"]["models"]),
        layer_prefixes=tuple(data["keras_tensors"]["layer-prefixes"]),
        not_layers=frozenset(data["keras_tensors"]["not-layers"]),
        linear=frozenset(elementwise["linear"]),
        scaling=frozenset(elementwise["scaling"]),
        scaling_either=frozenset(elementwise["scaling-either"]),
        list_sums=frozenset(elementwise["list-sums"]),
        sizes=frozenset(data["shape"]["size"]),
        casts=frozenset(data["constant"]["casts"]),
        mixing=_mixing_rules(data["batch_mixing"]),
        special=dict(data["special"]),
        duck_backends=dict(data["duck_backends"]),
        keras2_modules=dict(data["keras2_modules"]),
        tensor_methods=dict(data["tensor_methods"]),
        string_methods=frozenset(data["literal_methods"]["str"]),
        conventional_names=dict(data["conventional_names"]),
        operand_keywords=tuple(data["keywords"]["operand"]),
        loss_tensor_keywords=tuple(data["keywords"]["loss-tensors"]),
        weighting_parameters=frozenset(data["keywords"]["weighting"]),
        host_calls=frozenset(data["host_values"]["calls"]),
        host_methods=frozenset(data["host_values"]["methods"]),
        host_libraries=frozenset(data["host_values"]["libraries"]),
    )
