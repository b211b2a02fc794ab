"""Sharing the analysis of many files between this process and worker processes.

The files, largest first, are one queue: this process and each worker take the next file
whenever they are free, so they finish together whatever each file costs. Workers are forked
where the platform allows (they start with the analysis imported and the project's texts
read) and keep one analyser, with its parsed modules, for all the files they take. A worker
that dies loses nothing: the files it took are analysed here afterwards.
"""

from __future__ import annotations

import multiprocessing
import sys
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from losslint.config import Config
from losslint.engine.records import UnitResult

if TYPE_CHECKING:
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
        paths_taken = _take(counter, len(paths))
        results = [analyser.analyse(paths[i], paths[i] in parse) for i in paths_taken]
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
    context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    counter = context.Value("i", 0)
    workers = []
    for _ in range(processes - 1):
        receive, send = context.Pipe(duplex=False)
        args = (analyser.root, overlays, config, analyser.render, paths, parse, counter, send)
        process = context.Process(target=_work, args=args, daemon=True)
        process.start()
        send.close()
        workers.append((process, receive))
    done: dict[Path, UnitResult] = {}
    for index in _take(counter, len(paths)):
        done[paths[index]] = analyser.analyse(paths[index], paths[index] in parse)
    for process, receive in workers:
        try:
            for unit in receive.recv():
                done[unit.path] = unit
        except (EOFError, OSError):
            pass  # the worker died: the files it took are analysed below
        receive.close()
        process.join()
    return [done.get(path) or analyser.analyse(path, path in parse) for path in paths]
