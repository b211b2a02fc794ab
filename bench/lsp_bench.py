"""LSP latency: the round trip from `didChange` to `publishDiagnostics` on a 500-line module.

    python bench/lsp_bench.py                 # 30 edits per setting, 5 CLI runs
    python bench/lsp_bench.py --edits 60 --profile

`losslint-lsp` runs as a real subprocess, driven over stdio by the test suite's client
(tests/lsp_client.py). After opening a realistic synthetic losses module (about 500 lines,
38 findings), the client sends incremental edits that alternately fix and un-fix one loss
(so the findings really change) and measures, for each, the time from sending `didChange`
to receiving the diagnostics for that version; the median is reported with the server's
default debounce and with `debounce: 0` (what the engine and the protocol cost), from two
servers whose edits alternate, so that both see the same load on a shared machine. Printed
with it: how long the server's engine call took for those edits (from the server's log),
and one `losslint` CLI run on the same file in a fresh process. `--profile` adds where the
engine's time goes (cProfile, in this process).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from lsp_client import LspClient  # noqa: E402

from losslint.config import load_config  # noqa: E402
from losslint.engine import Session as EngineSession  # noqa: E402
from losslint.integrations.lsp_server import DEFAULT_DEBOUNCE_MS  # noqa: E402

TARGET_MS, STRETCH_MS = 200.0, 50.0

HEADER = '''"""Losses and metrics for the segmentation and regression models."""

from __future__ import annotations

import functools

import numpy as np
import tensorflow as tf
from tensorflow import keras
from tensorflow.keras import backend as K

EPS = 1e-7
SMOOTH = 1.0
'''

BLOCKS = [
    '''

def mse_{i}(y_true, y_pred):
    """Mean squared error, as the old TensorFlow guide wrote it."""
    return tf.reduce_mean(tf.square(y_true - y_pred))


def mae_{i}(y_true, y_pred):
    """Mean absolute error per sample."""
    return K.mean(K.abs(y_true - y_pred), axis=-1)
''',
    '''

def log_cosh_{i}(y_true, y_pred):
    """Log-cosh error: smooth like MSE near zero, linear like MAE far away."""
    diff = y_pred - y_true
    value = diff + tf.math.softplus(-2.0 * diff) - tf.math.log(2.0)
    return tf.reduce_mean(value, axis=-1)


def huber_{i}(y_true, y_pred, delta=1.0):
    """Huber loss over the whole batch."""
    err = tf.abs(y_true - y_pred)
    quad = tf.minimum(err, delta)
    lin = err - quad
    return tf.reduce_mean(0.5 * tf.square(quad) + delta * lin)
''',
    '''

def focal_loss_{i}(gamma=2.0, alpha=0.25):
    """Binary focal loss (Lin et al.), as a factory of the configured loss."""

    def focal_loss_fixed(y_true, y_pred):
        y_pred = K.clip(y_pred, EPS, 1.0 - EPS)
        pt = tf.where(K.equal(y_true, 1.0), y_pred, 1.0 - y_pred)
        weight = alpha * K.pow(1.0 - pt, gamma)
        # mean over everything: the classic copy
        return -K.mean(weight * K.log(pt))

    return focal_loss_fixed
''',
    '''

def dice_coef_{i}(y_true, y_pred, smooth=SMOOTH):
    """Dice coefficient over the flattened batch."""
    y_true_f = K.flatten(y_true)
    y_pred_f = K.flatten(y_pred)
    intersection = K.sum(y_true_f * y_pred_f)
    return (2.0 * intersection + smooth) / (K.sum(y_true_f) + K.sum(y_pred_f) + smooth)


def dice_loss_{i}(y_true, y_pred):
    return 1.0 - dice_coef_{i}(y_true, y_pred)


def bce_dice_loss_{i}(y_true, y_pred):
    """Binary cross-entropy plus dice, a favourite for segmentation."""
    bce = keras.losses.binary_crossentropy(y_true, y_pred)
    return bce + dice_loss_{i}(y_true, y_pred)
''',
    '''

def per_sample_dice_{i}(y_true, y_pred, smooth=SMOOTH):
    """Dice per sample: reduce over every axis but the batch axis."""
    axes = tuple(range(1, len(y_pred.shape)))
    intersection = tf.reduce_sum(y_true * y_pred, axis=axes)
    union = tf.reduce_sum(y_true, axis=axes) + tf.reduce_sum(y_pred, axis=axes)
    return 1.0 - (2.0 * intersection + smooth) / (union + smooth)


def tversky_{i}(alpha=0.7, beta=0.3):
    def loss(y_true, y_pred):
        tp = tf.reduce_sum(y_true * y_pred, axis=[0, 1, 2])
        fp = tf.reduce_sum((1.0 - y_true) * y_pred, axis=[0, 1, 2])
        fn = tf.reduce_sum(y_true * (1.0 - y_pred), axis=[0, 1, 2])
        return 1.0 - tf.reduce_mean((tp + SMOOTH) / (tp + alpha * fp + beta * fn + SMOOTH))

    return loss
''',
    '''

class WeightedMSE{i}(keras.losses.Loss):
    """MSE with a regularisation term on the predictions."""

    def __init__(self, factor=0.1, name="weighted_mse_{i}"):
        super().__init__(name=name)
        self.factor = factor

    def call(self, y_true, y_pred):
        mse = tf.math.reduce_mean(tf.square(y_true - y_pred))
        reg = tf.math.reduce_mean(tf.square(0.5 - y_pred))
        return mse + reg * self.factor


class PerSampleMSE{i}(keras.losses.Loss):
    def call(self, y_true, y_pred):
        return tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)
''',
    '''

class BCEDice{i}(keras.losses.Loss):
    """Cross-entropy object plus dice, built once in __init__."""

    def __init__(self, smooth=SMOOTH, **kwargs):
        super().__init__(**kwargs)
        self.smooth = smooth
        self.bce = keras.losses.BinaryCrossentropy()

    def call(self, y_true, y_pred):
        return self.bce(y_true, y_pred) + dice_loss_{i}(y_true, y_pred)
''',
    '''

def masked_mse_{i}(y_true, y_pred, mask_value=0.0):
    """MSE that ignores padded targets."""
    mask = K.cast(K.not_equal(y_true, mask_value), K.floatx())
    total = K.sum(K.square(y_true - y_pred) * mask, axis=-1)
    return total / K.maximum(K.sum(mask, axis=-1), 1.0)


def rmse_{i}(y_true, y_pred):
    return K.sqrt(K.mean(K.square(y_pred - y_true)))


def l2_{i}(y_true, y_pred):
    return tf.nn.l2_loss(y_true - y_pred)
''',
    '''

def binary_accuracy_batch_{i}(y_true, y_pred, threshold=0.5):
    """Accuracy over the batch (a metric)."""
    return K.mean(K.equal(y_true, K.cast(y_pred > threshold, K.floatx())))


def iou_score_{i}(y_true, y_pred, smooth=SMOOTH):
    intersection = K.sum(K.abs(y_true * y_pred))
    union = K.sum(y_true) + K.sum(y_pred) - intersection
    return (intersection + smooth) / (union + smooth)
''',
    '''

def categorical_focal_{i}(gamma=2.0):
    """Categorical focal loss, per sample."""

    def loss(y_true, y_pred):
        y_pred = tf.clip_by_value(y_pred, EPS, 1.0 - EPS)
        ce = -y_true * tf.math.log(y_pred)
        weight = tf.pow(1.0 - y_pred, gamma)
        return tf.reduce_sum(weight * ce, axis=-1)

    return loss


smooth_l1_{i} = functools.partial(huber_{i}, delta=1.0)
''',
    """

