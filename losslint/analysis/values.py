"""Abstract values for batch-axis reasoning (docs/ARCHITECTURE.md describes the analysis).

Every expression in a loss body gets one of these values:

- `Batched`: still has the batch axis at position 0, with a `Rank` relative to the inputs;
- `Flat`: the batch axis was merged with others into one flat axis (`K.flatten(y_true)`);
- `Reduced`: the batch axis is gone; `origins` remember the calls that removed it;
- `Const`: never had a batch axis (literals, hyper-parameters, `K.epsilon()`);
- `Unknown`: anything the analysis cannot see (never produces a finding).

and a few reference values (functions, classes, modules, Loss objects) that calls resolve through.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import field
from typing import TYPE_CHECKING, Any, overload

from losslint.frozen import frozen

if TYPE_CHECKING:
    from losslint.index.modules import ModuleInfo

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda


@frozen(eq=False)
class ArgRef:
    """One argument of a call as written: its value node, and its keyword when it has one."""

    value: ast.expr
    keyword: str | None = None


class _NoLiteral:
    def __repr__(self) -> str:
        return "NO_LITERAL"


NO_LITERAL: Any = _NoLiteral()


class _NonBatchAxes:
    """The literal value of `range(1, ndim)`: every axis but the batch axis."""

    def __repr__(self) -> str:
        return "NON_BATCH_AXES"


NON_BATCH_AXES: Any = _NonBatchAxes()


@frozen
class Alternatives:
    """A literal that differs between control-flow paths (`-1 if c else None`)."""

    options: tuple[Any, ...]


@frozen
class Rank:
    """A tensor rank: `full - drop` relative to the inputs, an exact rank, or unknown."""

    drop: int | None = 0
    exact: int | None = None

    @property
    def known(self) -> bool:
        return self.exact is not None or self.drop is not None

    def minus(self, n: int) -> Rank:
        if self.exact is not None:
            return Rank(drop=None, exact=self.exact - n)
        if self.drop is not None:
            return Rank(drop=self.drop + n)
        return UNKNOWN_RANK

    def join(self, other: Rank) -> Rank:
        return self if self == other else UNKNOWN_RANK

    def broadcast(self, other: Rank) -> Rank:
        """The rank of an elementwise result: the larger of two ranks when comparable."""
        if self == other:
            return self
        if self.drop is not None and other.drop is not None:
            return Rank(drop=min(self.drop, other.drop))
        if self.exact is not None and other.exact is not None:
            return Rank(drop=None, exact=max(self.exact, other.exact))
        return UNKNOWN_RANK

    def axis_effect(self, axis: int) -> str:
        """Whether reducing `axis` `keeps` the batch axis, `removes` it, or it is `unknown`."""
        if axis == 0:
            return "removes"
        if axis > 0:
            return "keeps"
        if self.exact is not None:
            return "removes" if self.exact == -axis else "keeps"
        if self.drop is None:
            return "unknown"
        # Inputs have rank >= 2, so a value of rank `R - drop` reaches axis `axis` from the
        # end only if R - drop == -axis for some R >= 2.
        if self.drop - axis < 2:
            return "keeps"
        if axis == -1 and self.drop >= 1:
            return "maybe"  # rank 1 for rank-2 inputs, not for images or sequences
        return "unknown"

    @property
    def per_sample(self) -> bool:
        """Known to be already reduced below the inputs' rank (e.g. a per-sample vector)."""
        return (self.drop is not None and self.drop >= 1) or self.exact == 1


FULL_RANK = Rank(drop=0)
UNKNOWN_RANK = Rank(drop=None, exact=None)


