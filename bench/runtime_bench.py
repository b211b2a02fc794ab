"""Benchmark: `losslint --runtime` on a generated project with 50 losses of mixed kinds.

Usage: python bench/runtime_bench.py [--losses 50] [--repeat 3] [--keep DIR]

Generates a temporary project (plain functions, factories, functools.partial, Loss
subclasses, lambdas, cross-module helpers, and a few correct losses that static analysis
flags anyway), runs the real CLI in a fresh process for each repetition, and reports the
wall time and the time the worker spent importing TensorFlow (measured inside the worker and
written by losslint to the file named by `LOSSLINT_RUNTIME_STATS`). A static-only run is
timed too, for comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KINDS = ("function", "factory", "partial", "loss_class", "lambda", "helper", "refuted")

HEADER = '''"""Generated losses ({name})."""

import functools

import keras
import tensorflow as tf

import bench_helpers
from bench_helpers import squared_error
'''

HELPERS = '''"""Helpers shared by the generated losses."""

import tensorflow as tf


def squared_error(y_true, y_pred):
    return tf.square(y_true - y_pred)
'''

HELPER = """

def batch_mean_{i}(x):
    return tf.reduce_mean(x) * {scale}
"""


def _loss_source(kind: str, i: int) -> tuple[str, str | None]:
    """(definition source, compile-site expression or None) for loss number `i`."""
    if kind == "function":
        return (
            f"def mse_{i}(y_true, y_pred):\n"
            f"    return tf.reduce_mean(tf.square(y_true - y_pred)) * {1 + i % 3}.0\n",
            None,
        )
    if kind == "factory":
        return (
            f"def focal_{i}(gamma=2.0):\n"
            f"    def focal_{i}_fixed(y_true, y_pred):\n"
            f"        p = tf.clip_by_value(y_pred, 1e-6, 1.0 - 1e-6)\n"
            f"        return tf.reduce_mean(-tf.pow(1.0 - p, gamma) * y_true * tf.math.log(p))\n\n"
            f"    return focal_{i}_fixed\n",
            f"focal_{i}(gamma={1 + i % 3}.0)",
        )
    if kind == "partial":
        return (
            f"def weighted_{i}(y_true, y_pred, weight):\n"
            f"    return tf.reduce_mean(weight * tf.abs(y_true - y_pred))\n",
            f"functools.partial(weighted_{i}, weight={i % 4 + 1}.0)",
        )
    if kind == "loss_class":
        return (
            f"class CustomMSE{i}(keras.losses.Loss):\n"
            f"    def __init__(self, factor=0.1, name='custom_mse_{i}'):\n"
            f"        super().__init__(name=name)\n"
            f"        self.factor = factor\n\n"
            f"    def call(self, y_true, y_pred):\n"
            f"        return tf.reduce_mean(tf.square(y_true - y_pred)) * self.factor\n",
            f"CustomMSE{i}({(i % 5 + 1) / 10})",
        )
    if kind == "lambda":
        return "", f"lambda yt, yp: tf.reduce_mean(tf.abs(yt - yp) * {i % 3 + 1}.0)"
    if kind == "helper":
        return (
            f"def helper_loss_{i}(y_true, y_pred):\n"
            f"    return bench_helpers.batch_mean_{i}(squared_error(y_true, y_pred))\n",
            None,
        )
    return (  # correct per-sample loss whose computed axis static analysis cannot pin down
        f"def rank_aware_{i}(y_true, y_pred):\n"
        f"    axis = -1 if y_pred.shape.rank > 1 else None\n"
        f"    return tf.reduce_mean(tf.square(y_true - y_pred), axis=axis)\n",
        None,
    )


def generate(root: Path, count: int) -> dict[str, int]:
    """Write the project; returns how many losses of each kind it has."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text('[project]\nname = "bench"\n\n[tool.losslint]\n')
    helpers = HELPERS
    per_module = 10
    kinds: dict[str, int] = dict.fromkeys(KINDS, 0)
    sites: list[tuple[str, str]] = []  # (module, expression)
    modules: dict[str, list[str]] = {}
    for i in range(count):
        kind = KINDS[i % len(KINDS)]
        kinds[kind] += 1
        module = f"losses_{i // per_module}"
        source, site = _loss_source(kind, i)
        if source:
            modules.setdefault(module, []).append(source)
        else:
            modules.setdefault(module, [])
        if site is not None:
            sites.append((module, site))
        if kind == "helper":  # one helper per loss, so that every loss is its own finding
            helpers += HELPER.format(i=i, scale=1 + i % 2)
    (root / "bench_helpers.py").write_text(helpers)
    for module, sources in modules.items():
        (root / f"{module}.py").write_text(
            HEADER.format(name=module) + "\n\n" + "\n\n".join(sources)
        )
    train = [
        '"""Compiles the generated losses (never executed by losslint)."""',
        "",
        "import functools",
        "",
        "import keras",
        "import tensorflow as tf",
        "",
    ]
    train += [f"from {m} import *  # noqa: F403" for m in sorted(modules)]
    train += ["", "model = keras.Sequential([keras.layers.Dense(7)])"]
    train += [f"model.compile(optimizer='adam', loss={expr})" for _, expr in sites]
    train += ["model.fit(tf.zeros((8, 4)), tf.zeros((8, 7)))", ""]
    (root / "train.py").write_text("\n".join(train))
    return kinds