def weighted_bce_{i}(pos_weight=2.0):
    def loss(y_true, y_pred):
        y_pred = K.clip(y_pred, EPS, 1.0 - EPS)
        terms = pos_weight * y_true * K.log(y_pred) + (1.0 - y_true) * K.log(1.0 - y_pred)
        return -tf.reduce_mean(terms, axis=-1)

    return loss


def kl_{i}(y_true, y_pred):
    y_true = K.clip(y_true, EPS, 1.0)
    y_pred = K.clip(y_pred, EPS, 1.0)
    return K.sum(y_true * K.log(y_true / y_pred), axis=-1)
""",
    '''

def summarize_{i}(history):
    """Training-curve helper (not a loss)."""
    values = np.asarray(history, dtype=np.float32)
    if values.size == 0:
        return {{"min": None, "mean": None}}
    return {{"min": float(values.min()), "mean": float(np.mean(values))}}


def sse_{i}(y_true, y_pred):
    return K.sum(K.square(y_pred - y_true))
''',
]


def build_module(lines: int = 500) -> str:
    """A losses module of about `lines` lines: the blocks above, numbered, in turn."""
    text = HEADER
    i = 0
    while text.count("\n") < lines:
        text += BLOCKS[i % len(BLOCKS)].format(i=i // len(BLOCKS))
        i += 1
    return text


EDITED_LINE = "    return tf.reduce_mean(tf.square(y_true - y_pred))"
LOG_LINE = re.compile(r"linted in ([0-9.]+) ms, published in ([0-9.]+) ms")


class Session:
    """One `losslint-lsp` process with the module open, edited one change at a time."""

    def __init__(self, path: Path, text: str, debounce: int | None) -> None:
        server = Path(sys.executable).with_name("losslint-lsp")
        self.log = path.with_name(f"server-{debounce}.log")
        command = [str(server), "--log-level", "INFO", "--log-file", str(self.log)]
        self.client = LspClient(command, path.parent)
        self.uri = path.as_uri()
        self.client.initialize(
            path.parent, options=None if debounce is None else {"debounce": debounce}
        )
        self.client.notify(
            "textDocument/didOpen",
            {"textDocument": {"uri": self.uri, "languageId": "python", "version": 1, "text": text}},
        )
        _, first = self.client.wait_for("textDocument/publishDiagnostics", self.uri)
        self.baseline = len(first["diagnostics"])
        self.row = text.splitlines().index(EDITED_LINE)
        self.column = len("    return tf.reduce_mean(tf.square(y_true - y_pred)")
        self.version = 1
        self.times: list[float] = []

    def edit(self) -> None:
        """Fix `mse_0` (one finding fewer) or undo that; time until its diagnostics arrive."""
        self.version += 1
        fixing = self.version % 2 == 0
        start = self.column
        end = start if fixing else start + len(", axis=-1")
        change = {
            "range": {
                "start": {"line": self.row, "character": start},
                "end": {"line": self.row, "character": end},
            },
            "text": ", axis=-1" if fixing else "",
        }
        sent = self.client.notify(
            "textDocument/didChange",
            {
                "textDocument": {"uri": self.uri, "version": self.version},
                "contentChanges": [change],
            },
        )
        while True:
            received, params = self.client.wait_for("textDocument/publishDiagnostics", self.uri)
            if params.get("version") == self.version:
                break
        expected = self.baseline - 1 if fixing else self.baseline
        if len(params["diagnostics"]) != expected:
            raise AssertionError(f"version {self.version}: {len(params['diagnostics'])} findings")
        self.times.append((received - sent) * 1000)

    def finish(self) -> tuple[list[float], list[float]]:
        """Close the server; (engine ms, publish ms) of each edit's lint, from its log."""
        self.client.close()
        logged = [LOG_LINE.search(line) for line in self.log.read_text().splitlines()]
        timings = [(float(m[1]), float(m[2])) for m in logged if m][1:]  # [0]: didOpen
        if len(timings) != len(self.times):
            raise AssertionError(f"{len(timings)} lints logged for {len(self.times)} edits")
        return [t[0] for t in timings], [t[1] for t in timings]


