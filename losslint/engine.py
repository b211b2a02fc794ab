"""The engine: from files (or bytes) and a config to findings and fixed text. No printing.

`lint_paths` is the one entry point used by the CLI, the tests and editors; `lint_source`
wraps it for a single buffer (stdin, an editor's unsaved text).
"""

from __future__ import annotations

import ast
import concurrent.futures
import multiprocessing
import os
import sys
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path

from losslint.analysis.evaluator import Evaluator
from losslint.analysis.losses import Issue, LossFinder, qualified
from losslint.analysis.values import Symbol
from losslint.cache import Cache, content_hash
from losslint.config import Config
from losslint.fixes import applicable, apply_fixes
from losslint.index.gate import may_hold_losses, text_gate
from losslint.index.modules import ModuleInfo
from losslint.index.project import ProjectIndex
from losslint.model import Diagnostic, Edit, FileResult, Fix, LossTarget, Position
from losslint.rules import ALL_RULES, enabled_codes
from losslint.rules.base import Rule
from losslint.source import SourceError, check_syntax, real_path
from losslint.suppression import PerFileIgnores, parse_suppressions

MAX_FIX_PASSES = 10
_RULES: tuple[Rule, ...] = tuple(r for r in ALL_RULES if r.code != "LL000")


@dataclass(frozen=True)
class LintOptions:
    fix: bool = False
    unsafe_fixes: bool = False
    disable_noqa: bool = False
    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] = ()
    extend_select: tuple[str, ...] = ()


def enabled_for(config: Config, options: LintOptions) -> frozenset[str]:
    """The rule codes a run reports: the command line's selection beats the config's."""
    if options.select is not None:
        select, ignore = options.select, options.ignore
    else:
        select, ignore = config.select, (*config.ignore, *options.ignore)
    return enabled_codes(select, ignore, (*config.extend_select, *options.extend_select))


def lint_paths(
    files: list[Path],
    config: Config,
    options: LintOptions = LintOptions(),
    overlays: dict[Path, bytes] | None = None,
    *,
    jobs: int = 1,
    cache: bool = False,
) -> list[FileResult]:
    """Lint files as one project; with `options.fix`, fix until stable (text not written).

    `jobs` > 1 (or 0: automatic) analyses the files in worker processes; `cache` remembers
    loss-free files in `.losslint_cache/` at the project root.
    """
    index = ProjectIndex(config.root, overlays)
    store = Cache(config.root, repr(config.loss_arg_names)) if cache else None
    paths = [real_path(p) for p in files]
    originals: dict[Path, str] = {}
    fixed_counts: dict[Path, int] = defaultdict(int)
    diagnostics = _analyze(index, paths, config, options, jobs, store)
    if options.fix:
        for _ in range(MAX_FIX_PASSES):
            changed = False
            for path in paths:
                fixes = applicable(diagnostics[path], options.unsafe_fixes)
                if not fixes:
                    continue
                source = index.source(path)
                new_text, count = apply_fixes(source.text, fixes)
                if new_text == source.text:
                    continue
                try:
                    check_syntax(new_text, path)
                except SourceError:
                    continue  # never produce a file that does not parse
                originals.setdefault(path, source.text)
                index.set_source(path, source.encode(new_text))
                fixed_counts[path] += count
                changed = True
            if not changed:
                break
            diagnostics = _analyze(index, paths, config, options, jobs, store)
    if store is not None:
        store.save()
    results = []
    for path in paths:
        try:
            text: str | None = index.source(path).text
        except SourceError:
            text = None
        original = originals.get(path, text)
        results.append(
            FileResult(
                path=path,
                diagnostics=tuple(sorted(diagnostics[path], key=Diagnostic.sort_key)),
                source=original,
                fixed_source=text if path in originals else None,
                fixed_count=fixed_counts[path],
            )
        )
    return results


def lint_source(
    path: Path, data: bytes, config: Config, options: LintOptions = LintOptions()
) -> FileResult:
    """Lint one buffer as if it were the file at `path` (which need not exist)."""
    return lint_paths([path], config, options, overlays={real_path(path): data})[0]


