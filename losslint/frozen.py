"""`@frozen`: losslint's immutable dataclasses, cheap to define and to create.

`@dataclass(frozen=True)` checks immutability at run time, and users pay for it: each instance
sets its fields through `object.__setattr__` (about three times slower to create than a plain
dataclass), and each class compiles two more generated methods at import. Python 3.11 compiles
every generated method on its own; losslint defines about 70 such classes, and a run on one
small file is mostly start-up.

`@frozen` makes the same dataclass (fields, `__init__`, equality, and a hash of the compared
fields) without the run-time check, and only `__init__` is compiled per class: all of them
share one `__repr__`, `__eq__` and `__hash__`, which read the compared fields through one
`operator.attrgetter` per class (as fast as the generated methods). Immutability stays a rule
of the code, checked where it costs users nothing: type checkers read `@frozen` as a frozen
dataclass (`dataclass_transform`), and with `LOSSLINT_STRICT=1`, which the test suite sets,
the classes are truly frozen, so any test that reaches an assignment to a field fails.
"""

from __future__ import annotations

import operator
import os
import reprlib
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar, dataclass_transform, overload

STRICT = os.environ.get("LOSSLINT_STRICT") == "1"

_T = TypeVar("_T", bound=type)


@reprlib.recursive_repr()
def _repr(self: Any) -> str:
    """What `@dataclass` would write: `Name(field=value, ...)`."""
    shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self) if f.repr)
    return f"{type(self).__qualname__}({shown})"


def _eq(self: Any, other: Any) -> Any:
    """`@dataclass`'s `__eq__`: the compared fields as tuples, for instances of one class."""
    if other.__class__ is self.__class__:
        key = self.__frozen_key__
        return key(self) == key(other)
    return NotImplemented


def _hash(self: Any) -> int:
    """`@dataclass`'s `__hash__`: of the tuple of the hashed fields."""
    return hash(self.__frozen_hash_key__(self))


def _no_fields(_: Any) -> tuple[()]:
    return ()


def _getter(names: list[str]) -> Any:
    """A tuple of these attributes, as a class attribute (a field alone is read twice: a
    tuple all the same, so that comparing it keeps a tuple's `is` before `==`, as a dataclass
    does)."""
    if not names:
        return staticmethod(_no_fields)
    return operator.attrgetter(*(names * 2 if len(names) == 1 else names))


@overload
def frozen(cls: _T, /) -> _T: ...


@overload
def frozen(*, eq: bool = True, order: bool = False) -> Callable[[_T], _T]: ...


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
def frozen(cls: Any = None, /, *, eq: bool = True, order: bool = False) -> Any:
    """`@dataclass(frozen=True)`, checked only under `LOSSLINT_STRICT=1`; `eq=False` compares
    (and hashes) by identity, `order=True` adds the comparisons."""

    def make(cls: _T) -> _T:
        shared = eq and not order  # `order=True` keeps the generated methods
        made = dataclass(
            cls,
            repr=False,
            eq=eq and order,
            order=order,
            frozen=STRICT,
            unsafe_hash=order and not STRICT,
        )
        if "__repr__" not in cls.__dict__:
            made.__repr__ = _repr
        if shared:
            found = fields(made)
            compared = [f.name for f in found if f.compare]
            hashed = [f.name for f in found if f.hash or (f.hash is None and f.compare)]
            made.__frozen_key__ = _getter(compared)
            made.__frozen_hash_key__ = _getter(hashed)
            own = cls.__dict__  # a class's own methods win, as with `@dataclass`
            if "__eq__" not in own:
                made.__eq__ = _eq
            if own.get("__hash__") is None:  # none, or the None that its own `__eq__` set
                made.__hash__ = _hash
        return made

    return make if cls is None else make(cls)


__all__ = ["STRICT", "frozen"]
