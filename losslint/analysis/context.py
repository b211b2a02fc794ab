"""The state an evaluation carries: scopes, evaluated call arguments, what one analysis learnt."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from losslint.analysis.values import ArgRef, ClassRef, Value
from losslint.frozen import frozen
from losslint.index.modules import ModuleInfo


@dataclass
class Trace:
    """What one analysis of one loss learnt besides its returned values.

    `batch_level`: the loss compares or mixes samples of the batch by design (a B x B matrix,
    `y_pred[0]`, a batch statistic); such losses get no automatic fix.
    """

    batch_level: bool = False


@dataclass
class Scope:
    """The evaluation state of one function body (or of module level)."""

    module: ModuleInfo
    function: str
    trace: Trace = field(default_factory=Trace)
    env: dict[str, Value] = field(default_factory=dict)
    returns: list[tuple[Value, ast.AST]] = field(default_factory=list)
    alive: bool = True
    cls: ClassRef | None = None
    self_value: Value | None = None
    full_params: tuple[str, ...] = ()

    def mark_batch_level(self) -> None:
        self.trace.batch_level = True


@dataclass
class CallArgs:
    """Evaluated arguments of one call, with the argument nodes they came from."""

    node: ast.Call
    args: list[Value]
    kwargs: dict[str, Value]
    arg_refs: list[ArgRef]
    kwarg_refs: dict[str, ArgRef]
    starred: bool

    def get(self, position: int, *names: str) -> tuple[Value | None, ArgRef | None]:
        """The argument given by one of `names` or at `position` (keywords first)."""
        for name in names:
            if name in self.kwargs:
                return self.kwargs[name], self.kwarg_refs[name]
        if position < len(self.args):
            return self.args[position], self.arg_refs[position]
        return None, None

    def tensors(self) -> list[Value]:
        return [*self.args, *(v for k, v in self.kwargs.items() if k not in {"name", "dtype"})]


@frozen
class Param:
    name: str
    default: ast.expr | None


@frozen
class Params:
    """A signature in the order Python binds it."""

    positional: tuple[Param, ...]
    star: str | None
    keyword_only: tuple[Param, ...]
    double_star: str | None

    @staticmethod
    def of(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> Params:
        args = node.args
        positional = [*args.posonlyargs, *args.args]
        defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults))
        defaults.extend(args.defaults)
        return Params(
            positional=tuple(Param(a.arg, d) for a, d in zip(positional, defaults, strict=True)),
            star=args.vararg.arg if args.vararg is not None else None,
            keyword_only=tuple(
                Param(a.arg, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True)
            ),
            double_star=args.kwarg.arg if args.kwarg is not None else None,
        )
