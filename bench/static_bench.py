"""Static-mode speed and memory, side by side with ruff, in one run.

    python bench/static_bench.py                          # synthetic project + fixtures
    python bench/static_bench.py --corpus DIR             # also a real tree (keras' sources)
    python bench/static_bench.py --corpus DIR --baseline OLD_CHECKOUT

Every command runs in a fresh process, losslint and ruff alternately (so that both see the
same machine load), `--repeat` times each; the tables give medians and the ratio to ruff
(`ruff check --no-cache --isolated --select E,F,W`). Per tree: cold (`--no-cache`, with the
default `--jobs` and with `--jobs 1`), warm (nothing changed since the previous run), and one
file of the project linted alone, cold and warm (the file is analysed as part of its project).
Then one small file (5 lines, one finding), one large module alone (the corpus's
`keras/src/losses/losses.py` when given, as its own project) and `--version`. Memory is the
peak resident set of the largest process (`--jobs` workers are separate processes). Trees are
copied to a temporary folder with a `.git` marker, so that each is a project root and the
caches land there. `--baseline` runs an older checkout's one-file command for comparison.

The script compiles losslint's bytecode first (a pip install does; `PYTHONDONTWRITEBYTECODE`
would otherwise make every run compile it again) and exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SMALL = "import tensorflow as tf\n\n\ndef my_loss(y_true, y_pred):\n    return tf.reduce_mean(tf.square(y_true - y_pred))\n"
LARGE = "keras/src/losses/losses.py"  # inside the corpus

LOSS_MODULE = '''
"""Losses, batch {i}."""
import functools

import tensorflow as tf
from tensorflow import keras
from tensorflow.keras import backend as K

from .utils_{j} import mean_all, normalise


def mse_{i}(y_true, y_pred):
    return tf.reduce_mean(tf.square(y_true - y_pred))


def mae_{i}(y_true, y_pred):
    return K.mean(K.abs(y_true - y_pred), axis=-1)


def focal_{i}(gamma=2.0, alpha=0.25):
    def loss(y_true, y_pred):
        y_pred = K.clip(y_pred, K.epsilon(), 1.0 - K.epsilon())
        pt = tf.where(K.equal(y_true, 1.0), y_pred, 1.0 - y_pred)
        return -K.mean(alpha * K.pow(1.0 - pt, gamma) * K.log(pt))

    return loss


def dice_{i}(y_true, y_pred, smooth=1.0):
    inter = K.sum(K.flatten(y_true) * K.flatten(y_pred))
    return 1.0 - (2.0 * inter + smooth) / (K.sum(y_true) + K.sum(y_pred) + smooth)


def helper_{i}(y_true, y_pred):
    return mean_all(tf.square(normalise(y_true) - y_pred))


class Custom{i}(keras.losses.Loss):
    def __init__(self, factor=0.1, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor
        self.bce = keras.losses.BinaryCrossentropy()

    def call(self, y_true, y_pred):
        return self.bce(y_true, y_pred) + self.factor * tf.reduce_mean(tf.square(y_pred), axis=-1)


weighted_{i} = functools.partial(mae_{i})
'''

UTILS_MODULE = '''
"""Helpers, batch {j}."""
import numpy as np
import tensorflow as tf


def mean_all(x):
    return tf.reduce_mean(x)


def normalise(x, eps=1e-6):
    return (x - tf.reduce_mean(x, axis=-1, keepdims=True)) / (tf.math.reduce_std(x, axis=-1, keepdims=True) + eps)


def moving_average(values, window=5):
    out = []
    for start in range(0, max(len(values) - window, 0)):
        out.append(float(np.mean(values[start:start + window])))
    return out


class Registry:
    def __init__(self):
        self.items = {{}}

    def register(self, name, fn):
        self.items[name] = fn
        return fn

    def get(self, name):
        return self.items[name]
'''

MODEL_MODULE = '''
"""A model and its training loop, batch {k}."""
import tensorflow as tf
from tensorflow import keras

from . import losses_{i} as L


class Block{k}(keras.layers.Layer):
    def __init__(self, units=32, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(units)
        self.norm = keras.layers.LayerNormalization()

    def call(self, inputs, training=None):
        return self.norm(tf.nn.relu(self.dense(inputs)))


def build_{k}(inputs=16, outputs=4):
    x_in = keras.Input((inputs,))
    x = Block{k}()(x_in)
    x = Block{k}()(x)
    model = keras.Model(x_in, keras.layers.Dense(outputs)(x))
    model.compile(optimizer="adam", loss=L.mse_{i}, metrics=["mae"])
    return model


def train_{k}(model, data, epochs=3):
    history = []
    for epoch in range(epochs):
        for x, y in data:
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(model(x) - y))
            grads = tape.gradient(loss, model.trainable_variables)
            model.optimizer.apply_gradients(zip(grads, model.trainable_variables))
            history.append(float(loss))
    return history
'''

DATA_MODULE = '''
"""Input pipeline, batch {k}."""
import re

import tensorflow as tf

PATTERN = re.compile(r"^[a-z]+_[0-9]+$", re.I)


def parse(record):
    features = tf.io.parse_single_example(record, {{"x": tf.io.FixedLenFeature([16], tf.float32)}})
    return features["x"], tf.reduce_sum(features["x"])


def dataset(paths, batch_size=32):
    data = tf.data.TFRecordDataset([p for p in paths if PATTERN.match(p)])
    return data.map(parse).shuffle(1024).batch(batch_size).prefetch(2)
'''


def make_project(root: Path, groups: int) -> int:
    """Write `groups` x (losses, utils, model, 3 data modules); returns the number of files."""
    package = root / "proj"
    package.mkdir(parents=True)
    (root / "pyproject.toml").write_text('[project]\nname = "proj"\n')
    (package / "__init__.py").write_text("")
    count = 1
    for i in range(groups):
        (package / f"losses_{i}.py").write_text(LOSS_MODULE.format(i=i, j=i))
        (package / f"utils_{i}.py").write_text(UTILS_MODULE.format(j=i))
        (package / f"model_{i}.py").write_text(MODEL_MODULE.format(i=i, k=i))
        for d in range(3):
            (package / f"data_{i}_{d}.py").write_text(DATA_MODULE.format(k=f"{i}_{d}"))
        count += 6
    return count


RUNNER = textwrap.dedent(
    """
    import resource, subprocess, sys, time
    start = time.perf_counter()
    proc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, proc.returncode)
    """
)


@dataclass
class Sample:
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    peak_mb: float = 0.0

    def add(self, wall: float, cpu: float, peak_mb: float) -> None:
        self.wall.append(wall)
        self.cpu.append(cpu)
        self.peak_mb = max(self.peak_mb, peak_mb)

    @property
    def median(self) -> float:
        return statistics.median(self.wall)


def measure(
    command: list[str], cwd: Path, env: dict[str, str] | None = None
) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, peak MB of the largest process) of one fresh run."""
    out = subprocess.run(
        [sys.executable, "-c", RUNNER, *command],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **(env or {})},
    )
    wall, cpu, kilobytes, code = out.stdout.split()
    if int(code) not in (0, 1):
        raise RuntimeError(f"{command} exited {code} in {cwd}")
    return float(wall), float(cpu), int(kilobytes) / 1024


