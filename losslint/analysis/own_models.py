"""The project's own model classes that train themselves: what they are given that Keras never
gets.

A model class may override `compile` and keep what it is given for its own `train_step`
(`super().compile()` without the loss), or take its losses in its constructor and call them
as `self.loss_fn(...)` there. The functions they keep are not Keras losses: they are that
model's training objectives, scalars by contract. `kept` records them per module, as
(file, qualified name), for the unit's objectives (engine/units.py); a compile call whose
arguments an override keeps gives Keras nothing, so its module may be a loop script
(`LossFinder.loop_script`).
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import TYPE_CHECKING

from losslint.analysis.compile_sites import (
    calls_named,
    compile_arguments,
    forwards_argument,
    given_arguments,
    is_compile_site,
)
from losslint.analysis.context import Scope
from losslint.analysis.values import ClassRef, Instance
from losslint.index.modules import FunctionNode, ModuleInfo

if TYPE_CHECKING:
    from losslint.analysis.losses import LossFinder


class OwnModels:
    """Compile overrides and constructors of the project's self-training model classes."""

    def __init__(self, finder: LossFinder) -> None:
        self.finder = finder
        self.ev = finder.ev
        self.kept: dict[Path, set[tuple[str, str]]] = finder.ev.memos.table()

    def compile_override(self, call: ast.Call, scope: Scope) -> FunctionNode | None:
        """The project's own `compile` method a compile call runs (`trainer.compile(...)` on
        an instance of a model class that overrides it), if the receiver is known."""
        if not isinstance(call.func, ast.Attribute):
            return None
        receiver = self.ev.eval_expr(call.func.value, scope)
        if not isinstance(receiver, Instance):
            return None
        found = self.ev.names.find_method(receiver.cls, "compile")
        return found[1] if found is not None else None

    def kept_by_override(self, module: ModuleInfo, call: ast.Call, scope: Scope) -> list[ast.expr]:
        """The arguments of a compile call that a model's own `compile` keeps rather than
        passes on to Keras; the functions they name are the model's."""
        override = self.compile_override(call, scope)
        if override is None:
            return []
        kept = [
            expr
            for expr, keyword in given_arguments(call)
            if not forwards_argument(override, call, expr, keyword)
        ]
        self._keep(module, kept, scope)
        return kept

    def given_to_models(self, module: ModuleInfo) -> None:
        """The functions this module gives the constructor of a model class that trains
        itself (defines or inherits `train_step`, ...) and does not compile them in its
        `__init__` (`Trainer(net, loss_fn=recon_loss)`): the module's own classes and those
        it imports."""
        text = module.source.text
        names = [node.name for node, enclosing in module.scan.classes if not enclosing]
        names += [
            name
            for name, binding in module.bindings.items()
            if binding.kind in ("import", "from") and name[:1].isupper()
        ]
        scope = self.ev.module_scope(module)
        for name in names:
            if f"{name}(" not in text:
                continue
            cls = self.ev.names.lookup(name, scope)
            if not isinstance(cls, ClassRef) or not any(
                self.ev.names.find_method(cls, step) for step in self.ev.catalogue.step_methods
            ):
                continue
            init = self.ev.names.find_method(cls, "__init__")
            own = cls.node if cls.module is module else None  # (its `class` line)
            for call, around in calls_named(module, name, own):
                kept = [
                    expr
                    for expr, keyword in given_arguments(call)
                    if not isinstance(expr, ast.Constant)  # (`Model(units=3)`: no function)
                    and (init is None or not forwards_argument(init[1], call, expr, keyword))
                ]
                if kept:
                    self._keep(module, kept, self.finder.scope_for(module, around))

    def compiles_a_loss(self, module: ModuleInfo) -> bool:
        """Whether some compile call of the module gives Keras a loss or a metric."""
        for call, enclosing in module.scan.compile_calls:
            if not is_compile_site(call):
                continue
            arguments = list(compile_arguments(call))
            if not arguments:
                continue
            override = self.compile_override(call, self.finder.scope_for(module, enclosing))
            if override is None or any(
                forwards_argument(override, call, expr, keyword) for expr, _, keyword in arguments
            ):
                return True
        return False

    def _keep(self, module: ModuleInfo, exprs: list[ast.expr], scope: Scope) -> None:
        found = self.kept.setdefault(module.path, set())
        for expr in exprs:
            found.update(
                (str(r.module.path), r.qualname) for r, _, _ in self.finder.targets(expr, scope)
            )
