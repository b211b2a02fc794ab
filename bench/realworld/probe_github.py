"""Run the GitHub corpus' loss-like functions under TensorFlow and record their output shapes.

    /work/venv-probe/bin/python bench/realworld/probe_github.py               # every enumerated row
    /work/venv-probe/bin/python bench/realworld/probe_github.py --repo owner/name
    /work/venv-probe/bin/python bench/realworld/probe_github.py --manifest    # rows of github.tsv

For each file the harness executes, in a fresh namespace, only the module-level definitions a
function may need: imports, ``def``/``class`` statements and assignments whose right-hand side
calls nothing but TensorFlow/Keras/numpy/builtins constructors (no data loading, no training,
no model building). Every statement runs on its own; one that fails is left out. The function is
then built the way Keras would call it:

* ``name``: the module-level function (its decorators are left out: ``tf.function``,
  ``torch.compile``, ``jax.jit`` do not change the rank);
* ``Class.call``: ``Class()`` (default arguments), then ``instance.call(y_true, y_pred)``;
* ``Class.__call__``: ``Class()(y_true, y_pred)``; any other method: ``getattr(Class(), name)``;
* ``outer.<locals>.inner``: ``outer`` called with its default arguments must return ``inner``;
* ``<lambda>@LINE``: the lambda expression at that line, evaluated in the module namespace.

Inputs are float32 in (0.05, 0.95) with batch 5 and no other dimension of 5, tried in order:
(5, 7), (5, 8, 8, 3), (5, 8, 8, 1), (5, 6, 4), then sparse int32 labels in [0, 7) of shape (5,)
against (5, 7) and (5, 6) against (5, 6, 7); the first shapes the function accepts are kept. A
leading 5 in the output means the batch axis was kept. TF1 names missing from ``tf``
(``tf.log``, ``tf.to_float``) are taken from ``tf.compat.v1``. When no attempt works, the same
attempts are made with the arguments swapped, for (prediction, truth) signatures such as
``cross_entropy(x, y)``. Extra required parameters get a tensor of
``y_pred``'s shape (noted as ``+extra``). Keras-2 repositories run with ``TF_USE_LEGACY_KERAS=1``
and ``keras`` aliased to ``tf_keras``; Keras-3 repositories run with keras 3; repositories with
both styles run under Keras 3, then under Keras 2 for the rows that failed. One subprocess per
repository; 60 s per function. Results go to ``.cache/github_probe.tsv`` (and stdout).
"""

from __future__ import annotations

import argparse
import ast
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / ".cache" / "github_probe.tsv"
SHAPES = [(5, 7), (5, 8, 8, 3), (5, 8, 8, 1), (5, 6, 4)]
# then sparse integer labels: y_true (5,) with y_pred (5, 7), and y_true (5, 6) with (5, 6, 7)
SPARSE = [((5,), (5, 7)), ((5, 6), (5, 6, 7))]
SAFE_CALL_ROOTS = {
    "tf", "tensorflow", "K", "keras", "kb", "backend", "np", "numpy", "ops", "math",
    "float", "int", "str", "list", "dict", "tuple", "set", "len", "range", "object",
    "losses", "metrics", "tfa", "partial", "functools", "namedtuple", "collections",
}  # fmt: skip
UNSAFE_WORDS = ("load", "read", "open", "fit", "download", "datasets", "Model", "Sequential",
                "Input", "predict", "train", "glob", "listdir", "compile", "Checkpoint", "get_file",
                "request", "url", "input", "sleep", "save", "write", "show")  # fmt: skip


# ----------------------------------------------------------------------------- child side


def _dotted(node: ast.expr) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def _safe_assignment(node: ast.stmt) -> bool:
    value = getattr(node, "value", None)
    if value is None:
        return False
    for sub in ast.walk(value):
        if isinstance(sub, ast.Call):
            name = _dotted(sub.func)
            if not name or name.split(".")[0] not in SAFE_CALL_ROOTS:
                return False
            if any(word in name for word in UNSAFE_WORDS):
                return False
    return True


