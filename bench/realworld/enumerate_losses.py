"""List the loss-like functions in unpacked package sources (stdlib ``ast`` only).

This is the enumeration that ``triage.tsv`` is built on and checked against. "Loss-like" is
losslint's own definition:

* a function or lambda whose first two parameters (after ``self``/``cls`` for methods) are one of
  the pairs in ``LOSS_PARAM_PAIRS``; inner functions of factories count; methods only when named
  ``call`` or ``__call__``;
* the ``call`` method of any subclass of ``keras.losses.Loss`` (any spelling, including
  ``LossFunctionWrapper`` and subclasses of subclasses defined in the same package), whatever
  its parameter names.

Qualified names follow ``__qualname__`` (``f.<locals>.g``, ``Class.call``); lambdas are named
``<lambda>@LINE`` (line of the ``lambda`` keyword, 1-based) whatever they are nested in.

Usage::

    python bench/realworld/enumerate_losses.py            # all packages in packages.toml
    python bench/realworld/enumerate_losses.py --check    # diff against triage.tsv
    python bench/realworld/enumerate_losses.py --package keras
"""

from __future__ import annotations

import argparse
import ast
import csv
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from fetch import load_packages, src_dir  # noqa: E402

LOSS_PARAM_PAIRS = {
    ("y_true", "y_pred"),
    ("ytrue", "ypred"),
    ("true", "pred"),
    ("target", "output"),
    ("target", "pred"),
    ("target", "prediction"),
    ("targets", "predictions"),
    ("gt", "pr"),
    ("gt", "pred"),
    ("labels", "predictions"),
    ("label", "pred"),
}

# Names of the Keras loss base classes; a base-class expression counts when it resolves (through
# the module's imports) to one of these, or to any class in a ``keras...losses`` module, see
# ``_is_keras_loss_class_path``.
LOSS_BASE_NAMES = {"Loss", "LossFunctionWrapper"}
KERAS_ROOTS = {"keras", "tf_keras", "tensorflow", "tf"}


@dataclass(frozen=True)
class Found:
    path: str  # relative to the package root
    function: str  # qualified name
    line: int
    why: str  # "params" or "loss-subclass"


