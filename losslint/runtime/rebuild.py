"""Definitions-only modules: rebuild a project module without running its top-level code.

Runs in the runtime worker, but imports nothing heavy (no TensorFlow), so it is tested on its
own. A module is parsed with `ast` and only these top-level statements are kept:

- imports (project modules are themselves rebuilt by `losslint.runtime.importer`);
- `def`s and classes (class bodies filtered by the same rules); decorators, defaults and base
  classes are kept only when they pass the call check below; annotations become strings
  (their source text, never evaluated);
- assignments to plain names whose value calls nothing (literals, names, attributes, operators,
  lambdas, comprehensions without calls);
- assignments whose calls all build values without I/O (`allowed_library_call`: Loss, Metric
  and layer constructors, tensor and array constructors, math; pure builtins), and the name
  called does not look like I/O or training (`fit`, `save*`, `load*`, `set_*`, ...);
- assignments that also call project definitions, only when a kept definition (or the
  compile-site expression) refers to the assigned name;
- `if`/`try` blocks, filtered recursively; docstrings;
- import-time patches of framework modules (`K.where = where`, `setattr(K, "where", where)`,
  where `K` is an imported `keras`/`tensorflow`/`tf_keras` module) whose value calls nothing
  but value-building library calls and no project code: they run as `__losslint_patch__(K,
  "where", where)`, which sets only functions and classes on framework modules and records the
  old value so that the importer can undo the patch.

Everything else is dropped: expression statements (`model.fit(...)`, `os.system(...)`,
`print(...)`), `if __name__ == "__main__":` blocks, `with`/`for`/`while` blocks, other assignments to
attributes or subscripts (`os.environ[...] = ...`), `del`, `global`, `assert`, `raise`. Each kept
statement runs in a guard: if it fails, the failure is noted (`__losslint_failed__`) and the rest
of the module still loads.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from losslint.frozen import frozen
from losslint.runtime.allowlist import (
    DENIED_CALL,
    FRAMEWORKS,
    PURE_BUILTINS,
    SAFE_LIBRARIES,
    allowed_library_call,
    canonical,
)

FAILED_NAME = "__losslint_failed__"
PATCH_NAME = "__losslint_patch__"
_NOTE_NAME = "__losslint_note__"
_EXC_NAME = "__losslint_exception__"


@frozen
class Dropped:
    """A top-level statement that was not executed, and why."""

    line: int
    reason: str
    names: tuple[str, ...] = ()


@dataclass
class Rebuilt:
    """The filtered module tree and the statements left out."""

    tree: ast.Module
    dropped: list[Dropped] = field(default_factory=list)


# -- what a statement binds and refers to --------------------------------------------------


def _target_names(target: ast.expr) -> list[str] | None:
    """Names bound by an assignment target, or None when it assigns into something else."""
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, ast.Starred):
        return _target_names(target.value)
    if isinstance(target, ast.Tuple | ast.List):
        names: list[str] = []
        for element in target.elts:
            sub = _target_names(element)
            if sub is None:
                return None
            names.extend(sub)
        return names
    return None


def _referenced(nodes: Iterable[ast.AST]) -> set[str]:
    return {n.id for node in nodes for n in ast.walk(node) if isinstance(n, ast.Name)}


def _is_main_guard(test: ast.expr) -> bool:
    if not (
        isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)
    ):
        return False
    sides = [test.left, test.comparators[0]]
    has_name = any(isinstance(s, ast.Name) and s.id == "__name__" for s in sides)
    has_main = any(isinstance(s, ast.Constant) and s.value == "__main__" for s in sides)
    return has_name and has_main


def _walk_evaluated(node: ast.AST) -> Iterator[ast.AST]:
    """Nodes evaluated when `node` is evaluated (lambda bodies are not)."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        if isinstance(current, ast.Lambda):
            stack.extend(current.args.defaults)
            stack.extend(d for d in current.args.kw_defaults if d is not None)
            continue
        stack.extend(ast.iter_child_nodes(current))


def _call_root(func: ast.expr) -> tuple[ast.expr, str]:
    """The leftmost part of a callee (`tf` in `tf.keras.losses.X`) and the called name (`X`)."""
    called = (
        func.attr
        if isinstance(func, ast.Attribute)
        else (func.id if isinstance(func, ast.Name) else "")
    )
    node = func
    while isinstance(node, ast.Attribute | ast.Subscript):
        node = node.value
    return node, called