def _definitions(tree: ast.Module) -> list[ast.stmt]:
    """The module-level statements worth executing (see the module docstring)."""
    keep: list[ast.stmt] = []
    for node in tree.body:
        if (
            isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef))
            or (isinstance(node, (ast.Assign, ast.AnnAssign)) and _safe_assignment(node))
            or isinstance(node, ast.Try)
        ):
            keep.append(node)
    return keep


def _install_keras2_alias() -> None:
    """Make ``import keras...`` resolve to tf_keras (Keras 2), as old code expects."""
    import importlib
    import importlib.abc
    import importlib.util

    import tf_keras

    renames = {"objectives": "losses", "engine": "src.engine"}

    class Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
        def find_spec(self, name, path=None, target=None):
            if name != "keras" and not name.startswith("keras."):
                return None
            return importlib.util.spec_from_loader(name, self)

        def create_module(self, spec):
            rest = spec.name[len("keras") :].lstrip(".")
            head, _, tail = rest.partition(".")
            head = renames.get(head, head)
            rest = ".".join(p for p in (head, tail) if p)
            for prefix in ("tf_keras", "tf_keras.src"):
                target = f"{prefix}.{rest}" if rest else prefix
                try:
                    return importlib.import_module(target)
                except ImportError:
                    continue
            raise ImportError(spec.name)

        def exec_module(self, module):
            return None

    for name in [n for n in sys.modules if n == "keras" or n.startswith("keras.")]:
        del sys.modules[name]
    sys.meta_path.insert(0, Alias())
    sys.modules["keras"] = tf_keras


def _read(path: Path) -> str:
    if path.suffix == ".ipynb":
        sys.path.insert(0, str(HERE))
        from enumerate_github import notebook_source

        return notebook_source(path)
    return path.read_text(encoding="utf-8", errors="replace")


def _namespace(root: Path, rel: str, tree: ast.Module) -> dict:
    path = root / rel
    sys.path[:0] = [str(path.parent), str(root)]
    module_name = rel[: -len(path.suffix)].replace("/", ".")
    namespace: dict = {"__name__": module_name, "__file__": str(path)}
    if "." in module_name:
        namespace["__package__"] = module_name.rsplit(".", 1)[0]
    for node in _definitions(tree):
        code = compile(ast.Module(body=[node], type_ignores=[]), str(path), "exec")
        try:
            exec(code, namespace)
        except BaseException:
            continue
    return namespace


NATURAL = {  # values for required parameters without a default; see the module docstring
    "from_logits": False, "gamma": 2.0, "alpha": 0.25, "beta": 0.5, "smooth": 1.0,
    "margin": 1.0, "temperature": 0.1, "k": 3, "delta": 1.0, "eps": 1e-7, "epsilon": 1e-7,
    "weights": None, "class_weights": None, "reduction": "none", "name": None,
}  # fmt: skip
USED: list[str] = []


def _call_defaults(fn, tf, example, given=()):
    """Call ``fn`` with its default arguments, giving required ones a natural value.

    The first parameters take ``given`` (y_true, y_pred); ``num_classes``-like parameters get the last dimension of the inputs, names in ``NATURAL``
    their value there, anything else a tensor shaped like the inputs.
    """
    import inspect

    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return fn()
    kwargs = {}
    for index, (name, param) in enumerate(signature.parameters.items()):
        if index < len(given):
            kwargs[name] = given[index]
        elif param.default is inspect.Parameter.empty and param.kind in (
            param.POSITIONAL_ONLY,
            param.POSITIONAL_OR_KEYWORD,
        ):
            if name in ("num_classes", "n_classes", "classes", "nb_classes", "n_class"):
                kwargs[name] = int(example.shape[-1])
            elif name in NATURAL:
                kwargs[name] = NATURAL[name]
            else:
                kwargs[name] = example
            USED.append(
                f"{name}={kwargs[name] if not hasattr(kwargs[name], 'shape') else 'tensor'}"
            )
    return fn(**kwargs)


