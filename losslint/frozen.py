"""`@frozen`: losslint's immutable dataclasses, cheap to define and to create.

`@dataclass(frozen=True)` checks immutability at run time, and users pay for it: each instance
sets its fields through `object.__setattr__` (about three times slower to create than a plain
dataclass), and each class compiles two more generated methods at import. Python 3.11 compiles
every generated method on its own; losslint defines about 70 such classes, and a run on one
small file is mostly start-up.

`@frozen` makes the same dataclass (fields, `__init__`, equality, and a hash of the compared
fields) without the run-time check, and all of them share one `__repr__` instead of compiling
one each. Immutability stays a rule of the code, checked where it costs users nothing: type
checkers read `@frozen` as a frozen dataclass (`dataclass_transform`), and with
`LOSSLINT_STRICT=1`, which the test suite sets, the classes are truly frozen, so any test that
reaches an assignment to a field fails.
"""

from __future__ import annotations

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


@overload
def frozen(cls: _T, /) -> _T: ...


@overload
def frozen(*, eq: bool = True, order: bool = False) -> Callable[[_T], _T]: ...


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
def frozen(cls: Any = None, /, *, eq: bool = True, order: bool = False) -> Any:
    """`@dataclass(frozen=True)`, checked only under `LOSSLINT_STRICT=1`; `eq=False` compares
    (and hashes) by identity, `order=True` adds the comparisons."""

    def make(cls: _T) -> _T:
        made = dataclass(
            cls, repr=False, eq=eq, order=order, frozen=STRICT, unsafe_hash=eq and not STRICT
        )
        if "__repr__" not in cls.__dict__:
            made.__repr__ = _repr
        return made

    return make if cls is None else make(cls)


__all__ = ["STRICT", "frozen"]