@frozen
class FixPlan:
    """How a reducing call could be repaired, decided where the call is evaluated.

    `action` is `add_axis` / `replace_axis` (set the axis to -1), `drop_call` (replace the
    call by its operand), `reduction_none` (construct the Loss object with
    `reduction="none"`), `all_axes` (reduce over every non-batch axis).
    """

    action: str
    safe: bool
    axis_arg: ArgRef | None = field(default=None, compare=False)
    operand_arg: ArgRef | None = field(default=None, compare=False)
    ctor: ast.Call | None = field(default=None, compare=False)
    ctor_module: ModuleInfo | None = field(default=None, compare=False)


@frozen
class Origin:
    """A call that removed the batch axis: the same node reached the same way is one origin."""

    kind: str  # "reduction" | "loss_object" | "scalar_op"
    module: ModuleInfo
    node: ast.AST = field(repr=False)
    op: str
    label: str
    why: str
    function: str
    operand_full: bool = False
    plan: FixPlan | None = None
    all_axes_ref: str | None = None
    chain: tuple[tuple[ModuleInfo, ast.AST, str], ...] = field(default=(), repr=False)

    def through(self, module: ModuleInfo, call: ast.AST, callee: str) -> Origin:
        """The same origin reached through one more call (outermost call first)."""
        return Origin(
            self.kind,
            self.module,
            self.node,
            self.op,
            self.label,
            self.why,
            self.function,
            self.operand_full,
            self.plan,
            self.all_axes_ref,
            ((module, call, callee), *self.chain),
        )


@frozen
class Batched:
    """Has the batch axis. `coupled`: batch-level values were mixed into it; `mixed` keeps
    the origins of scalars broadcast into it (`per_sample + bce_object(y_true, y_pred)`)."""

    rank: Rank = FULL_RANK
    coupled: bool = False
    mixed: frozenset[Origin] = frozenset()
    from_loss: bool = False  # produced by a Keras loss: (batch,) for the common rank-2 inputs


@frozen
class Flat:
    """The batch axis merged with others into the leading axis (`K.flatten`, `x[mask]`,
    `tf.reshape(x, (-1, classes))`).

    `rank` is the number of axes (None: unknown); only the leading one holds the batch, maybe
    merged with others, so reducing it removes the batch axis whatever the inputs' rank.
    `masked` remembers a boolean-mask selection across the batch: returning such a value
    is never per-sample.
    """

    coupled: bool = False
    masked: Origin | None = None
    rank: int | None = 1

    @staticmethod
    def common_rank(values: list[Flat]) -> int | None:
        """The rank all of `values` share (None: they differ, or one is unknown)."""
        ranks = {v.rank for v in values}
        return ranks.pop() if len(ranks) == 1 else None

    def leading_axis(self, axis: int) -> bool | None:
        """Whether `axis` is the leading (batch-holding) axis; None when it cannot be told."""
        if axis == 0:
            return True
        if self.rank is None:
            return None
        return axis == -self.rank


@frozen
class Group:
    """Origins whose results were combined non-linearly (a ratio) must be fixed together."""

    origins: frozenset[Origin]
    nonlinear: bool = False


@frozen
class Reduced:
    """Lost the batch axis; a linear combination of independent groups of origins."""

    groups: frozenset[Group]

    @staticmethod
    def of(origin: Origin) -> Reduced:
        return Reduced(frozenset({Group(frozenset({origin}))}))

    @property
    def origins(self) -> frozenset[Origin]:
        return frozenset().union(*(g.origins for g in self.groups))

    def merged(self) -> Reduced:
        """After a non-linear operation every origin belongs to one group."""
        return Reduced(frozenset({Group(self.origins, nonlinear=True)}))

    def plus(self, other: Reduced) -> Reduced:
        return Reduced(self.groups | other.groups)


@frozen
class Const:
    literal: Any = NO_LITERAL
    batch_size: bool = False


@frozen
class Unknown:
    """A value of unknown shape; `tainted` when it is computed from the inputs; `stacked` when
    it is a list of batch tensors used as a tensor (the batch axis is then the second, so
    broadcasting it with a batch tensor does not keep that tensor's shape)."""

    tainted: bool = False
    stacked: bool = False