def _build(namespace: dict, tree: ast.Module, function: str, tf, example):
    """The callable Keras would call for ``function`` (see the module docstring)."""
    if function.startswith("<lambda>@"):
        line = int(function.split("@")[1])
        for node in ast.walk(tree):
            if isinstance(node, ast.Lambda) and node.lineno == line:
                return eval(compile(ast.Expression(node), "<lambda>", "eval"), namespace)
        raise LookupError(function)
    parts = function.split(".")
    obj = namespace[parts[0]]
    i = 1
    while i < len(parts):
        part = parts[i]
        if part == "<locals>":
            inner = parts[i + 1]
            result = _call_defaults(obj, tf, example)
            candidates = result if isinstance(result, (list, tuple)) else [result]
            found = [c for c in candidates if getattr(c, "__name__", None) == inner]
            if not found:
                raise LookupError(f"{'.'.join(parts[:i])}() did not return {inner}")
            obj = found[0]
            i += 2
            continue
        if isinstance(obj, type):
            attr = obj.__dict__.get(part)
            if isinstance(attr, staticmethod):
                obj = attr.__func__
            else:
                instance = _call_defaults(obj, tf, example)
                obj = instance if part == "__call__" else getattr(instance, part)
        else:
            obj = getattr(obj, part)
        i += 1
    return obj


def _shape(value) -> str:
    shape = getattr(value, "shape", None)
    if shape is None:
        if isinstance(value, (int, float)):
            return "()"
        if isinstance(value, (list, tuple)) and value:
            return "tuple:" + _shape(value[0])
        return f"<{type(value).__name__}>"
    return "(" + ", ".join("None" if d is None else str(d) for d in tuple(shape)) + ")"


def run_child(root: Path, rows: list[dict[str, str]]) -> None:
    """Probe the rows of one repository; print one JSON object per row."""
    import signal

    if os.environ.get("TF_USE_LEGACY_KERAS") == "1":
        _install_keras2_alias()
    import numpy as np
    import tensorflow as tf

    # TF1 names (tf.log, tf.to_float, tf.diag_part, ...) that old code calls eagerly
    for name in dir(tf.compat.v1):
        if not name.startswith("_") and not hasattr(tf, name):
            setattr(tf, name, getattr(tf.compat.v1, name))
    rng = np.random.default_rng(0)

    def alarm(signum, frame):
        raise TimeoutError("over 60 s")

    signal.signal(signal.SIGALRM, alarm)
    by_path: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_path.setdefault(row["path"], []).append(row)
    for rel, path_rows in by_path.items():
        saved_path = list(sys.path)
        try:
            tree = ast.parse(_read(root / rel))
            namespace = _namespace(root, rel, tree)
        except BaseException as error:
            for row in path_rows:
                print(json.dumps({**row, "verdict": "error", "detail": f"module: {error!r}"}))
            continue
        for row in path_rows:
            result = {**row, "verdict": "error", "detail": "", "inputs": "", "output": ""}
            errors = []
            attempts = [(shape, shape, False, False) for shape in SHAPES]
            attempts += [(true, pred, True, False) for true, pred in SPARSE]
            attempts += [(*attempt[:3], True) for attempt in attempts]  # (prediction, truth)
            for true_shape, shape, sparse, swap in attempts:
                if sparse:
                    y_true = tf.constant(rng.integers(0, 7, true_shape), dtype=tf.int32)
                else:
                    y_true = tf.constant(rng.uniform(0.05, 0.95, shape), dtype=tf.float32)
                y_pred = tf.constant(rng.uniform(0.05, 0.95, shape), dtype=tf.float32)
                signal.alarm(60)
                USED.clear()
                try:
                    fn = _build(namespace, tree, row["function"], tf, y_pred)
                    if swap:
                        y_true, y_pred = y_pred, y_true
                    try:
                        value = fn(y_true, y_pred)
                        extra = ""
                    except TypeError as error:
                        if "missing" not in str(error):
                            raise
                        value = _call_defaults(fn, tf, y_pred, given=(y_true, y_pred))
                        extra = "+extra"
                    out = _shape(value)
                except BaseException as error:
                    errors.append(f"{shape}: {type(error).__name__}: {str(error)[:120]}")
                    continue
                finally:
                    signal.alarm(0)
                verdict = (
                    "scalar" if out == "()" else "per-sample" if out.startswith("(5") else "other"
                )
                note = f" needs {', '.join(dict.fromkeys(USED))}" if USED else ""
                inputs = f"{true_shape} int, {shape}" if sparse else f"{shape}"
                inputs = f"swapped {inputs}" if swap else inputs
                result.update(verdict=verdict, inputs=inputs + extra, output=out, detail=note)
                break
            else:
                result["detail"] = " | ".join(errors)[:400]
            print(json.dumps(result), flush=True)
        sys.path[:] = saved_path