# the interpreter that runs losslint: this one, or a plain install's (`--install`)
LOSSLINT = [sys.executable, "-m", "losslint", "--exit-zero"]


def plain_install(folder: Path) -> Path:
    """A fresh virtualenv with this checkout installed as a user gets it (not editable: no
    import hook of an editable install runs at start-up); its python."""
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
    python = folder / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(REPO)],
        check=True,
    )
    return python


def ruff_command(*targets: str) -> list[str]:
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    return [ruff, "check", "--no-cache", "--isolated", "--exit-zero", "--select", "E,F,W", *targets]


@dataclass
class Row:
    tree: str
    what: str
    losslint: Sample
    ruff: Sample | None
    target: str = ""
    ok: bool | None = None

    @property
    def ratio(self) -> float | None:
        return self.losslint.median / self.ruff.median if self.ruff else None


def alternate(
    repeat: int,
    cwd: Path,
    losslint: list[str],
    ruff: list[str] | None,
    before: list[str] | None = None,
    env: dict[str, str] | None = None,
) -> tuple[Sample, Sample | None]:
    """Run losslint and ruff alternately; `before` (e.g. a cache-filling run) before each."""
    ours, theirs = Sample(), Sample() if ruff else None
    for _ in range(repeat):
        if before is not None:
            measure(before, cwd, env)
        ours.add(*measure(losslint, cwd, env))
        if ruff is not None and theirs is not None:
            theirs.add(*measure(ruff, cwd))
    return ours, theirs


