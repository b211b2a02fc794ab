"""Probing one loss in the runtime worker: rebuild it, call it as Keras would, report facts.

`Prober.handle` answers one job of the worker's protocol (`losslint.runtime.child`): it
rebuilds the loss from definitions-only modules (`losslint.runtime.importer`), calls it like
Keras would on synthetic batches, and reports facts (output shape, batch coupling, mean) that
`losslint.runtime.bridge` turns into verdicts. TensorFlow and Keras come from the worker.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import gc
import inspect
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from losslint.analysis.catalogue import load as load_catalogue
from losslint.runtime.allowlist import DENIED_CALL
from losslint.runtime.arguments import (
    ARGS_COMMENT,
    FRAMEWORK,
    ArgumentSet,
    candidates,
    none_parameters,
    required_parameters,
    wants_framework,
)
from losslint.runtime.compat import CompatLayer
from losslint.runtime.failures import (
    BadOutput,
    LossBuildError,
    describe,
    input_independent,
    keras2_failure,
    wants_arrays,
)
from losslint.runtime.importer import ProjectImporter, raised_in
from losslint.runtime.inputs import attempts, make_inputs, parse_shape_comment, perturb
from losslint.runtime.nested import (
    definition_at,
    ignores_first_parameter,
    nested_standalone,
    own_returns,
)
from losslint.runtime.site import SiteError, evaluate_site

_RTOL, _ATOL = 1e-5, 1e-6
MAX_ARGUMENT_SETS = 12  # argument sets tried per loss (see losslint.runtime.arguments)
__all__ = ["make_inputs", "parse_shape_comment", "perturb"]


def _close(a: Any, b: Any) -> Any:
    import numpy as np

    return np.isclose(a, b, rtol=_RTOL, atol=_ATOL, equal_nan=True)


class _NoMoreArguments(Exception):
    """Every argument set for a callable has been tried."""


class Prober:
    """Runs jobs inside the worker: rebuild, call, measure.

    `legacy`: this worker runs tf_keras (`TF_USE_LEGACY_KERAS=1`), and project code's `keras`
    imports are read as `tf_keras`. Otherwise Keras 3, and a loss whose Keras 2 calls fail is
    tried again with the compatibility layer (`keras.backend` gains the Keras 2 functions
    Keras 3 removed, from its own TensorFlow implementations)."""

    def __init__(self, tf: Any, keras: Any, legacy: bool = False) -> None:
        import numpy as np

        self.tf = tf
        self.keras = keras
        self.np = np
        self.legacy = legacy
        self.importer: ProjectImporter | None = None
        self.memory_errors: tuple[type[BaseException], ...] = (
            MemoryError,
            tf.errors.ResourceExhaustedError,
        )
        self._loss_bases = self._keras_loss_bases()
        self._layer_bases = self._keras_layer_bases()
        self._built_layers: dict[int, tuple[Any, tuple[int, ...]]] = {}
        self.mode = "tf_keras" if legacy else "3"
        self._compat = CompatLayer(tf, keras)
        self._arg_attempt = 0
        self._searched = False
        self._arguments: list[str] = []
        self._batch_parameters: list[str] = []  # given a batch like y_pred (see `measure`)
        self._arrays = False  # inputs as NumPy arrays, not tensors (see `measure`)
        self._classes = 7
        self._last_dim = 7

    def _keras_loss_bases(self) -> tuple[type, ...]:
        bases: list[type] = [self.keras.losses.Loss]
        tf_keras = sys.modules.get("tf_keras")
        if tf_keras is not None:
            bases.append(tf_keras.losses.Loss)
        return tuple(bases)

    def _keras_layer_bases(self) -> tuple[type, ...]:
        bases: list[type] = [self.keras.layers.Layer]
        tf_keras = sys.modules.get("tf_keras")
        if tf_keras is not None:
            bases.append(tf_keras.layers.Layer)
        return tuple(bases)

    # -- jobs --

    def handle(self, job: dict[str, Any]) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            result = self._handle(job)
        except self.memory_errors as exc:
            gc.collect()
            result = {"status": "memory", "error": describe(exc)}
        result.update(type="result", id=job["id"], elapsed=round(time.perf_counter() - started, 4))
        result.setdefault("keras", self.mode)
        return result

    def _handle(self, job: dict[str, Any]) -> dict[str, Any]:
        root = Path(job["root"]).resolve()
        if self.importer is None or self.importer.root != root:
            if self.importer is not None:
                self.importer.uninstall()
            aliases = {"keras": "tf_keras"} if self.legacy else None
            moved = load_catalogue().keras2_modules if self.legacy else None
            paths = [Path(p) for p in job["search_paths"]]
            self.importer = ProjectImporter(root, paths, aliases, moved)
            self.importer.install()
        self.importer.set_roots({Path(p): names for p, names in job.get("roots", {}).items()})
        self.importer.activate({Path(p): text for p, text in job.get("overrides", {}).items()})
        if self.legacy:
            modes = ["tf_keras"]
        elif job.get("keras") in ("3", "compat"):
            modes = [job["keras"]]  # a fix job runs where its probe ran
        else:
            modes = ["3", "compat"]
        result: dict[str, Any] = {}
        try:
            for mode in modes:
                self._set_mode(mode)
                result = self._attempt(job)
                result["keras"] = self.mode
                if result.get("status") == "ok" or not keras2_failure(result):
                    break
        finally:
            self.importer.undo_patches()  # `K.where = where` lasts one loss's job
        if result.get("status") != "ok" and keras2_failure(result):
            result["keras2"] = True
        return result

    def _set_mode(self, mode: str) -> None:
        """Switch between Keras 3 and the compatibility layer (modules are rebuilt)."""
        if mode == self.mode or self.legacy:
            return
        assert self.importer is not None
        self.importer.forget()
        if mode == "compat":
            self._compat.add()
        else:
            self._compat.remove()
        self.mode = mode

    def _attempt(self, job: dict[str, Any]) -> dict[str, Any]:
        """Build and call the loss, searching argument sets when it needs arguments."""
        target = job["target"]
        first: dict[str, Any] | None = None
        shapes = [tuple(s) for s in job["shapes"]]
        self._classes = self._last_dim = shapes[0][-1] if shapes else 7
        fix = job["mode"] == "fix"
        start = int(job.get("argument_attempt") or 0)  # a fix job uses its probe's arguments
        tried = 0
        for attempt in range(start, start + 1 if fix else MAX_ARGUMENT_SETS):
            self._arg_attempt, self._searched, self._arguments = attempt, False, []
            self._built_layers = {}
            try:
                fn = self.resolve(target)
            except self.memory_errors:
                raise
            except _NoMoreArguments:
                break
            except (Exception, SystemExit) as exc:
                result = {"status": "build_error", "error": self._explain(exc)}
            else:
                if fix:
                    shape = tuple(job["input_shape"])
                    result = self.measure(fn, [(shape, job["labels"])])
                else:
                    declared, source = self.hints(target)
                    result = self.measure(fn, attempts(declared, shapes, source))
            tried += 1
            if self._arguments:
                result["arguments"] = list(self._arguments)
                result["argument_attempt"] = attempt
            if first is None:
                first = result
            if result.get("status") == "ok" or not self._searched:
                return result
        assert first is not None
        if tried > 1:
            first["argument_sets"] = tried - 1
        return first

    def _explain(self, exc: BaseException) -> str:
        text = describe(exc)
        name = getattr(exc, "name", None)
        if isinstance(exc, NameError | AttributeError) and isinstance(name, str) and self.importer:
            why = self.importer.explain_missing(name, raised_in(exc))
            if why:
                text += f" ({why})"
        return text

    # -- building the callable --

    def resolve(self, target: dict[str, Any]) -> Callable[..., Any]:
        """The callable Keras would call for a target (see `LossTarget`).

        Lambdas are rebuilt from their line in the (possibly fixed) source; factories,
        partials and Loss objects from the compile-site expression when it can be evaluated
        at module level; everything else from the qualified name.
        """
        assert self.importer is not None
        kind, qualname = target["kind"], target["qualname"]
        path = Path(target["path"])
        site_expr, site_path = target.get("site_expr"), target.get("site_path")
        segments = qualname.split(".<locals>.")
        module = self.importer.load_path(path)
        line = int(target["line"])
        if kind == "lambda" and (not site_expr or site_expr.lstrip().startswith("lambda")):
            return self._as_callable(self._lambda_at(module, line), kind, qualname)
        site_error: LossBuildError | None = None
        if (
            site_expr
            and site_path
            and (kind in ("factory", "partial", "loss_class", "method") or len(segments) > 1)
        ):
            try:
                value = self._from_site(site_expr, Path(site_path), qualname)
                return self._as_callable(value, kind, qualname)
            except (_NoMoreArguments, *self.memory_errors):
                raise
            except LossBuildError as exc:
                site_error = exc
            except Exception as exc:  # the site's module or expression failed: try the name
                site_error = LossBuildError(
                    f"compile-site expression `{site_expr}` failed: {self._explain(exc)}"
                )
        try:
            value = self._by_qualname(module, segments)
        except LossBuildError as exc:
            if site_error is not None:
                raise LossBuildError(f"{site_error}; {exc}") from exc
            raise
        if len(segments) == 1 and "." not in qualname and inspect.isfunction(value):
            value = definition_at(value, line, self.importer)  # not a later one of that name
        return self._as_callable(value, kind, qualname)

    def _from_site(self, site_expr: str, site_path: Path, qualname: str) -> Any:
        assert self.importer is not None
        try:
            node = ast.parse(site_expr.strip(), mode="eval")
        except SyntaxError as exc:
            raise LossBuildError(f"cannot parse the compile-site expression `{site_expr}`") from exc
        names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
        site_module = self.importer.load_path(site_path, names)
        try:
            value = evaluate_site(site_expr, vars(site_module), self._may_call, str(site_path))
        except SiteError as exc:
            raise LossBuildError(
                f"compile-site expression `{site_expr}` not evaluated: {exc}"
            ) from exc
        return self._pick(value, qualname)

    def _may_call(self, obj: Any) -> bool:
        """Calls a compile-site expression may make: project definitions (functions, classes,
        decorated functions), `functools.partial`, Keras loss classes and functions."""
        assert self.importer is not None
        if obj is functools.partial:
            return True
        if isinstance(obj, type) and issubclass(obj, self._loss_bases):
            return True
        module = getattr(obj, "__module__", None) or ""
        if module in self.importer.loaded and not isinstance(obj, ModuleType):
            if inspect.isclass(obj):
                self._inject_framework(obj)
            return callable(obj)
        return (
            inspect.isfunction(obj)
            and module.split(".")[0] in ("keras", "tf_keras")
            and ".losses" in module
        )

    @staticmethod
    def _matches(value: Any, qualname: str) -> bool:
        wanted = re.sub(r"<lambda>@\d+", "<lambda>", qualname)
        if isinstance(value, functools.partial):
            value = value.func
        name = getattr(value, "__qualname__", None)
        if callable(value) and name == wanted:
            return True
        owner = wanted.rsplit(".", 1)[0]
        return type(value).__qualname__ == owner

    def _pick(self, value: Any, qualname: str) -> Any:
        """The element of a list/dict of losses that is the target (multi-output sites)."""
        if isinstance(value, dict):
            items = list(value.values())
        elif isinstance(value, list | tuple):
            items = list(value)
        else:
            return value
        for item in items:
            if self._matches(item, qualname):
                return item
        raise LossBuildError(f"no element of the compile-site value is `{qualname}`")

    def _by_qualname(self, module: Any, segments: list[str]) -> Any:
        value = self._top_level(module, segments[0])
        for segment in segments[1:]:
            value = self._call_factory(value, segment)
        return value

    def _top_level(self, module: Any, segment: str) -> Any:
        if segment.startswith("<lambda>@"):
            return self._lambda_at(module, int(segment.split("@", 1)[1]))
        parts = segment.split(".")
        if not hasattr(module, parts[0]):
            assert self.importer is not None
            why = self.importer.explain_missing(parts[0], getattr(module, "__file__", None))
            raise LossBuildError(
                f"`{parts[0]}` is not defined in the rebuilt module" + (f": {why}" if why else "")
            )
        value = getattr(module, parts[0])
        for part in parts[1:-1]:
            value = getattr(value, part)
        if len(parts) == 1:
            return value
        method = parts[-1]
        static = inspect.getattr_static(value, method, None)
        # a method, plain or wrapped by a decorator that binds like one (`@tf.function`)
        bindable = callable(static) and hasattr(static, "__get__")
        if inspect.isclass(value) and bindable and not isinstance(static, type | staticmethod):
            if (
                method != "__call__"
                and inspect.isfunction(static)
                and ignores_first_parameter(static)
            ):
                # `def wasserstein(self, y_true, y_pred)` never reads `self`: no instance, so
                # none of the class's constructor runs
                return functools.partial(static, None)
            instance = self._instantiate(value)  # `Class.call`: a method needs an instance
            return instance if method == "__call__" else getattr(instance, method)
        return getattr(value, method)

    def _instantiate(self, cls: type) -> Any:
        self._inject_framework(cls)
        chosen = self._pick_arguments(cls, cls.__name__, 0)
        self._instance = cls(*chosen.args, **chosen.kwargs)  # a `tf.function` method holds
        return self._instance  # its instance only weakly: kept alive here

    # -- arguments --

    def _pick_arguments(self, func: Any, name: str, skip: int) -> ArgumentSet:
        """The argument set number `_arg_attempt` for `func`'s required parameters (after the
        first `skip`), from `losslint.runtime.arguments.candidates`; none if it needs none."""
        params = required_parameters(func, skip)
        if not params:
            return ArgumentSet()
        self._searched = True
        sets = candidates(
            func,
            name,
            params,
            self._sources(),
            self._args_hint(func),
            self._classes,
            self._last_dim,
        )
        if self._arg_attempt >= len(sets):
            if self._arg_attempt == 0:
                missing = ", ".join(p.name for p in params)
                raise LossBuildError(f"`{name}` needs arguments ({missing}) and none were found")
            raise _NoMoreArguments
        chosen = sets[self._arg_attempt]
        self._arguments.append(chosen.describe(name))
        return chosen

    def _sources(self) -> list[tuple[str, str]]:
        """(file name, text) where literal calls are looked for: the project modules loaded so
        far and the other modules of their folders (read, never run)."""
        assert self.importer is not None
        paths: dict[Path, None] = {}
        for loaded in list(self.importer.loaded.values()):
            if loaded.path is not None:
                paths[loaded.path] = None
        for folder in {p.parent for p in paths}:
            with contextlib.suppress(OSError):
                for path in sorted(folder.glob("*.py"))[:100]:
                    paths.setdefault(path.resolve(), None)
        found = []
        for path in paths:
            with contextlib.suppress(OSError, ValueError):
                if path.stat().st_size < 500_000:
                    found.append((path.name, self.importer.source(path)))
        return found

    def _definition(self, obj: Any) -> tuple[ast.AST, list[str]] | None:
        """The `def`/`class` node of a project object and its module's lines."""
        assert self.importer is not None
        module = sys.modules.get(getattr(obj, "__module__", "") or "")
        filename = getattr(module, "__file__", None)
        name = getattr(obj, "__name__", None)
        if not filename or not name or module.__name__ not in self.importer.loaded:
            return None
        try:
            text = self.importer.source(Path(filename))
            tree = self.importer.tree(Path(filename))
        except (OSError, SyntaxError, ValueError):
            return None
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
                and node.name == name
            ):
                return node, text.splitlines()
        return None

    def _args_hint(self, obj: Any) -> str | None:
        """`# losslint: args=(...)` on the header lines of `obj`'s `def` or `class`."""
        found = self._definition(obj)
        if found is None:
            return None
        node, lines = found
        body = getattr(node, "body", None) or [node]
        for lineno in range(node.lineno, max(node.lineno, body[0].lineno - 1) + 1):
            if 0 < lineno <= len(lines):
                match = ARGS_COMMENT.search(lines[lineno - 1])
                if match:
                    return match.group(1)
        return None

    def _framework(self) -> dict[str, Any]:
        keras = self.keras
        return {
            "backend": keras.backend,
            "layers": keras.layers,
            "models": keras.models,
            "utils": keras.utils,
        }

    def _inject_framework(self, cls: type) -> None:
        """segmentation_models-style classes keep the framework in class attributes
        (`_backend = None` until the package's own set-up runs): set them on the rebuilt
        project class."""
        assert self.importer is not None
        modules = self._framework()
        injected = []
        for klass in cls.__mro__:
            if klass.__module__ not in self.importer.loaded:
                continue
            for name in FRAMEWORK:
                for attr in (f"_{name}", name):
                    if attr in vars(klass) and vars(klass)[attr] is None:
                        setattr(klass, attr, modules[name])
                        injected.append(attr)
        if injected:
            self._arguments.append(
                f"framework modules set on `{cls.__name__}`: " + ", ".join(sorted(set(injected)))
            )

    def _call_factory(self, factory: Any, segment: str) -> Any:
        """Call the function a nested loss lives in if it is a factory returning it (else
        `runtime.nested` builds a nested def that reads none of its locals alone)."""
        name = getattr(factory, "__qualname__", repr(factory))
        if not self._returns_nested(factory, segment):
            alone = nested_standalone(factory, segment, self.importer)
            if alone is not None:
                return alone
            raise LossBuildError(
                f"`{segment}` is nested in `{name}`, which does not return it; runtime mode "
                f"calls only factories that return the loss, and no compile site gives one"
            )
        chosen = self._pick_arguments(factory, getattr(factory, "__name__", name), 0)
        value = factory(*chosen.args, **chosen.kwargs)
        wanted = "<lambda>" if segment.startswith("<lambda>@") else segment.split(".")[0]
        # its def name counts too: `f.__name__ = "Masked MSE"` renames it for Keras' logs
        code = getattr(value, "__code__", None)
        if wanted not in (getattr(value, "__name__", None), getattr(code, "co_name", None)):
            raise LossBuildError(f"`{name}()` returned {type(value).__name__}, not `{segment}`")
        return value

    def _returns_nested(self, factory: Any, segment: str) -> bool:
        """Whether `factory`'s own body has `return <segment>` (its def name or its lambda)."""
        assert self.importer is not None
        code = getattr(factory, "__code__", None)
        if code is None or DENIED_CALL.match(getattr(factory, "__name__", "")):
            return False
        try:
            tree = self.importer.tree(self.importer.path_for(code.co_filename))
        except (OSError, SyntaxError, ValueError):
            return False
        lambda_line = int(segment.split("@", 1)[1]) if segment.startswith("<lambda>@") else None
        inner = segment.split(".")[0]
        for node in ast.walk(tree):
            if not (
                isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
                and node.name == factory.__name__
                and code.co_firstlineno in (node.lineno, *(d.lineno for d in node.decorator_list))
            ):
                continue
            for ret in own_returns(node):
                value = ret.value
                if (
                    lambda_line is not None
                    and isinstance(value, ast.Lambda)
                    and value.lineno == lambda_line
                ):
                    return True
                if lambda_line is None and isinstance(value, ast.Name) and value.id == inner:
                    return True
        return False

    def _lambda_at(self, module: Any, line: int) -> Any:
        assert self.importer is not None
        path = Path(module.__file__)
        filename = self.importer.code_filename(path)
        tree = self.importer.tree(path)
        for node in ast.walk(tree):
            if isinstance(node, ast.Lambda) and node.lineno == line:
                code = compile(ast.Expression(node), filename, "eval")
                return eval(code, vars(module))  # creates the function; runs nothing
        raise LossBuildError(f"no lambda at line {line} of {path.name}")

    def _as_callable(self, value: Any, kind: str, qualname: str) -> Callable[..., Any]:
        if inspect.isclass(value) and (
            kind == "loss_class" or qualname.endswith((".call", ".__call__"))
        ):
            value = self._instantiate(value)
        is_function = (
            inspect.isfunction(value)
            or inspect.ismethod(value)
            or isinstance(value, functools.partial)
        )
        if not is_function and qualname.endswith(".call") and hasattr(value, "call"):
            return value.call  # a Loss object: Keras runs `call` and reduces afterwards
        if not callable(value):
            raise LossBuildError(
                f"`{qualname}` evaluates to {type(value).__name__}, not a callable"
            )
        return self._with_extra_arguments(value) if is_function else value

    def _with_extra_arguments(self, fn: Any) -> Any:
        """`fn` with framework modules for `**kwargs` that reads them, and with values for
        required parameters after `y_true, y_pred` (`triplet_loss(y_true, y_pred, N)`)."""
        inner = fn.func if isinstance(fn, functools.partial) else fn
        try:
            params = inspect.signature(fn).parameters.values()
            module = sys.modules.get(inner.__module__)
            filename = getattr(module, "__file__", None)
            assert self.importer is not None
            source = self.importer.source(Path(filename)) if filename else ""
        except (OSError, TypeError, ValueError, AttributeError):
            return fn
        extra: dict[str, Any] = {}
        if any(p.kind is p.VAR_KEYWORD for p in params) and wants_framework(source):
            extra.update(self._framework())
            self._arguments.append(
                "framework modules passed as keyword arguments: "
                + ", ".join(f"{k}=keras.{k}" for k in FRAMEWORK)
            )
        chosen = self._pick_arguments(fn, getattr(inner, "__name__", "loss"), 2)
        extra.update(chosen.kwargs)
        if chosen.args:
            return functools.partial(fn, *chosen.args, **extra)  # pragma: no cover
        return functools.partial(fn, **extra) if extra else fn

    # -- hints from the source: declared shape, sparse labels --

    def hints(self, target: dict[str, Any]) -> tuple[tuple[int, ...] | None, str]:
        """A `# losslint: shape=` hint, and the source text the label kinds are chosen from
        (the outermost definition around the loss, and its compile-site expression)."""
        assert self.importer is not None
        path, line = Path(target["path"]), int(target["line"])
        try:
            text = self.importer.source(path)
            tree = self.importer.tree(path)
        except (OSError, SyntaxError, ValueError):
            return None, ""
        lines = text.splitlines()
        enclosing = [
            node
            for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda)
            and node.lineno <= line <= (node.end_lineno or node.lineno)
        ]
        enclosing.sort(key=lambda n: -n.lineno)  # innermost first
        declared = None
        for lineno in [line, *(n.lineno for n in enclosing)]:
            if 0 < lineno <= len(lines):
                declared = parse_shape_comment(lines[lineno - 1])
                if declared is not None:
                    break
        outermost = enclosing[-1] if enclosing else None
        source = ast.get_source_segment(text, outermost) if outermost is not None else ""
        return declared, f"{source or ''}\n{target.get('site_expr') or ''}"

    # -- calling --

    def _to_array(self, out: Any) -> Any:
        np = self.np
        if isinstance(out, np.ndarray | np.generic | int | float):
            return np.asarray(out)
        if isinstance(out, self.tf.Tensor | self.tf.Variable) or hasattr(out, "numpy"):
            return np.asarray(out.numpy())
        raise BadOutput(f"returned {type(out).__name__}, not a tensor")

    def _call(self, fn: Callable[..., Any], y_true: Any, y_pred: Any) -> Any:
        tf = self.tf
        if self._arrays:
            return self._to_array(fn(y_true, y_pred))
        batches = {name: tf.constant(y_pred) for name in self._batch_parameters}
        return self._to_array(fn(tf.constant(y_true), tf.constant(y_pred), **batches))

    def measure(
        self, fn: Callable[..., Any], attempts: list[tuple[tuple[int, ...], str]]
    ) -> dict[str, Any]:
        """Call `fn` on the first input that works; report output shape, coupling and mean.

        A loss that failed on a `None` its extra parameters default to (`disc_r=None`, which
        its compile site binds with `functools.partial(loss, disc_r=D(x))`, a batch of the
        model) is tried again with a batch like `y_pred` for each of them."""
        self._batch_parameters, self._arrays = [], False
        result = self._measure(fn, attempts)
        errors = " ".join(t.get("error", "") for t in result.get("tried") or [])
        if result.get("status") == "call_error" and wants_arrays(errors):
            self._arrays = True  # a NumPy score function: NumPy arrays, as it expects
            again = self._measure(fn, attempts)
            if again.get("status") != "call_error":
                self._arguments.append("y_true, y_pred as NumPy arrays (it uses array methods)")
                return again
            self._arrays = False
        names = none_parameters(fn) if "NoneType" in errors else []
        if result.get("status") != "call_error" or not names:
            return result
        self._batch_parameters = names
        again = self._measure(fn, attempts)
        if again.get("status") == "call_error":
            self._batch_parameters = []
            return result
        self._arguments.append(
            ", ".join(f"{name}=<a batch like y_pred>" for name in names)
            + " (parameters that default to None)"
        )
        return again

    def _measure(
        self, fn: Callable[..., Any], attempts: list[tuple[tuple[int, ...], str]]
    ) -> dict[str, Any]:
        tried: list[dict[str, Any]] = []
        for shape, labels in attempts:
            y_true, y_pred = make_inputs(shape, labels)
            try:
                self._build_layer(fn, tuple(y_pred.shape))
                out = self._call(fn, y_true, y_pred)
            except self.memory_errors:
                raise
            except BadOutput as exc:
                return {
                    "status": "bad_output",
                    "error": str(exc),
                    "input_shape": list(shape),
                    "labels": labels,
                }
            except (Exception, SystemExit) as exc:
                tried.append(
                    {"input_shape": list(shape), "labels": labels, "error": self._explain(exc)}
                )
                if input_independent(exc):
                    break  # the same on every input
                continue
            return self._facts(fn, out, y_true, y_pred, shape, labels, tried)
        return {"status": "call_error", "tried": tried}

    def _build_layer(self, fn: Callable[..., Any], shape: tuple[int, ...]) -> None:
        """A loss method of a project's Keras layer (a CRF's `sparse_loss`) reads the weights
        its `build` creates, and is called on that layer's output: build the layer for
        `y_pred`'s shape (again when the shape changes)."""
        inner = fn.func if isinstance(fn, functools.partial) else fn
        owner = getattr(inner, "__self__", None)
        if owner is None or not isinstance(owner, self._layer_bases):
            return
        assert self.importer is not None
        build = None
        for klass in type(owner).__mro__:
            if klass.__module__ not in self.importer.loaded:
                break
            if "build" in vars(klass):
                build = vars(klass)["build"]
                break
        built = self._built_layers.get(id(owner))
        if build is None or (built is None and getattr(owner, "built", False)):
            return  # nothing of the project's to build, or built by the project itself
        if built is not None and built[1] == shape:
            return
        build(owner, shape)  # the class's own `build`: Keras' wrapper would lock the layer
        self._built_layers[id(owner)] = (owner, shape)
        note = f"layer `{type(owner).__name__}.build({shape})` run first"
        self._arguments[:] = [
            a for a in self._arguments if not a.startswith(f"layer `{type(owner).__name__}.build(")
        ]
        self._arguments.append(note)

    def _facts(
        self,
        fn: Callable[..., Any],
        out: Any,
        y_true: Any,
        y_pred: Any,
        shape: tuple[int, ...],
        labels: str,
        tried: list[dict[str, Any]],
    ) -> dict[str, Any]:
        np = self.np
        batch = shape[0]
        lost = out.ndim == 0 or out.shape[0] != batch
        facts: dict[str, Any] = {
            "status": "ok",
            "input_shape": list(shape),
            "labels": labels,
            "output_shape": list(out.shape),
            "lost_batch": bool(lost),
            "mean": float(np.mean(out, dtype=np.float64)) if out.size else None,
            "finite": bool(np.all(np.isfinite(out))),
            "batch_coupled": None,
            "deterministic": None,
            "changed": [],
            "coupling_error": None,
            "tried": tried,
        }
        if lost:
            return facts
        try:
            again = self._call(fn, y_true, y_pred)
        except self.memory_errors:
            raise
        except (Exception, SystemExit) as exc:  # a loss that works once only
            facts["later_call_error"] = (
                f"the second call on the same batch raised {self._explain(exc)}"
            )
            return facts
        facts["deterministic"] = bool(again.shape == out.shape and np.all(_close(out, again)))
        if not facts["deterministic"]:
            return facts
        last = batch - 1
        changed: set[int] = set()
        errors = []
        classes = shape[-1]
        for which in ("y_pred", "y_true"):
            if which == "y_pred":
                inputs = (y_true, perturb(y_pred, last, None, classes))
            else:
                inputs = (perturb(y_true, last, labels, classes), y_pred)
            try:
                other = self._call(fn, *inputs)
            except self.memory_errors:
                raise
            except (Exception, SystemExit) as exc:
                errors.append(f"with {which} of sample {last} changed: {self._explain(exc)}")
                continue
            if other.shape != out.shape:
                changed.update(range(last))
                continue
            same = _close(out[:last], other[:last]).reshape(last, -1).all(axis=1)
            changed.update(int(i) for i in np.nonzero(~same)[0])
        facts["changed"] = sorted(changed)
        if len(errors) == 2:
            facts["coupling_error"] = "; ".join(errors)
        else:
            facts["batch_coupled"] = bool(changed)
        return facts