# ----------------------------------------------------------------------------- parent side


def load_rows(use_manifest: bool) -> list[dict[str, str]]:
    if use_manifest:
        with open(HERE / "github.tsv", newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    proc = subprocess.run(
        [sys.executable, str(HERE / "enumerate_github.py")],
        capture_output=True,
        text=True,
        check=True,
    )
    keys = ["repo", "commit", "path", "function", "line", "why", "params", "uses"]
    return [dict(zip(keys, line.split("\t"), strict=True)) for line in proc.stdout.splitlines()]


def run_repo(root: Path, rows: list[dict[str, str]], mode: str) -> list[dict]:
    """Probe the rows of one repository in a child process under Keras ``mode`` ("2" or "3")."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    if mode == "2":
        env["TF_USE_LEGACY_KERAS"] = "1"
    proc = subprocess.run(
        [sys.executable, __file__, "--child", str(root)],
        input=json.dumps(rows),
        capture_output=True,
        text=True,
        env=env,
        timeout=3600,
        cwd=root,
    )
    got = []
    for line in proc.stdout.splitlines():
        if line.startswith("{"):
            try:
                got.append({**json.loads(line), "keras": mode})
            except json.JSONDecodeError:
                continue
    done = {(g["path"], g["function"]) for g in got}
    tail = proc.stderr.strip().splitlines()[-1:] or ["no output"]
    for row in rows:
        if (row["path"], row["function"]) not in done:
            got.append({**row, "verdict": "error", "detail": f"child died: {tail[0][:200]}"})
    return got


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", action="append", help="only these owner/name")
    parser.add_argument("--manifest", action="store_true", help="probe github.tsv's rows")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        run_child(Path(options.child), json.loads(sys.stdin.read()))
        return 0

    sys.path.insert(0, str(HERE))
    from fetch_github import load_repos, repo_dir

    repos = {r["name"]: r for r in load_repos()}
    rows = [r for r in load_rows(options.manifest) if not options.repo or r["repo"] in options.repo]
    by_repo: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_repo.setdefault(row["repo"], []).append(row)
    results = []
    for name, repo_rows in by_repo.items():
        # Keras-2 repositories run under tf_keras; "both" runs Keras 3 first, then Keras 2 for
        # the rows that failed under Keras 3.
        modes = {"2": ["2"], "3": ["3"], "both": ["3", "2"]}[repos[name]["keras"]]
        pending, got = repo_rows, []
        for mode in modes:
            results_now = run_repo(repo_dir(name), pending, mode)
            failed = [r for r in results_now if r["verdict"] == "error"]
            if mode != modes[-1] and failed:
                keep = {(r["path"], r["function"]) for r in failed}
                got += [r for r in results_now if (r["path"], r["function"]) not in keep]
                pending = [r for r in pending if (r["path"], r["function"]) in keep]
                continue
            got += results_now
            break
        for g in got:
            print(f"{name}\t{g['path']}\t{g['function']}\t{g.get('inputs', '')}\t"
                  f"{g.get('output', '')}\t{g['verdict']}\t{g.get('detail', '')}", flush=True)  # fmt: skip
        results.extend(got)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    fields = ["repo", "path", "function", "keras", "inputs", "output", "verdict", "detail"]
    if OUT.is_file():  # keep the results of the repositories not probed this time
        with open(OUT, newline="", encoding="utf-8") as handle:
            old = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
        results = [r for r in old if r["repo"] not in by_repo and "keras" in r] + results
    with open(OUT, "w", encoding="utf-8") as handle:
        handle.write("\t".join(fields) + "\n")
        for g in results:
            values = [str(g.get(f, "")).replace("\t", " ").replace("\n", " ") for f in fields]
            handle.write("\t".join(values) + "\n")
    counts: dict[str, int] = {}
    for g in results:
        counts[g["verdict"]] = counts.get(g["verdict"], 0) + 1
    print(f"{len(results)} rows: {counts}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