def _run(
    args: list[str], cwd: Path, env: dict[str, str]
) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "losslint", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    return time.perf_counter() - started, proc


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--losses", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="generate the project here and keep it")
    parser.add_argument("--json", type=Path, help="also write the measurements here")
    options = parser.parse_args()

    workdir = options.keep or Path(tempfile.mkdtemp(prefix="losslint-bench-"))
    root = workdir / "project"
    if root.exists():
        shutil.rmtree(root)
    kinds = generate(root, options.losses)
    env = {**os.environ, "NO_COLOR": "1"}

    static_times = []
    for _ in range(options.repeat):
        wall, proc = _run(["--no-cache", "-q", "."], root, env)
        static_times.append(wall)
    findings = len(proc.stdout.splitlines())

    runs = []
    for index in range(options.repeat):
        stats_file = workdir / f"stats-{index}.json"
        wall, proc = _run(
            ["--no-cache", "--runtime", "."],
            root,
            {**env, "LOSSLINT_RUNTIME_STATS": str(stats_file)},
        )
        if proc.returncode not in (0, 1):
            print(proc.stderr, file=sys.stderr)
            return 2
        stats = json.loads(stats_file.read_text())
        summary = [line for line in proc.stderr.splitlines() if line.startswith("runtime: ")][-1]
        runs.append(
            {
                "wall_s": wall,
                "runtime_s": stats["wall_s"],
                "import_s": stats["import_s"],
                "probes": stats["probes"],
                "jobs": len(stats["jobs"]),
                "jobs_s": sum(job["elapsed_s"] for job in stats["jobs"]),
                "summary": summary,
            }
        )

    walls = [r["wall_s"] for r in runs]
    imports = [r["import_s"] for r in runs]
    report = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "losses": options.losses,
        "kinds": kinds,
        "findings_static": findings,
        "static_wall_s": statistics.median(static_times),
        "runtime_wall_s": {
            "median": statistics.median(walls),
            "min": min(walls),
            "max": max(walls),
        },
        "runtime_phase_s": statistics.median(r["runtime_s"] for r in runs),
        "tensorflow_import_s": statistics.median(imports),
        "import_share": statistics.median(i / w for i, w in zip(imports, walls, strict=True)),
        "runs": runs,
    }
    print(
        f"losses: {options.losses} ({', '.join(f'{k} {v}' for k, v in kinds.items())}); static findings: {findings}"
    )
    print(f"static only:        median {report['static_wall_s']:.2f} s")
    print(
        f"--runtime wall:     median {report['runtime_wall_s']['median']:.2f} s "
        f"(min {min(walls):.2f}, max {max(walls):.2f}, {options.repeat} runs)"
    )
    print(
        f"runtime phase:      median {statistics.median(r['runtime_s'] for r in runs):.2f} s "
        "(from the end of static analysis to the last verdict)"
    )
    per_loss = statistics.median(r["jobs_s"] for r in runs) / options.losses
    report["per_loss_ms"] = 1000 * per_loss
    print(
        f"per loss:           median {1000 * per_loss:.0f} ms (probe + fix verification, in the worker)"
    )
    print(
        f"TensorFlow import:  median {report['tensorflow_import_s']:.2f} s "
        f"= {100 * report['import_share']:.0f}% of the wall time (in the worker, overlapping static analysis)"
    )
    print(f"last summary:       {runs[-1]['summary']}")
    if options.json:
        options.json.write_text(json.dumps(report, indent=2))
    if not options.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
