"""Rebuilding a loss defined inside a function that does not return it (`def main(): def
identity_loss(y_true, y_pred): ...; model.compile(loss=identity_loss)`), without running
that function: when the nested `def` closes over none of its enclosing function's names, its
code means the same at module level, so it is compiled there alone (decorators and
annotations left out; not when a default value is computed by a call). Also: the earlier of
two module-level definitions of one name, and what a function's code says about itself (its
own `return`s, whether it reads its first parameter)."""

from __future__ import annotations

import ast
import copy
import dis
import symtable
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from losslint.runtime.importer import ProjectImporter

_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef)


def _own_defs(func: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.FunctionDef]:
    """Plain `def`s in `func`'s own body (under `if`/`with`/`try` too, not in nested defs)."""
    found: list[ast.FunctionDef] = []
    stack: list[ast.AST] = list(func.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.FunctionDef):
            found.append(node)
            continue
        if not isinstance(node, ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            stack.extend(ast.iter_child_nodes(node))
    return found


def _closes_over_nothing(source: str, filename: str, outer: ast.AST, inner: ast.AST) -> bool:
    """Whether `inner` (a def in `outer`) reads no local of an enclosing function."""
    try:
        table = symtable.symtable(source, filename, "exec")
    except (SyntaxError, ValueError):
        return False
    path = [outer, inner]
    for node in path:
        assert isinstance(node, _DEFS)
        table = next(
            (
                t
                for t in table.get_children()
                if t.get_name() == node.name and t.get_lineno() in _def_lines(node)
            ),
            None,
        )
        if table is None:
            return False
    assert isinstance(table, symtable.Function)
    return not table.get_frees()


def _def_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> set[int]:
    return {node.lineno, *(d.lineno for d in node.decorator_list)}


def standalone(
    module: ModuleType,
    source: str,
    tree: ast.Module,
    filename: str,
    outer_name: str,
    first_line: int,
    name: str,
) -> Any:
    """The function `name` defined in the function `outer_name` (first line `first_line`) of
    `module`'s `source` (parsed: `tree`), compiled at module level; None when it reads an
    enclosing local or is not there."""
    for outer in ast.walk(tree):
        if not (
            isinstance(outer, _DEFS)
            and outer.name == outer_name
            and first_line in _def_lines(outer)
        ):
            continue
        for inner in _own_defs(outer):
            if inner.name != name or not _closes_over_nothing(source, filename, outer, inner):
                continue
            return _def_alone(module, inner, filename)
    return None


def _def_alone(
    module: ModuleType, node: ast.FunctionDef | ast.AsyncFunctionDef, filename: str
) -> Any:
    """The function of a `def` node compiled alone in `module`'s namespace (decorators and
    annotations left out); None when a default value is computed by a call, which would run
    project code."""
    defaults = [*node.args.defaults, *(d for d in node.args.kw_defaults if d)]
    if any(isinstance(n, ast.Call) for d in defaults for n in ast.walk(d)):
        return None
    alone = copy.copy(node)  # every field this Python's `FunctionDef` has
    alone.args = args = copy.deepcopy(node.args)
    alone.decorator_list, alone.returns = [], None
    for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
        if arg is not None:
            arg.annotation = None  # annotations are never evaluated
    code = compile(
        ast.fix_missing_locations(ast.copy_location(ast.Module([alone], []), node)),
        filename,
        "exec",
    )
    scratch: dict[str, Any] = {}
    exec(code, vars(module), scratch)  # a `def` only: nothing of the project runs
    return scratch.get(node.name)


def definition_at(value: Any, line: int, importer: ProjectImporter | None) -> Any:
    """`value`, a module-level function; or, when the module defines its name again after the
    definition at `line` (a notebook's later cell), that earlier definition compiled alone,
    which is the one the finding (and the compile site above the later one) is about."""
    found = _source_of(value, importer)
    if found is None:
        return value
    module, _, tree, filename = found
    for node in tree.body:
        if isinstance(node, _DEFS) and node.name == value.__name__ and line in _def_lines(node):
            if value.__code__.co_firstlineno in _def_lines(node):
                return value  # the same definition
            return _def_alone(module, node, filename) or value
    return value


def _source_of(
    func: Any, importer: ProjectImporter | None
) -> tuple[ModuleType, str, ast.Module, str] | None:
    """The rebuilt module of a project function, the source it was compiled from, that
    source's tree and the file name it was compiled under."""
    code = getattr(func, "__code__", None)
    module = sys.modules.get(getattr(func, "__module__", "") or "")
    if importer is None or code is None or module is None:
        return None
    path = importer.path_for(code.co_filename)
    try:
        return module, importer.source(path), importer.tree(path), code.co_filename
    except (OSError, SyntaxError, ValueError):
        return None


def nested_standalone(factory: Any, segment: str, importer: ProjectImporter | None) -> Any:
    """The def `segment` nested in the function `factory`, if it reads none of its locals."""
    found = _source_of(factory, importer)
    if found is None or segment.startswith("<lambda>@") or "." in segment:
        return None
    module, source, tree, filename = found
    first_line = factory.__code__.co_firstlineno
    return standalone(module, source, tree, filename, factory.__name__, first_line, segment)


def own_returns(func: ast.FunctionDef | ast.AsyncFunctionDef) -> Iterator[ast.Return]:
    """`return` statements of `func` itself (not of functions nested in it)."""
    stack: list[ast.AST] = list(func.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Return):
            yield node
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            stack.extend(ast.iter_child_nodes(node))


_LOCAL_ACCESS = frozenset({"LOAD_FAST", "LOAD_FAST_CHECK", "STORE_FAST", "DELETE_FAST"})


def ignores_first_parameter(func: Any) -> bool:
    """Whether a function never reads its first parameter (`self`), nor lets an inner function
    or a zero-argument `super()` do so."""
    code = func.__code__
    if code.co_argcount == 0 or "__class__" in code.co_freevars:
        return False
    first = code.co_varnames[0]
    if first in code.co_cellvars:
        return False
    return not any(
        ins.opname in _LOCAL_ACCESS and ins.argval == first for ins in dis.get_instructions(code)
    )
