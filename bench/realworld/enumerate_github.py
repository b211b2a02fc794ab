"""List the loss- and metric-like functions of the GitHub corpus (stdlib ``ast`` only).

This enumeration is deliberately wider than losslint's own definition, so that the labelled set
is not biased towards what losslint already recognises. A function, method or lambda is listed when

* ``pair``: its first two parameters (after ``self``/``cls``) look like (truth, prediction), in either
  order, under any common spelling: ``TRUTH_NAMES`` x ``PRED_NAMES`` (``y_true, y_pred``, ``real, pred``,
  ``y, y_hat``, ``labels, logits``, ``target, output``, ``gt, pr``, ``yt, yp``, ...), whatever the
  function's name, in plain functions, factories, methods of any class and lambdas;
* ``loss-class``: it is ``call`` or ``__call__`` of a class whose base is named ``*Loss`` or
  ``LossFunctionWrapper`` (any module), or of a class deriving from such a class in the same
  repository;
* ``compiled``: it is passed to ``compile(loss=..., metrics=...)`` (``loss_weights`` excepted) by
  name, as ``self.name`` or as a lambda, also inside lists and dicts there;
* ``named``: its name contains ``loss`` and it takes at least two positional parameters (besides
  ``self``): the objectives of custom training loops, GAN losses, ``loss_fn(model, x, y)``.

Each row also says how the repository uses the name (``USES``): ``compile`` (in a compile call
or assigned to a ``loss``/``metrics`` variable used there), ``loop`` (called in a function that
calls ``tape.gradient``, ``minimize`` or ``apply_gradients``, or in a ``train_step``), ``add_loss``.
That is a reading aid for labelling (``reduced`` against ``scalar-ok``), not a label.

Notebooks (``.ipynb``): the code cells are joined in order, one newline between cells; IPython
magic and shell lines (``%``, ``!``) become ``pass``; cells that do not parse are blanked.
Lambda line numbers count in that joined text.

    python bench/realworld/enumerate_github.py                   # every repository
    python bench/realworld/enumerate_github.py --repo owner/name
    python bench/realworld/enumerate_github.py --check           # compare with github.tsv
"""

from __future__ import annotations

import argparse
import ast
import csv
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from fetch_github import load_repos, repo_dir  # noqa: E402

TRUTH_NAMES = {
    "y_true", "ytrue", "y_t", "yt", "y", "true", "y_gt", "gt", "ground_truth", "truth",
    "target", "targets", "y_target", "label", "labels", "y_label", "real", "y_real",
    "yTrue", "y_actual", "actual", "t", "y_", "true_labels", "real_output", "x", "x_true",
    "img_true", "hr", "y_batch", "mask", "masks", "gt_mask", "y_obs", "tar", "inp", "true_y",
}  # fmt: skip
PRED_NAMES = {
    "y_pred", "ypred", "y_p", "yp", "y_hat", "yhat", "pred", "preds", "prediction",
    "predictions", "predicted", "output", "outputs", "logits", "y_logits", "pr", "p",
    "yPred", "y_predicted", "pred_y", "y_prediction", "fake", "fake_output", "out",
    "x_pred", "x_hat", "x_decoded_mean", "x_recon", "reconstruction", "img_pred", "sr",
    "y_pred_logits", "pred_mask", "pred_masks", "y_est", "estimate", "gen_output", "score",
    "scores", "embeddings", "predict", "probs", "y_prob", "y_score",
}  # fmt: skip
LOOP_CALLS = {"gradient", "minimize", "apply_gradients"}
# unit tests and plotting helpers are never losses
SKIPPED_PREFIXES = ("test_", "plot_", "visualize_", "show_")


@dataclass
class Found:
    path: str
    function: str
    line: int
    why: set[str] = field(default_factory=set)
    params: str = ""


def notebook_source(path: Path) -> str:
    """The code cells of a notebook joined by newlines.

    Magic and shell lines (``%``, ``!``) become ``pass`` at the same indentation; a cell that
    still does not parse on its own (Python 2 code, ``?`` help) is blanked, keeping its lines.
    """
    cells = json.loads(path.read_text(encoding="utf-8", errors="replace")).get("cells", [])
    chunks = []
    for cell in cells:
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        text = "".join(source) if isinstance(source, list) else source
        lines = []
        for line in text.split("\n"):
            stripped = line.lstrip()
            if stripped.startswith(("%", "!")):
                line = line[: len(line) - len(stripped)] + "pass"
            lines.append(line)
        code = "\n".join(lines)
        try:
            ast.parse(code)
        except (SyntaxError, ValueError):
            code = "\n" * code.count("\n")
        chunks.append(code)
    return "\n".join(chunks)


