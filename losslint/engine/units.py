"""Analysing files one at a time: the gate, the parse, loss discovery, and a record per finding.

One `UnitAnalyser` serves many files of a project (one index and one evaluator, so modules are
parsed once). Its results are plain values (`UnitResult`): they can cross a process boundary
and go to the cache.
"""

from __future__ import annotations

import ast
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from losslint.analysis.catalogue import load as load_catalogue
from losslint.analysis.compile_sites import calls_of
from losslint.analysis.evaluator import Evaluator
from losslint.analysis.losses import (
    PRIORITY_LOSS_CLASS,
    PRIORITY_NAMED,
    Candidate,
    Issue,
    LossFinder,
    qualified,
)
from losslint.analysis.memos import Mark
from losslint.analysis.sample_weight import (
    DroppedWeight,
    dropped_by_overrides,
    dropped_by_signature,
)
from losslint.analysis.scalar_contracts import host_library_only, mapped_helpers
from losslint.analysis.values import FixPlan, Origin
from losslint.config import Config, loss_pairs
from losslint.engine.records import Record, Span, UnitResult
from losslint.index.gate import (
    file_gate,
    has_loop_sink,
    may_hold_losses,
    speaks_keras,
    text_may_hold_losses,
)
from losslint.index.modules import ModuleInfo
from losslint.index.project import ProjectIndex
from losslint.model import Diagnostic, Edit, Fix, LossTarget, Position
from losslint.rules import ALL_RULES
from losslint.rules.base import Rule
from losslint.rules.ll101_dropped_sample_weight import DroppedSampleWeight
from losslint.source import SourceError, check_syntax, parses, real_path

if TYPE_CHECKING:
    from losslint.analysis.loops import LoopObjectives

Keys = tuple[tuple[str, str], ...]  # (file, qualified name) of functions
_RULES: tuple[Rule, ...] = tuple(r for r in ALL_RULES if r.code != "LL000")
_DROPPED = next(r for r in ALL_RULES if isinstance(r, DroppedSampleWeight))
# the analysis recurses once per nested expression: long `a + b + ...` chains need room
RECURSION_LIMIT = 20_000


