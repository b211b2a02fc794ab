"""Compare losslint's findings with the labelled functions of the real-world corpora.

    python bench/realworld/fetch.py && python bench/realworld/fetch_github.py   # once
    python bench/realworld/evaluate.py                         # PyPI corpus (triage.tsv)
    python bench/realworld/evaluate.py --corpus github         # GitHub corpus, dev split
    python bench/realworld/evaluate.py --corpus github --split test   # once, at the very end
    python bench/realworld/evaluate.py --corpus github --split holdout  # the held-out split, once
    python bench/realworld/evaluate.py --corpus github --split fresh    # the fresh split, once
    python bench/realworld/evaluate.py --corpus github --split fresh2   # the second fresh split, once
    python bench/realworld/evaluate.py --corpus github --split fresh3   # the third fresh split, once
    python bench/realworld/evaluate.py --corpus github --split fresh4   # the fourth fresh split, once
    python bench/realworld/evaluate.py --corpus github --split fresh5   # the fifth fresh split, once
    python bench/realworld/evaluate.py --corpus github --split fresh6   # the sixth fresh split, once
    python bench/realworld/evaluate.py --corpus github --split fresh7   # the seventh fresh split, once
    python bench/realworld/evaluate.py --corpus github --split fresh8   # the eighth fresh split, once
    python bench/realworld/evaluate.py --corpus github --split fresh9   # the ninth fresh split, once
    python bench/realworld/evaluate.py --corpus all --split all
    python bench/realworld/evaluate.py --corpus github --naive # also score the naive matcher
    python bench/realworld/evaluate.py --runtime               # also run --runtime, count verdicts
    python bench/realworld/evaluate.py --verdicts v.tsv        # also write each row's verdict

A labelled function counts as flagged when losslint reports any LL001-LL004 finding whose
`function`, or one of whose `losses`, is that function (`<module>.<function>`). Positives are
`reduced` rows; negatives are `per-sample` and `scalar-ok` rows; `skip` rows are left out.
The GitHub corpus' notebooks (.ipynb) are given to losslint by name as well.

`--naive` also scores a plain matcher on the same rows (stdlib ``ast``): a function is flagged
when its body calls a reduction (`reduce_mean`, `reduce_sum`, `mean`, `sum`, ...) without an
axis (no `axis`/`dim` keyword and no second positional argument).
"""

from __future__ import annotations

import argparse
import ast
import csv
import json
import subprocess
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import tomllib

HERE = Path(__file__).resolve().parent
SOURCES = HERE / ".cache" / "src"
GITHUB = HERE / ".cache" / "github"
SCORED_CODES = {"LL001", "LL002", "LL003", "LL004"}
NAIVE_REDUCTIONS = {
    "reduce_mean", "reduce_sum", "reduce_max", "reduce_min", "reduce_prod", "reduce_logsumexp",
    "mean", "sum", "max", "min", "prod", "logsumexp", "average", "nanmean", "nansum",
}  # fmt: skip


@dataclass
class Group:
    """One linted tree (a PyPI package or a GitHub repository) and its labelled rows."""

    name: str
    root: Path
    rows: list[dict[str, str]]
    extra_paths: list[str] = field(default_factory=list)  # given to losslint by name


def module_name(path: Path) -> str:
    """The dotted module name losslint gives a file (its package path)."""
    parts = [path.stem] if path.name != "__init__.py" else []
    folder = path.parent
    while (folder / "__init__.py").is_file():
        parts.insert(0, folder.name)
        folder = folder.parent
    return ".".join(parts)


def lambda_alias(function: str, path: Path) -> str | None:
    """The manifest's name for a lambda losslint names by its scope and notebook cell.

    The manifest names every lambda `<lambda>@LINE` after its module, whatever function it is
    written in, and counts a notebook's lines in its joined code cells (`notebook_source`);
    losslint names it `outer.<locals>.<lambda>@LINE`, or `<lambda>@cell N:ROW` in a notebook
    (N counting every cell from 1)."""
    module = module_name(path)
    if not function.startswith(module + ".") or "<lambda>@" not in function:
        return None
    where = function.rsplit("<lambda>@", 1)[1]
    cell, _, row = where.rpartition(":")
    if cell.startswith("cell "):
        cells = json.loads(path.read_text(encoding="utf-8", errors="replace")).get("cells", [])
        before = 0
        for cell_source in cells[: int(cell[5:]) - 1]:
            if cell_source.get("cell_type") == "code":
                source = cell_source.get("source", "")
                text = "".join(source) if isinstance(source, list) else source
                before += text.count("\n") + 1
        where = str(before + int(row))
    return f"{module}.<lambda>@{where}"


def read_tsv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


def pypi_groups(only: list[str] | None) -> list[Group]:
    by_package: dict[tuple[str, str], list[dict[str, str]]] = defaultdict(list)
    for row in read_tsv(HERE / "triage.tsv"):
        if not only or row["package"] in only:
            by_package[(row["package"], row["version"])].append(row)
    groups = []
    for (package, version), rows in sorted(by_package.items()):
        root = SOURCES / f"{package}-{version}"
        if not root.is_dir():
            raise SystemExit(f"{root} is missing: run python bench/realworld/fetch.py first")
        groups.append(Group(f"{package} {version}", root, rows))
    return groups


