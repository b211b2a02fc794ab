"""The linter side of the worker process: start it, send jobs, enforce timeouts, restart it.

One worker per run imports TensorFlow once and runs every job. A job that does not answer
within its timeout gets the worker killed; a worker that dies (crash, out of memory) is
replaced before the next job. Neither ever stops the linter.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import queue
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import IO, Any

STARTUP_TIMEOUT = 180.0  # importing TensorFlow on a cold CI machine can take a while
LOG_LIMIT = 64 * 1024  # bytes of the worker's stderr kept (the tail), whatever the loss prints
# the environment variables the worker inherits (plus TF_*, KERAS_*, OMP_*, MKL_*, LC_*):
# nothing else, so that tokens and credentials never reach the code it runs
_ENV_KEEP = frozenset(
    {"PATH", "LANG", "LANGUAGE", "TZ", "TMPDIR", "TEMP", "TMP", "LD_LIBRARY_PATH", "SYSTEMROOT"}
)
_ENV_PREFIXES = ("TF_", "KERAS_", "OMP_", "MKL_", "OPENBLAS_", "LC_", "LOSSLINT_RUNTIME_")
_BOOTSTRAP = (
    "import json, os, sys; sys.path[:] = json.loads(os.environ['LOSSLINT_WORKER_SYSPATH']); "
    "from losslint.runtime.child import main; main()"
)
_LIVE: set[Worker] = set()
# what TensorFlow's C++ side prints at start-up whatever TF_CPP_MIN_LOG_LEVEL says
_TF_NOTICE = re.compile(
    r"^([IWE]\d{4} \d\d:\d\d:\d\d|WARNING: All log messages before absl|To enable the following)"
)


@dataclass
class Reply:
    """What came back for one request: the worker's message, or why there is none."""

    status: str  # "ok" (see `message`), "timeout", "crashed", "unavailable"
    message: dict[str, Any] = field(default_factory=dict)
    detail: str = ""
    elapsed: float = 0.0


def worker_env(home: str, legacy: bool = False) -> dict[str, str]:
    """The worker's environment: only what Python and TensorFlow need (see `_ENV_KEEP`), no
    GPU, TensorFlow quiet, Keras on TensorFlow, `HOME` an empty temporary folder (Keras
    writes `~/.keras` there, not in the user's home). `legacy`: `tf.keras` is tf_keras."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key in _ENV_KEEP or key.startswith(_ENV_PREFIXES)
    }
    env.pop("TF_USE_LEGACY_KERAS", None)
    if legacy:
        env["TF_USE_LEGACY_KERAS"] = "1"
    # without oneDNN's allocator, a failed allocation raises at once instead of after
    # TensorFlow's 10 s of retries (a memory-hungry loss is then reported quickly)
    env.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    env.update(
        HOME=home,
        LOSSLINT_KERAS="tf_keras" if legacy else "3",
        CUDA_VISIBLE_DEVICES="",
        TF_CPP_MIN_LOG_LEVEL="3",
        KERAS_BACKEND="tensorflow",
        PYTHONHASHSEED="0",
        PYTHONDONTWRITEBYTECODE="1",
        MALLOC_ARENA_MAX="2",
        GRPC_VERBOSITY="ERROR",
        LOSSLINT_PARENT_PID=str(os.getpid()),
    )
    cwd = os.getcwd()
    paths = [p for p in sys.path if p and os.path.abspath(p) != cwd]
    env["LOSSLINT_WORKER_SYSPATH"] = json.dumps(paths)
    return env


class _Log:
    """The tail of the worker's stderr, read from a pipe (bounded: `LOG_LIMIT` bytes)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._data = bytearray()
        self._lock = threading.Lock()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: IO[bytes]) -> None:
        with contextlib.suppress(OSError, ValueError):
            for chunk in iter(lambda: stream.read1(8192), b""):  # type: ignore[attr-defined]
                with self._lock:
                    self._data += chunk
                    if len(self._data) > LOG_LIMIT:
                        del self._data[: len(self._data) - LOG_LIMIT]

    def tail(self) -> str:
        with self._lock:
            return self._data.decode("utf-8", "replace")