@frozen
class Symbol:
    """An external name (module, function or class): its qualified name as imported."""

    qualname: str


@frozen(eq=False)
class ModuleRef:
    module: ModuleInfo


@frozen(eq=False)
class FunctionRef:
    """A project function or lambda, with its closure and `functools.partial` bindings."""

    module: ModuleInfo
    node: FunctionNode = field(repr=False)
    qualname: str
    closure: dict[str, Value] | None = field(default=None, repr=False)
    bound_args: tuple[Value, ...] = ()
    bound_kwargs: tuple[tuple[str, Value], ...] = ()
    self_value: Value | None = None
    cls: ClassRef | None = None


@frozen(eq=False)
class ClassRef:
    module: ModuleInfo
    node: ast.ClassDef = field(repr=False)
    qualname: str


@frozen(eq=False)
class Instance:
    cls: ClassRef
    ctor: ast.Call | None = None
    ctor_module: ModuleInfo | None = None
    args: tuple[Value, ...] = ()
    kwargs: tuple[tuple[str, Value], ...] = ()


@frozen(eq=False)
class LossObject:
    """An instance of a Keras Loss class: calling it reduces unless `reduction="none"`."""

    name: str
    per_sample: bool
    ctor: ast.Call | None
    ctor_module: ModuleInfo | None
    reduction_given: bool


@frozen
class MetricObject:
    """An instance of a Keras Metric: calling it (or its `result()`) returns its running value
    over every batch seen so far, never one value per sample."""

    name: str


@frozen
class LayerObject:
    """A Keras model or layer object: called on a batch, it gives a batch."""

    name: str


@frozen
class Seq:
    items: tuple[Value, ...]


@frozen
class Mapping:
    items: tuple[Value, ...]


@frozen
class Parts:
    """A sequence of unknown length whose every element is `item`: the parts of `tf.split` /
    `tf.unstack` along a feature axis, a list grown in a loop, a comprehension."""

    item: Value


@frozen
class ShapeOf:
    """`tf.shape(x)` / `x.shape`: indexing it at 0 gives the batch size."""

    batched: bool


@frozen(eq=False)
class Choice:
    """One of several functions or objects, on paths the analysis cannot tell apart
    (`get_loss(name)` returning `dice` or `focal`): calling it may call any of them."""

    options: tuple[Value, ...]


_CHOICES = 8  # at most this many options are followed
_CALLABLES = (FunctionRef, Instance, LossObject, Choice)


def _choice(a: Value, b: Value) -> Value:
    """The join of two callables: either of them."""
    options: list[Value] = []
    for value in (a, b):
        for option in value.options if isinstance(value, Choice) else (value,):
            if not any(option is known for known in options):
                options.append(option)
    return Choice(tuple(options)) if len(options) <= _CHOICES else Unknown()


Value = (
    Batched
    | Flat
    | Reduced
    | Const
    | Unknown
    | Symbol
    | ModuleRef
    | FunctionRef
    | ClassRef
    | Instance
    | LossObject
    | MetricObject
    | LayerObject
    | Seq
    | Mapping
    | Parts
    | ShapeOf
    | Choice
)

TENSORS = (Batched, Flat, Reduced, Const, Unknown)


def tainted(value: Value) -> bool:
    """Does the value depend on the loss inputs?"""
    if isinstance(value, (Batched, Flat, Reduced)):
        return True
    if isinstance(value, Unknown):
        return value.tainted
    if isinstance(value, Seq | Mapping):
        return any(tainted(item) for item in value.items)
    if isinstance(value, Parts):
        return tainted(value.item)
    return False


@overload
def join_all(values: Iterable[Value]) -> Value | None: ...
@overload
def join_all(values: Iterable[Value], empty: Value) -> Value: ...
def join_all(values: Iterable[Value], empty: Value | None = None) -> Value | None:
    """The join of every value (`empty` when there is none): what one of them may be."""
    result: Value | None = None
    for value in values:
        result = value if result is None else join(result, value)
    return empty if result is None else result


