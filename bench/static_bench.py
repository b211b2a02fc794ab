"""Static-mode speed and memory, side by side with ruff, on the same trees.

    python bench/static_bench.py                  # synthetic project + fixtures
    python bench/static_bench.py --corpus DIR     # also a real tree (e.g. an unpacked package)

Each tool runs in a fresh process; wall time is the median of `--repeat` runs and memory is
the peak resident set size of that process. losslint runs cold (`--no-cache`), warm (second
run with its cache) and with `--jobs 2`; ruff runs `ruff check --no-cache` with its default
rules. The synthetic project mixes loss modules (with the patterns of LOSSES.md) and the kind
of code that surrounds them (models, data pipelines, utilities), most of which holds no loss.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

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


# Targets for static mode on this 2-core machine (wall time, peak RSS of the process tree).
TARGETS = {"synthetic project": (2.5, 150), "fixtures/": (1.5, 150), "keras-3.15.1": (20.0, 500)}

RUNNER = textwrap.dedent(
    """
    import resource, subprocess, sys, time
    start = time.perf_counter()
    proc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, proc.returncode)
    """
)


def measure(command: list[str], cwd: Path) -> tuple[float, float]:
    """(seconds, peak MB) of one run in a fresh process."""
    out = subprocess.run(
        [sys.executable, "-c", RUNNER, *command],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    seconds, kilobytes, _code = out.stdout.split()
    return float(seconds), int(kilobytes) / 1024


def lines_of_code(root: Path) -> int:
    return sum(len(p.read_text(errors="replace").splitlines()) for p in root.rglob("*.py"))


def bench_tree(name: str, root: Path, repeat: int) -> list[dict[str, object]]:
    losslint = [sys.executable, "-m", "losslint", "--exit-zero", "--no-respect-gitignore"]
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    cache = root / ".losslint_cache"
    variants = {
        "losslint --jobs 1 (cold, --no-cache)": (
            [*losslint, "--no-cache", "--jobs", "1", "."],
            None,
        ),
        "losslint (cold, --no-cache, --jobs auto)": ([*losslint, "--no-cache", "."], None),
        "losslint (warm cache, --jobs auto)": ([*losslint, "."], "warm"),
        "ruff check (default rules)": (
            [ruff, "check", "--no-cache", "--exit-zero", "--isolated", "."],
            None,
        ),
    }
    rows = []
    files = len(list(root.rglob("*.py")))
    loc = lines_of_code(root)
    for label, (command, mode) in variants.items():
        times, peaks = [], []
        for _ in range(repeat):
            shutil.rmtree(cache, ignore_errors=True)
            if mode == "warm":
                measure(command, root)  # fill the cache
            seconds, peak = measure(command, root)
            times.append(seconds)
            peaks.append(peak)
        rows.append(
            {
                "tree": name,
                "files": files,
                "lines": loc,
                "tool": label,
                "seconds": statistics.median(times),
                "peak_mb": max(peaks),
            }
        )
        shutil.rmtree(cache, ignore_errors=True)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=40, help="synthetic groups of 6 modules")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--corpus", action="append", default=[], help="an extra tree to measure")
    parser.add_argument("--json", help="write the rows as JSON here")
    options = parser.parse_args()

    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "synthetic"
        make_project(root, options.groups)
        rows += bench_tree("synthetic project", root, options.repeat)
    rows += bench_tree("fixtures/", REPO / "fixtures", options.repeat)
    for corpus in options.corpus:
        rows += bench_tree(Path(corpus).name, Path(corpus).resolve(), options.repeat)

    print("| tree | files | lines | tool | wall (s) | peak RSS (MB) | target |")
    print("|---|---:|---:|---|---:|---:|---|")
    failed = False
    for row in rows:
        target = ""
        limit = TARGETS.get(str(row["tree"]))
        if limit and str(row["tool"]).startswith("losslint (cold"):
            ok = float(str(row["seconds"])) <= limit[0] and float(str(row["peak_mb"])) <= limit[1]
            failed |= not ok
            target = f"{'met' if ok else 'MISSED'} (<= {limit[0]} s, <= {limit[1]} MB)"
        print(
            f"| {row['tree']} | {row['files']} | {row['lines']} | {row['tool']} | "
            f"{row['seconds']:.2f} | {row['peak_mb']:.0f} | {target} |"
        )
    if options.json:
        Path(options.json).write_text(json.dumps(rows, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
