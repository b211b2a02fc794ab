"""The least time a cold run could take on a tree: the work no design can skip, beside ruff.

    python bench/parse_floor.py DIR [--repeat N]

A cold run must start Python and import losslint's command line, read every file, run the
text gate over it, parse with Python's own parser every file that may hold a loss, and check
the syntax of every file that holds only a custom training loop (the symbol table, Python's
cheapest complete check). This script asks losslint's own gate which files those are, times
each part in this process (best of `--repeat`), and prints the floor: the start-up, plus the
rest shared perfectly between the CPUs losslint may use (at most 2), with no analysis at all,
no worker processes, no report. A second line does the same with the whole of a one-process
run (`--jobs 1`, analysis included). ruff, the start-up and that run alternate, each in a
fresh process, as in `bench/static_bench.py`; ratios are to ruff's median wall time.
"""

from __future__ import annotations

import argparse
import ast
import os
import shutil
import statistics
import subprocess
import symtable
import sys
import time
from collections.abc import Callable
from pathlib import Path

from losslint.config import DEFAULT_LOSS_ARG_NAMES, loss_pairs
from losslint.index.gate import has_loop_sink, text_may_hold_losses
from losslint.source import decode, read_bytes

RUFF = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
RUFF_ARGS = ["check", "--no-cache", "--isolated", "--exit-zero", "--select", "E,F,W", "."]


def best(repeat: int, work: Callable[[], object]) -> float:
    """The shortest of `repeat` runs of `work`, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def wall(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tree", type=Path)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    paths = sorted(p for p in args.tree.rglob("*.py") if p.is_file())
    texts = [decode(p, read_bytes(p)).text for p in paths]
    pairs = loss_pairs(DEFAULT_LOSS_ARG_NAMES)
    may_hold = [text_may_hold_losses(t, pairs) for t in texts]
    losses = [t for t, hold in zip(texts, may_hold, strict=True) if hold]
    loops = [t for t, hold in zip(texts, may_hold, strict=True) if not hold and has_loop_sink(t)]

    def read() -> None:
        for path in paths:
            decode(path, read_bytes(path))

    def gate() -> None:
        text_may_hold_losses.cache_clear()
        for text in texts:
            if not text_may_hold_losses(text, pairs):
                has_loop_sink(text)

    def parse() -> None:
        for text in losses:
            compile(text, "<floor>", "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
        for text in loops:
            symtable.symtable(text, "<floor>", "exec")

    imports = [sys.executable, "-c", "import losslint.cli"]
    one = [sys.executable, "-m", "losslint", "--no-cache", "--quiet", "--jobs", "1", "."]
    starts, ruffs, ones = [], [], []
    for _ in range(args.repeat):
        starts.append(wall(imports, args.tree))
        ruffs.append(wall([RUFF, *RUFF_ARGS], args.tree))
        ones.append(wall(one, args.tree))
    start, ruff = statistics.median(starts), statistics.median(ruffs)
    shared = start + (statistics.median(ones) - start) / 2
    parts = {"read": best(args.repeat, read), "gate": best(args.repeat, gate)}
    parts["parse"] = best(args.repeat, parse)
    cpus = min(2, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 2)
    floor = start + sum(parts.values()) / cpus
    size = sum(map(len, texts)) / 1e6
    print(f"{len(paths)} files, {size:.1f} MB; parsed: {len(losses)} files that may hold a loss")
    print(f"({sum(map(len, losses)) / 1e6:.1f} MB), {len(loops)} custom training loops only")
    print(f"({sum(map(len, loops)) / 1e6:.1f} MB, syntax checked)")
    print(f"start-up (import losslint.cli)  {start * 1000:7.1f} ms")
    for name, seconds in parts.items():
        print(f"{name:31s} {seconds * 1000:7.1f} ms of CPU")
    print(f"floor (start-up + rest / {cpus})      {floor * 1000:7.1f} ms")
    print(f"ruff check (median)             {ruff * 1000:7.1f} ms")
    print(f"floor / ruff                    {floor / ruff:7.2f}x")
    print(f"--jobs 1 run (median)           {statistics.median(ones) * 1000:7.1f} ms")
    print(f"it shared perfectly by 2, /ruff {shared / ruff:7.2f}x ({shared * 1000:.1f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
