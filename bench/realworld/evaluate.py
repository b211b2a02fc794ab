"""Compare losslint's findings on the pinned packages with the checked-in triage.

    python bench/realworld/fetch.py          # once: download and unpack the packages
    python bench/realworld/evaluate.py       # static precision / recall and disagreements
    python bench/realworld/evaluate.py --runtime   # also run --runtime and count verdicts

A triaged function counts as flagged when losslint reports any finding whose `function`
is that function. `skip` rows are left out of the scores.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCES = HERE / ".cache" / "src"


def module_name(path: Path) -> str:
    """The dotted module name losslint gives a file (its package path)."""
    parts = [path.stem] if path.name != "__init__.py" else []
    folder = path.parent
    while (folder / "__init__.py").is_file():
        parts.insert(0, folder.name)
        folder = folder.parent
    return ".".join(parts)


def load_triage() -> list[dict[str, str]]:
    with open(HERE / "triage.tsv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def run_losslint(root: Path, runtime: bool) -> list[dict]:
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
    proc = subprocess.run([*args, "."], cwd=root, capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        raise SystemExit(f"losslint failed on {root}:\n{proc.stderr}")
    return json.loads(proc.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runtime", action="store_true", help="also run losslint --runtime")
    parser.add_argument("--package", action="append", help="only these packages")
    options = parser.parse_args()

    rows = load_triage()
    by_package: dict[tuple[str, str], list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        if not options.package or row["package"] in options.package:
            by_package[(row["package"], row["version"])].append(row)

    counts: Counter[str] = Counter()
    disagreements: list[str] = []
    verdicts: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    per_package: list[tuple[str, int, int, int, int]] = []
    for (package, version), package_rows in sorted(by_package.items()):
        root = SOURCES / f"{package}-{version}"
        if not root.is_dir():
            raise SystemExit(f"{root} is missing: run python bench/realworld/fetch.py first")
        findings = run_losslint(root, options.runtime)
        flagged: dict[str, list[dict]] = defaultdict(list)
        for finding in findings:
            if finding["code"] != "LL000":
                # one finding per location; `losses` lists every loss it makes batch-reduced
                for function in finding.get("losses") or [finding["function"]]:
                    flagged[function].append(finding)
        tp = fp = fn = tn = 0
        for row in package_rows:
            if row["expected"] == "skip":
                continue
            dotted = f"{module_name(root / row['path'])}.{row['function']}"
            hits = flagged.get(dotted, [])
            if row["expected"] == "reduced":
                if hits:
                    tp += 1
                else:
                    fn += 1
                    disagreements.append(
                        f"FN {package} {row['path']} {row['function']}: {row['reason']}"
                    )
            elif hits:
                fp += 1
                first = hits[0]
                disagreements.append(
                    f"FP {package} {row['path']} {row['function']}: {first['code']} "
                    f"line {first['location']['row']}: {first['message']}"
                )
            else:
                tn += 1
            for hit in hits:
                if hit.get("runtime"):
                    verdicts[hit["runtime"]["verdict"]] += 1
                    if hit["runtime"]["verdict"] != "confirmed":
                        reasons[hit["runtime"].get("detail", "")[:90]] += 1
        counts.update(tp=tp, fp=fp, fn=fn, tn=tn)
        per_package.append((f"{package} {version}", tp, fp, fn, tn))

    print(f"{'package':36} {'TP':>4} {'FP':>4} {'FN':>4} {'TN':>4}")
    for name, tp, fp, fn, tn in per_package:
        print(f"{name:36} {tp:4} {fp:4} {fn:4} {tn:4}")
    tp, fp, fn, tn = counts["tp"], counts["fp"], counts["fn"], counts["tn"]
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    print(f"\n{'total':36} {tp:4} {fp:4} {fn:4} {tn:4}")
    print(
        f"precision {precision:.3f}  recall {recall:.3f}  ({tp + fp + fn + tn} triaged functions scored)"
    )
    if verdicts:
        print("\nruntime verdicts on findings of triaged functions:", dict(verdicts))
        for reason, count in reasons.most_common(10):
            print(f"  {count:3}  {reason}")
    if disagreements:
        print("\ndisagreements:")
        for line in disagreements:
            print("  " + line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