@dataclass
class _Collected:
    """What one worker found: unreadable files, findings ranked by evidence, clean files."""

    errors: list[Diagnostic] = field(default_factory=list)
    findings: list[tuple[tuple[int, int], Diagnostic]] = field(default_factory=list)
    clean: set[str] = field(default_factory=set)


def _collect(
    index: ProjectIndex, chunk: list[Path], linted: set[Path], config: Config, known_clean: set[str]
) -> _Collected:
    out = _Collected()
    pairs = frozenset(config.loss_arg_names)
    trigger = text_gate(pairs)
    evaluator = Evaluator(index)
    finder = LossFinder(evaluator, config.loss_arg_names)
    candidates = []
    for path in chunk:
        try:
            source = index.source(path)
            digest = content_hash(source.text)
            if digest in known_clean:
                continue
            tree = check_syntax(source.text, path)
            if not trigger.search(source.text) or not may_hold_losses(
                tree, source.text, pairs, evaluator.catalogue.frameworks
            ):
                out.clean.add(digest)
                continue
        except SourceError as exc:
            out.errors.append(exc.diagnostic(path))
            continue
        index.remember_ast(path, tree)
        module = index.module(path)
        if module is None:
            error = index.error(path)
            if error is not None:
                out.errors.append(error.diagnostic(path))
            continue
        try:
            found = finder.candidates(module)
        except RecursionError:
            continue
        if not found and not _has_project_bases(evaluator, module):
            out.clean.add(digest)
        candidates.extend(found)
    for candidate in candidates:
        for issue in finder.issues(candidate):
            diagnostic = _diagnostic(issue, linted)
            if diagnostic is not None:
                rank = (candidate.priority, 0 if candidate.role == "loss" else 1)
                out.findings.append((rank, diagnostic))
    return out


def _has_project_bases(evaluator: Evaluator, module: ModuleInfo) -> bool:
    """Whether a class here inherits from a project class (its loss-ness can change elsewhere)."""
    for stmt in module.tree.body:
        if isinstance(stmt, ast.ClassDef) and stmt.bases:
            for base in stmt.bases:
                if not isinstance(
                    evaluator.eval_expr(base, evaluator.module_scope(module)), Symbol
                ):
                    return True
    return False


def _collect_worker(
    args: tuple[Path, dict[Path, bytes], list[Path], set[Path], Config, set[str]],
) -> _Collected:
    root, overlays, chunk, linted, config, known_clean = args
    result = _collect(ProjectIndex(root, overlays), chunk, linted, config, known_clean)
    # positions and nodes stay in the worker; diagnostics are plain values
    return result