def elements(value: Value) -> Value | None:
    """What every element of a list or sequence is (None: not a known sequence)."""
    if isinstance(value, Parts):
        return value.item
    if isinstance(value, Seq):
        return join_all(value.items)
    return None


def as_tensor(value: Value) -> Value:
    """Values used as tensors: references and shapes are constants or unknown; a list of
    batch tensors is stacked (`tf.convert_to_tensor` packs it along a new first axis), so the
    batch axis is no longer the first and the result is unknown."""
    if isinstance(value, TENSORS):
        return value
    if isinstance(value, Seq | Mapping):
        if not value.items:
            return Const()
        items = [as_tensor(item) for item in value.items]
        if isinstance(value, Seq) and any(isinstance(i, Batched | Flat) for i in items):
            return Unknown(tainted=True, stacked=True)
        result: Value = items[0]
        for item in items[1:]:
            result = combine(result, item, linear=True)
        return result
    if isinstance(value, ShapeOf):
        return Const(batch_size=value.batched)
    if isinstance(value, Parts):
        item = as_tensor(value.item)
        return Unknown(tainted=True, stacked=True) if isinstance(item, Batched | Flat) else item
    if isinstance(value, Symbol | ModuleRef | ClassRef):
        return Const()  # `tf.float32`, a module or a class used as a value
    return Unknown(tainted=False)


def literal_of(value: Value) -> Any:
    """The Python literal a value stands for (tuples for literal lists), or NO_LITERAL."""
    if isinstance(value, Const):
        return value.literal
    if isinstance(value, Seq):
        items = [literal_of(v) for v in value.items]
        return NO_LITERAL if any(i is NO_LITERAL for i in items) else tuple(items)
    return NO_LITERAL


def combine(a: Value, b: Value, *, linear: bool) -> Value:
    """The value of an elementwise operation on two operands (broadcasting)."""
    a, b = as_tensor(a), as_tensor(b)
    if isinstance(a, Unknown) or isinstance(b, Unknown):
        other = b if isinstance(a, Unknown) else a
        unknown = a if isinstance(a, Unknown) else b
        assert isinstance(unknown, Unknown)
        if isinstance(other, Batched) and not unknown.stacked:
            return other  # broadcasting with an unknown operand (a constant tensor) keeps the shape
        if isinstance(other, Flat) and not tainted(unknown):
            return other  # the same for a flattened batch, with a constant tensor
        return Unknown(tainted=tainted(a) or tainted(b))
    if isinstance(a, Reduced) and isinstance(b, Reduced):
        total = a.plus(b)
        return total if linear else total.merged()
    if isinstance(a, Reduced) or isinstance(b, Reduced):
        reduced, other = (a, b) if isinstance(a, Reduced) else (b, a)
        assert isinstance(reduced, Reduced)
        if isinstance(other, Const):
            return reduced if linear else reduced.merged()
        if isinstance(other, Batched):
            return Batched(rank=other.rank, coupled=True, mixed=other.mixed | reduced.origins)
        return Unknown(tainted=True)
    if isinstance(a, Batched) and isinstance(b, Batched):
        return Batched(
            rank=a.rank.broadcast(b.rank),
            coupled=a.coupled or b.coupled,
            mixed=a.mixed | b.mixed,
            from_loss=a.from_loss or b.from_loss,
        )
    if isinstance(a, Batched) or isinstance(b, Batched):
        batched, other = (a, b) if isinstance(a, Batched) else (b, a)
        assert isinstance(batched, Batched)
        if isinstance(other, Const):
            return batched
        return Unknown(tainted=True)
    if isinstance(a, Flat) or isinstance(b, Flat):
        if isinstance(a, Flat | Const) and isinstance(b, Flat | Const):
            masked = (a.masked if isinstance(a, Flat) else None) or (
                b.masked if isinstance(b, Flat) else None
            )
            coupled = getattr(a, "coupled", False) or getattr(b, "coupled", False)
            rank = Flat.common_rank([v for v in (a, b) if isinstance(v, Flat)])
            return Flat(coupled=coupled, masked=masked, rank=rank)
        return Unknown(tainted=True)
    assert isinstance(a, Const) and isinstance(b, Const)
    return Const(batch_size=a.batch_size or b.batch_size)