def files_and_lines(root: Path) -> tuple[int, int]:
    files = [p for p in root.rglob("*.py") if ".losslint_cache" not in p.parts]
    return len(files), sum(len(p.read_bytes().splitlines()) for p in files)


def bench_tree(name: str, root: Path, one_file: str, repeat: int) -> list[Row]:
    cache = root / ".losslint_cache"
    rows = []
    ruff = ruff_command(".")
    for what, command in [
        ("cold (--no-cache)", [*LOSSLINT, "--no-cache", "."]),
        ("cold (--no-cache --jobs 1)", [*LOSSLINT, "--no-cache", "--jobs", "1", "."]),
    ]:
        rows.append(Row(name, what, *alternate(repeat, root, command, ruff)))
    shutil.rmtree(cache, ignore_errors=True)
    warm = [*LOSSLINT, "."]
    rows.append(Row(name, "warm (nothing changed)", *alternate(repeat, root, warm, ruff, warm)))
    one = ruff_command(one_file)
    cold_one = [*LOSSLINT, "--no-cache", one_file]
    rows.append(Row(name, f"one file, cold: {one_file}", *alternate(repeat, root, cold_one, one)))
    warm_one = [*LOSSLINT, one_file]
    rows.append(
        Row(name, f"one file, warm: {one_file}", *alternate(repeat, root, warm_one, one, warm))
    )
    shutil.rmtree(cache, ignore_errors=True)
    return rows


def copy_tree(source: Path, dest: Path) -> Path:
    shutil.copytree(
        source, dest, ignore=shutil.ignore_patterns(".losslint_cache", "__pycache__", ".git")
    )
    (dest / ".git").mkdir()  # a project root: one-file runs analyse the project
    return dest


def single_file_project(folder: Path, name: str, text: bytes) -> Path:
    folder.mkdir(parents=True)
    (folder / "pyproject.toml").write_text('[project]\nname = "one"\n')
    (folder / name).write_bytes(text)
    return folder


def check(row: Row, limit: float, kind: str, stretch: float | None = None) -> None:
    """Mark a row against a target: `kind` "ratio" (to ruff), "ms" or "MB" (peak)."""
    if kind == "ratio":
        value = row.ratio or 0.0
        text = f"<= {limit:g}x ruff" + (f", stretch {stretch:g}x" if stretch else "")
    elif kind == "ms":
        value = row.losslint.median * 1000
        text = f"< {limit:.0f} ms"
    else:
        value = row.losslint.peak_mb
        text = f"< {limit:g} MB peak"
    ok = value <= limit if kind == "ratio" else value < limit
    verdict = "met" if ok else "MISSED"
    if stretch is not None and ok:
        verdict += ", stretch met" if value <= stretch else ", stretch not met"
    row.ok = ok and row.ok is not False
    row.target = "; ".join(t for t in (row.target, f"{verdict} ({text})") if t)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=40, help="synthetic groups of 6 modules")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--corpus", help="keras' sources (a folder holding keras/src/...)")
    parser.add_argument("--baseline", help="an older losslint checkout, for the one-file run")
    parser.add_argument("--json", help="write the rows as JSON here")
    parser.add_argument(
        "--install",
        action="store_true",
        help="run losslint from a plain (non-editable) install of this checkout in a new venv",
    )
    options = parser.parse_args()
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "losslint")], check=True)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    load = os.getloadavg()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        if options.install:
            LOSSLINT[0] = str(plain_install(tmp / "venv"))
        trees: list[tuple[str, Path, str]] = []
        synthetic = tmp / "synthetic"
        make_project(synthetic, options.groups)
        (synthetic / ".git").mkdir()
        trees.append(("synthetic project", synthetic, "proj/losses_0.py"))
        fixtures = copy_tree(REPO / "fixtures", tmp / "fixtures")
        trees.append(("fixtures/", fixtures, "keras_project/mlproj/losses.py"))
        corpus = None
        if options.corpus:
            corpus = copy_tree(Path(options.corpus).resolve(), tmp / "keras")
            trees.append(("keras corpus", corpus, LARGE))
        sizes = {name: files_and_lines(root) for name, root, _ in trees}
        for name, root, one_file in trees:
            rows += bench_tree(name, root, one_file, options.repeat)
        if corpus is not None and options.baseline:
            env = {"PYTHONPATH": str(Path(options.baseline).resolve())}
            old = [sys.executable, "-m", "losslint", "--exit-zero", "--no-cache", LARGE]
            sample, _ = alternate(options.repeat, corpus, old, None, env=env)
            rows.append(Row("keras corpus", f"one file, cold, BASELINE: {LARGE}", sample, None))
        small = single_file_project(tmp / "small", "one.py", SMALL.encode())
        rows.append(
            Row(
                "one small file",
                "5 lines, 1 finding, --no-cache",
                *alternate(
                    options.repeat,
                    small,
                    [*LOSSLINT, "--no-cache", "one.py"],
                    ruff_command("one.py"),
                ),
            )
        )
        if corpus is not None:
            large = single_file_project(tmp / "large", "losses.py", (corpus / LARGE).read_bytes())
            rows.append(
                Row(
                    "one large module",
                    f"{LARGE} alone, --no-cache",
                    *alternate(
                        options.repeat,
                        large,
                        [*LOSSLINT, "--no-cache", "losses.py"],
                        ruff_command("losses.py"),
                    ),
                )
            )
        version = [LOSSLINT[0], "-m", "losslint", "--version"]
        ruff_version = [ruff_command()[0], "--version"]
        rows.append(Row("--version", "", *alternate(options.repeat, small, version, ruff_version)))
    _targets(rows)
    _print(rows, sizes, load, os.getloadavg(), options.repeat)
    if options.json:
        Path(options.json).write_text(
            json.dumps(
                [
                    {
                        "tree": r.tree,
                        "what": r.what,
                        "losslint_s": r.losslint.wall,
                        "losslint_cpu_s": r.losslint.cpu,
                        "losslint_peak_mb": r.losslint.peak_mb,
                        "ruff_s": r.ruff.wall if r.ruff else None,
                        "target": r.target,
                    }
                    for r in rows
                ],
                indent=2,
            )
        )
    return 1 if any(r.ok is False for r in rows) else 0