class UnitAnalyser:
    """Analyses the files of one project."""

    def __init__(
        self, root: Path, overlays: dict[Path, bytes], config: Config, render: bool
    ) -> None:
        self.config = config
        self.root = real_path(root)
        self.index = ProjectIndex(root, overlays, load_catalogue().frameworks)
        self.evaluator = Evaluator(self.index)
        self.pairs = loss_pairs(config.loss_arg_names)
        self.finder = LossFinder(self.evaluator, self.pairs)
        self._loops: LoopObjectives | None = None  # (imported only for files with a loop)
        self.render = render
        if sys.getrecursionlimit() < RECURSION_LIMIT:
            sys.setrecursionlimit(RECURSION_LIMIT)

    def analyse(self, path: Path, parse_anyway: bool = False, gated: bool = False) -> UnitResult:
        """One file's findings (wherever they land) and what they depend on. `gated`: the
        file is known to pass the text gate (the engine gated it just before)."""
        path = real_path(path)
        try:
            source = self.index.source(path)
        except SourceError as exc:
            digest = self.index.digest(path)
            return self._result(path, digest, (), exc.diagnostic(path), parsed=True)
        digest = self.index.digest(path) or ""
        text = source.text
        loops = has_loop_sink(text)
        if not gated and not file_gate(text, self.pairs):
            error = None
            if parse_anyway:
                try:
                    check_syntax(text, path)
                except SourceError as exc:
                    error = exc.diagnostic(path)
            return self._result(path, digest, (), error, parsed=parse_anyway, closure=False)
        shared = self.index.parsed_tree(path)  # an earlier unit's analysis loaded it
        try:
            tree = shared or check_syntax(text, path)
        except SourceError as exc:
            return self._result(path, digest, (), exc.diagnostic(path), parsed=True, closure=False)
        frameworks = self.evaluator.catalogue.frameworks
        if not loops and not may_hold_losses(tree, text, self.pairs, frameworks):
            return self._result(path, digest, (), None, parsed=True, closure=False)
        self.index.remember_ast(path, tree)
        mark = self.evaluator.memos.mark()
        try:
            records, uses, objectives, absorbed = self._records(path, loops)
            result = self._result(path, digest, records, None, parsed=True)
            return replace(result, uses=uses, objectives=objectives, absorbed=absorbed)
        except Exception as exc:  # one file's crash is that file's problem
            return self._crash(path, digest, exc)
        finally:
            if shared is None:
                self._forget(path, mark)

    def unit(self, path: Path, parse_anyway: bool, deferred: bool) -> UnitResult:
        """`deferred` for a custom training loop only, else `analyse`: for the engine's
        files, which pass the text gate unless they are to be parsed anyway."""
        if deferred:
            return self.deferred(path)
        return self.analyse(path, parse_anyway, gated=not parse_anyway)

    def deferred(self, path: Path, check: bool = True) -> UnitResult:
        """The result of a file that passes the gate only for a custom training loop, before
        any `ast` parse: no records, and as `deps` the files its imports may reach (read from
        the texts). Its loop objectives can only name functions in those files, so it is
        analysed only when a finding's loss lies in one of them (`Session`). Its syntax is
        checked all the same (`parses`, unless `check` is False): a file Python's parser
        refuses is analysed at once, for its LL000."""
        path = real_path(path)
        try:
            text = self.index.source(path).text
        except SourceError:
            return self.analyse(path)  # (read by the gate just before: its LL000 all the same)
        if check and not parses(text, path):
            return self.analyse(path)
        digest = self.index.digest(path) or ""
        return replace(self._result(path, digest, (), None, parsed=False), deferred=True)

    def _forget(self, path: Path, mark: Mark) -> None:
        """Free a file loaded for its own analysis: its module, and the memos made since.

        A parsed tree is most of the memory the analysis holds (about 40 bytes per character
        of source), and most files analysed on their own are imported by no other (tests,
        scripts): keeping them all took keras' sources from 130 MB to 220 MB. A later unit
        that imports the file parses it again, once: it is then loaded as a dependency,
        which is kept. The memos go too, since they hold the file's nodes.
        """
        self.index.forget(path)
        self.evaluator.memos.rewind(mark)

    @property
    def loops(self) -> LoopObjectives:
        """The finder of custom-loop objectives (its module is imported on first use)."""
        if self._loops is None:
            from losslint.analysis.loops import LoopObjectives

            self._loops = LoopObjectives(self.evaluator)
        return self._loops

    def candidates(self, path: Path) -> list[Candidate]:
        """The loss candidates of a file that passes the gate (none otherwise)."""
        try:
            text = self.index.source(path).text
        except SourceError:
            return []
        if not text_may_hold_losses(text, self.pairs):
            return []
        module = self.index.module(path)
        if module is None or not may_hold_losses(
            module.tree, text, self.pairs, self.evaluator.catalogue.frameworks
        ):
            return []
        return self.finder.candidates(module)

    def _records(
        self, path: Path, loops: bool
    ) -> tuple[tuple[Record, ...], Keys, Keys, tuple[str, ...]]:
        """The file's records, the functions it compiles, those it uses as loop objectives
        (`loops`: its text may hold a custom training loop), and the functions whose
        batch-reduced values its losses take as terms of a per-sample result (`bce -
        log(dice(t, p))`: a per-sample `dice` would no longer fit, so its fix is unsafe;
        engine/report.py)."""
        module = self.index.module(path)
        if module is None:
            return (), (), (), ()
        records: list[Record] = []
        uses: set[tuple[str, str]] = set()
        absorbed: set[str] = set()
        names = self.evaluator.names
        candidates = self.finder.candidates(module)
        absorbed.update(self._called_by_other_code(module, candidates))
        for candidate in candidates:
            if candidate.site is not None:
                uses.add((str(candidate.target.path), candidate.target.qualname))
            for dropped in dropped_by_signature(candidate, names):
                records.append(self._dropped_record(dropped))
            issues, terms = self.finder.examine(candidate)
            absorbed.update(terms)
            if candidate.priority == PRIORITY_NAMED:
                issues += self.finder.conditional_issues(candidate, issues)
                if host_library_only(issues, self.evaluator.catalogue):
                    continue  # NumPy or scikit-learn: an evaluation helper (not inside `fit`)
            for issue in issues:
                record = self._record(issue, candidate)
                if record is not None:
                    records.append(record)
        for dropped in dropped_by_overrides(module, names):
            records.append(self._dropped_record(dropped))
        objectives = self.loops.of_module(module) if loops else set()
        objectives |= self.finder.models.kept.get(module.path, set())
        objectives |= mapped_helpers(module, self.evaluator)  # (one element's value each)
        if loops and self.finder.loop_script(module) and not self.finder.test_module(module):
            objectives |= self.loops.imported_calls(module)  # (a test's calls check them)
        return (
            tuple(records),
            tuple(sorted(uses)),
            tuple(sorted(objectives)),
            tuple(sorted(absorbed)),
        )

    @staticmethod
    def _called_by_other_code(module: ModuleInfo, candidates: list[Candidate]) -> set[str]:
        """The module-level functions found by their names alone that the module calls
        from code that is no candidate (a function that is no loss, or module level): a
        per-sample value may not fit there (`_relation(ops.transpose(t), ...)`), so their
        fixes are unsafe, as for a loss another loss takes as a term."""
        analysed = {id(c.ref.node) for c in candidates}
        found: set[str] = set()
        for candidate in candidates:
            node = candidate.ref.node
            if (
                candidate.priority != PRIORITY_NAMED
                or not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
                or candidate.ref.qualname != node.name  # (module-level functions only)
            ):
                continue
            for _, enclosing in calls_of(module, node):
                functions = [
                    n for n in enclosing if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
                ]
                if not functions or id(functions[-1]) not in analysed:
                    found.add(candidate.ref.qualname)
                    break
        return found

    def _result(
        self,
        path: Path,
        digest: str | None,
        records: tuple[Record, ...],
        error: Diagnostic | None,
        *,
        parsed: bool,
        closure: bool = True,
    ) -> UnitResult:
        deps: dict[Path, str] = {path: digest or ""}
        misses: frozenset[Path] = frozenset()
        text = self.index.known_text(path)
        if closure and digest is not None:
            files, misses = self.index.import_closure(path)
            for dep in files:
                deps[dep] = self.index.digest(dep) or ""
        return UnitResult(
            path=path,
            digest=digest or "",
            deps=deps,
            misses=tuple(sorted(misses, key=str)),
            records=records,
            error=error,
            rendered=self.render,
            parsed=parsed,
            keras=text is None or speaks_keras(text),
        )

    def _crash(self, path: Path, digest: str, exc: BaseException) -> UnitResult:
        if os.environ.get("LOSSLINT_DEBUG"):
            import traceback  # only here: a crash is rare, and start-up counts

            traceback.print_exception(exc, file=sys.stderr)
        detail = str(exc).splitlines()[0] if str(exc) else ""
        message = f"internal error: {type(exc).__name__}" + (f": {detail}" if detail else "")
        at = Position(1, 1)
        error = Diagnostic(
            code="LL000",
            name="unreadable-file",
            message=message + " (LOSSLINT_DEBUG=1 prints the traceback)",
            path=path,
            location=at,
            end_location=at,
            noqa_row=1,
        )
        return UnitResult(
            path=path,
            digest=digest,
            deps={path: digest},
            misses=(),
            records=(),
            error=error,
            rendered=self.render,
            parsed=True,
            internal=True,
        )

    # -- one finding --------------------------------------------------------------------------

    def _record(self, issue: Issue, candidate: Candidate) -> Record | None:
        rule = next((r for r in _RULES if r.claims(issue)), None)
        if rule is None:
            return None
        origin = issue.origins[0]
        site = None
        site_message = None
        if candidate.site is not None:
            site_module, site_expr, keyword = candidate.site
            site = _span(site_module, site_expr)
            site_message = self._site_message(issue, origin, site_module, site_expr, keyword)
        return Record(
            code=rule.code,
            name=rule.name,
            message=rule.message(issue),
            rank=(
                candidate.priority,
                0 if candidate.role == "loss" else 1,
                0 if origin.function == issue.loss_name else 1,
            ),
            origin=_span(origin.module, origin.node),
            chain=tuple(_span(module, call) for module, call, _ in origin.chain),
            site=site,
            site_message=site_message,
            fix=self._fix(rule, issue, origin.module),
            function=issue.function,
            role=candidate.role,
            evidence=candidate.evidence,
            target=candidate.target,
            conditional=issue.condition is not None,
            by_name=candidate.priority == PRIORITY_NAMED,
        )

    def _dropped_record(self, dropped: DroppedWeight) -> Record:
        """An LL101 record: at the parameter, or at the compile site that reaches it."""
        rule = _DROPPED
        candidate = dropped.candidate
        ref = dropped.function
        site = site_message = site_text = None
        if candidate is not None and candidate.site is not None:
            site_module, site_expr, keyword = candidate.site
            site = _span(site_module, site_expr)
            code = f"compile({keyword}={' '.join(site_module.code_for(site_expr).split())})"
            line = candidate.target.site_line or site_module.line_of(site_expr)
            site_text = f"`{code}` at {self._rel(site_module.path)}:{line}"
            where = f"{self._rel(dropped.module.path)}:{dropped.module.line_of(dropped.node)}"
            site_message = rule.site_message(dropped, code, where)
        if candidate is not None:
            target = candidate.target
            rank = (candidate.priority, 0 if candidate.role == "loss" else 1, 0)
            role, evidence = candidate.role, candidate.evidence
        else:
            target = LossTarget(
                kind="loss_class",
                path=ref.module.path,
                qualname=ref.qualname,
                line=ref.module.line_of(ref.node),
            )
            rank = (PRIORITY_LOSS_CLASS, 0, 0)
            role, evidence = "loss", "`__call__` of a keras.losses.Loss subclass"
        return Record(
            code=rule.code,
            name=rule.name,
            message=rule.describe(dropped, site_text),
            rank=rank,
            origin=_span(dropped.module, dropped.node),
            chain=(),
            site=site,
            site_message=site_message,
            fix=None,
            function=qualified(ref),
            role=role,
            evidence=evidence,
            target=target,
        )

    def _rel(self, path: Path) -> str:
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return path.name

    def _site_message(
        self, issue: Issue, origin: Origin, module: ModuleInfo, expr: ast.expr, keyword: str
    ) -> str:
        code = " ".join(module.code_for(expr).split())
        try:
            where = origin.module.path.relative_to(self.root).as_posix()
        except ValueError:
            where = origin.module.path.name
        line = origin.module.line_of(origin.node)
        consequence = (
            "Keras averages per-batch metric values with equal weight"
            if issue.candidate.role == "metric"
            else "Keras expects one loss per sample"
        )
        return (
            f"`compile({keyword}={code})`: `{issue.loss_name}` ({where}:{line}) returns a value"
            f" reduced over the batch axis; {consequence}"
        )

    def _fix(self, rule: Rule, issue: Issue, module: ModuleInfo) -> Fix | None:
        decision = rule.fix(issue)
        if decision is None:
            return None
        edits: list[Edit] = []
        for origin, plan, ref in decision.parts:
            target = plan.ctor_module if plan.action == "reduction_none" else origin.module
            if target is None or target.path != module.path:
                return None
            if not self.render:
                if not _may_render(target, plan, origin.node):
                    return None
                continue
            from losslint.fixes.render import render

            edit = render(target, plan, origin.node, ref)
            if edit is None:
                return None
            edits.append(edit)
        if self.render and not edits:
            return None
        edits.sort(key=lambda e: e.location)
        return Fix(decision.applicability, decision.message, tuple(edits))


def _may_render(module: ModuleInfo, plan: FixPlan, node: ast.AST) -> bool:
    """What rendering would refuse, checked without libcst (when edits are not needed)."""
    if plan.action == "reduction_none":
        return plan.ctor is not None
    if not isinstance(node, ast.Call):
        return False
    if plan.action == "drop_call":
        if plan.operand_arg is None:
            return False
        outside = module.code_for(node).replace(module.code_for(plan.operand_arg.value), "", 1)
        return "#" not in outside
    return True


def _span(module: ModuleInfo, node: ast.AST) -> Span:
    line, column, end_line, end_column = module.span_of(node)
    return Span(module.path, Position(line, column + 1), Position(end_line, end_column + 1))


def analyse_units(
    root: Path,
    overlays: dict[Path, bytes],
    config: Config,
    paths: list[Path],
    parse_anyway: frozenset[Path],
    render: bool,
) -> list[UnitResult]:
    """Analyse files with one analyser (the entry point of worker processes)."""
    analyser = UnitAnalyser(root, overlays, config, render)
    return [analyser.analyse(path, path in parse_anyway) for path in paths]


__all__ = ["UnitAnalyser", "analyse_units", "qualified"]