def _params(fn: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> list[str]:
    a = fn.args
    return [p.arg for p in (*a.posonlyargs, *a.args)]


def _dotted(node: ast.expr) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


class _ModuleInfo:
    def __init__(self, relpath: str, tree: ast.Module):
        self.relpath = relpath
        comps = relpath[: -len(".py")].split("/")
        if comps[-1] == "__init__":
            comps = comps[:-1]
            self.package = comps
        else:
            self.package = comps[:-1]
        self.dotted = ".".join(comps)
        # local name -> absolute dotted origin ("keras.losses.Loss", "tensorflow")
        self.imports: dict[str, str] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for al in node.names:
                    if al.asname:
                        self.imports[al.asname] = al.name
                    else:
                        head = al.name.split(".")[0]
                        self.imports[head] = head
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = self.package[: len(self.package) - (node.level - 1)]
                    mod = ".".join([*base, *([node.module] if node.module else [])])
                else:
                    mod = node.module or ""
                for al in node.names:
                    self.imports[al.asname or al.name] = f"{mod}.{al.name}"
        self.classes: dict[str, list[str]] = {}  # class name -> dotted base expressions
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                self.classes[node.name] = [d for b in node.bases if (d := _dotted(b))]

    def resolve(self, dotted: str) -> str:
        """Absolute dotted path of a name used in this module (``self.dotted.X`` if local)."""
        parts = dotted.split(".")
        if parts[0] in self.imports:
            return ".".join([self.imports[parts[0]], *parts[1:]])
        if len(parts) == 1:
            return f"{self.dotted}.{dotted}"
        return dotted


def _is_keras_loss_class_path(full: str) -> bool:
    """``tf.keras.losses.Loss``, ``keras.losses.MeanSquaredError``, ``keras.src.losses.loss.Loss``,
    ``keras_cv.backend.keras.losses.Loss``: a keras/tf module path ending in a loss class."""
    parts = full.split(".")
    if not any(c in KERAS_ROOTS for c in parts[:-1]):
        return False
    if parts[-1] in LOSS_BASE_NAMES:
        return True
    return "losses" in parts[:-1] and parts[-1][:1].isupper() and parts[-1] != "Reduction"


def _package_loss_classes(files: dict[str, ast.Module]) -> set[tuple[str, str]]:
    """(relpath, class name) of classes in the package that subclass a Keras loss (transitively).

    Base expressions are resolved through each module's imports (relative imports included) to
    an absolute dotted path. A path into the package itself is looked up in the package's own
    classes (following re-exports through ``__init__`` modules); otherwise it counts when it is
    a Keras loss class path (see ``_is_keras_loss_class_path``). When the package is Keras itself,
    its own ``Loss`` base (tf_keras/src/losses.py, keras/src/losses/loss.py) seeds the search.
    """
    infos = {p: _ModuleInfo(p, t) for p, t in files.items()}
    by_dotted = {i.dotted: i for i in infos.values()}

    def locate(full: str, depth: int = 0) -> tuple[str, str] | None:
        """Find the package class a dotted path names, following re-exports."""
        mod, _, name = full.rpartition(".")
        info = by_dotted.get(mod)
        if info is None or depth > 10:
            return None
        if name in info.classes:
            return (info.relpath, name)
        if name in info.imports:
            return locate(info.imports[name], depth + 1)
        return None

    seeds: set[tuple[str, str]] = set()
    for p, info in infos.items():
        comps = info.dotted.split(".")
        if (
            "Loss" in info.classes
            and any(c in KERAS_ROOTS for c in comps)
            and ("losses" in comps or comps[-1] == "loss")
        ):
            seeds.add((p, "Loss"))

    loss_classes: set[tuple[str, str]] = set(seeds)
    changed = True
    while changed:
        changed = False
        for p, info in infos.items():
            for cls, bases in info.classes.items():
                if (p, cls) in loss_classes:
                    continue
                for b in bases:
                    full = info.resolve(b)
                    target = locate(full)
                    if target is not None:
                        hit = target in loss_classes
                    else:
                        hit = _is_keras_loss_class_path(full)
                    if hit:
                        loss_classes.add((p, cls))
                        changed = True
                        break
    return loss_classes - seeds


class _Walker(ast.NodeVisitor):
    def __init__(self, relpath: str, loss_classes: set[tuple[str, str]]):
        self.relpath = relpath
        self.loss_classes = loss_classes
        self.stack: list[tuple[str, str]] = []  # (kind, name)
        self.found: list[Found] = []

    def _qual(self, name: str) -> str:
        parts = []
        for kind, n in self.stack:
            parts.append(n)
            if kind == "func":
                parts.append("<locals>")
        parts.append(name)
        return ".".join(parts)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.stack.append(("class", node.name))
        self.generic_visit(node)
        self.stack.pop()

    def _visit_func(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        in_class = bool(self.stack) and self.stack[-1][0] == "class"
        params = _params(node)
        why = None
        if in_class:
            is_static = any(_dotted(d) in ("staticmethod",) for d in node.decorator_list)
            rest = params if is_static else params[1:]
            cls = self.stack[-1][1]
            if node.name == "call" and (self.relpath, cls) in self.loss_classes:
                why = "loss-subclass"
            elif node.name in ("call", "__call__") and tuple(rest[:2]) in LOSS_PARAM_PAIRS:
                why = "params"
        elif tuple(params[:2]) in LOSS_PARAM_PAIRS:
            why = "params"
        if why:
            self.found.append(Found(self.relpath, self._qual(node.name), node.lineno, why))
        self.stack.append(("func", node.name))
        for d in node.decorator_list:
            self.visit(d)
        for stmt in node.body:
            self.visit(stmt)
        self.stack.pop()
        # default values are evaluated in the enclosing scope
        for d in [*node.args.defaults, *node.args.kw_defaults]:
            if d is not None:
                self.visit(d)

    visit_FunctionDef = _visit_func
    visit_AsyncFunctionDef = _visit_func

    def visit_Lambda(self, node: ast.Lambda) -> None:
        if tuple(_params(node)[:2]) in LOSS_PARAM_PAIRS:
            self.found.append(Found(self.relpath, f"<lambda>@{node.lineno}", node.lineno, "params"))
        self.generic_visit(node)


def enumerate_package(root: Path) -> list[Found]:
    files: dict[str, ast.Module] = {}
    for p in sorted(root.rglob("*.py")):
        rel = p.relative_to(root).as_posix()
        try:
            files[rel] = ast.parse(p.read_text(encoding="utf-8", errors="replace"), filename=rel)
        except SyntaxError as e:  # py2-only files in old sdists
            print(f"warning: cannot parse {rel}: {e}", file=sys.stderr)
    loss_classes = _package_loss_classes(files)
    out: list[Found] = []
    for rel, tree in files.items():
        w = _Walker(rel, loss_classes)
        w.visit(tree)
        out.extend(w.found)
    return out


def read_triage(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--package", action="append", help="restrict to these package names")
    ap.add_argument("--check", action="store_true", help="compare with triage.tsv")
    ap.add_argument("--triage", type=Path, default=HERE / "triage.tsv")
    args = ap.parse_args(argv)

    rows: list[tuple[str, str, Found]] = []
    for pkg in load_packages():
        if args.package and pkg["name"] not in args.package:
            continue
        root = src_dir(pkg)
        if not root.is_dir():
            print(f"error: {root} missing; run fetch.py first", file=sys.stderr)
            return 2
        rows.extend((pkg["name"], pkg["version"], f) for f in enumerate_package(root))

    if not args.check:
        for name, ver, f in rows:
            print(f"{name}\t{ver}\t{f.path}\t{f.function}\t{f.line}\t{f.why}")
        return 0

    found = {(n, v, f.path, f.function) for n, v, f in rows}
    triaged = {
        (r["package"], r["version"], r["path"], r["function"])
        for r in read_triage(args.triage)
        if not args.package or r["package"] in args.package
    }
    missing = sorted(found - triaged)
    extra = sorted(triaged - found)
    for m in missing:
        print("not triaged:", *m, sep="\t")
    for e in extra:
        print("not loss-like (in triage only):", *e, sep="\t")
    print(
        f"{len(found)} loss-like, {len(triaged)} triaged, {len(missing)} missing, {len(extra)} extra"
    )
    return 1 if missing or extra else 0


if __name__ == "__main__":
    sys.exit(main())