GITHUB_SPLITS = (
    "dev",
    "test",
    "holdout",
    "fresh",
    "fresh2",
    "fresh3",
    "fresh4",
    "fresh5",
    "fresh6",
    "fresh7",
    "fresh8",
    "fresh9",
)


def in_split(repo: dict[str, str], split: str) -> bool:
    """Whether a `github_repos.toml` repository belongs to `split` (one of GITHUB_SPLITS or
    "all")."""
    return split == "all" or repo["split"] == split


def github_groups(split: str, only: list[str] | None) -> list[Group]:
    with open(HERE / "github_repos.toml", "rb") as handle:
        repos = {r["name"]: r for r in tomllib.load(handle)["repo"]}
    by_repo: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in read_tsv(HERE / "github.tsv"):
        repo = repos[row["repo"]]
        if row["commit"] != repo["commit"]:
            raise SystemExit(
                f"github.tsv pins {row['repo']} at {row['commit']}, not {repo['commit']}"
            )
        if in_split(repo, split) and (not only or row["repo"] in only):
            by_repo[row["repo"]].append(row)
    groups = []
    for name, rows in sorted(by_repo.items()):
        root = GITHUB / name.replace("/", "+")
        stamp = root / ".commit"
        if not stamp.is_file() or stamp.read_text().strip() != repos[name]["commit"]:
            raise SystemExit(
                f"{root} is missing or stale: run python bench/realworld/fetch_github.py"
            )
        notebooks = sorted({r["path"] for r in rows if r["path"].endswith(".ipynb")})
        groups.append(Group(name, root, rows, notebooks))
    return groups


def run_losslint(group: Group, runtime: bool) -> list[dict]:
    args = [
        sys.executable,
        "-m",
        "losslint",
        "--format",
        "json",
        "--no-cache",
        "--exit-zero",
        "--no-respect-gitignore",
    ]
    if runtime:
        args += ["--runtime", "--show-refuted"]
    proc = subprocess.run(
        [*args, ".", *group.extra_paths],
        cwd=group.root,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if proc.returncode != 0:
        raise SystemExit(
            f"losslint failed (exit {proc.returncode}) on {group.root}:\n{proc.stderr}"
        )
    return json.loads(proc.stdout)


def _function_node(tree: ast.Module, function: str) -> ast.AST | None:
    """The def or lambda a qualified name (`A.f`, `f.<locals>.g`, `<lambda>@L`) refers to."""
    if function.startswith("<lambda>@"):
        line = int(function.split("@")[1])
        return next(
            (n for n in ast.walk(tree) if isinstance(n, ast.Lambda) and n.lineno == line), None
        )
    scope: ast.AST = tree
    for part in [p for p in function.split(".") if p != "<locals>"]:
        children = [
            n
            for n in ast.walk(scope)
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            and n.name == part
            and n is not scope
        ]
        if not children:
            return None
        scope = children[0]
    return scope


def naive_flags(node: ast.AST) -> bool:
    """Does the function call a reduction without an axis anywhere in its body?"""
    for sub in ast.walk(node):
        if not isinstance(sub, ast.Call):
            continue
        func = sub.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name not in NAIVE_REDUCTIONS:
            continue
        has_axis = any(k.arg in ("axis", "dim", "dims", "reduction_indices") for k in sub.keywords)
        if not has_axis and len(sub.args) <= 1:
            return True
    return False


def naive_source(root: Path, path: str) -> ast.Module | None:
    source = root / path
    try:
        if source.suffix == ".ipynb":
            sys.path.insert(0, str(HERE))
            from enumerate_github import notebook_source

            return ast.parse(notebook_source(source))
        return ast.parse(source.read_text(encoding="utf-8", errors="replace"))
    except SyntaxError:
        return None


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, expected: str, flagged: bool) -> str:
        """Count one row; return its outcome (TP, FP, FN, TN)."""
        if expected == "reduced":
            outcome = "TP" if flagged else "FN"
        else:
            outcome = "FP" if flagged else "TN"
        setattr(self, outcome.lower(), getattr(self, outcome.lower()) + 1)
        return outcome

    def merge(self, other: Score) -> None:
        self.tp, self.fp = self.tp + other.tp, self.fp + other.fp
        self.fn, self.tn = self.fn + other.fn, self.tn + other.tn

    def line(self, label: str) -> str:
        precision = self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0
        recall = self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0
        return (
            f"{label:56} {self.tp:4} {self.fp:4} {self.fn:4} {self.tn:4}"
            f"   {precision:.3f}  {recall:.3f}"
        )


def row_name(row: dict[str, str]) -> str:
    return row.get("repo") or row["package"]