def read_source(path: Path) -> str:
    if path.suffix == ".ipynb":
        return notebook_source(path)
    return path.read_text(encoding="utf-8", errors="replace")


def _params(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> list[str]:
    return [p.arg for p in (*node.args.posonlyargs, *node.args.args)]


def _last_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Call):
        return _last_name(node.func)
    return None


def _is_pair(params: list[str]) -> bool:
    """(truth, prediction) in either order: ``lovasz_hinge(logits, labels)`` counts too."""
    if len(params) < 2:
        return False
    first, second = params[:2]
    return (first in TRUTH_NAMES and second in PRED_NAMES) or (
        first in PRED_NAMES and second in TRUTH_NAMES
    )


def _referenced_names(node: ast.AST) -> set[str]:
    """Names and attribute names passed (not called) in a compile argument (lists, dicts)."""
    called = {id(sub.func) for sub in ast.walk(node) if isinstance(sub, ast.Call)}
    names: set[str] = set()
    for sub in ast.walk(node):
        if id(sub) in called:
            continue
        if isinstance(sub, ast.Name):
            names.add(sub.id)
        elif isinstance(sub, ast.Attribute):
            names.add(sub.attr)
    return names


class _Usage(ast.NodeVisitor):
    """How names are used across a repository: compile arguments, custom loops, add_loss."""

    def __init__(self) -> None:
        self.compiled: set[str] = set()
        self.compiled_lambdas: set[tuple[str, int]] = set()
        self.loop: set[str] = set()
        self.add_loss: set[str] = set()
        self.path = ""
        self._loss_vars: dict[str, set[str]] = {}

    def visit_Call(self, node: ast.Call) -> None:
        func = _last_name(node.func)
        if func == "compile":
            args = [k.value for k in node.keywords if k.arg in ("loss", "metrics")]
            args += node.args[1:3]
            for value in args:
                for sub in ast.walk(value):
                    if isinstance(sub, ast.Lambda):
                        self.compiled_lambdas.add((self.path, sub.lineno))
                names = _referenced_names(value)
                self.compiled |= names
                for name in names:
                    self.compiled |= self._loss_vars.get(name, set())
        elif func == "add_loss":
            for arg in node.args:
                for sub in ast.walk(arg):
                    if isinstance(sub, ast.Call) and (name := _last_name(sub.func)):
                        self.add_loss.add(name)
        self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        # losses = {"out": dice_loss}; metrics = [iou, dice]  -> compile(loss=losses, ...)
        for target in node.targets:
            if isinstance(target, ast.Name) and ("loss" in target.id or "metric" in target.id):
                self._loss_vars.setdefault(target.id, set()).update(_referenced_names(node.value))
        self.generic_visit(node)

    def _visit_func(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        calls = [n for n in ast.walk(node) if isinstance(n, ast.Call)]
        is_loop = node.name in ("train_step", "test_step") or any(
            _last_name(c.func) in LOOP_CALLS for c in calls
        )
        if is_loop:
            for call in calls:
                if name := _last_name(call.func):
                    self.loop.add(name)
        self.generic_visit(node)

    visit_FunctionDef = _visit_func
    visit_AsyncFunctionDef = _visit_func


class _Walker(ast.NodeVisitor):
    def __init__(self, path: str, loss_classes: set[str], usage: _Usage) -> None:
        self.path = path
        self.loss_classes = loss_classes
        self.usage = usage
        self.stack: list[tuple[str, str]] = []
        self.found: list[Found] = []

    def _qual(self, name: str) -> str:
        parts = []
        for kind, n in self.stack:
            parts.append(n)
            if kind == "func":
                parts.append("<locals>")
        return ".".join([*parts, name])

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.stack.append(("class", node.name))
        self.generic_visit(node)
        self.stack.pop()

    def _visit_func(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        in_class = bool(self.stack) and self.stack[-1][0] == "class"
        params = _params(node)
        if in_class and not any(_last_name(d) == "staticmethod" for d in node.decorator_list):
            params = params[1:]
        why: set[str] = set()
        if _is_pair(params):
            why.add("pair")
        if (
            in_class
            and node.name in ("call", "__call__")
            and self.stack[-1][1] in self.loss_classes
        ):
            why.add("loss-class")
        if node.name in self.usage.compiled and len(params) >= 2:
            why.add("compiled")
        if "loss" in node.name.lower() and len(params) >= 2:
            why.add("named")
        if node.name.startswith(SKIPPED_PREFIXES):
            why.clear()
        if why:
            found = Found(self.path, self._qual(node.name), node.lineno, why, ",".join(params[:4]))
            self.found.append(found)
        self.stack.append(("func", node.name))
        self.generic_visit(node)
        self.stack.pop()

    visit_FunctionDef = _visit_func
    visit_AsyncFunctionDef = _visit_func

    def visit_Lambda(self, node: ast.Lambda) -> None:
        params = _params(node)
        why: set[str] = set()
        if _is_pair(params):
            why.add("pair")
        if (self.path, node.lineno) in self.usage.compiled_lambdas and len(params) >= 2:
            why.add("compiled")
        if why:
            name = f"<lambda>@{node.lineno}"
            self.found.append(Found(self.path, name, node.lineno, why, ",".join(params[:4])))
        self.generic_visit(node)


def _loss_classes(trees: dict[str, ast.Module]) -> set[str]:
    """Class names deriving (transitively, by name) from a ``*Loss`` base or a Keras loss."""
    bases: dict[str, set[str]] = {}
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                names = {n for b in node.bases if (n := _last_name(b))}
                bases.setdefault(node.name, set()).update(names)
    found = {
        cls
        for cls, names in bases.items()
        if any(n.endswith("Loss") or n == "LossFunctionWrapper" for n in names)
    }
    changed = True
    while changed:
        changed = False
        for cls, names in bases.items():
            if cls not in found and names & found:
                found.add(cls)
                changed = True
    return found


def parse_repo(root: Path) -> dict[str, ast.Module]:
    trees: dict[str, ast.Module] = {}
    for path in sorted([*root.rglob("*.py"), *root.rglob("*.ipynb")]):
        rel = path.relative_to(root).as_posix()
        if "/.ipynb_checkpoints/" in f"/{rel}":
            continue
        try:
            trees[rel] = ast.parse(read_source(path), filename=rel)
        except (SyntaxError, ValueError, json.JSONDecodeError) as error:
            print(f"warning: cannot parse {root.name}/{rel}: {error}", file=sys.stderr)
    return trees


def is_torch_only(tree: ast.Module) -> bool:
    """A module that imports torch and neither TensorFlow nor Keras (PyTorch code, not Keras)."""
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            roots.add(node.module.split(".")[0])
    return "torch" in roots and not roots & {"tensorflow", "keras", "tf_keras"}


def enumerate_repo(root: Path) -> tuple[list[Found], _Usage]:
    trees = {rel: tree for rel, tree in parse_repo(root).items() if not is_torch_only(tree)}
    usage = _Usage()
    for rel, tree in trees.items():
        usage.path = rel
        usage.visit(tree)
    loss_classes = _loss_classes(trees)
    out: list[Found] = []
    for rel, tree in trees.items():
        walker = _Walker(rel, loss_classes, usage)
        walker.visit(tree)
        seen = set()
        for found in walker.found:  # a function defined twice (if/else branches) is one row
            if found.function not in seen:
                seen.add(found.function)
                out.append(found)
    return out, usage


def uses(found: Found, usage: _Usage) -> str:
    name = found.function.rsplit(".", 1)[-1]
    tags = []
    if name in usage.compiled or (found.path, found.line) in usage.compiled_lambdas:
        tags.append("compile")
    if name in usage.loop:
        tags.append("loop")
    if name in usage.add_loss:
        tags.append("add_loss")
    return ",".join(tags) or "-"


def read_manifest(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", action="append", help="only these owner/name")
    parser.add_argument("--check", action="store_true", help="compare with github.tsv")
    parser.add_argument("--manifest", type=Path, default=HERE / "github.tsv")
    options = parser.parse_args(argv)
    rows: list[tuple[str, str, Found, str]] = []
    for repo in load_repos():
        if options.repo and repo["name"] not in options.repo:
            continue
        root = repo_dir(repo["name"])
        if not root.is_dir():
            print(f"error: {root} missing; run fetch_github.py first", file=sys.stderr)
            return 2
        found, usage = enumerate_repo(root)
        rows.extend((repo["name"], repo["commit"], f, uses(f, usage)) for f in found)
    if not options.check:
        for name, commit, f, used in rows:
            why = ",".join(sorted(f.why))
            print(name, commit, f.path, f.function, f.line, why, f.params, used, sep="\t")
        return 0
    found_keys = {(name, f.path, f.function) for name, _, f, _ in rows}
    labelled = {
        (r["repo"], r["path"], r["function"])
        for r in read_manifest(options.manifest)
        if not options.repo or r["repo"] in options.repo
    }
    for key in sorted(found_keys - labelled):
        print("not labelled:", *key, sep="\t")
    for key in sorted(labelled - found_keys):
        print("labelled but not enumerated:", *key, sep="\t")
    missing, extra = found_keys - labelled, labelled - found_keys
    print(f"{len(found_keys)} enumerated, {len(labelled)} labelled, {len(missing)} missing, "
          f"{len(extra)} extra")  # fmt: skip
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
