"""The engine session: the one unit of work behind the CLI, the cache, runtime mode, the language
server and the flake8 plugin.

A session knows the project (its root, config and files), the text of unsaved buffers
(overlays), and the analysis results of every file it has seen (in memory, and on disk with the
cache), each keyed on what it depends on. Linting some files analyses the whole project (the
gate and the cache keep that cheap) and reports on those files.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from losslint.cache import Cache, content_hash, stat_key
from losslint.config import DEFAULT_LOSS_ARG_NAMES, ROOT_MARKERS, Config, loss_pairs
from losslint.engine.collector import collector_paused
from losslint.engine.records import Record, UnitResult, unit_from_json, unit_to_json
from losslint.engine.report import diagnostics as place_records
from losslint.fixes import applicable, apply_fixes
from losslint.frozen import frozen
from losslint.index.gate import has_loop_sink, speaks_keras, text_may_hold_losses
from losslint.index.project import ProjectIndex
from losslint.model import Diagnostic, FileResult, LossTarget
from losslint.source import SourceError, check_syntax, decode, read_module_bytes, real_path

if TYPE_CHECKING:
    from losslint.engine.units import UnitAnalyser

MAX_FIX_PASSES = 10
_NOQA = re.compile("noqa", re.IGNORECASE)
_CHARS_PER_JOB = 600_000
Gate = tuple[int, bool]  # a file that passes the text gate: (its size, only for a custom loop)
# a file through the gate: its Gate (None: ruled out), its result when ruled out, its hash
GateAnswer = tuple[Gate | None, UnitResult | None, str | None]
_GATE_CHARS_PER_JOB = 4_000_000  # about a tenth of a second of the text gate


@frozen
class LintOptions:
    """What a run does besides reporting: fixes, selection, noqa, rendering fix edits.

    `render_fixes=False` decides fixes without rendering their edits (no libcst): enough for
    text output, where a fix is only a `[*]`. `keep_sources=False` fills `FileResult.source`
    only for files with findings or fixes (a run that reads no other source skips reading
    every file again).
    """

    fix: bool = False
    unsafe_fixes: bool = False
    disable_noqa: bool = False
    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] = ()
    extend_select: tuple[str, ...] = ()
    render_fixes: bool = True
    keep_sources: bool = True


DEFAULT_OPTIONS = LintOptions()


def enabled_for(config: Config, options: LintOptions) -> frozenset[str]:
    """The rule codes a run reports: the command line's selection beats the config's."""
    if options.select is not None:
        select, ignore = options.select, options.ignore
    else:
        select, ignore = config.select, (*config.ignore, *options.ignore)
    from losslint.rules import enabled_codes  # (only runs with findings need the rules)

    return enabled_codes(select, ignore, (*config.extend_select, *options.extend_select))


def filter_diagnostics(
    diagnostics: list[Diagnostic],
    path: Path,
    text: str | None,
    config: Config,
    options: LintOptions,
) -> list[Diagnostic]:
    """Keep the findings the rule selection, `per-file-ignores` and `# noqa` comments allow.

    The one filter every producer of findings uses (static analysis, runtime mode's
    `--runtime-all`); `text` is the file's source (None: no `noqa` comments are read).
    """
    if not diagnostics:
        return diagnostics
    enabled = enabled_for(config, options)
    ignored: frozenset[str] = frozenset()
    if config.per_file_ignores:
        from losslint.suppression import PerFileIgnores

        ignored = PerFileIgnores(config.per_file_ignores, config.root).ignored(path)
    kept = [
        d
        for d in diagnostics
        if d.code in enabled and not any(d.code.startswith(c) for c in ignored)
    ]
    if options.disable_noqa or not kept or text is None or not _NOQA.search(text):
        return kept  # every suppression comment says `noqa`: without one, nothing to read
    from losslint.suppression import parse_suppressions  # (tokenize: only when there is one)

    suppressions = parse_suppressions(text)
    return [d for d in kept if d.code == "LL000" or not suppressions.suppresses(d.code, d.noqa_row)]


@frozen
class DiscoveredLoss:
    """A loss (or metric) found in the linted files, flagged or not (for `--runtime-all`)."""

    function: str
    role: str
    evidence: str
    target: LossTarget


@dataclass
class _Run:
    """One lint call: hashes and texts read this run, and the units it produced or reused."""

    hashes: dict[Path, str | None] = field(default_factory=dict)
    exists: dict[Path, bool] = field(default_factory=dict)
    units: dict[Path, UnitResult] = field(default_factory=dict)
    texts: dict[Path, str | None] = field(default_factory=dict)
    reader: ProjectIndex | None = None  # what read this run's new units
    # deferred loops whose syntax this run did not check: kept neither in memory nor cached
    unchecked: set[Path] = field(default_factory=set)


class Session:
    """A project, its unsaved buffers and every analysis result, reused across lint calls."""

    def __init__(
        self,
        config: Config,
        *,
        overlays: dict[Path, bytes] | None = None,
        cache: bool = False,
        jobs: int = 1,
    ) -> None:
        self.config = config
        self.root = real_path(config.project)
        self.overlays: dict[Path, bytes] = {real_path(p): d for p, d in (overlays or {}).items()}
        self.jobs = jobs
        setup = repr((str(self.root), config.loss_arg_names))
        self.cache = Cache(self.root, setup) if cache else None
        self._memory: dict[Path, UnitResult] = {}
        self._project: list[Path] | None = None
        self.internal_errors: list[Diagnostic] = []
        # functions of the last lint's files found only by their parameter names and not
        # reported because no file of the project speaks Keras (the CLI says so)
        self.held_back: list[str] = []
        # per file, by content hash: the text gate's answer and the imports found in the text
        self._gates: dict[Path, tuple[str, Gate | None]] = {}
        self._imports: dict[Path, tuple[str, frozenset[Path]]] = {}
        # content hashes by (size, mtime, inode), for sessions without the disk cache
        self._stats: dict[Path, tuple[tuple[int, int, int], str]] = {}

    # -- inputs ---------------------------------------------------------------------------------

    def set_overlay(self, path: Path, data: bytes | None) -> None:
        """Use `data` as a file's content (an unsaved buffer), or the disk again with None."""
        key = real_path(path)
        if data is None:
            self.overlays.pop(key, None)
        else:
            self.overlays[key] = data

    def forget_project_files(self) -> None:
        """Walk the project again on the next lint (files were created or removed)."""
        self._project = None
        self._imports.clear()  # imports resolve to files that may now exist

    def set_project_files(self, files: Iterable[Path]) -> None:
        """Take the project's files from a walk of its root made by the caller (the CLI
        linting the root folder walks it anyway); ignored when the root is no project."""
        self._project = [real_path(p) for p in files] if _is_project_root(self.root) else []

    def project_files(self) -> list[Path]:
        """Every file of the project (excludes and .gitignore honoured); none without a root."""
        if self._project is None:
            self._project = []
            if _is_project_root(self.root):
                from losslint.discovery import discover

                self._project = [real_path(p) for p in discover([self.root], self.config).files]
        return self._project

    def _hash(self, run: _Run, path: Path) -> str | None:
        """The content hash of a file now, as the analysis reads it (a notebook's code cells);
        None when it cannot be read. Reused while the file's stat is unchanged."""
        if path in run.hashes:
            return run.hashes[path]
        digest: str | None
        if path in self.overlays:
            digest = content_hash(self.overlays[path])
        else:
            stat = stat_key(path)
            known = self._stats.get(path)
            if stat is not None and known is not None and known[0] == stat:
                digest = known[1]
            else:
                digest = self.cache.known_hash(path, stat) if self.cache is not None else None
                if digest is None:
                    try:
                        digest = content_hash(read_module_bytes(path))
                    except SourceError:
                        digest = None
                if digest is not None and stat is not None:
                    self._stats[path] = (stat, digest)
                    if self.cache is not None:
                        self.cache.remember_hash(path, stat, digest)
        run.hashes[path] = digest
        return digest

    def _exists(self, run: _Run, path: Path) -> bool:
        found = run.exists.get(path)
        if found is None:
            found = run.exists[path] = path in self.overlays or os.path.exists(path)
        return found

    # -- analysis -------------------------------------------------------------------------------

    def _valid(self, run: _Run, unit: UnitResult, parse: bool, render: bool) -> bool:
        if unit.internal or (parse and not unit.parsed) or (render and not unit.rendered):
            return False
        if not parse and unit.error is not None and not unit.records:
            return False  # perhaps parsed only because it was named: the gate decides again
        if any(self._hash(run, dep) != digest for dep, digest in unit.deps.items()):
            return False
        return not any(self._exists(run, p) for p in unit.misses)

    def _known(self, run: _Run, path: Path, parse: bool, render: bool) -> UnitResult | None:
        unit = self._memory.get(path)
        if unit is not None and self._valid(run, unit, parse, render):
            return unit
        if self.cache is not None:
            entry = self.cache.unit(path)
            if entry is not None:
                try:
                    unit = unit_from_json(path, entry)
                except (KeyError, TypeError, ValueError, IndexError):
                    return None
                if self._valid(run, unit, parse, render):
                    self._memory[path] = unit
                    return unit
        return None

    def _analyse(
        self, run: _Run, paths: list[Path], parse: set[Path], render: bool, targets: list[Path]
    ) -> None:
        """Analyse the units that have no valid result.

        The text gate runs here first: the files it rules out (most of them) get their
        (empty) result at once. The others are parsed and analysed, in worker processes when
        there is enough of them to pay for the processes; when only some files are reported
        on, only those files and the files that may import them (directly or not: found in
        their text, without parsing) are: the analysis of a file reads nothing but its import
        closure, so no other file can hold a finding that lands in a reported file.

        A file that passes the gate only for a custom training loop is not parsed at first:
        its objectives only matter for findings whose loss lies in its import closure, so it
        is analysed once some finding's loss does (keras' sources: 27 files, 1.2 MB, none of
        them needed).
        """
        todo: list[Path] = []
        for path in paths:
            known = self._known(run, path, path in parse, render)
            if known is None:
                todo.append(path)
            else:
                run.units[path] = known
        if todo:
            self._analyse_new(run, todo, parse, render, targets)
        late = self._loops_that_matter(run)
        if late:
            run.unchecked.difference_update(late)  # analysed now: parsed, so checked
            sizes = [(path, len(self._text(run, path) or "")) for path in late]
            with collector_paused():
                self._keep(run, late, self._analyse_heavy(run, sizes, [], parse, render, targets))

    def _analyse_new(
        self, run: _Run, todo: list[Path], parse: set[Path], render: bool, targets: list[Path]
    ) -> None:
        """Gate and analyse the files without a valid result."""
        # read and gate every file before importing the analysis: when the gate rules out
        # every file, the analysis is never imported
        reader = run.reader = ProjectIndex(self.root, self.overlays)
        pairs = loss_pairs(self.config.loss_arg_names)
        results: list[UnitResult] = []
        heavy: list[tuple[Path, int]] = []
        loops: list[tuple[Path, int]] = []  # custom training loops only (`UnitAnalyser.deferred`)
        answers = self._gate_all(run, reader, pairs, todo, parse, render)
        for path, (gate, unit, _) in zip(todo, answers, strict=True):
            if unit is not None:
                results.append(unit)
            elif gate is not None and gate[1] and path not in parse:
                loops.append((path, gate[0]))
            else:
                heavy.append((path, gate[0] if gate else 0))  # or unreadable: its LL000
        if heavy or loops:
            with collector_paused():
                results.extend(self._analyse_heavy(run, heavy, loops, parse, render, targets))
        self._keep(run, todo, results)

    def _keep(self, run: _Run, paths: list[Path], results: list[UnitResult]) -> None:
        """Take new results into the run, the session's memory and the cache (in `paths`'
        order, whatever order the workers gave them in)."""
        order = {p: i for i, p in enumerate(paths)}
        for unit in sorted(results, key=lambda u: order.get(u.path, len(order))):
            run.units[unit.path] = unit
            if unit.internal:
                self.internal_errors.append(unit.error)  # type: ignore[arg-type]
                continue
            if unit.path in run.unchecked:
                continue
            self._memory[unit.path] = unit
            if self.cache is not None and unit.digest and unit.path not in self.overlays:
                self.cache.put(unit.path, unit_to_json(unit))

    @staticmethod
    def _loops_that_matter(run: _Run) -> list[Path]:
        """The deferred custom training loops whose imports reach a file holding the loss of
        a finding: their objectives may change how that finding is reported."""
        losses = {record.target.path for unit in run.units.values() for record in unit.records}
        return [
            unit.path
            for unit in run.units.values()
            if unit.deferred and not losses.isdisjoint(unit.deps)
        ]

    def _analyse_heavy(
        self,
        run: _Run,
        heavy: list[tuple[Path, int]],
        loops: list[tuple[Path, int]],
        parse: set[Path],
        render: bool,
        targets: list[Path],
    ) -> list[UnitResult]:
        """Parse and analyse the files that pass the gate (with their sizes), here or in
        worker processes; `loops` (custom training loops only) get a deferred result, their
        syntax checked alongside (as costly as a parse, so shared the same way). A run over
        part of the project checks only the loops it reports on: the others' results serve
        this run alone (`_Run.unchecked`)."""
        from losslint.engine.units import UnitAnalyser

        analyser = UnitAnalyser(self.root, self.overlays, self.config, render)
        unchecked: list[UnitResult] = []
        if not set(self.project_files()) <= set(targets):
            reach = self._importers(run, analyser, [path for path, _ in heavy], targets)
            heavy = [(path, size) for path, size in heavy if path in reach or path in parse]
            reported = set(targets)
            unchecked = [analyser.deferred(p, check=False) for p, _ in loops if p not in reported]
            run.unchecked.update(unit.path for unit in unchecked)
            loops = [(path, size) for path, size in loops if path in reported]
        work = sorted([*heavy, *loops], key=lambda item: -item[1])  # largest first
        deferred = frozenset(path for path, _ in loops)
        processes = _job_count(self.jobs, [size for _, size in work])
        if processes == 1:
            done = [analyser.unit(path, path in parse, path in deferred) for path, _ in work]
            return [*unchecked, *done]
        from losslint.engine.workers import analyse_shared

        paths = [path for path, _ in work]
        shared = analyse_shared(
            analyser, self.config, self.overlays, paths, frozenset(parse), deferred, processes
        )
        return [*unchecked, *shared]

    def _gate_all(
        self,
        run: _Run,
        reader: ProjectIndex,
        pairs: frozenset[tuple[str, str]],
        todo: list[Path],
        parse: set[Path],
        render: bool,
    ) -> list[GateAnswer]:
        """`gate_file` for each file: answers remembered for the same content first; the
        others here, or shared with worker processes on a large tree."""
        answers: dict[Path, GateAnswer] = {}
        fresh: list[Path] = []
        for path in todo:
            known = self._gates.get(path) if self._gates else None
            if known is not None and known[0] == self._hash(run, path):
                gate = known[1]
                out = (
                    _gated_out(reader, path, render) if gate is None and path not in parse else None
                )
                answers[path] = (gate, out, known[0])
            else:
                fresh.append(path)
        processes = self._gate_processes(fresh)
        if processes > 1:
            from losslint.engine.workers import gate_shared

            found = gate_shared(reader, pairs, fresh, frozenset(parse), render, processes)
        else:
            found = [gate_file(reader, pairs, p, p in parse, render) for p in fresh]
        for path, answer in zip(fresh, found, strict=True):
            answers[path] = answer
            if answer[2] is not None:
                self._gates[path] = (answer[2], answer[0])
        return [answers[path] for path in todo]

    def _gate_processes(self, paths: list[Path]) -> int:
        """Processes for the text gate of `paths`: one per `_GATE_CHARS_PER_JOB` of text
        (the gate reads about 40 MB a second), within `_cpu_budget`."""
        if self.jobs == 1 or len(paths) < 2:
            return 1
        total = 0
        for path in paths:
            data = self.overlays.get(path)
            if data is not None:
                total += len(data)
            else:
                with contextlib.suppress(OSError):
                    total += os.stat(path).st_size
        return max(1, min(_cpu_budget(self.jobs), len(paths), total // _GATE_CHARS_PER_JOB))

    def _text_imports(self, run: _Run, analyser: UnitAnalyser, path: Path) -> frozenset[Path]:
        """`ProjectIndex.text_imports`, remembered per file content until the project's files
        change (`forget_project_files`)."""
        known = self._imports.get(path)
        if known is not None and known[0] == self._hash(run, path):
            return known[1]
        found = analyser.index.text_imports(path)
        digest = analyser.index.digest(path)
        if digest is not None:
            self._imports[path] = (digest, found)
        return found

    def _importers(
        self, run: _Run, analyser: UnitAnalyser, starts: list[Path], targets: list[Path]
    ) -> set[Path]:
        """The targets and those of the files reachable by imports from `starts` that import
        a target, directly or not."""
        imports: dict[Path, frozenset[Path]] = {}
        stack = list(starts)
        while stack:
            path = stack.pop()
            if path not in imports:
                imports[path] = self._text_imports(run, analyser, path)
                stack.extend(p for p in imports[path] if p not in imports)
        importers: dict[Path, list[Path]] = {}
        for path, imported in imports.items():
            for other in imported:
                importers.setdefault(other, []).append(path)
        reach = set(targets)
        stack = list(targets)
        while stack:
            for importer in importers.get(stack.pop(), ()):
                if importer not in reach:
                    reach.add(importer)
                    stack.append(importer)
        return reach

    # -- linting --------------------------------------------------------------------------------

    def lint(
        self,
        files: Sequence[Path],
        options: LintOptions = DEFAULT_OPTIONS,
        explicit: Collection[Path] = (),
    ) -> list[FileResult]:
        """Lint `files` as part of their project; with `options.fix`, fix until stable (the
        fixed text is returned, never written). `explicit` files are syntax-checked even when
        the gate rules them out (they were named on the command line)."""
        targets = list(dict.fromkeys(real_path(p) for p in files))
        parse = {real_path(p) for p in explicit}
        render = options.render_fixes or options.fix
        originals: dict[Path, str] = {}
        fixed_counts: dict[Path, int] = dict.fromkeys(targets, 0)
        found, run = self._lint_once(targets, options, parse, render)
        fixed: dict[Path, str | None] = {}
        if options.fix:
            # fix passes lint the fixed text as overlays; the session's own buffers come back
            # afterwards, so that the next lint sees what it saw before
            saved = {path: self.overlays.get(path) for path in targets}
            try:
                for _ in range(MAX_FIX_PASSES):
                    if not self._fix_pass(run, targets, found, options, originals, fixed_counts):
                        break
                    found, run = self._lint_once(targets, options, parse, render)
                fixed = {path: self._text(run, path) for path in originals}
            finally:
                for path, data in saved.items():
                    self.set_overlay(path, data)
        if self.cache is not None:
            self.cache.save()
        results = []
        for path in targets:
            keep = options.keep_sources or path in fixed or bool(found[path])
            text = fixed[path] if path in fixed else self._text(run, path) if keep else None
            results.append(
                FileResult(
                    path=path,
                    diagnostics=tuple(sorted(found[path], key=Diagnostic.sort_key)),
                    source=originals.get(path, text),
                    fixed_source=text if path in fixed else None,
                    fixed_count=fixed_counts[path],
                )
            )
        return results

    def _fix_pass(
        self,
        run: _Run,
        targets: list[Path],
        found: dict[Path, list[Diagnostic]],
        options: LintOptions,
        originals: dict[Path, str],
        fixed_counts: dict[Path, int],
    ) -> bool:
        changed = False
        for path in targets:
            fixes = applicable(found[path], options.unsafe_fixes)
            if not fixes:
                continue
            text = self._text(run, path)
            if text is None:
                continue
            new_text, count = apply_fixes(text, fixes)
            if new_text == text:
                continue
            try:
                check_syntax(new_text, path)
            except SourceError:
                continue  # never produce a file that does not parse
            source = decode(path, self._bytes(path) or b"")
            originals.setdefault(path, text)
            self.overlays[path] = source.encode(new_text)
            fixed_counts[path] += count
            changed = True
        return changed

    def _bytes(self, path: Path) -> bytes | None:
        if path in self.overlays:
            return self.overlays[path]
        try:
            return read_module_bytes(path)
        except SourceError:
            return None

    def _text(self, run: _Run, path: Path) -> str | None:
        """A file's text as this run's analysis read it (read again when it was not)."""
        if path in run.texts:
            return run.texts[path]
        text = run.reader.known_text(path) if run.reader is not None else None
        if text is None:
            data = self._bytes(path)
            if data is not None:
                try:
                    text = decode(path, data).text
                except SourceError:
                    text = None
        run.texts[path] = text
        return text

    def _units(self, targets: list[Path], parse: set[Path], render: bool) -> _Run:
        run = _Run()
        project = self.project_files()
        members = set(project)
        paths = [*project, *(p for p in targets if p not in members)]
        self._analyse(run, list(dict.fromkeys(paths)), parse, render, targets)
        return run

    def _lint_once(
        self, targets: list[Path], options: LintOptions, parse: set[Path], render: bool
    ) -> tuple[dict[Path, list[Diagnostic]], _Run]:
        run = self._units(targets, parse, render)
        wanted = set(targets)
        # a rule the selection turns off takes no place: one finding per place is chosen among
        # the rules that can be reported (`--select LL004` still sees the metric whose
        # reduction a loss shares)
        enabled = enabled_for(self.config, options)
        records: list[Record] = [
            r for unit in run.units.values() for r in unit.records if r.code in enabled
        ]
        uses = {k for unit in run.units.values() for k in unit.uses}
        objectives = {k for unit in run.units.values() for k in unit.objectives}
        absorbed = {name for unit in run.units.values() for name in unit.absorbed}
        keras_free = self._keras_free(run)
        placed = place_records(records, wanted, uses, objectives, absorbed, keras_free)
        self.held_back = []
        if keras_free:  # what the project's silence on Keras held back, to be said
            would = place_records(records, wanted, uses, objectives, absorbed)
            self.held_back = sorted({d.function for found in would.values() for d in found})
        found: dict[Path, list[Diagnostic]] = {}
        for path in targets:
            unit = run.units.get(path)
            own = [unit.error] if unit is not None and unit.error is not None else []
            diagnostics = [*own, *placed.get(path, [])]
            text = self._text(run, path) if diagnostics else None
            found[path] = filter_diagnostics(diagnostics, path, text, self.config, options)
        return found, run

    def _keras_free(self, run: _Run) -> bool:
        """Whether this is a project (a root holding files) none of whose files speaks Keras
        (index/gate.py), and whose configuration names no loss spellings of its own: then
        nothing makes a function a Keras loss by its parameter names alone."""
        if self.config.loss_arg_names != DEFAULT_LOSS_ARG_NAMES or not self.project_files():
            return False
        return not any(unit.keras for unit in run.units.values())

    # -- runtime mode ---------------------------------------------------------------------------

    def discover_losses(self, files: Iterable[Path]) -> list[DiscoveredLoss]:
        """Every loss candidate whose function lives in one of `files` (deduplicated)."""
        from losslint.analysis.losses import qualified
        from losslint.engine.units import UnitAnalyser

        wanted = {real_path(p) for p in files}
        analyser = UnitAnalyser(self.root, self.overlays, self.config, render=False)
        found: dict[tuple[Path, str], tuple[int, DiscoveredLoss]] = {}
        for path in dict.fromkeys([*self.project_files(), *wanted]):
            for candidate in analyser.candidates(path):
                target = candidate.target
                if target.path not in wanted:
                    continue
                key = (target.path, target.qualname)
                loss = DiscoveredLoss(
                    qualified(candidate.ref), candidate.role, candidate.evidence, target
                )
                if key not in found or candidate.priority < found[key][0]:
                    found[key] = (candidate.priority, loss)
        return [
            loss
            for _, loss in sorted(
                found.values(), key=lambda item: (str(item[1].target.path), item[1].target.line)
            )
        ]


def _is_project_root(root: Path) -> bool:
    """A folder that is a real project (a root marker), never the home folder or `/`."""
    if root == root.parent or root == real_path(Path.home()):
        return False
    return any((root / marker).exists() for marker in ROOT_MARKERS)


def gate_file(
    index: ProjectIndex,
    pairs: frozenset[tuple[str, str]],
    path: Path,
    parse: bool,
    render: bool,
) -> GateAnswer:
    """One file through the text gate: `_gate_size`, its result when the gate rules it out
    (and it is not to be parsed anyway), and its content hash."""
    gate = _gate_size(index, pairs, path)
    unit = _gated_out(index, path, render) if gate is None and not parse else None
    return gate, unit, index.digest(path)


def _gate_size(index: ProjectIndex, pairs: frozenset[tuple[str, str]], path: Path) -> Gate | None:
    """When a file passes the text gate: the size of its text, and whether it passes only for
    a custom training loop (index/gate.py). None when it does not (unreadable files too:
    their LL000 needs no parse)."""
    try:
        text = index.source(path).text
    except SourceError:
        return None
    if text_may_hold_losses(text, pairs):
        return len(text), False
    return (len(text), True) if has_loop_sink(text) else None


def _gated_out(index: ProjectIndex, path: Path, render: bool) -> UnitResult | None:
    """The result of a readable file the text gate rules out, as `UnitAnalyser.analyse`
    gives it (a test keeps them equal) without importing the analysis; None if unreadable."""
    try:
        text = index.source(path).text
    except SourceError:
        return None
    digest = index.digest(path) or ""
    return UnitResult(
        path=path,
        digest=digest,
        deps={path: digest},
        misses=(),
        records=(),
        error=None,
        rendered=render,
        parsed=False,
        keras=speaks_keras(text),
    )


def _job_count(jobs: int, sizes: list[int]) -> int:
    """Processes (this one and workers) for files of these sizes (characters) to parse and
    analyse.

    `jobs` 0 chooses: one process per `_CHARS_PER_JOB` of source to parse (about a tenth of a
    second of work), at most one per idle CPU (CPUs less the load average: on a machine that
    other work keeps busy, more processes only add the cost of forking them and of parsing
    the modules their files import); at least one. A CPU counts as idle up to a load of 2
    above the others: the load average also counts this run's predecessors (a benchmark, an
    editor or a hook that lints again). On 2 CPUs, two processes took keras' sources from
    2.1-2.6 s to 1.45 s at a load of 1, and from 3.3 s to 2.3 s (medians of 3) beside one
    other CPU-bound process; at a load of 5 they were slower (1.84 s against 1.64 s).
    """
    if jobs == 1 or len(sizes) < 2:
        return 1
    if jobs == 0:
        return max(1, min(_cpu_budget(0), len(sizes), sum(sizes) // _CHARS_PER_JOB))
    return max(1, min(jobs, len(sizes)))


def _cpu_budget(jobs: int) -> int:
    """`jobs` when given, else (0) the idle CPUs this process may run on (`_job_count`)."""
    if jobs > 0:
        return jobs
    # the CPUs this process may run on (`taskset`, cpusets), else all of them
    affinity = getattr(os, "sched_getaffinity", None)
    cpus = len(affinity(0)) if affinity is not None else os.cpu_count() or 1
    try:
        return max(1, min(cpus, int(cpus - os.getloadavg()[0] + 2)))
    except (AttributeError, OSError):  # no load average (Windows)
        return cpus
