"""The linter side of runtime mode: findings -> probe jobs -> verdicts in `Diagnostic.runtime`.

No TensorFlow here. For every flagged loss (and with `--runtime-all` every discovered loss)
one probe job goes to the worker; confirmed findings with a fix get a second job that runs
the fixed loss. The worker reports facts (output shape, coupling, mean); the verdicts are
decided here (`judge`, `judge_fix`).
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import click

from losslint.config import Config
from losslint.engine import LintOptions
from losslint.fixes import apply_fixes
from losslint.frozen import frozen
from losslint.model import Applicability, Diagnostic, FileResult, Fix, LossTarget, Position
from losslint.runtime.importer import package_root
from losslint.runtime.inputs import DEFAULT_SHAPES
from losslint.runtime.worker import Reply, Worker, take_worker

LEGACY_HINT = "pip install 'losslint[runtime-legacy]'"
# why a verdict is inconclusive -> what the user can do about it (one line each)
HINTS = {
    "timeout": "it ran past the timeout: raise `[tool.losslint.runtime] timeout` if it is only slow",
    "memory": "give smaller inputs (`# losslint: shape=(None, ...)` on the `def` line) or raise "
    "LOSSLINT_RUNTIME_MEMORY_MB",
    "crash": "it killed the worker process (native code): run it by hand to see why",
    "worker": "TensorFlow did not start: check `python -c 'import tensorflow'`",
    "keras2-api": f"Keras 2 code: install tf-keras ({LEGACY_HINT}) to run it under tf_keras",
    "import": "a module it needs does not import here: install it where losslint runs",
    "rebuild": "a name it needs is set by code runtime mode does not run (top-level "
    "statements, set-up functions): compute it from literals or in the loss",
    "compile-site": "compile it with literal arguments, or add `# losslint: args=(...)` on its "
    "`def`/`class` line",
    "nested": "it is defined inside a function that does not return it: move it to module "
    "level, or return it from a factory",
    "arguments": "add `# losslint: args=(...)` on its `def`/`class` line, or compile it with "
    "literal arguments",
    "input-shape": "add `# losslint: shape=(None, ...)` on its `def` line or set "
    "`[tool.losslint.runtime] shapes`",
    "raised": "it raised on every input tried: run it by hand on a real batch",
    "graph-only": "it reads the Keras model graph (`_keras_history`, `K.gradients`), so it runs "
    "only inside a built model: check it by hand",
    "tf1-api": "it calls TensorFlow 1 APIs (`tf.log`, `tf.to_float`, ...) that TensorFlow 2 "
    "removed: port it to `tf.math`/`tf.compat.v1`",
    "later-call": "it raised when called again on the same batch: make it stateless",
    "bad-output": "it must return a tensor",
    "nondeterministic": "its output is random: make it deterministic so coupling can be tested",
    "coupling": "changing one sample made it raise, so coupling could not be tested",
}
_SHAPE_ERROR = re.compile(
    r"InvalidArgumentError|Incompatible shapes|shape|Shape|dimension|rank|IndexError|"
    r"size-incompatible|broadcast|ConcatOp|Dimensions must"
)
RUNTIME_CODES = frozenset({"LL001", "LL002", "LL003", "LL004", "LL102"})
MEAN_RTOL = 1e-5
FEW = 3  # up to this many losses: one line each; more on a terminal: a progress bar


@frozen
class Judgement:
    """A verdict and the facts behind it (the `runtime` object without `fix_verified`)."""

    verdict: str
    detail: str
    input_shape: list[int] | None = None
    output_shape: list[int] | None = None
    batch_coupled: bool | None = None
    labels: str | None = None
    mean: float | None = None
    lost_batch: bool = False
    reason: str | None = None  # why it is inconclusive (a key of HINTS)
    keras: str | None = None  # "3", "compat" or "tf_keras": where the loss ran
    arguments: tuple[str, ...] = ()  # arguments runtime mode chose to build or call it
    argument_attempt: int = 0  # which argument set that was (the fix job uses the same)

    def runtime(self, fix_verified: bool | None = None, fix_detail: str = "") -> dict[str, Any]:
        detail = self.detail
        if self.reason:
            detail += f"; to run it: {HINTS[self.reason]}"
        if fix_detail:
            detail += f"; {fix_detail}"
        return {
            "verdict": self.verdict,
            "input_shape": self.input_shape,
            "output_shape": self.output_shape,
            "batch_coupled": self.batch_coupled,
            "fix_verified": fix_verified,
            "detail": detail,
            "reason": self.reason,
            "keras": self.keras,
            "arguments": list(self.arguments),
        }


def _shape(dims: Iterable[int] | None) -> str:
    dims = list(dims or [])
    return f"({dims[0]},)" if len(dims) == 1 else "(" + ", ".join(str(d) for d in dims) + ")"


def _samples(indices: list[int]) -> str:
    if len(indices) == 1:
        return f"sample {indices[0]}"
    if len(indices) > 6:
        return (
            "samples " + ", ".join(str(i) for i in indices[:4]) + f", ... ({len(indices)} samples)"
        )
    return "samples " + ", ".join(str(i) for i in indices)


def _failure_reason(message: dict[str, Any], legacy_available: bool) -> str:
    """The HINTS key for a build or call failure, read off the errors."""
    errors = [str(message.get("error") or "")]
    errors += [str(t.get("error") or "") for t in message.get("tried") or []]
    text = " ".join(errors)
    if message.get("keras2") and not legacy_available:
        return "keras2-api"
    if re.search(r"_keras_history|not supported when eager execution", text):
        return "graph-only"
    if re.search(r"module 'tensorflow' has no attribute", text):
        return "tf1-api"
    if "which does not return it" in text:
        return "nested"
    if "compile-site expression" in text and "needs arguments" not in text:
        return "compile-site"
    if "needs arguments" in text or "required positional argument" in text:
        return "arguments"
    if (
        "runtime mode does not run" in text
        or "not defined in the rebuilt module" in text
        or (
            re.search(r"AttributeError: module '[\w.]+' has no attribute", text)
            and not re.search(r"module '(keras|tf_keras|tensorflow|numpy)\b", text)
        )
    ):
        return "rebuild"
    if re.search(r"ModuleNotFoundError|ImportError|No module named|cannot import name", text):
        return "import"
    if message.get("status") == "call_error" and all(_SHAPE_ERROR.search(e) for e in errors[1:]):
        return "input-shape"
    return "raised"


def judge(reply: Reply, memory_note: str = "", legacy_available: bool = False) -> Judgement:
    """The verdict for one probe: confirmed, refuted or inconclusive (README, "Runtime mode")."""
    if reply.status != "ok":
        reason = reply.detail
        why = "timeout" if reply.status == "timeout" else "crash"
        if reply.status == "crashed":
            reason = f"the worker process died while running the loss ({reply.detail})"
        elif reply.status == "unavailable":
            reason = f"the TensorFlow worker is not available: {reply.detail}"
            why = "worker"
        return Judgement("inconclusive", reason, reason=why)
    msg = reply.message
    status = msg.get("status")
    ran = {
        "keras": msg.get("keras"),
        "arguments": tuple(msg.get("arguments") or ()),
        "argument_attempt": int(msg.get("argument_attempt") or 0),
    }
    if status in ("build_error", "call_error"):
        why = _failure_reason(msg, legacy_available)
        if status == "build_error":
            detail = f"could not rebuild the loss: {msg.get('error')}"
        else:
            tried = msg.get("tried") or []
            first = tried[0]["error"] if tried else "an error"
            shapes = sorted({_shape(t["input_shape"]) for t in tried}, key=len)
            detail = f"raised {first} (tried inputs {', '.join(shapes)})"
        if msg.get("argument_sets"):
            detail += f" (and {msg['argument_sets']} other argument sets)"
        if msg.get("tf_keras_error"):
            detail += f"; under tf_keras: {msg['tf_keras_error']}"
        return Judgement("inconclusive", detail, reason=why, **ran)
    if status == "memory":
        return Judgement(
            "inconclusive", f"ran out of memory{memory_note}: {msg.get('error')}", reason="memory"
        )
    if status == "bad_output":
        return Judgement(
            "inconclusive",
            f"the loss {msg.get('error')}",
            input_shape=msg.get("input_shape"),
            reason="bad-output",
            **ran,
        )
    if status != "ok":
        return Judgement("inconclusive", f"unexpected worker reply `{status}`", reason="crash")
    facts = dict(
        input_shape=msg["input_shape"],
        output_shape=msg["output_shape"],
        labels=msg.get("labels"),
        mean=msg.get("mean"),
        **ran,
    )
    where = f"output shape {_shape(msg['output_shape'])} for input {_shape(msg['input_shape'])}"
    labels = msg.get("labels")
    if labels in ("int", "int1"):
        where += " (integer labels)"
    elif labels not in (None, "float"):
        where += f" ({labels} labels)"
    if ran["arguments"]:
        where += f" (built with {'; '.join(ran['arguments'])})"
    if msg["lost_batch"]:
        return Judgement("confirmed", f"{where}: the batch axis is gone", lost_batch=True, **facts)
    if msg.get("later_call_error"):
        return Judgement(
            "inconclusive", f"{where}, but {msg['later_call_error']}", reason="later-call", **facts
        )
    if msg.get("deterministic") is False:
        return Judgement(
            "inconclusive",
            f"{where}, but two calls on the same batch differ; coupling not tested",
            reason="nondeterministic",
            **facts,
        )
    coupled = msg.get("batch_coupled")
    if coupled is None:
        return Judgement(
            "inconclusive",
            f"{where}; coupling test failed: {msg.get('coupling_error')}",
            reason="coupling",
            **facts,
        )
    last = msg["input_shape"][0] - 1
    if coupled:
        return Judgement(
            "confirmed",
            f"{where}, but the loss of {_samples(msg['changed'])} changes when only sample {last} "
            "changes (batch coupling)",
            batch_coupled=True,
            **facts,
        )
    return Judgement(
        "refuted",
        f"{where}: one loss per sample, independent of the other samples",
        batch_coupled=False,
        **facts,
    )


def judge_fix(reply: Reply, base: Judgement, safe: bool) -> tuple[bool, str]:
    """`fix_verified` and its explanation for the fixed loss run on the same batch."""
    if reply.status != "ok":
        return False, f"fix not verified: {judge(reply).detail}"
    fixed = judge(reply)
    msg = reply.message
    if msg.get("status") != "ok":
        return False, f"fix not verified: the fixed loss {fixed.detail}"
    if msg["lost_batch"]:
        return (
            False,
            f"fix not verified: the fixed loss still returns {_shape(msg['output_shape'])}",
        )
    if msg.get("batch_coupled") is not False:
        why = "still mixes samples" if msg.get("batch_coupled") else "coupling could not be tested"
        return False, f"fix not verified: the fixed loss {why}"
    per_sample = f"fixed output {_shape(msg['output_shape'])} is per-sample"
    if not safe:
        return True, f"fix verified: {per_sample} (unsafe fix: the value may change)"
    before, after = base.mean, msg.get("mean")
    if before is None or after is None:
        return False, "fix not verified: no mean to compare"
    if abs(after - before) <= MEAN_RTOL * max(abs(before), abs(after), 1e-12):
        return True, f"fix verified: {per_sample}, same mean {after:.6g}"
    return (
        False,
        f"fix not verified: {per_sample} but the mean changed from {before:.6g} to {after:.6g}",
    )


# -- jobs ---------------------------------------------------------------------------------


def _key(target: LossTarget) -> tuple[Any, ...]:
    return (
        target.kind,
        str(target.path),
        target.qualname,
        target.line,
        str(target.site_path),
        target.site_expr,
    )


def _target_json(target: LossTarget) -> dict[str, Any]:
    return {
        "kind": target.kind,
        "path": str(target.path),
        "qualname": target.qualname,
        "line": target.line,
        "site_path": str(target.site_path) if target.site_path else None,
        "site_expr": target.site_expr,
        "site_line": target.site_line,
    }


@dataclass
class _Probe:
    """One loss to run: its target and the findings that point at it."""

    target: LossTarget
    label: str
    diagnostics: list[tuple[int, int]] = field(
        default_factory=list
    )  # (result index, diagnostic index)
    discovered: Any = None  # a DiscoveredLoss for --runtime-all
    judgement: Judgement | None = None


class _Progress:
    """`runtime probe [3/20] name: verdict` lines, or one bar per phase on a terminal."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.phase = ""
        self.total = 0
        self.done = 0
        self.tty = enabled and sys.stderr.isatty()
        self.bar = False

    def begin(self, phase: str, total: int, what: str) -> None:
        self.phase, self.total, self.done = phase, total, 0
        self.bar = self.tty and self.total > FEW
        if self.enabled and self.bar:
            self._draw(what)

    def _draw(self, label: str) -> None:
        width = 24
        filled = int(width * self.done / max(self.total, 1))
        bar = "#" * filled + "-" * (width - filled)
        click.echo(
            f"\r\x1b[2Kruntime {self.phase} [{bar}] {self.done}/{self.total} {label[:60]}",
            err=True,
            nl=False,
        )

    def step(self, label: str, outcome: str) -> None:
        self.done += 1
        if not self.enabled:
            return
        if self.bar:
            self._draw(label)
        else:
            click.echo(
                f"runtime {self.phase} [{self.done}/{self.total}] {label}: {outcome}", err=True
            )

    def end(self) -> None:
        if self.enabled and self.bar:
            click.echo("\r\x1b[2K", err=True, nl=False)
        self.bar = False