def losslint_origin(cwd: Path) -> str:
    """Which losslint the subprocesses run (PYTHONPATH may point at another checkout)."""
    code = "import losslint; print(losslint.__file__)"
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, check=True
    )
    return str(Path(proc.stdout.strip()).parent)


def evaluate(
    groups: list[Group], runtime: bool, naive: bool, verdicts_path: Path | None = None
) -> int:
    if groups:
        print(f"losslint from {losslint_origin(groups[0].root)}\n")
    header = f"{'group':56} {'TP':>4} {'FP':>4} {'FN':>4} {'TN':>4}   prec.  recall"
    total, naive_total = Score(), Score()
    lines, naive_lines, disagreements, naive_disagreements = [], [], [], []
    verdicts: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    table: list[str] = []  # --verdicts: one line per labelled row
    for group in groups:
        findings = run_losslint(group, runtime)
        flagged: dict[str, list[dict]] = defaultdict(list)
        for finding in findings:
            if finding["code"] in SCORED_CODES:
                # one finding per location; `losses` lists every loss it makes batch-reduced
                for function in finding.get("losses") or [finding["function"]]:
                    flagged[function].append(finding)
                    alias = lambda_alias(function, Path(finding["filename"]))
                    if alias is not None:
                        flagged[alias].append(finding)
        score, naive_score = Score(), Score()
        trees: dict[str, ast.Module | None] = {}
        for row in group.rows:
            if row["expected"] == "skip":
                continue
            dotted = f"{module_name(group.root / row['path'])}.{row['function']}"
            hits = flagged.get(dotted, [])
            outcome = score.add(row["expected"], bool(hits))
            codes = ",".join(sorted({hit["code"] for hit in hits})) or "-"
            table.append(
                f"{group.name}\t{row['path']}\t{row['function']}\t{row['expected']}\t{codes}"
            )
            where = f"{row_name(row)} {row['path']} {row['function']}"
            if outcome == "FN":
                disagreements.append(f"FN {where}: {row['reason']}")
            elif outcome == "FP":
                first = hits[0]
                disagreements.append(
                    f"FP {where}: {first['code']} line {first['location']['row']}: "
                    f"{first['message']}  [label: {row['expected']}: {row['reason']}]"
                )
            if outcome == "TP":
                for hit in hits:
                    if hit.get("runtime"):
                        verdicts[hit["runtime"]["verdict"]] += 1
                        if hit["runtime"]["verdict"] != "confirmed":
                            reasons[hit["runtime"].get("detail", "")[:90]] += 1
            if naive:
                if row["path"] not in trees:
                    trees[row["path"]] = naive_source(group.root, row["path"])
                tree = trees[row["path"]]
                node = _function_node(tree, row["function"]) if tree else None
                naive_outcome = naive_score.add(row["expected"], bool(node and naive_flags(node)))
                if naive_outcome in ("FP", "FN"):
                    naive_disagreements.append(f"{naive_outcome} {where}")
        total.merge(score)
        naive_total.merge(naive_score)
        lines.append(score.line(group.name))
        naive_lines.append(naive_score.line(group.name))

    if verdicts_path is not None:
        verdicts_path.write_text(
            "group\tpath\tfunction\tlabel\tcodes\n" + "".join(f"{line}\n" for line in table)
        )
    scored = total.tp + total.fp + total.fn + total.tn
    print(header)
    print("\n".join(lines))
    print(total.line(f"total (losslint, {scored} functions scored)"))
    if naive:
        print(f"\nnaive matcher (reduction call without axis):\n{header}")
        print("\n".join(naive_lines))
        print(naive_total.line("total (naive)"))
    if verdicts:
        print("\nruntime verdicts on findings of true positives:", dict(verdicts))
        for reason, count in reasons.most_common(10):
            print(f"  {count:3}  {reason}")
    if disagreements:
        print("\ndisagreements (losslint):")
        for line in disagreements:
            print("  " + line)
    if naive and naive_disagreements:
        print(f"\ndisagreements (naive): {len(naive_disagreements)}")
        for line in naive_disagreements:
            print("  " + line)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", choices=("pypi", "github", "all"), default="pypi")
    parser.add_argument(
        "--split",
        choices=(*GITHUB_SPLITS, "all"),
        default="dev",
        help="GitHub corpus split (default: dev; the PyPI corpus has no split)",
    )
    parser.add_argument("--runtime", action="store_true", help="also run losslint --runtime")
    parser.add_argument("--naive", action="store_true", help="also score the naive matcher")
    parser.add_argument("--package", action="append", help="only these PyPI packages")
    parser.add_argument("--repo", action="append", help="only these GitHub repositories")
    parser.add_argument(
        "--verdicts", type=Path, help="write every scored row's verdict (the codes found) here"
    )
    options = parser.parse_args()
    groups: list[Group] = []
    if options.corpus in ("pypi", "all"):
        groups += pypi_groups(options.package)
    if options.corpus in ("github", "all"):
        groups += github_groups(options.split, options.repo)
    return evaluate(groups, options.runtime, options.naive, options.verdicts)


if __name__ == "__main__":
    raise SystemExit(main())
