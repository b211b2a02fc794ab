"""Sharing the work on many files between this process and worker processes.

The files are one queue: this process and each worker take the next file whenever they are
free, so they finish together whatever each file costs. Workers are forked where the
platform allows (they start with the analysis imported and the project's texts read). Two
kinds of work are shared: the text gate of a large tree's files (`gate_shared`), and the
analysis of the files that pass it, largest first (`analyse_shared`: each worker keeps one
analyser, with its parsed modules, for all the files it takes). A worker that dies loses
nothing: the files it took are done here afterwards.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import sys
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from losslint.config import Config
from losslint.engine.records import UnitResult

if TYPE_CHECKING:
    from losslint.engine.session import GateAnswer
    from losslint.engine.units import UnitAnalyser


def _take(counter: Any, total: int) -> Iterator[int]:
    """The indices this process takes from the shared queue, until it is empty."""
    while True:
        with counter.get_lock():
            index = counter.value
            counter.value = index + 1
        if index >= total:
            return
        yield index


def _share(
    worker: Callable[..., None],
    args: tuple[Any, ...],
    total: int,
    processes: int,
    here: Callable[[int], Any],
) -> dict[int, Any]:
    """`here(i)` for the indices this process takes, and `worker(*args, counter, send)` in
    `processes - 1` worker processes (each sends {index: answer}); the answers by index (a
    dead worker's indices are missing)."""
    context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    counter = context.Value("i", 0)
    workers = []
    for _ in range(processes - 1):
        receive, send = context.Pipe(duplex=False)
        process = context.Process(target=worker, args=(*args, counter, send), daemon=True)
        process.start()
        send.close()
        workers.append((process, receive))
    done = {index: here(index) for index in _take(counter, total)}
    for process, receive in workers:
        with contextlib.suppress(EOFError, OSError):  # a dead worker: the caller does its files
            done.update(receive.recv())
        receive.close()
        process.join()
    return done


def _work(
    root: Path,
    overlays: dict[Path, bytes],
    config: Config,
    render: bool,
    paths: list[Path],
    parse: frozenset[Path],
    counter: Any,
    send: Connection,
) -> None:
    """A worker process: analyse files from the queue, then send back their results."""
    from losslint.engine.collector import collector_paused
    from losslint.engine.units import UnitAnalyser

    with collector_paused():  # a spawned worker does not inherit the paused collector
        analyser = UnitAnalyser(root, overlays, config, render)
        taken = _take(counter, len(paths))
        results = {i: analyser.analyse(paths[i], paths[i] in parse) for i in taken}
    send.send(results)
    send.close()


def analyse_shared(
    analyser: UnitAnalyser,
    config: Config,
    overlays: dict[Path, bytes],
    paths: list[Path],
    parse: frozenset[Path],
    processes: int,
) -> list[UnitResult]:
    """Analyse `paths` (largest first) here and in `processes - 1` worker processes; the
    results in the order of `paths`."""
    args = (analyser.root, overlays, config, analyser.render, paths, parse)
    done = _share(
        _work, args, len(paths), processes, lambda i: analyser.analyse(paths[i], paths[i] in parse)
    )
    return [
        done[i] if i in done else analyser.analyse(path, path in parse)
        for i, path in enumerate(paths)
    ]


def _gate_work(
    root: Path,
    overlays: dict[Path, bytes],
    pairs: frozenset[tuple[str, str]],
    render: bool,
    paths: list[Path],
    parse: frozenset[Path],
    counter: Any,
    send: Connection,
) -> None:
    """A worker process: gate files from the queue, then send back the answers."""
    from losslint.engine.session import gate_file
    from losslint.index.project import ProjectIndex

    index = ProjectIndex(root, overlays)
    taken = _take(counter, len(paths))
    send.send({i: gate_file(index, pairs, paths[i], paths[i] in parse, render) for i in taken})
    send.close()


def gate_shared(
    index: Any,
    pairs: frozenset[tuple[str, str]],
    paths: list[Path],
    parse: frozenset[Path],
    render: bool,
    processes: int,
) -> list[GateAnswer]:
    """`gate_file` for every path (here with `index`, a ProjectIndex, and in `processes - 1`
    worker processes); the answers in the order of `paths`."""
    from losslint.engine.session import gate_file

    def here(i: int) -> GateAnswer:
        return gate_file(index, pairs, paths[i], paths[i] in parse, render)

    args = (index.root, index.overlays, pairs, render, paths, parse)
    done = _share(_gate_work, args, len(paths), processes, here)
    return [done[i] if i in done else here(i) for i in range(len(paths))]
