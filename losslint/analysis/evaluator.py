"""The evaluator: abstract interpretation of loss bodies. Does each returned value keep the batch
axis?

A thin facade over the parts, each in its own module: `names` (module bindings, imports,
classes), `expressions`, `truth` (static conditions), `calls` (parameter binding, project
functions, Loss objects), `statements` (control flow) and `transfer` (what catalogued
TensorFlow / Keras calls do to the batch axis). One evaluator serves one engine session; its
memos are keyed by the session's parsed modules and their nodes. It never imports TensorFlow.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence

from losslint.analysis import catalogue as catalogue_mod
from losslint.analysis.calls import Calls, is_generator
from losslint.analysis.context import Params, Scope, Trace
from losslint.analysis.expressions import Expressions
from losslint.analysis.memos import Memos
from losslint.analysis.names import Names
from losslint.analysis.statements import Statements
from losslint.analysis.transfer.common import mixing
from losslint.analysis.truth import truth
from losslint.analysis.values import Batched, FunctionRef, Value
from losslint.frozen import frozen
from losslint.index.modules import ModuleInfo
from losslint.index.project import ProjectIndex


@frozen
class LossAnalysis:
    """Every value a loss can return (with the node returning it), and what the trace learnt."""

    returns: tuple[tuple[Value, ast.AST], ...]
    batch_level: bool


class Evaluator:
    """Evaluates the functions of one project."""

    def __init__(self, index: ProjectIndex) -> None:
        self.index = index
        self.catalogue = catalogue_mod.load()
        self.memos = Memos()
        self.closures: dict[ast.AST, dict[str, Value]] = self.memos.table()
        self._params: dict[ast.AST, Params] = self.memos.table()
        self.names = Names(self)
        self.exprs = Expressions(self)
        self.calls = Calls(self)
        self.stmts = Statements(self)

    # -- the facade the parts use -----------------------------------------------------------

    def eval_expr(self, expr: ast.expr, scope: Scope) -> Value:
        return self.exprs.eval(expr, scope)

    def truth(self, test: ast.expr, scope: Scope) -> bool | None:
        return truth(self, test, scope)

    def mixing(self, values: Sequence[Value], scope: Scope) -> Value:
        return mixing(values, scope)

    def params(self, node: ast.AST) -> Params:
        found = self._params.get(node)
        if found is None:
            assert isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            found = self._params[node] = Params.of(node)
        return found

    @staticmethod
    def module_scope(module: ModuleInfo) -> Scope:
        """Module level: what happens there is no loss's business (a trace of its own)."""
        return Scope(module=module, function="<module>")

    # -- entry points -------------------------------------------------------------------------

    def analyze_loss(self, ref: FunctionRef) -> LossAnalysis:
        """Evaluate a loss called as Keras calls it, `fn(y_true, y_pred)` on batched inputs."""
        self.calls.reset()
        node = ref.node
        scope = Scope(
            module=ref.module,
            function=ref.qualname,
            trace=Trace(),
            env=dict(ref.closure or {}),
            cls=ref.cls,
            self_value=ref.self_value,
        )
        bound = list(ref.bound_args)
        taken = self.calls.bind(ref, [*bound, Batched(), Batched()], dict(ref.bound_kwargs), scope)
        if taken < len(bound) + 2:
            return LossAnalysis(returns=(), batch_level=False)
        if isinstance(node, ast.AsyncFunctionDef) or (
            not isinstance(node, ast.Lambda) and is_generator(node, ref.module.lines)
        ):
            return LossAnalysis(returns=(), batch_level=False)
        try:
            self.calls.run(ref, scope)
        finally:
            self.calls.reset()
        return LossAnalysis(returns=tuple(scope.returns), batch_level=scope.trace.batch_level)

    def run_body(self, node: ast.FunctionDef | ast.AsyncFunctionDef, scope: Scope) -> None:
        """Run a function body in a scope whose parameters are already bound."""
        self.stmts.block(node.body, scope)