def _targets(rows: list[Row]) -> None:
    """issue 7's targets, and issue 12's one-file acceptance (2x the baseline's one file)."""
    by = {(r.tree, r.what.split(":")[0]): r for r in rows}
    keras = "keras corpus"
    if (keras, "cold (--no-cache)") in by:
        check(by[keras, "cold (--no-cache)"], 3.0, "ratio", stretch=2.0)
        check(by[keras, "cold (--no-cache)"], 150, "MB")  # the default run (--jobs 0)
        check(by[keras, "warm (nothing changed)"], 1.0, "ratio")
        baseline = by.get((keras, "one file, cold, BASELINE"))
        if baseline is not None:
            limit = 2 * baseline.losslint.median * 1000
            for what in ("one file, cold", "one file, warm"):
                check(by[keras, what], limit, "ms")
                by[keras, what].target += ", 2x the baseline's"
    check(by["one small file", "5 lines, 1 finding, --no-cache"], 100, "ms")
    if ("one large module", f"{LARGE} alone, --no-cache") in by:
        check(by["one large module", f"{LARGE} alone, --no-cache"], 300, "ms")
    check(by["--version", ""], 60, "ms")


def _print(
    rows: list[Row],
    sizes: dict[str, tuple[int, int]],
    load: tuple[float, ...],
    end_load: tuple[float, ...],
    repeat: int,
) -> None:
    print(
        f"load average {load[0]:.1f} at the start, {end_load[0]:.1f} at the end; {os.cpu_count()} CPUs; medians of {repeat}"
    )
    print()
    for name, (files, lines) in sizes.items():
        print(f"- {name}: {files} files, {lines} lines")
    print()
    print("| tree | run | losslint (s) | CPU (s) | peak (MB) | ruff (s) | ratio | target |")
    print("|---|---|---:|---:|---:|---:|---:|---|")
    for r in rows:
        ruff = f"{r.ruff.median:.3f}" if r.ruff else ""
        ratio = f"{r.ratio:.1f}x" if r.ratio is not None else ""
        print(
            f"| {r.tree} | {r.what} | {r.losslint.median:.3f} | "
            f"{statistics.median(r.losslint.cpu):.3f} | {r.losslint.peak_mb:.0f} | {ruff} | "
            f"{ratio} | {r.target} |"
        )


if __name__ == "__main__":
    raise SystemExit(main())
