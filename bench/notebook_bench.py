"""Linting a folder of notebooks: time and peak memory, side by side with ruff.

    python bench/notebook_bench.py                 # 200 synthetic notebooks
    python bench/notebook_bench.py --notebooks 400 --repeat 5

The notebooks are written the way Jupyter saves them (one-space indent, sorted keys, cell ids,
execution counts, outputs with a PNG plot), and look like course and Kaggle notebooks: a
markdown introduction, `%pip`/`!` set-up cells, data exploration, a model; one in four defines
a custom loss (half of them batch-reduced) and compiles it in a later cell. Each tool runs in a
fresh process (see `static_bench.py`); ruff runs `ruff check --no-cache --isolated`, which
lints notebooks by default.
"""

from __future__ import annotations

import argparse
import base64
import json
import shutil
import statistics
import struct
import sys
import tempfile
import zlib
from pathlib import Path

from static_bench import measure

META = {
    "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
    "language_info": {"name": "python", "pygments_lexer": "ipython3", "version": "3.11.9"},
}


def _png(width: int = 64, height: int = 48) -> str:
    rows = b"".join(
        b"\x00" + bytes(v for x in range(width) for v in (x * 4 % 256, y * 5 % 256, 128))
        for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
    return base64.b64encode(png + chunk(b"IEND", b"")).decode()


PNG = _png()


def _code(source: str, count: int, outputs: list[dict] | None = None) -> dict:
    return {
        "cell_type": "code",
        "execution_count": count,
        "metadata": {},
        "outputs": outputs or [],
        "source": source.splitlines(keepends=True),
    }


def _markdown(source: str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": source.splitlines(keepends=True)}


def _stream(text: str) -> dict:
    return {"name": "stdout", "output_type": "stream", "text": text.splitlines(keepends=True)}


def notebook(i: int) -> dict:
    """Notebook number `i`: 14 to 16 cells."""
    cells = [
        _markdown(f"# Experiment {i}\n\nLoad the data, look at it, fit a small model."),
        _code("%pip install -q tensorflow pandas matplotlib\n%matplotlib inline", 1),
        _code(
            "import matplotlib.pyplot as plt\nimport numpy as np\nimport pandas as pd\n"
            "import tensorflow as tf\nfrom tensorflow import keras",
            2,
        ),
        _code("!ls -la data | head", 3, [_stream("total 8\ndrwxr-xr-x 2 user user 4096 data\n")]),
        _code(
            f'df = pd.read_csv("data/train_{i}.csv")\ndf.describe()',
            4,
            [
                {
                    "data": {"text/plain": ["       x0    x1\ncount  100  100\nmean   0.5  0.4"]},
                    "execution_count": 4,
                    "metadata": {},
                    "output_type": "execute_result",
                }
            ],
        ),
        _markdown("## Features\n\nNormalise every column, then split."),
        _code(
            "features = df.drop(columns=['y']).to_numpy(dtype='float32')\n"
            "features = (features - features.mean(axis=0)) / features.std(axis=0)\n"
            "labels = df['y'].to_numpy(dtype='float32')[:, None]\n"
            "split = int(0.8 * len(features))",
            5,
        ),
        _code(
            "df.hist(figsize=(8, 6))\nplt.tight_layout()",
            6,
            [
                {
                    "data": {"image/png": PNG, "text/plain": ["<Figure size 800x600 with 4 Axes>"]},
                    "metadata": {},
                    "output_type": "display_data",
                }
            ],
        ),
    ]
    loss = "'mse'"
    if i % 4 == 0:
        reduce = "tf.reduce_mean(err)" if i % 8 == 0 else "tf.reduce_mean(err, axis=-1)"
        cells.append(
            _code(
                f"def scaled_error_{i}(y_true, y_pred, scale=2.0):\n"
                "    err = tf.square((y_true - y_pred) * scale)\n"
                f"    return {reduce}",
                7,
            )
        )
        loss = f"scaled_error_{i}"
    cells += [
        _code(
            "model = keras.Sequential([\n    keras.Input((features.shape[1],)),\n"
            "    keras.layers.Dense(64, activation='relu'),\n    keras.layers.Dense(1),\n])\n"
            f"model.compile(optimizer='adam', loss={loss}, metrics=['mae'])",
            8,
        ),
        _code(
            "%%time\nhistory = model.fit(features[:split], labels[:split], epochs=20, verbose=0)",
            9,
            [_stream("CPU times: user 2.1 s, sys: 0.2 s, total: 2.3 s\nWall time: 1.9 s\n")],
        ),
        _code(
            "plt.plot(history.history['loss'])\nplt.xlabel('epoch')",
            10,
            [
                {
                    "data": {"image/png": PNG, "text/plain": ["<Figure size 640x480 with 1 Axes>"]},
                    "metadata": {},
                    "output_type": "display_data",
                }
            ],
        ),
        _code("model.evaluate(features[split:], labels[split:])", 11, [_stream("0.0412\n")]),
        _markdown("## Notes\n\n- try a wider model\n- `model.summary()` for the shapes"),
        _code("model.summary()", 12, [_stream("Model: sequential\n" * 8)]),
    ]
    for n, cell in enumerate(cells):
        cell["id"] = f"{i:04d}{n:04d}"
    return {"cells": cells, "metadata": META, "nbformat": 4, "nbformat_minor": 5}


def make_folder(root: Path, count: int) -> None:
    root.mkdir(parents=True)
    (root / "pyproject.toml").write_text('[project]\nname = "notebooks"\n')
    for i in range(count):
        text = json.dumps(notebook(i), indent=1, sort_keys=True, ensure_ascii=False) + "\n"
        (root / f"experiment_{i:03d}.ipynb").write_text(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebooks", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    losslint = [sys.executable, "-m", "losslint", "--exit-zero", "--no-cache"]
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    variants = {
        "losslint --jobs 1 (--no-cache)": [*losslint, "--jobs", "1", "."],
        "losslint (--no-cache, --jobs auto)": [*losslint, "."],
        "ruff check (default rules)": [
            ruff,
            "check",
            "--no-cache",
            "--exit-zero",
            "--isolated",
            ".",
        ],
    }
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "notebooks"
        make_folder(root, options.notebooks)
        size = sum(p.stat().st_size for p in root.glob("*.ipynb")) / 1e6
        print(f"{options.notebooks} notebooks, {size:.1f} MB\n")
        print("| tool | wall (s) | CPU (s) | peak RSS (MB) |")
        print("|---|---:|---:|---:|")
        for label, command in variants.items():
            runs = [measure(command, root) for _ in range(options.repeat)]  # (wall, CPU, MB)
            seconds = statistics.median(r[0] for r in runs)
            cpu = statistics.median(r[1] for r in runs)
            peak = max(r[2] for r in runs)
            print(f"| {label} | {seconds:.2f} | {cpu:.2f} | {peak:.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
