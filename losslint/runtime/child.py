"""The runtime worker process: imports TensorFlow once, then answers the jobs it is sent.

Started by `losslint.runtime.worker` as a separate process; with `losslint.runtime.probe`, the
only losslint code that runs with TensorFlow imported. Protocol: one JSON object per line on the
worker's stdin (jobs) and on its original stdout (results); anything the losses print goes to
the worker's stderr log.

1. `{"type": "ready", ...}` once TensorFlow and Keras are imported (with the import times).
2. For each `{"type": "job", "id": ..., "mode": "probe" | "fix", ...}` one
   `{"type": "result", "id": ..., "status": ...}` (`losslint.runtime.probe.Prober`).
3. `{"type": "exit"}` (or end of input) ends the worker.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from typing import IO, Any

from losslint.runtime.probe import Prober

MEMORY_HEADROOM_MB = 2048  # address space allowed above what TensorFlow itself maps


def _claim_pipes() -> tuple[IO[str], IO[str]]:
    """Keep stdin/stdout for the protocol; route prints from user code to stderr."""
    proto_in = os.fdopen(os.dup(0), "r", encoding="utf-8")
    proto_out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    sys.stdin = open(os.devnull, encoding="utf-8")  # noqa: SIM115
    return proto_in, proto_out


def _die_with_parent() -> None:
    """Ask Linux to kill this worker when the linter exits (best effort elsewhere)."""
    parent = int(os.environ.get("LOSSLINT_PARENT_PID", "0") or 0)
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if parent and os.getppid() != parent:
        os._exit(0)


def _address_space() -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def limit_memory(headroom_mb: int) -> int | None:
    """Cap the address space at what is mapped now plus `headroom_mb`; the cap in bytes."""
    try:
        import resource
    except ImportError:  # pragma: no cover (Windows)
        return None
    current = _address_space()
    if current is None:
        return None
    limit = current + headroom_mb * 1024 * 1024
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    try:
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ValueError, OSError):
        return None
    return limit


def _silence(tf: Any) -> None:
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    tf.get_logger().setLevel(logging.ERROR)
    try:
        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.ERROR)
    except ImportError:  # pragma: no cover
        pass


def _lines(stream: IO[str]) -> Iterator[dict[str, Any]]:
    for line in stream:
        line = line.strip()
        if line:
            yield json.loads(line)


def main() -> None:
    """Entry point of the worker process."""
    proto_in, proto_out = _claim_pipes()
    _die_with_parent()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ["CUDA_VISIBLE_DEVICES"] = ""
    legacy = os.environ.get("LOSSLINT_KERAS") == "tf_keras"
    started = time.perf_counter()
    import tensorflow as tf

    tf_seconds = time.perf_counter() - started
    if legacy:
        import tf_keras as keras
    else:
        import keras

    keras_seconds = time.perf_counter() - started - tf_seconds
    _silence(tf)
    warm = time.perf_counter()
    tf.reduce_mean(tf.reduce_mean(tf.ones((2, 3)), axis=-1))  # first-op setup (thread pools)
    warm_seconds = time.perf_counter() - warm
    headroom = int(os.environ.get("LOSSLINT_RUNTIME_MEMORY_MB", MEMORY_HEADROOM_MB))
    limit = limit_memory(headroom)

    def send(message: dict[str, Any]) -> None:
        proto_out.write(json.dumps(message) + "\n")
        proto_out.flush()

    send(
        {
            "type": "ready",
            "tensorflow_import_s": round(tf_seconds, 4),
            "keras_import_s": round(keras_seconds, 4),
            "warmup_s": round(warm_seconds, 4),
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "legacy": legacy,
            "memory_limit_mb": None if limit is None else limit // (1024 * 1024),
            "memory_headroom_mb": headroom if limit is not None else None,
        }
    )
    prober = Prober(tf, keras, legacy)
    for message in _lines(proto_in):
        if message.get("type") == "exit":
            break
        if message.get("type") == "job":
            send(prober.handle(message))


if __name__ == "__main__":  # pragma: no cover
    main()
