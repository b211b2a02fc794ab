"""Runtime mode on real code: confirmed / refuted / inconclusive per corpus, with reasons.

    python bench/realworld/fetch.py                       # once: the PyPI corpus
    python bench/runtime_realworld.py --json after.json   # run --runtime on every package
    python bench/runtime_realworld.py --report after.json --before before.json

For every triaged function of the PyPI corpus (`bench/realworld/triage.tsv`) and, with
`--github DIR`, of a GitHub corpus (`DIR/github.tsv`, `DIR/github_repos.toml`, sources in
`DIR/.cache/github/owner+name/`; `--split dev|test|holdout|fresh|fresh2|fresh3|fresh4|fresh5|fresh6|fresh7|fresh8|all`; notebooks
left out unless `--notebooks`), this runs `losslint --runtime --show-refuted --format json` on a copy of the
package's Python files in a temporary folder (default settings: 20 s timeout) and counts the
runtime verdicts of the findings on `reduced` rows (the acceptance measure) and on
`per-sample` rows (which must never be confirmed). Inconclusive verdicts are grouped by
their `reason` (or, for versions of losslint that gave none, by a reason read off the detail).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PYPI = HERE / "realworld"

# reasons for versions of losslint whose verdicts carry no `reason` (the "before" run)
_DETAIL_REASONS = [
    (r"keras\.backend' has no attribute|module 'keras[\w.]*' has no attribute", "keras2-api"),
    (r"No module named|cannot import name|is not a package", "import"),
    (r"KeyError: '(backend|layers|models|utils)'|with None submodules", "framework-injection"),
    (r"resolves to .*site-packages", "import"),
    (r"needs (constructor )?arguments|missing \d+ required", "arguments"),
    (r"timed out", "timeout"),
    (r"out of memory", "memory"),
    (r"worker process died", "crash"),
    (r"not defined in the rebuilt module|does not run|failed to load", "rebuild"),
    (r"compile-site expression", "compile-site"),
    (r"raised .*(shape|Shape|dimension|rank|Incompatible|size)", "input-shape"),
    (r"raised", "raised"),
]


def module_name(path: Path) -> str:
    parts = [path.stem] if path.name != "__init__.py" else []
    folder = path.parent
    while (folder / "__init__.py").is_file():
        parts.insert(0, folder.name)
        folder = folder.parent
    return ".".join(parts)


def reason_of(runtime: dict[str, Any]) -> str:
    if runtime.get("reason"):
        return str(runtime["reason"])
    return reason_from_detail(runtime.get("detail", ""))


def reason_from_detail(detail: str) -> str:
    for pattern, reason in _DETAIL_REASONS:
        if re.search(pattern, detail):
            return reason
    return "other"


def load_rows(triage: Path) -> list[dict[str, str]]:
    with open(triage, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def _not_python(folder: str, names: list[str]) -> list[str]:
    return [
        n
        for n in names
        if (not n.endswith(".py") and not (Path(folder) / n).is_dir())
        or n in (".git", "__pycache__")
    ]


def _not_python_or_notebook(folder: str, names: list[str]) -> list[str]:
    return [n for n in _not_python(folder, names) if not n.endswith(".ipynb")]


def run_package(root: Path, timeout: float) -> tuple[list[dict[str, Any]], float, str]:
    args = [sys.executable, "-m", "losslint", "--format", "json", "--no-cache", "--exit-zero"]
    args += ["--no-respect-gitignore", "--runtime", "--show-refuted", "."]
    started = time.perf_counter()
    env = {**os.environ, "NO_COLOR": "1"}
    proc = subprocess.run(args, cwd=root, capture_output=True, text=True, timeout=timeout, env=env)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        return [], wall, f"exit {proc.returncode}: {proc.stderr.strip()[-500:]}"
    return json.loads(proc.stdout), wall, proc.stderr


sys.path.insert(0, str(HERE / "realworld"))
from evaluate import GITHUB_SPLITS  # noqa: E402  (the splits evaluate.py scores)


def github_rows(corpus: Path, split: str, notebooks: bool = False) -> list[dict[str, str]]:
    """The labelled rows of a GitHub corpus (`github.tsv`, `github_repos.toml`) in `split`,
    as PyPI-style rows whose `package` is the source folder name (`owner+name`); rows in
    notebooks only with `notebooks` (not their lambdas, which the two name differently)."""
    import tomllib

    with open(corpus / "github_repos.toml", "rb") as handle:
        repos = {r["name"]: r for r in tomllib.load(handle)["repo"]}
    rows = []
    for row in load_rows(corpus / "github.tsv"):
        repo = repos.get(row["repo"])
        if repo is None or (split != "all" and repo.get("split") != split):
            continue
        if row["path"].endswith(".ipynb") and (not notebooks or "<lambda>" in row["function"]):
            continue  # notebooks are not part of the default measure
        rows.append({**row, "package": row["repo"].replace("/", "+"), "version": ""})
    return rows


def measure(
    corpus: str, rows: list[dict[str, str]], sources: Path, timeout: float, notebooks: bool = False
) -> list[dict[str, Any]]:
    """One record per finding on a triaged function."""
    by_root: dict[Path, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        folder = f"{row['package']}-{row['version']}" if row.get("version") else row["package"]
        by_root[sources / folder].append(row)
    records: list[dict[str, Any]] = []
    for root, package_rows in sorted(by_root.items()):
        if not root.is_dir():
            print(f"{root} is missing: skipped", file=sys.stderr)
            continue
        with tempfile.TemporaryDirectory(prefix="runtime-realworld-") as scratch:
            # a copy of the Python files outside any project: no pyproject.toml above it (this
            # repository's own, with its short fixture timeout) changes the settings
            copy = Path(scratch) / root.name
            ignore = _not_python_or_notebook if notebooks else _not_python
            shutil.copytree(root, copy, ignore=ignore, symlinks=True)
            findings, wall, stderr = run_package(copy, timeout)
            if stderr.startswith("exit -"):  # killed by a signal from outside: once more
                print(f"{root.name}: {stderr.strip()}; running it again", file=sys.stderr)
                findings, wall, stderr = run_package(copy, timeout)
        expected = {
            f"{module_name(root / row['path'])}.{row['function']}": row for row in package_rows
        }
        count = 0
        for finding in findings:
            runtime = finding.get("runtime")
            if finding["code"] == "LL000" or not runtime:
                continue
            for function in finding.get("losses") or [finding["function"]]:
                row = expected.get(function)
                if row is None:
                    continue
                count += 1
                records.append(
                    {
                        "corpus": corpus,
                        "package": root.name,
                        "function": function,
                        "expected": row["expected"],
                        "verdict": runtime["verdict"],
                        "reason": reason_of(runtime)
                        if runtime["verdict"] == "inconclusive"
                        else None,
                        "keras": runtime.get("keras"),
                        "detail": runtime.get("detail", ""),
                    }
                )
        print(f"{root.name:40} {count:4} findings on triaged rows  {wall:6.1f} s", file=sys.stderr)
        if not findings and "exit" in stderr[:5]:
            print(f"  {stderr}", file=sys.stderr)
    return records


def report(records: list[dict[str, Any]], title: str) -> str:
    lines = [f"### {title}", ""]
    lines.append(
        "| corpus | findings on `reduced` rows | confirmed | refuted | inconclusive | confirmed % | `per-sample` rows confirmed |"
    )
    lines.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for corpus in sorted({r["corpus"] for r in records}):
        mine = [r for r in records if r["corpus"] == corpus]
        reduced = [r for r in mine if r["expected"] == "reduced"]
        verdicts = Counter(r["verdict"] for r in reduced)
        wrong = sum(
            1 for r in mine if r["expected"] == "per-sample" and r["verdict"] == "confirmed"
        )
        share = 100 * verdicts["confirmed"] / len(reduced) if reduced else 0.0
        lines.append(
            f"| {corpus} | {len(reduced)} | {verdicts['confirmed']} | {verdicts['refuted']} | "
            f"{verdicts['inconclusive']} | {share:.1f} | {wrong} |"
        )
    lines.append("")
    reasons = Counter(
        (r["corpus"], r["reason"]) for r in records if r["expected"] == "reduced" and r["reason"]
    )
    if reasons:
        lines += ["| corpus | inconclusive reason | findings |", "| --- | --- | ---: |"]
        for (corpus, reason), count in sorted(reasons.items(), key=lambda kv: (kv[0][0], -kv[1])):
            lines.append(f"| {corpus} | {reason} | {count} |")
        lines.append("")
    keras = Counter(r["keras"] for r in records if r["keras"] and r["verdict"] == "confirmed")
    if keras:
        lines.append(
            "Keras used for the confirmed findings: "
            + ", ".join(f"{k}: {n}" for k, n in sorted(keras.items()))
        )
        lines.append("")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write the per-finding records here")
    parser.add_argument("--report", type=Path, help="only report a saved --json file")
    parser.add_argument("--before", type=Path, help="a saved --json file to report first")
    parser.add_argument(
        "--github", type=Path, help="a GitHub corpus folder (github.tsv, github_repos.toml, .cache)"
    )
    parser.add_argument(
        "--split",
        default="dev",
        choices=(*GITHUB_SPLITS, "all"),
        help="GitHub split: dev, test, holdout, fresh, fresh2, fresh3, fresh4, fresh5, fresh6, "
        "fresh7, fresh8, fresh9 or all",
    )
    parser.add_argument("--no-pypi", action="store_true", help="skip the PyPI corpus")
    parser.add_argument(
        "--notebooks",
        action="store_true",
        help="GitHub rows in notebooks too (left out by default)",
    )
    parser.add_argument("--package", action="append", help="only these PyPI packages")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per package")
    options = parser.parse_args()

    if options.report:
        records = json.loads(options.report.read_text())
        for record in records:  # saved by a losslint that gave no `reason`
            if record["verdict"] == "inconclusive" and record.get("reason") in (None, "other"):
                record["reason"] = reason_from_detail(record["detail"])
    else:
        records = []
        if not options.no_pypi:
            rows = load_rows(PYPI / "triage.tsv")
            if options.package:
                rows = [r for r in rows if r["package"] in options.package]
            records += measure("PyPI", rows, PYPI / ".cache" / "src", options.timeout)
        if options.github:
            rows = github_rows(options.github, options.split, options.notebooks)
            if options.package:
                rows = [r for r in rows if r["repo"] in options.package]
            name = f"GitHub ({options.split}{', notebooks too' if options.notebooks else ''})"
            sources = options.github / ".cache" / "github"
            records += measure(name, rows, sources, options.timeout, options.notebooks)
        if options.json:
            options.json.write_text(json.dumps(records, indent=1))
    if options.before:
        before = json.loads(options.before.read_text())
        for record in before:  # saved by a losslint that gave no `reason`: read the detail
            if record["verdict"] == "inconclusive" and record.get("reason") in (None, "other"):
                record["reason"] = reason_from_detail(record["detail"])
        print(report(before, "Before"))
        print()
    print(report(records, "After" if options.before else "Runtime verdicts"))
    refuted = [r for r in records if r["verdict"] == "refuted"]
    for r in refuted:
        print(f"refuted: {r['package']} {r['function']} ({r['expected']}): {r['detail']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