def nonlinear(value: Value) -> Value:
    """Apply a non-linear elementwise function (sqrt, log, ...)."""
    value = as_tensor(value)
    if isinstance(value, Reduced):
        return value.merged()
    if isinstance(value, Const):
        return Const(batch_size=value.batch_size)
    return value


def join(a: Value, b: Value) -> Value:
    """Merge the values a name or a return can have on two control-flow paths.

    A batch-reduced value on any path wins: that path is a real bug.
    """
    if a is b or a == b:
        return a
    if isinstance(a, Reduced) and isinstance(b, Reduced):
        return a.plus(b)
    if isinstance(a, Reduced):
        return a
    if isinstance(b, Reduced):
        return b
    if isinstance(a, _CALLABLES) or isinstance(b, _CALLABLES):
        if isinstance(a, _CALLABLES) and isinstance(b, _CALLABLES):
            return _choice(a, b)
        # a path that returns None instead (`else: print("unknown loss")`) gives no callable
        other, callable_ = (b, a) if isinstance(a, _CALLABLES) else (a, b)
        if isinstance(other, Const) and other.literal is None:
            return callable_
        return Unknown()
    if isinstance(a, Batched) and isinstance(b, Batched):
        return Batched(
            rank=a.rank.join(b.rank), coupled=a.coupled or b.coupled, mixed=a.mixed | b.mixed
        )
    if isinstance(a, Batched) and isinstance(b, Const):
        return a
    if isinstance(b, Batched) and isinstance(a, Const):
        return b
    literal_a, literal_b = literal_of(a), literal_of(b)
    if (
        isinstance(a, Seq)
        and isinstance(b, Seq)
        and len(a.items) == len(b.items)
        and (literal_a is NO_LITERAL or literal_b is NO_LITERAL)
    ):
        # tensors stay per position; literal lists (axes) stay whole: `[1, 2] if c else [2, 3]`
        return Seq(tuple(join(x, y) for x, y in zip(a.items, b.items, strict=True)))
    if (
        isinstance(a, Seq | Parts)
        and isinstance(b, Seq | Parts)
        and (literal_a is NO_LITERAL or literal_b is NO_LITERAL)
    ):
        # a list that grows in a loop: its length is unknown, every element is one of these
        items = [x for x in (elements(a), elements(b)) if x is not None]
        return Parts(join_all(items, Unknown()))
    if (
        isinstance(a, Seq | Const)
        and isinstance(b, Seq | Const)
        and (isinstance(a, Seq) or isinstance(b, Seq))
    ):
        a, b = Const(literal=literal_of(a)), Const(literal=literal_of(b))
    if isinstance(a, Const) and isinstance(b, Const):
        if a.literal is NO_LITERAL or b.literal is NO_LITERAL:
            literal: Any = NO_LITERAL
        else:
            options = tuple(
                dict.fromkeys(
                    [
                        *(
                            a.literal.options
                            if isinstance(a.literal, Alternatives)
                            else (a.literal,)
                        ),
                        *(
                            b.literal.options
                            if isinstance(b.literal, Alternatives)
                            else (b.literal,)
                        ),
                    ]
                )
            )
            literal = options[0] if len(options) == 1 else Alternatives(options)
        return Const(literal=literal, batch_size=a.batch_size or b.batch_size)
    return Unknown(tainted=tainted(a) or tainted(b))