def _job_count(jobs: int, files: int) -> int:
    if jobs == 1 or files < 2:
        return 1
    cpus = os.cpu_count() or 1
    if jobs == 0:
        return max(1, min(cpus, files // 48))
    return max(1, min(jobs, files))


def _analyze(
    index: ProjectIndex,
    paths: list[Path],
    config: Config,
    options: LintOptions,
    jobs: int = 1,
    cache: Cache | None = None,
) -> dict[Path, list[Diagnostic]]:
    linted = set(paths)
    known_clean = cache.clean if cache is not None else set()
    workers = _job_count(jobs, len(paths))
    if workers == 1:
        collected = [_collect(index, paths, linted, config, known_clean)]
    else:
        chunks = [paths[i::workers] for i in range(workers)]
        context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
        with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
            collected = list(
                pool.map(
                    _collect_worker,
                    [
                        (config.root, index.overlays, chunk, linted, config, known_clean)
                        for chunk in chunks
                    ],
                )
            )
    results: dict[Path, list[Diagnostic]] = {path: [] for path in paths}
    # one finding per location: the best-evidenced loss names it, `losses` lists all it affects
    best: dict[tuple[Path, Position, Position], tuple[tuple[int, int], Diagnostic]] = {}
    affected: dict[tuple[Path, Position, Position], set[str]] = defaultdict(set)
    for part in collected:
        for error in part.errors:
            results[error.path].append(error)
        for rank, diagnostic in part.findings:
            key = (diagnostic.path, diagnostic.location, diagnostic.end_location)
            affected[key].add(diagnostic.function or "")
            if key not in best or rank < best[key][0]:
                best[key] = (rank, diagnostic)
        if cache is not None:
            cache.add(part.clean)
    for key, (_, diagnostic) in best.items():
        losses = tuple(sorted(affected[key] - {""}))
        results[diagnostic.path].append(replace(diagnostic, losses=losses))
    for path in paths:
        try:
            text: str | None = index.source(path).text
        except SourceError:
            text = None
        results[path] = filter_diagnostics(results[path], path, text, config, options)
    return results


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
    ignored = PerFileIgnores(config.per_file_ignores, config.root).ignored(path)
    kept = [
        d
        for d in diagnostics
        if d.code in enabled and not any(d.code.startswith(c) for c in ignored)
    ]
    if options.disable_noqa or not kept or text is None:
        return kept
    suppressions = parse_suppressions(text)
    return [d for d in kept if d.code == "LL000" or not suppressions.suppresses(d.code, d.noqa_row)]


def _location(issue: Issue, linted: set[Path]) -> tuple[ModuleInfo, object, bool] | None:
    """Where to report: the origin itself, or the closest call to it in a linted file."""
    origin = issue.origins[0]
    if origin.module.path in linted:
        return origin.module, origin.node, True
    for module, call, _callee in reversed(origin.chain):
        if module.path in linted:
            return module, call, False
    return None


def _diagnostic(issue: Issue, linted: set[Path]) -> Diagnostic | None:
    rule = next((r for r in _RULES if r.claims(issue)), None)
    if rule is None:
        return None
    where = _location(issue, linted)
    if where is None:
        return None
    module, node, at_origin = where
    line, column, end_line, end_column = module.span_of(node)  # type: ignore[arg-type]
    start = Position(line, column + 1)
    end = Position(end_line, end_column + 1)
    fix = _fix(rule, issue, module) if at_origin else None
    message = rule.message(issue)
    if not at_origin:
        origin = issue.origins[0]
        message += f" (in {origin.module.path.name}, reached through this call)"
    return Diagnostic(
        code=rule.code,
        name=rule.name,
        message=message,
        path=module.path,
        location=start,
        end_location=end,
        noqa_row=start.row,
        fix=fix,
        function=issue.function,
        role=issue.candidate.role,
        evidence=issue.candidate.evidence,
        target=issue.candidate.target,
    )


def _fix(rule: Rule, issue: Issue, module: ModuleInfo) -> Fix | None:
    from losslint.fixes.render import render

    decision = rule.fix(issue)
    if decision is None:
        return None
    edits: list[Edit] = []
    for origin, plan, ref in decision.parts:
        target_module = plan.ctor_module if plan.action == "reduction_none" else origin.module
        if target_module is None or target_module.path != module.path:
            return None
        edit = render(target_module, plan, origin.node, ref)
        if edit is None:
            return None
        edits.append(edit)
    if not edits:
        return None
    return Fix(
        decision.applicability, decision.message, tuple(sorted(edits, key=lambda e: e.location))
    )


@dataclass(frozen=True)
class DiscoveredLoss:
    """A loss (or metric) found in the linted files, flagged or not (for `--runtime-all`)."""

    function: str
    role: str
    evidence: str
    target: LossTarget


def discover_losses(
    files: list[Path], config: Config, overlays: dict[Path, bytes] | None = None
) -> list[DiscoveredLoss]:
    """Every loss candidate whose function lives in one of `files` (deduplicated)."""
    index = ProjectIndex(config.root, overlays)
    evaluator = Evaluator(index)
    finder = LossFinder(evaluator, config.loss_arg_names)
    linted = {real_path(p) for p in files}
    found: dict[tuple[Path, str], tuple[int, DiscoveredLoss]] = {}
    for path in linted:
        module = index.module(path)
        if module is None:
            continue
        try:
            candidates = finder.candidates(module)
        except RecursionError:
            continue
        for candidate in candidates:
            target = candidate.target
            if target.path not in linted:
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