def round_trips(
    path: Path, text: str, edits: int
) -> dict[str, tuple[list[float], list[float], list[float]]]:
    """Round trips with the default debounce and with 0, edits interleaved between the two
    servers so that both see the same machine load; per setting: (round trip, engine,
    publish) milliseconds for each edit."""
    sessions = {"default": Session(path, text, None), "0": Session(path, text, 0)}
    for _ in range(edits):
        for session in sessions.values():
            session.edit()
    results = {}
    for name, session in sessions.items():
        engine, publish = session.finish()
        results[name] = (session.times, engine, publish)
    return results


def cli_times(path: Path, runs: int) -> list[float]:
    """Milliseconds of `losslint --no-cache FILE` in a fresh process (start-up included)."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "losslint", "--no-cache", path.name],
            cwd=path.parent,
            capture_output=True,
            check=False,
        )
        times.append((time.perf_counter() - start) * 1000)
    return times


PHASES = {
    "parse (ast)": r"losslint/source.py:\d+\(check_syntax\)",
    "module scan (index)": r"losslint/index/modules.py:\d+\(scan_module\)",
    "loss discovery": r"losslint/analysis/losses.py:\d+\(candidates\)",
    "loss analysis": r"losslint/analysis/losses.py:\d+\(issues\)",
    "fix edits (libcst)": r"losslint/fixes/render.py:\d+\(render\)",
    "noqa comments (tokenize)": r"losslint/suppression.py:\d+\(parse_suppressions\)",
}


def profile(path: Path, text: str) -> list[tuple[str, float]]:
    """Share of `Session.lint` (cumulative, under cProfile) spent in each engine phase, for
    edits of the buffer in one kept session, as the server lints them."""
    session = EngineSession(load_config(path))
    edited = text.replace(EDITED_LINE, EDITED_LINE.replace("))", "), axis=-1)"), 1)
    session.set_overlay(path, text.encode())
    session.lint([path])
    profiler = cProfile.Profile()
    profiler.enable()
    for i in range(10):
        session.set_overlay(path, (edited if i % 2 else text).encode())
        session.lint([path])
    profiler.disable()
    stats = pstats.Stats(profiler)
    total = max(v[3] for k, v in stats.stats.items() if k[2] == "lint")  # type: ignore[attr-defined]
    shares = []
    for label, pattern in PHASES.items():
        matched = [
            v[3]
            for k, v in stats.stats.items()  # type: ignore[attr-defined]
            if re.search(pattern, f"{k[0]}:{k[1]}({k[2]})")
        ]
        shares.append((label, 100 * sum(matched) / total))
    return shares


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=30, help="didChange round trips per setting")
    parser.add_argument("--cli-runs", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="show where the engine's time goes")
    options = parser.parse_args()
    # bytecode as a pip install leaves it (PYTHONDONTWRITEBYTECODE would recompile every run)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "losslint")], check=True)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    text = build_module()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp).resolve()
        (root / "pyproject.toml").write_text('[project]\nname = "bench"\n')
        path = root / "losses.py"
        path.write_text(text)
        load = os.getloadavg()[0]
        measured = round_trips(path, text, options.edits)
        default, lints, publishes = measured["default"]
        zero, zero_lints, _ = measured["0"]
        cli = cli_times(path, options.cli_runs)
        shares = profile(path, text) if options.profile else []
    lines = text.count("\n")
    print(f"{lines}-line module; load average {load:.1f} on {os.cpu_count()} CPUs at the start")
    print()
    print("| measurement | median (ms) | min (ms) | max (ms) | runs |")
    print("|---|---:|---:|---:|---:|")
    rows = [
        (
            f"LSP didChange -> publishDiagnostics (default debounce {DEFAULT_DEBOUNCE_MS} ms)",
            default,
        ),
        ("  of which: the engine's lint in the server (Session.lint)", lints),
        ("  of which: building and sending publishDiagnostics", publishes),
        ("LSP didChange -> publishDiagnostics (debounce 0)", zero),
        ("  of which: the engine's lint in the server (Session.lint)", zero_lints),
        ("one CLI run: losslint --no-cache FILE (fresh process)", cli),
    ]
    for label, times in rows:
        print(
            f"| {label} | {statistics.median(times):.0f} | {min(times):.0f} | "
            f"{max(times):.0f} | {len(times)} |"
        )
    if shares:
        print()
        print("| engine phase (cumulative share under cProfile; phases nest) | % |")
        print("|---|---:|")
        for label, share in shares:
            print(f"| {label} | {share:.0f} |")
    median = statistics.median(default)
    verdict = "met" if median < TARGET_MS else "MISSED"
    stretch = "met" if median < STRETCH_MS else "not met"
    print()
    print(
        f"target (< {TARGET_MS:.0f} ms, default settings): {verdict}; stretch (< {STRETCH_MS:.0f} ms): {stretch}"
    )
    return 0 if median < TARGET_MS else 1


if __name__ == "__main__":
    raise SystemExit(main())
