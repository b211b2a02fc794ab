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
from losslint.index.project import ProjectIndex

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


def _serve(
    make: Callable[..., Callable[[int], Any]],
    args: tuple[Any, ...],
    total: int,
    counter: Any,
    send: Connection,
) -> None:
    """A worker process: `make(*args)` gives what to do with an index; do it for the indices
    taken from the queue, then send back {index: answer}."""
    from losslint.engine.collector import collector_paused

    with collector_paused():  # a spawned worker does not inherit the paused collector
        work = make(*args)
        answers = {index: work(index) for index in _take(counter, total)}
    send.send(answers)
    send.close()


def _share(
    make: Callable[..., Callable[[int], Any]],
    args: tuple[Any, ...],
    total: int,
    processes: int,
    here: Callable[[int], Any],
    prepare: Callable[[], object] | None = None,
) -> list[Any]:
    """`here(i)` for each index 0..total-1, shared with `processes - 1` worker processes that
    each do `make(*args)(i)` for the indices they take; the answers in index order (a dead
    worker's indices are done here). `prepare()` runs here once the workers are started,
    before this process takes its first index: meanwhile the workers take more."""
    context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    counter = context.Value("i", 0)
    workers = []
    for _ in range(processes - 1):
        receive, send = context.Pipe(duplex=False)
        process = context.Process(
            target=_serve, args=(make, args, total, counter, send), daemon=True
        )
        process.start()
        send.close()
        workers.append((process, receive))
    if prepare is not None:
        prepare()
    done = {index: here(index) for index in _take(counter, total)}
    for process, receive in workers:
        with contextlib.suppress(EOFError, OSError):  # a dead worker: its files are done below
            done.update(receive.recv())
        receive.close()
        process.join()
    return [done[index] if index in done else here(index) for index in range(total)]


def _analysis(
    root: Path,
    overlays: dict[Path, bytes],
    config: Config,
    render: bool,
    paths: list[Path],
    parse: frozenset[Path],
    deferred: frozenset[Path],
) -> Callable[[int], UnitResult]:
    """In a worker: one analyser for all the files it takes."""
    from losslint.engine.units import UnitAnalyser

    analyser = UnitAnalyser(root, overlays, config, render)
    return lambda i: analyser.unit(paths[i], paths[i] in parse, paths[i] in deferred)


def analyse_shared(
    analyser: UnitAnalyser,
    config: Config,
    overlays: dict[Path, bytes],
    paths: list[Path],
    parse: frozenset[Path],
    deferred: frozenset[Path],
    processes: int,
) -> list[UnitResult]:
    """Analyse `paths` (largest first; `deferred`: custom training loops only) here and in
    `processes - 1` worker processes; the results in the order of `paths`."""

    def here(i: int) -> UnitResult:
        return analyser.unit(paths[i], paths[i] in parse, paths[i] in deferred)

    args = (analyser.root, overlays, config, analyser.render, paths, parse, deferred)
    return _share(_analysis, args, len(paths), processes, here)


def _gate(
    index: ProjectIndex,
    pairs: frozenset[tuple[str, str]],
    render: bool,
    paths: list[Path],
    parse: frozenset[Path],
) -> Callable[[int], GateAnswer]:
    """`gate_file` for the path at an index, with `index` (this process's or a worker's)."""
    from losslint.engine.session import gate_file

    return lambda i: gate_file(index, pairs, paths[i], paths[i] in parse, render)


def _gate_in_worker(
    root: Path,
    overlays: dict[Path, bytes],
    pairs: frozenset[tuple[str, str]],
    render: bool,
    paths: list[Path],
    parse: frozenset[Path],
) -> Callable[[int], GateAnswer]:
    """In a worker: one project index for all the files it takes."""
    return _gate(ProjectIndex(root, overlays), pairs, render, paths, parse)


def gate_shared(
    index: ProjectIndex,
    pairs: frozenset[tuple[str, str]],
    paths: list[Path],
    parse: frozenset[Path],
    render: bool,
    processes: int,
) -> list[GateAnswer]:
    """`gate_file` for every path (here with `index`, and in `processes - 1` worker
    processes); the answers in the order of `paths`. Meanwhile this process imports the
    analysis, which a tree large enough to share its gate is all but sure to need: the
    workers gate the files it would have, so the import overlaps the gate instead of
    following it."""
    args = (index.root, index.overlays, pairs, render, paths, parse)
    here = _gate(index, pairs, render, paths, parse)
    return _share(_gate_in_worker, args, len(paths), processes, here, _import_analysis)


def _import_analysis() -> None:
    import losslint.engine.units  # noqa: F401