def _dotted(func: ast.expr) -> str | None:
    """`a.b.c` for a callee made of names and attributes, else None."""
    parts: list[str] = []
    node = func
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return ".".join([node.id, *reversed(parts)])


# -- the filter -----------------------------------------------------------------------------


class _Filter:
    """Decides which top-level statements of one module are kept (see the module docstring)."""

    def __init__(
        self,
        tree: ast.Module,
        is_project_import: Callable[[str, int], bool],
        extra_roots: Iterable[str],
    ) -> None:
        self.tree = tree
        self.is_project_import = is_project_import
        self.callable_names: set[str] = set()  # names that may be called at import time
        self.origins: dict[str, str] = {}  # name bound by an import -> its dotted origin
        self.project_names: set[str] = set()  # definitions and project imports
        self.shadowed: set[str] = set()
        self.needed: set[str] = set(extra_roots)
        self.kept_assign_names: set[str] = set()
        self.dropped: list[Dropped] = []
        self._refs: dict[int, set[str]] = {}
        self._scan_bindings(tree.body)

    def _scan_bindings(self, body: Sequence[ast.stmt]) -> None:
        for stmt in body:
            if isinstance(stmt, ast.Import):
                for alias in stmt.names:
                    bound = alias.asname or alias.name.split(".")[0]
                    self.shadowed.add(bound)
                    self.origins[bound] = alias.name if alias.asname else bound
                    if self.is_project_import(alias.name, 0):
                        self.project_names.add(bound)
                    if self._safe_module(alias.name, 0):
                        self.callable_names.add(bound)
            elif isinstance(stmt, ast.ImportFrom):
                for alias in stmt.names:
                    bound = alias.asname or alias.name
                    self.shadowed.add(bound)
                    if stmt.level or self.is_project_import(stmt.module or "", 0):
                        self.project_names.add(bound)
                    else:
                        self.origins[bound] = f"{stmt.module}.{alias.name}"
                    if self._safe_module(stmt.module or "", stmt.level) or allowed_library_call(
                        f"{stmt.module}.{alias.name}"
                    ):
                        self.callable_names.add(bound)
            elif isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                self.shadowed.add(stmt.name)
                self.callable_names.add(stmt.name)
                self.project_names.add(stmt.name)
            elif isinstance(stmt, ast.If | ast.Try | ast.TryStar):
                for block in self._blocks(stmt):
                    self._scan_bindings(block)
            elif isinstance(stmt, ast.Assign | ast.AnnAssign | ast.AugAssign):
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                for target in targets:
                    self.shadowed.update(_target_names(target) or [])

    @staticmethod
    def _blocks(stmt: ast.If | ast.Try | ast.TryStar) -> list[list[ast.stmt]]:
        if isinstance(stmt, ast.If):
            return [stmt.body, stmt.orelse]
        return [stmt.body, *(h.body for h in stmt.handlers), stmt.orelse, stmt.finalbody]

    def _safe_module(self, name: str, level: int) -> bool:
        if level or self.is_project_import(name, level):
            return True
        return name.split(".")[0] in SAFE_LIBRARIES

    # -- expressions --

    def unsafe_call(self, expr: ast.AST, *, as_decorator: bool = False) -> str | None:
        """A reason why evaluating `expr` could run something other than definitions, or None.

        Every call must go to an allowed callee, and an expression that calls anything may
        only mention allowed names, so that `list(map(os.system, ...))` is refused too.
        """
        return self.classify(expr, as_decorator=as_decorator)[0]

    def classify(self, expr: ast.AST, *, as_decorator: bool = False) -> tuple[str | None, bool]:
        """(`unsafe_call`'s reason or None, whether it calls a project definition)."""
        self._calls_project = False
        problem = self._classify(expr, as_decorator)
        return problem, self._calls_project

    def _classify(self, expr: ast.AST, as_decorator: bool) -> str | None:
        calls = as_decorator
        if as_decorator and isinstance(expr, ast.Name | ast.Attribute):
            problem = self._callee_problem(expr)
            if problem:
                return problem
        mentioned: list[str] = []
        local: set[str] = set()
        callee_roots = {
            id(_call_root(n.func)[0]) for n in _walk_evaluated(expr) if isinstance(n, ast.Call)
        }
        for node in _walk_evaluated(expr):
            if isinstance(node, ast.Await | ast.Yield | ast.YieldFrom):
                return "awaits or yields"
            if isinstance(node, ast.Call):
                calls = True
                problem = self._callee_problem(node.func)
                if problem:
                    return problem
            elif (
                isinstance(node, ast.Name)
                and isinstance(node.ctx, ast.Load)
                and id(node) not in callee_roots  # checked as a callee
            ):
                mentioned.append(node.id)
            elif isinstance(node, ast.comprehension):
                local.update(_target_names(node.target) or [])
            elif isinstance(node, ast.NamedExpr):
                local.add(node.target.id)
        if calls:
            for name in mentioned:
                if name not in local and not self._may_call_name(name):
                    return f"passes `{name}` to a call"
        return None

    def _may_call_name(self, name: str) -> bool:
        return name in self.callable_names or (name in PURE_BUILTINS and name not in self.shadowed)

    def _callee_problem(self, func: ast.expr) -> str | None:
        root, called = _call_root(func)
        text = ast.unparse(func)
        if called and DENIED_CALL.match(called):
            return f"calls `{text}`"
        if isinstance(root, ast.Call | ast.Constant):
            return None  # the inner call is checked on its own; methods of literals are fine
        if not isinstance(root, ast.Name):
            return f"calls `{text}`"
        name = root.id
        if name in self.project_names:
            self._calls_project = True
            return None
        if name in self.origins:
            dotted = _dotted(func)
            if dotted is None:
                return f"calls `{text}`"
            full = self.origins[name] + dotted[len(name) :]
            if allowed_library_call(full):
                return None
            return f"calls `{text}`, which is not a value-building call without I/O"
        return None if self._may_call_name(name) else f"calls `{text}`"

    @staticmethod
    def has_call(expr: ast.AST) -> bool:
        return any(
            isinstance(n, ast.Call | ast.Await | ast.Yield | ast.YieldFrom)
            for n in _walk_evaluated(expr)
        )

    # -- statements --

    def refs(self, node: ast.AST) -> set[str]:
        """Names `node` refers to (cached: the fixpoint loop asks again and again)."""
        key = id(node)
        if key not in self._refs:
            self._refs[key] = _referenced([node])
        return self._refs[key]

    def run(self) -> list[ast.stmt]:
        """Filter the module body until the set of needed names stops growing."""
        self.needed |= _referenced(n for n in ast.walk(self.tree) if isinstance(n, ast.Lambda))
        while True:
            before = (len(self.needed), len(self.kept_assign_names), len(self.callable_names))
            self.dropped = []
            body = self.body(self.tree.body, in_class=False)
            if (len(self.needed), len(self.kept_assign_names), len(self.callable_names)) == before:
                return body

    def body(self, stmts: Sequence[ast.stmt], *, in_class: bool) -> list[ast.stmt]:
        kept: list[ast.stmt] = []
        for index, stmt in enumerate(stmts):
            new = self.stmt(stmt, in_class=in_class, first=index == 0)
            if new is not None:
                kept.append(new)
        return kept

    def _drop(self, stmt: ast.stmt, reason: str, names: Iterable[str] = ()) -> None:
        self.dropped.append(Dropped(stmt.lineno, reason, tuple(names)))

    def stmt(self, stmt: ast.stmt, *, in_class: bool, first: bool) -> ast.stmt | None:
        if isinstance(stmt, ast.Import | ast.ImportFrom | ast.Pass):
            return stmt
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            return self._function(stmt)
        if isinstance(stmt, ast.ClassDef):
            return self._class(stmt)
        if isinstance(stmt, ast.Assign | ast.AnnAssign | ast.AugAssign):
            patch = None if in_class else self._patch(stmt)
            return patch or self._assign(stmt, in_class=in_class)
        if isinstance(stmt, ast.Expr):
            if isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str):
                return stmt  # a docstring
            patch = None if in_class else self._patch(stmt)
            if patch is not None:
                return patch
            self._drop(
                stmt,
                "top-level expression"
                + (
                    f" `{ast.unparse(stmt.value)[:60]}`" if isinstance(stmt.value, ast.Call) else ""
                ),
            )
            return None
        if isinstance(stmt, ast.If):
            return self._if(stmt, in_class=in_class)
        if isinstance(stmt, ast.Try | ast.TryStar):
            return self._try(stmt, in_class=in_class)
        if hasattr(ast, "TypeAlias") and isinstance(
            stmt, ast.TypeAlias
        ):  # pragma: no cover (3.12+)
            return stmt
        bound = [
            n.id for n in ast.walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
        ]
        self._drop(stmt, f"top-level `{type(stmt).__name__.lower()}` statement", bound)
        return None

    def _function(self, stmt: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.stmt | None:
        args = stmt.args
        for default in [*args.defaults, *(d for d in args.kw_defaults if d is not None)]:
            problem = self.unsafe_call(default)
            if problem:
                self._drop(stmt, f"a default argument of `{stmt.name}` {problem}", [stmt.name])
                return None
        decorators = self._decorators(stmt)
        annotations = [
            a.annotation
            for a in (*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg)
            if a is not None and a.annotation is not None
        ]
        if stmt.returns is not None:
            annotations.append(stmt.returns)
        if annotations:  # never evaluated: a missing or unsafe type must not lose the def
            stmt = _strip_annotations(stmt)
        self.needed |= self.refs(stmt)
        return _replace(stmt, decorator_list=decorators)

    def _framework_module(self, expr: ast.expr) -> bool:
        """Whether `expr` names an imported framework module (`K`, `keras.backend`, `tf`)."""
        dotted = _dotted(expr)
        if dotted is None:
            return False
        root, _, rest = dotted.partition(".")
        if root not in self.origins or root in self.project_names:
            return False
        full = self.origins[root] + (f".{rest}" if rest else "")
        return canonical(full).split(".")[0] in FRAMEWORKS

    def _patch(
        self, stmt: ast.Assign | ast.AnnAssign | ast.AugAssign | ast.Expr
    ) -> ast.stmt | None:
        """`K.where = where` or `setattr(K, "where", where)` on a framework module, as a call
        to the patch hook; None when `stmt` is not such a patch or its value may not run."""
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target = stmt.targets[0]
            if not isinstance(target, ast.Attribute):
                return None
            module, attr, value = target.value, target.attr, stmt.value
        elif (
            isinstance(stmt, ast.Expr)
            and isinstance(stmt.value, ast.Call)
            and isinstance(stmt.value.func, ast.Name)
            and stmt.value.func.id == "setattr"
            and "setattr" not in self.shadowed
            and len(stmt.value.args) == 3
            and not stmt.value.keywords
            and isinstance(stmt.value.args[1], ast.Constant)
            and isinstance(stmt.value.args[1].value, str)
        ):
            module, value = stmt.value.args[0], stmt.value.args[2]
            attr = stmt.value.args[1].value
        else:
            return None
        if not self._framework_module(module):
            return None
        problem, calls_project = self.classify(value)
        if problem or calls_project:
            return None  # dropped by the caller as any other assignment or expression
        call = ast.Call(
            func=ast.Name(PATCH_NAME, ast.Load()),
            args=[module, ast.Constant(attr), value],
            keywords=[],
        )
        return ast.copy_location(ast.Expr(call), stmt)

    def _decorators(
        self, stmt: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
    ) -> list[ast.expr]:
        kept = []
        for decorator in stmt.decorator_list:
            problem = self.unsafe_call(decorator, as_decorator=True)
            if problem:
                self.dropped.append(
                    Dropped(decorator.lineno, f"decorator of `{stmt.name}` {problem}")
                )
            else:
                kept.append(decorator)
        return kept

    def _class(self, stmt: ast.ClassDef) -> ast.stmt | None:
        for base in [*stmt.bases, *(k.value for k in stmt.keywords)]:
            problem = self.unsafe_call(base)
            if problem:
                self._drop(stmt, f"a base of class `{stmt.name}` {problem}", [stmt.name])
                return None
        body = self.body(stmt.body, in_class=True) or [_pass(stmt)]
        self.needed |= self.refs(stmt)
        return _replace(stmt, decorator_list=self._decorators(stmt), body=body)

    def _assign(
        self, stmt: ast.Assign | ast.AnnAssign | ast.AugAssign, *, in_class: bool
    ) -> ast.stmt | None:
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        names: list[str] = []
        for target in targets:
            sub = _target_names(target)
            if sub is None:
                self._drop(stmt, f"assignment to `{ast.unparse(target)}` (not a plain name)")
                return None
            names.extend(sub)
        value = stmt.value
        if isinstance(stmt, ast.AnnAssign) and self.unsafe_call(stmt.annotation):
            if value is None:
                return None
            stmt = ast.copy_location(ast.Assign(targets=[stmt.target], value=value), stmt)
        if value is None or not self.has_call(value):
            self._keep_names(names, value)
            return stmt
        problem, calls_project = self.classify(value)
        if problem:
            self._drop(stmt, problem, names)
            return None
        if not in_class and calls_project and not (set(names) & self.needed):
            self._drop(stmt, "calls a project function and no definition needs it", names)
            return None
        self._keep_names(names, value)
        return stmt

    def _keep_names(self, names: list[str], value: ast.AST | None) -> None:
        """Note a kept assignment: what it needs, and whether its names may be called."""
        self.kept_assign_names.update(names)
        refs = self.refs(value) if value is not None else set()
        self.needed |= refs
        # `f = tf.reduce_mean` may be called later; `f = os.system` may not
        if all(self._may_call_name(r) for r in refs - set(names)):
            self.callable_names.update(names)

    def _if(self, stmt: ast.If, *, in_class: bool) -> ast.stmt | None:
        if _is_main_guard(stmt.test):
            self._drop(stmt, '`if __name__ == "__main__":` block')
            orelse = self.body(stmt.orelse, in_class=in_class)
            return _as_block(orelse, stmt)
        problem = self.unsafe_call(stmt.test)
        if problem:
            self._drop(stmt, f"`if` whose condition {problem}")
            return None
        self.needed |= self.refs(stmt.test)  # `backend = get_backend()` for `if backend == ...`
        body = self.body(stmt.body, in_class=in_class)
        orelse = self.body(stmt.orelse, in_class=in_class)
        return _replace(stmt, body=body or [_pass(stmt)], orelse=orelse)

    def _try(self, stmt: ast.Try | ast.TryStar, *, in_class: bool) -> ast.stmt | None:
        handlers = []
        for handler in stmt.handlers:
            if handler.type is not None and self.unsafe_call(handler.type):
                continue
            handlers.append(
                _replace(
                    handler, body=self.body(handler.body, in_class=in_class) or [_pass(handler)]
                )
            )
        body = self.body(stmt.body, in_class=in_class) or [_pass(stmt)]
        finalbody = self.body(stmt.finalbody, in_class=in_class)
        if not handlers and not finalbody:
            finalbody = [_pass(stmt)]
        return _replace(
            stmt,
            body=body,
            handlers=handlers,
            orelse=self.body(stmt.orelse, in_class=in_class),
            finalbody=finalbody,
        )


def _replace(node: Any, **changes: Any) -> Any:
    new = type(node)(**{name: getattr(node, name) for name in node._fields})
    for name, value in changes.items():
        setattr(new, name, value)
    return ast.copy_location(new, node)


def _pass(near: ast.AST) -> ast.stmt:
    return ast.copy_location(ast.Pass(), near)


def _as_block(stmts: list[ast.stmt], near: ast.stmt) -> ast.stmt | None:
    if not stmts:
        return None
    return ast.copy_location(ast.If(test=ast.Constant(True), body=stmts, orelse=[]), near)


def _strip_annotations(
    stmt: ast.FunctionDef | ast.AsyncFunctionDef,
) -> ast.FunctionDef | ast.AsyncFunctionDef:
    """Parameter annotations as their source text (a string is never evaluated, and argument
    search reads `List[float]`); the return annotation dropped."""
    args = stmt.args
    for arg in (*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg):
        annotation = None if arg is None else arg.annotation
        if arg is not None and annotation is not None and not isinstance(annotation, ast.Constant):
            arg.annotation = ast.copy_location(ast.Constant(ast.unparse(annotation)), annotation)
    return _replace(stmt, returns=None)


def _bound_names(stmt: ast.stmt) -> tuple[str, ...]:
    """Top-level names a kept statement binds (for messages about missing names)."""
    if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return (stmt.name,)
    if isinstance(stmt, ast.Import | ast.ImportFrom):
        return tuple(a.asname or a.name.split(".")[0] for a in stmt.names)
    return tuple(
        n.id for n in ast.walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    )


def _guard(stmt: ast.stmt) -> ast.stmt:
    """`try: <stmt> except Exception as e: __losslint_note__(line, names, e)`."""
    exc = "__losslint_exc"
    names = ast.Tuple([ast.Constant(n) for n in _bound_names(stmt)], ast.Load())
    note = ast.Expr(
        ast.Call(
            func=ast.Name(_NOTE_NAME, ast.Load()),
            args=[ast.Constant(stmt.lineno), names, ast.Name(exc, ast.Load())],
            keywords=[],
        )
    )
    handler = ast.ExceptHandler(type=ast.Name(_EXC_NAME, ast.Load()), name=exc, body=[note])
    guarded = ast.Try(body=[stmt], handlers=[handler], orelse=[], finalbody=[])
    return ast.copy_location(guarded, stmt)


def rewrite_imports(tree: ast.Module, rename: Callable[[str], str | None]) -> None:
    """Make absolute imports of module `X...` import `rename(X)...` instead (in place), binding
    the same names: a project package named like a standard-library or installed module
    (`code`, `types`, `utils`) gets a private name, and Keras 2 code's `keras` can be tf_keras."""

    def renamed(dotted: str) -> str | None:
        top, dot, rest = dotted.partition(".")
        new = rename(dotted) if dot else None
        if new is None:
            new_top = rename(top)
            new = None if new_top is None else new_top + dot + rest
        return new

    def visit(body: list[ast.stmt]) -> None:
        for index, stmt in enumerate(body):
            if isinstance(stmt, ast.Import):
                if all(renamed(alias.name) is None for alias in stmt.names):
                    continue
                out: list[ast.stmt] = []
                for alias in stmt.names:
                    new = renamed(alias.name)
                    if new is None:
                        out.append(ast.copy_location(ast.Import([alias]), stmt))
                    elif alias.asname or "." not in alias.name:
                        bound = alias.asname or alias.name
                        out.append(ast.copy_location(ast.Import([ast.alias(new, bound)]), stmt))
                    else:  # `import a.b` binds `a`: import the renamed module, bind its top
                        top, new_top = alias.name.split(".")[0], new.split(".")[0]
                        out.append(ast.copy_location(ast.Import([ast.alias(new)]), stmt))
                        bind = ast.Assign(
                            [ast.Name(top, ast.Store())], ast.Name(new_top, ast.Load())
                        )
                        out.append(ast.copy_location(bind, stmt))
                body[index] = ast.copy_location(ast.If(ast.Constant(True), out, []), stmt)
            elif isinstance(stmt, ast.ImportFrom) and not stmt.level and stmt.module:
                new = renamed(stmt.module)
                if new is not None:
                    stmt.module = new
            elif isinstance(stmt, ast.If | ast.Try | ast.TryStar):
                for block in _Filter._blocks(stmt):
                    visit(block)
            elif isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                visit(stmt.body)

    visit(tree.body)


def definitions_only(
    source: str,
    filename: str,
    is_project_import: Callable[[str, int], bool] = lambda name, level: level > 0,
    extra_roots: Iterable[str] = (),
    rename: Callable[[str], str | None] | None = None,
) -> Rebuilt:
    """The module `source` with only its definitions (see the module docstring); `rename` as in
    `rewrite_imports`."""
    tree = ast.parse(source, filename)
    if rename is not None:
        rewrite_imports(tree, rename)
    flt = _Filter(tree, is_project_import, extra_roots)
    body = flt.run()
    guarded: list[ast.stmt] = []
    for stmt in body:
        is_future = isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__"
        is_docstring = isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
        guarded.append(stmt if is_future or is_docstring else _guard(stmt))
    module = ast.Module(body=guarded, type_ignores=[])
    ast.fix_missing_locations(module)
    return Rebuilt(module, sorted(flt.dropped, key=lambda d: d.line))


@frozen
class Failed:
    """A kept top-level statement that raised while the module was rebuilt."""

    line: int
    names: tuple[str, ...]
    error: str


def prepare_namespace(
    namespace: dict[str, Any], patch: Callable[[Any, str, Any], None] | None = None
) -> list[Failed]:
    """Give a module namespace the helpers the guards and patches call; returns the failure
    list. `patch(module, name, value)` applies an import-time patch (none without it)."""
    failed: list[Failed] = []

    def no_patch(module: Any, name: str, value: Any) -> None:
        raise RuntimeError(f"import-time patch of `{name}` not applied here")

    def note(line: int, names: tuple[str, ...], exc: BaseException) -> None:
        failed.append(Failed(line, names, f"{type(exc).__name__}: {exc}"[:300]))

    namespace[FAILED_NAME] = failed
    namespace[_NOTE_NAME] = note
    namespace[_EXC_NAME] = Exception
    namespace[PATCH_NAME] = patch or no_patch
    return failed
