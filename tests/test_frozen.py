"""`@frozen` (losslint/frozen.py): the same dataclasses as `@dataclass(frozen=True)`, truly
frozen under `LOSSLINT_STRICT=1` (the test suite), without the run-time check otherwise."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from losslint import frozen as frozen_module
from losslint.analysis.values import Const, Unknown
from losslint.frozen import frozen


@frozen
class Point:
    x: int
    y: Any = None
    note: str = dataclasses.field(default="", repr=False, compare=False)


@dataclasses.dataclass(frozen=True)
class StdPoint:
    x: int
    y: Any = None
    note: str = dataclasses.field(default="", repr=False, compare=False)


@frozen(eq=False)
class Handle:
    name: str


@frozen(order=True)
class Version:
    major: int
    minor: int = 0


def test_strict_mode_follows_the_environment() -> None:
    assert (os.environ.get("LOSSLINT_STRICT") == "1") == frozen_module.STRICT


def _run(script: str, strict: bool) -> Any:
    """Run `script` in a new interpreter, with or without `LOSSLINT_STRICT=1`; its JSON."""
    env = {k: v for k, v in os.environ.items() if k != "LOSSLINT_STRICT"}
    if strict:
        env["LOSSLINT_STRICT"] = "1"
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


def test_strict_mode_refuses_assignments() -> None:
    """Under `LOSSLINT_STRICT=1` (the test suite) a field cannot be set or deleted."""
    script = """
        import dataclasses, json
        from losslint.analysis.values import Const, Symbol
        refused = []
        for value, name in ((Const(3), "literal"), (Symbol("tf.reduce_mean"), "qualname")):
            for change in (lambda: setattr(value, name, 4), lambda: delattr(value, name)):
                try:
                    change()
                except dataclasses.FrozenInstanceError:
                    refused.append(name)
        print(json.dumps(refused))
        """
    assert _run(script, strict=True) == ["literal", "literal", "qualname", "qualname"]


def test_same_behaviour_as_a_frozen_dataclass() -> None:
    ours, theirs = Point(1, [2, (3, "a")], note="x"), StdPoint(1, [2, (3, "a")], note="x")
    assert repr(ours) == repr(theirs).replace("StdPoint", "Point") == "Point(x=1, y=[2, (3, 'a')])"
    assert Point(1, 2, note="a") == Point(1, 2, note="b") != Point(2, 2)
    assert hash(Point(1, (2,))) == hash(StdPoint(1, (2,))) == hash((1, (2,)))
    assert len({Const(1), Const(1), Const(2), Unknown(), Unknown(tainted=True)}) == 4
    assert dataclasses.replace(Point(1, 2), y=5) == Point(1, 5)
    assert dataclasses.is_dataclass(Const) and [f.name for f in dataclasses.fields(Point)] == [
        "x",
        "y",
        "note",
    ]
    first, second = Handle("a"), Handle("a")
    assert first != second and first == first and len({first, second}) == 2
    assert sorted([Version(2), Version(1, 5), Version(1)]) == [
        Version(1),
        Version(1, 5),
        Version(2),
    ]


def test_recursive_values_print() -> None:
    looped = Point(1, [])
    looped.y.append(looped)
    assert repr(looped) == "Point(x=1, y=[...])"


def test_without_strict_mode_the_classes_are_plain_and_equal() -> None:
    """What users run: no per-class `__setattr__`, and the same equality, hashing and repr."""
    script = """
        import json
        from losslint import frozen
        from losslint.analysis.values import Const, Symbol
        from losslint.model import Diagnostic
        a, b = Const(1), Const(1)
        print(json.dumps({
            "strict": frozen.STRICT,
            "plain": all(c.__setattr__ is object.__setattr__ for c in (Const, Symbol, Diagnostic)),
            "equal": a == b and hash(a) == hash(b) and a is not b,
            "repr": repr(Symbol("tf.reduce_mean")),
        }))
        """
    assert _run(script, strict=False) == {
        "strict": False,
        "plain": True,
        "equal": True,
        "repr": "Symbol(qualname='tf.reduce_mean')",
    }


@frozen
class Empty:
    pass


@frozen
class One:
    value: Any


@frozen
class Tagged(One):
    tag: str = dataclasses.field(default="", hash=False)


@dataclasses.dataclass(frozen=True)
class StdOne:
    value: Any


@dataclasses.dataclass(frozen=True)
class StdTagged(StdOne):
    tag: str = dataclasses.field(default="", hash=False)


def test_equality_and_hashing_match_the_generated_methods() -> None:
    """The shared `__eq__` and `__hash__` answer as `@dataclass`'s generated ones: a field
    alone compares as a tuple (its `is` before `==`: a NaN equals itself), no field compares
    equal, `compare=False` and `hash=False` fields are left out, subclasses compare their own
    fields and never equal their base."""
    nan = float("nan")
    for ours, std in ((One, StdOne), (Tagged, StdTagged)):
        assert (ours(nan) == ours(nan)) is (std(nan) == std(nan)) is True
        assert (ours([1]) == ours([1])) is (std([1]) == std([1])) is True
        assert (ours(1) == ours(2)) is (std(1) == std(2)) is False
        assert ours(1).__eq__(1) is NotImplemented
    assert Empty() == Empty() and hash(Empty()) == hash(Empty())
    assert Tagged(1, "a") != Tagged(1, "b") and hash(Tagged(1, "a")) == hash(Tagged(1, "b"))
    assert StdTagged(1, "a") != StdTagged(1, "b")
    assert Tagged(1) != One(1) and One(1) != Tagged(1)
    assert len({One(1), One(1), One((1, 2)), Tagged(1)}) == 3
    with pytest.raises(TypeError, match="unhashable"):
        hash(One([1]))


@frozen
class Loose:
    value: int

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Loose) and abs(self.value - other.value) < 2

    def __hash__(self) -> int:
        return 0


@frozen
class LooseEq:
    value: int

    def __eq__(self, other: object) -> bool:
        return True


def test_a_class_s_own_methods_win() -> None:
    assert Loose(1) == Loose(2) != Loose(4) and hash(Loose(5)) == 0
    assert LooseEq(1) == LooseEq(9) and hash(LooseEq(3)) == hash(LooseEq(3))  # hashable