class _Session:
    def __init__(
        self, results: list[FileResult], config: Config, quiet: bool, options: LintOptions | None
    ) -> None:
        self.results = results
        self.config = config
        self.quiet = quiet
        self.options = options
        self.timeout = config.runtime.timeout
        self.shapes = [list(s) for s in (config.runtime.shapes or DEFAULT_SHAPES)]
        self.texts: dict[Path, str] = {}
        self.overrides: dict[str, str] = {}
        for result in results:
            text = result.fixed_source if result.fixed_source is not None else result.source
            if text is None or str(result.path) == "-":
                continue
            path = result.path.resolve()
            self.texts[path] = text
            if result.fixed_source is not None or not path.is_file() or path.suffix == ".ipynb":
                # what static analysis saw, not what is on disk (for a notebook: its code cells)
                self.overrides[str(path)] = text
        self.worker: Worker | None = None
        self.legacy: Worker | None = None  # tf_keras, started for the first Keras 2 loss
        self.legacy_available = _has_module("tf_keras")
        self.progress = _Progress(not quiet)
        self.search_paths: list[str] = []
        self.roots: dict[str, list[str]] = {}
        self.stats: dict[str, Any] = {"jobs": []}
        self.added = 0  # findings reported by --runtime-all

    # -- worker --

    def _job(self, target: LossTarget, **extra: Any) -> dict[str, Any]:
        return {
            "root": str(self.config.project),
            "search_paths": self.search_paths,
            "overrides": self.overrides,
            "roots": self.roots,
            "target": _target_json(target),
            "shapes": self.shapes,
            **extra,
        }

    def _run(self, job: dict[str, Any], legacy: bool = False) -> Reply:
        if legacy and self.legacy is None:
            self.legacy = Worker(legacy=True)
        worker = self.legacy if legacy else self.worker
        assert worker is not None
        reply = worker.request(job, self.timeout)
        self.stats["jobs"].append(
            {
                "qualname": job["target"]["qualname"],
                "mode": job["mode"],
                "keras": "tf_keras" if legacy else reply.message.get("keras"),
                "status": reply.status,
                "elapsed_s": round(reply.elapsed, 4),
            }
        )
        return reply

    def _probe(self, target: LossTarget) -> Reply:
        """Run a loss under Keras 3 (with the compatibility layer if it needs it), then under
        tf_keras if its Keras 2 code still fails and tf-keras is installed."""
        job = self._job(target, mode="probe")
        reply = self._run(job)
        if not (reply.status == "ok" and reply.message.get("keras2") and self.legacy_available):
            return reply
        legacy = self._run(job, legacy=True)
        if legacy.status == "ok" and legacy.message.get("status") == "ok":
            return legacy
        if legacy.status == "ok":
            tried = legacy.message.get("tried") or [{}]
            error = legacy.message.get("error") or tried[0].get("error") or "it failed"
        else:
            error = legacy.detail
        reply.message["tf_keras_error"] = str(error)[:200]
        return reply

    def _starts(self) -> list[dict[str, Any]]:
        return [s for w in (self.worker, self.legacy) if w is not None for s in w.starts]

    def _memory_note(self) -> str:
        ready = self.worker.starts[-1] if self.worker and self.worker.starts else {}
        headroom = ready.get("memory_headroom_mb")
        return f" (limit: {headroom} MiB above TensorFlow's own footprint)" if headroom else ""

    # -- the run --

    def run(self, all_losses: bool, show_refuted: bool) -> list[FileResult]:
        started = time.perf_counter()
        probes = self._collect(all_losses)
        if not probes:
            take_worker().close()  # the one `require_tensorflow` may have started
            if not self.quiet:
                click.echo("runtime: no losses to run", err=True)
            return self.results
        self._set_search_paths(probes)
        self._set_roots(probes)
        self.worker = take_worker()
        try:
            self.progress.begin("probe", len(probes), "importing TensorFlow")
            self.worker.wait_ready()
            for probe in probes:
                reply = self._probe(probe.target)
                probe.judgement = judge(reply, self._memory_note(), self.legacy_available)
                self.progress.step(probe.label, probe.judgement.verdict)
            self.progress.end()
            fixes = self._verify_fixes(probes)
        finally:
            self.progress.end()
            self.worker.close()
            if self.legacy is not None:
                self.legacy.close()
        results = self._apply(probes, fixes, show_refuted)
        self._summary(probes, time.perf_counter() - started)
        return results

    def _collect(self, all_losses: bool) -> list[_Probe]:
        probes: dict[tuple[Any, ...], _Probe] = {}
        for r_index, result in enumerate(self.results):
            for d_index, diagnostic in enumerate(result.diagnostics):
                if diagnostic.code not in RUNTIME_CODES or diagnostic.target is None:
                    continue
                key = _key(diagnostic.target)
                if key not in probes:
                    probes[key] = _Probe(
                        diagnostic.target, diagnostic.function or diagnostic.target.qualname
                    )
                probes[key].diagnostics.append((r_index, d_index))
        if all_losses:
            from losslint.engine import discover_losses

            flagged = {(str(p.target.path), p.target.qualname) for p in probes.values()}
            files = [r.path for r in self.results if str(r.path) != "-" and r.path.is_file()]
            overlays = {Path(p): text.encode("utf-8") for p, text in self.overrides.items()}
            for loss in discover_losses(files, self.config, overlays or None):
                if (str(loss.target.path), loss.target.qualname) in flagged:
                    continue
                key = _key(loss.target)
                if key not in probes:
                    probes[key] = _Probe(loss.target, loss.function, discovered=loss)
        return list(probes.values())

    def _set_roots(self, probes: list[_Probe]) -> None:
        """Names each module must provide: the compile-site expressions' names (sent with every
        job, so that the worker builds each module once)."""
        roots: dict[str, set[str]] = {}
        for probe in probes:
            target = probe.target
            if target.site_expr and target.site_path:
                try:
                    tree = ast.parse(target.site_expr.strip(), mode="eval")
                except SyntaxError:
                    continue
                names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
                roots.setdefault(str(target.site_path.resolve()), set()).update(names)
        self.roots = {path: sorted(names) for path, names in roots.items()}

    def _set_search_paths(self, probes: list[_Probe]) -> None:
        paths: list[str] = []
        for probe in probes:
            for path in (probe.target.path, probe.target.site_path):
                if path is not None:
                    folder = str(package_root(path.resolve()))
                    if folder not in paths:
                        paths.append(folder)
        root = self.config.project.resolve()
        for folder in (root, root / "src"):
            if folder.is_dir() and str(folder) not in paths:
                paths.append(str(folder))
        self.search_paths = paths

    # -- fix verification --

    def _verify_fixes(self, probes: list[_Probe]) -> dict[tuple[int, int], tuple[bool, str]]:
        """For each confirmed finding with a fix: (fix_verified, explanation)."""
        plans: dict[tuple[Any, ...], list[tuple[int, int]]] = {}
        groups: dict[tuple[Any, ...], tuple[_Probe, tuple[tuple[Path, Fix], ...]]] = {}
        for probe in probes:
            if probe.judgement is None or probe.judgement.verdict != "confirmed":
                continue
            fixed = [(ref, self.results[ref[0]].diagnostics[ref[1]]) for ref in probe.diagnostics]
            fixed = [(ref, d) for ref, d in fixed if d.fix is not None]
            for ref, diagnostic in fixed:
                assert diagnostic.fix is not None
                unsafe = diagnostic.fix.applicability is not Applicability.SAFE
                # apply it with the other fixes `--fix` (or `--unsafe-fixes`) would apply to this loss
                group = {
                    (d.path.resolve(), d.fix)
                    for _, d in fixed
                    if d.fix is not None and (unsafe or d.fix.applicability is Applicability.SAFE)
                }
                key = (_key(probe.target), tuple(sorted(group, key=repr)))
                groups[key] = (probe, tuple(sorted(group, key=repr)))
                plans.setdefault(key, []).append(ref)
        outcomes: dict[tuple[int, int], tuple[bool, str]] = {}
        if not groups:
            return outcomes
        self.progress.begin("fix", len(groups), "verifying fixes")
        for key, (probe, group) in groups.items():
            outcome = self._run_fix(probe, group)
            others = len(probe.diagnostics) - len(group)
            if not outcome[0] and others > 0:
                plural = "s" if others != 1 else ""
                outcome = (
                    outcome[0],
                    f"{outcome[1]} ({others} other finding{plural} in this loss not fixed with it)",
                )
            for ref in plans[key]:
                outcomes[ref] = outcome
            self.progress.step(probe.label, "verified" if outcome[0] else "not verified")
        return outcomes

    def _run_fix(self, probe: _Probe, group: tuple[tuple[Path, Fix], ...]) -> tuple[bool, str]:
        assert probe.judgement is not None
        by_path: dict[Path, list[Fix]] = {}
        for path, fix in group:
            by_path.setdefault(path, []).append(fix)
        overrides = dict(self.overrides)
        for path, fixes in by_path.items():
            text = self.texts.get(path)
            if text is None:
                return False, f"fix not verified: the text of {path.name} is not available"
            new_text, count = apply_fixes(text, fixes)
            if count < len(fixes):
                return False, f"fix not verified: the fixes for {path.name} overlap"
            try:
                ast.parse(new_text)
            except (SyntaxError, ValueError) as exc:
                return False, f"fix not verified: the fixed {path.name} does not parse ({exc})"
            overrides[str(path)] = new_text
        safe = all(fix.applicability is Applicability.SAFE for _, fix in group)
        job = self._job(
            probe.target,
            mode="fix",
            overrides=overrides,
            input_shape=probe.judgement.input_shape,
            labels=probe.judgement.labels or "float",
            keras=probe.judgement.keras,
            argument_attempt=probe.judgement.argument_attempt,
        )
        legacy = probe.judgement.keras == "tf_keras"
        return judge_fix(self._run(job, legacy=legacy), probe.judgement, safe)

    # -- results --

    def _apply(
        self,
        probes: list[_Probe],
        fixes: dict[tuple[int, int], tuple[bool, str]],
        show_refuted: bool,
    ) -> list[FileResult]:
        runtime: dict[tuple[int, int], dict[str, Any]] = {}
        for probe in probes:
            assert probe.judgement is not None
            for ref in probe.diagnostics:
                verified, fix_detail = fixes.get(ref, (None, ""))
                runtime[ref] = probe.judgement.runtime(verified, fix_detail)
        added = self._runtime_findings(probes)
        self.added = sum(len(found) for found in added.values())
        results = []
        for r_index, result in enumerate(self.results):
            kept = []
            for d_index, diagnostic in enumerate(result.diagnostics):
                obj = runtime.get((r_index, d_index))
                if obj is None:
                    kept.append(diagnostic)
                    continue
                if obj["verdict"] == "refuted" and not show_refuted:
                    continue
                kept.append(replace(diagnostic, runtime=obj))
            kept.extend(added.get(result.path.resolve(), []))
            results.append(
                replace(result, diagnostics=tuple(sorted(kept, key=Diagnostic.sort_key)))
            )
        return results

    def _runtime_findings(self, probes: list[_Probe]) -> dict[Path, list[Diagnostic]]:
        """`--runtime-all`: unflagged losses whose output lost the batch axis become findings."""
        from losslint.engine import filter_diagnostics
        from losslint.rules import RULES_BY_CODE

        options = self.options or LintOptions()
        added: dict[Path, list[Diagnostic]] = {}
        for probe in probes:
            judgement = probe.judgement
            if probe.discovered is None or judgement is None or not judgement.lost_batch:
                continue
            loss = probe.discovered
            code = "LL004" if loss.role == "metric" else "LL001"
            path = probe.target.path.resolve()
            text = self.texts.get(path)
            if text is None:
                continue
            row = probe.target.line
            lines = text.splitlines()
            line = lines[row - 1] if 0 < row <= len(lines) else ""
            keyword = "lambda" if probe.target.kind == "lambda" else "def"
            column = (
                line.find(keyword) + 1 if keyword in line else len(line) - len(line.lstrip()) + 1
            )
            short = (
                loss.function.rsplit(".", 1)[-1]
                if "<" not in loss.function
                else probe.target.qualname
            )
            what = "metric" if code == "LL004" else "loss"
            consequence = (
                "Keras averages per-batch metric values with equal weight"
                if code == "LL004"
                else "Keras expects one loss per sample"
            )
            found = Diagnostic(
                code=code,
                name=RULES_BY_CODE[code].name,
                message=f"{what} `{short}` returns a value reduced over the batch axis "
                f"(found at runtime); {consequence}",
                path=path,
                location=Position(row, max(column, 1)),
                end_location=Position(row, len(line.rstrip()) + 1),
                noqa_row=row,
                fix=None,
                function=loss.function,
                role=loss.role,
                evidence=f"found at runtime: output shape {_shape(judgement.output_shape)} "
                f"for input {_shape(judgement.input_shape)}",
                runtime=judgement.runtime(None),
                target=probe.target,
            )
            kept = filter_diagnostics([found], path, text, self.config, options)
            added.setdefault(path, []).extend(kept)
        return added

    def _summary(self, probes: list[_Probe], wall: float) -> None:
        counts = {"confirmed": 0, "refuted": 0, "inconclusive": 0}
        others = {"confirmed": 0, "refuted": 0, "inconclusive": 0}  # --runtime-all's extra losses
        reasons: dict[str, int] = {}
        for probe in probes:
            judgement = probe.judgement
            assert judgement is not None
            if probe.diagnostics:
                counts[judgement.verdict] += len(probe.diagnostics)
            else:
                others[judgement.verdict] += 1
            if judgement.reason:
                reasons[judgement.reason] = reasons.get(judgement.reason, 0) + max(
                    1, len(probe.diagnostics)
                )
        found = self.added
        starts = self._starts()
        tf_import = sum(
            s.get("tensorflow_import_s", 0.0) + s.get("keras_import_s", 0.0) for s in starts
        )
        self.stats.update(
            wall_s=round(wall, 4),
            import_s=round(tf_import, 4),
            worker_starts=len(starts),
            starts=starts,
            counts=counts,
            unflagged=others,
            reasons=reasons,
            probes=len(probes),
            found_at_runtime=found,
        )
        stats_path = os.environ.get("LOSSLINT_RUNTIME_STATS")
        if stats_path:
            Path(stats_path).write_text(json.dumps(self.stats, indent=2))
        if self.quiet:
            return
        text = f"runtime: {counts['confirmed']} confirmed, {counts['refuted']} refuted, {counts['inconclusive']} inconclusive"
        if found:
            text += f"; {found} more found at runtime"
        text += f" ({len(probes)} loss{'es' if len(probes) != 1 else ''} probed in {wall:.1f} s"
        if starts:
            text += f", TensorFlow import {tf_import:.1f} s"
            if len(starts) > 1:
                text += f" over {len(starts)} worker starts"
        text += ")"
        if sum(others.values()):
            text += (
                f"\nruntime: {sum(others.values())} more losses probed (--runtime-all): "
                f"{others['confirmed']} confirmed ({found} reported), {others['refuted']} "
                f"refuted, {others['inconclusive']} inconclusive"
            )
        if self.worker is not None and self.worker.failure and not starts:
            text += f"\nruntime: warning: {self.worker.failure}"
        if reasons:
            text += "\nruntime: inconclusive, by reason (what to do):"
            for reason, count in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])):
                text += f"\n  {count:4}  {reason:16}  {HINTS[reason]}"
        click.echo(text, err=True)


def _has_module(name: str) -> bool:
    """Whether a module is installed (found, not imported)."""
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def verify(
    results: list[FileResult],
    config: Config,
    *,
    all_losses: bool = False,
    show_refuted: bool = False,
    quiet: bool = False,
    options: LintOptions | None = None,
) -> list[FileResult]:
    """See `losslint.runtime.verify`."""
    return _Session(results, config, quiet, options).run(all_losses, show_refuted)