class Worker:
    """A TensorFlow worker process, started lazily and restarted after a timeout or crash."""

    def __init__(self, legacy: bool = False) -> None:
        self.legacy = legacy  # tf_keras (TF_USE_LEGACY_KERAS=1) instead of Keras 3
        self.proc: subprocess.Popen[bytes] | None = None
        self.ready: dict[str, Any] | None = None
        self.starts: list[dict[str, Any]] = []  # one "ready" message per start
        self._replies: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._log: _Log | None = None
        self._home: tempfile.TemporaryDirectory[str] | None = None
        self._spawned_at = 0.0
        self._next_id = 0
        self.failure: str | None = None  # why the last start failed; no further starts then

    # lifecycle ---

    def start(self) -> None:
        """Spawn the process; it imports TensorFlow in the background."""
        if self.proc is not None and self.proc.poll() is None:
            return
        if self._home is None:  # empty folders: the worker's cwd, and its HOME
            self._home = tempfile.TemporaryDirectory(prefix="losslint-worker-")
            for name in ("cwd", "home"):
                os.mkdir(os.path.join(self._home.name, name))
        self._replies = queue.Queue()
        self.ready = None
        self._spawned_at = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-c", _BOOTSTRAP],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=os.path.join(self._home.name, "cwd"),
            env=worker_env(os.path.join(self._home.name, "home"), self.legacy),
            close_fds=True,
            start_new_session=True,  # its own process group: a kill takes its children too
        )
        assert self.proc.stderr is not None
        self._log = _Log(self.proc.stderr)
        _LIVE.add(self)
        reader = threading.Thread(target=self._read, args=(self.proc, self._replies), daemon=True)
        reader.start()

    @staticmethod
    def _read(proc: subprocess.Popen[bytes], replies: queue.Queue[dict[str, Any] | None]) -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            try:
                replies.put(json.loads(raw))
            except ValueError:
                continue
        replies.put(None)  # end of output: the process is gone

    def wait_ready(self, timeout: float = STARTUP_TIMEOUT) -> bool:
        """Start if needed and wait for TensorFlow to be imported; False if the worker failed."""
        if self.ready is not None and self.alive():
            return True
        if self.failure is not None:
            return False  # TensorFlow did not import once: do not retry for every loss
        if not self.alive():
            self.start()
        deadline = time.monotonic() + timeout
        while True:
            try:
                message = self._replies.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self.kill()
                self.failure = f"TensorFlow did not import within {timeout:g} s"
                return False
            if message is None:
                self._reap()
                self.failure = f"the worker exited while importing TensorFlow ({self._death()})"
                return False
            if message.get("type") == "ready":
                message["startup_s"] = round(time.perf_counter() - self._spawned_at, 4)
                self.ready = message
                self.starts.append(message)
                return True

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """Kill the worker's whole process group (children the loss started included)."""
        if self.proc is None:
            return
        with contextlib.suppress(OSError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # the group outlives a dead leader
        if self.proc.poll() is None:
            self.proc.kill()
        self._reap()

    def _reap(self) -> None:
        if self.proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=10)
            for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
                if stream is not None:
                    with contextlib.suppress(OSError):
                        stream.close()
        self.ready = None

    def close(self) -> None:
        """Ask the worker to exit; kill it if it is not gone quickly (it keeps no state, and
        TensorFlow's own shutdown can take a second)."""
        if self.alive():
            assert self.proc is not None and self.proc.stdin is not None
            try:
                self.proc.stdin.write(b'{"type": "exit"}\n')
                self.proc.stdin.flush()
                self.proc.wait(timeout=0.2)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self.kill()
        if self._home is not None:
            self._home.cleanup()
            self._home = None
        _LIVE.discard(self)

    # requests ---

    def request(self, job: dict[str, Any], timeout: float) -> Reply:
        """Run one job: its reply, or `timeout` / `crashed` / `unavailable` with the reason."""
        if not self.wait_ready():
            return Reply("unavailable", detail=self.failure or "the worker did not start")
        assert self.proc is not None and self.proc.stdin is not None
        self._next_id += 1
        job = {**job, "type": "job", "id": self._next_id}
        started = time.perf_counter()
        try:
            self.proc.stdin.write(json.dumps(job).encode("utf-8") + b"\n")
            self.proc.stdin.flush()
        except OSError:
            self._reap()
            return Reply("crashed", detail=self._death(), elapsed=time.perf_counter() - started)
        deadline = time.monotonic() + timeout
        while True:
            try:
                message = self._replies.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self.kill()
                return Reply(
                    "timeout",
                    detail=f"timed out after {timeout:g} s",
                    elapsed=time.perf_counter() - started,
                )
            elapsed = time.perf_counter() - started
            if message is None:
                self._reap()
                return Reply("crashed", detail=self._death(), elapsed=elapsed)
            if message.get("type") == "result" and message.get("id") == self._next_id:
                return Reply("ok", message=message, elapsed=elapsed)

    def _death(self) -> str:
        """How the process ended, with the last line it printed."""
        code = self.proc.returncode if self.proc is not None else None
        if code is None:
            how = "no exit status"
        elif code < 0:
            try:
                how = f"killed by {signal.Signals(-code).name}"
            except ValueError:
                how = f"killed by signal {-code}"
        else:
            how = f"exit code {code}"
        tail = self._log_tail()
        return f"{how}; last output: {tail}" if tail else how

    def log(self) -> str:
        """The last `LOG_LIMIT` bytes the worker wrote to stderr."""
        return self._log.tail() if self._log is not None else ""

    def _log_tail(self) -> str:
        """The last line the worker printed, TensorFlow's start-up notices left out."""
        text = self.log()
        lines = [
            line.strip()
            for line in text.splitlines()
            if line.strip() and not _TF_NOTICE.match(line.strip())
        ]
        return lines[-1][:200] if lines else ""


_prestarted: Worker | None = None


def prestart() -> None:
    """Start a worker now so that TensorFlow imports while static analysis runs."""
    global _prestarted
    if _prestarted is None or not _prestarted.alive():
        _prestarted = Worker()
        _prestarted.start()


def take_worker() -> Worker:
    """The prestarted worker if there is one, else a new one (the caller closes it)."""
    global _prestarted
    worker, _prestarted = _prestarted, None
    return worker if worker is not None else Worker()


@atexit.register
def _close_all() -> None:
    for worker in list(_LIVE):
        worker.close()
