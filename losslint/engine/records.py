"""What the analysis of one file (a unit) produces, as plain values that can be cached.

A finding is recorded before anyone knows which files are being reported on: with every place
it could be reported (the reducing call itself, the calls leading to it from the loss, the
compile site that made the function a loss). The report step picks the place per run.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from losslint.frozen import frozen
from losslint.model import Applicability, Diagnostic, Edit, Fix, LossTarget, Position


@frozen
class Span:
    """A place in a file: 1-based rows and columns, end exclusive."""

    path: Path
    start: Position
    end: Position


@frozen
class Record:
    """One finding of one loss, with every place it could be reported."""

    code: str
    name: str
    message: str
    rank: tuple[int, int, int]  # evidence, loss before metric, the reduction's own loss first
    origin: Span
    chain: tuple[Span, ...]  # calls from the loss down to the origin (outermost first)
    site: Span | None  # the compile-site expression that made the function a loss
    site_message: str | None
    fix: Fix | None  # its edits are empty when the fix was decided but not rendered
    function: str
    role: str
    evidence: str
    target: LossTarget
    conditional: bool = False  # reached only with a non-default argument
    by_name: bool = False  # the loss was found only by its parameter names


@frozen
class UnitResult:
    """Everything one file's analysis produced, and what it depended on.

    `deps` maps every project file the analysis may have read to its content hash; `misses`
    are files whose absence import resolution relied on; `error` is the file's own LL000
    (`internal`: the analysis itself failed on this file, which is never cached).
    """

    path: Path
    digest: str
    deps: dict[Path, str]
    misses: tuple[Path, ...]
    records: tuple[Record, ...]
    error: Diagnostic | None
    rendered: bool
    parsed: bool  # False: the text gate ruled the file out without parsing it
    internal: bool = False
    uses: tuple[tuple[str, str], ...] = ()  # (file, qualname) of functions compiled here
    objectives: tuple[tuple[str, str], ...] = ()  # ... used as custom-loop objectives here
    # qualified names of functions whose batch-reduced values losses here take as terms of a
    # per-sample result (`bce - log(dice(t, p))`)
    absorbed: tuple[str, ...] = ()
    keras: bool = True  # index/gate.py's `speaks_keras` (True when unreadable)
    # a custom training loop not analysed yet: its objectives matter only if a finding's loss
    # lies in one of its `deps` (engine/session.py analyses it then)
    deferred: bool = False


# -- JSON ---------------------------------------------------------------------------------------


def _pos(p: Position) -> list[int]:
    return [p.row, p.column]


def _unpos(v: list[int]) -> Position:
    return Position(int(v[0]), int(v[1]))


def _span(s: Span) -> dict[str, Any]:
    return {"path": str(s.path), "start": _pos(s.start), "end": _pos(s.end)}


def _unspan(v: dict[str, Any]) -> Span:
    return Span(Path(v["path"]), _unpos(v["start"]), _unpos(v["end"]))


def _fix(f: Fix | None) -> dict[str, Any] | None:
    if f is None:
        return None
    return {
        "applicability": f.applicability.value,
        "message": f.message,
        "edits": [[e.content, _pos(e.location), _pos(e.end_location)] for e in f.edits],
    }


def _unfix(v: dict[str, Any] | None) -> Fix | None:
    if v is None:
        return None
    return Fix(
        Applicability(v["applicability"]),
        v["message"],
        tuple(Edit(c, _unpos(a), _unpos(b)) for c, a, b in v["edits"]),
    )


def _target(t: LossTarget) -> dict[str, Any]:
    return {
        "kind": t.kind,
        "path": str(t.path),
        "qualname": t.qualname,
        "line": t.line,
        "site_path": str(t.site_path) if t.site_path else None,
        "site_expr": t.site_expr,
        "site_line": t.site_line,
    }


def _untarget(v: dict[str, Any]) -> LossTarget:
    return LossTarget(
        kind=v["kind"],
        path=Path(v["path"]),
        qualname=v["qualname"],
        line=v["line"],
        site_path=Path(v["site_path"]) if v["site_path"] else None,
        site_expr=v["site_expr"],
        site_line=v["site_line"],
    )


def record_to_json(r: Record) -> dict[str, Any]:
    return {
        "code": r.code,
        "name": r.name,
        "message": r.message,
        "rank": list(r.rank),
        "origin": _span(r.origin),
        "chain": [_span(s) for s in r.chain],
        "site": _span(r.site) if r.site else None,
        "site_message": r.site_message,
        "fix": _fix(r.fix),
        "function": r.function,
        "role": r.role,
        "evidence": r.evidence,
        "target": _target(r.target),
        "conditional": r.conditional,
        "by_name": r.by_name,
    }


def record_from_json(v: dict[str, Any]) -> Record:
    return Record(
        code=v["code"],
        name=v["name"],
        message=v["message"],
        rank=(int(v["rank"][0]), int(v["rank"][1]), int(v["rank"][2])),
        origin=_unspan(v["origin"]),
        chain=tuple(_unspan(s) for s in v["chain"]),
        site=_unspan(v["site"]) if v["site"] else None,
        site_message=v["site_message"],
        fix=_unfix(v["fix"]),
        function=v["function"],
        role=v["role"],
        evidence=v["evidence"],
        target=_untarget(v["target"]),
        conditional=bool(v["conditional"]),
        by_name=bool(v["by_name"]),
    )


def _error(d: Diagnostic | None) -> dict[str, Any] | None:
    if d is None:
        return None
    return {"message": d.message, "at": _pos(d.location)}


def _unerror(v: dict[str, Any] | None, path: Path) -> Diagnostic | None:
    if v is None:
        return None
    at = _unpos(v["at"])
    return Diagnostic(
        code="LL000",
        name="unreadable-file",
        message=v["message"],
        path=path,
        location=at,
        end_location=at,
        noqa_row=at.row,
    )


def unit_to_json(u: UnitResult) -> dict[str, Any]:
    return {
        "digest": u.digest,
        "deps": {str(p): h for p, h in u.deps.items()},
        "misses": [str(p) for p in u.misses],
        "records": [record_to_json(r) for r in u.records],
        "error": _error(u.error),
        "rendered": u.rendered,
        "parsed": u.parsed,
        "uses": [list(k) for k in u.uses],
        "objectives": [list(k) for k in u.objectives],
        "absorbed": list(u.absorbed),
        "keras": u.keras,
        "deferred": u.deferred,
    }


@functools.lru_cache(maxsize=1 << 16)
def _path(name: str) -> Path:
    """One `Path` per file name: a project's units share most of their dependencies (a warm
    run over keras' sources builds 6,000 of them from 300 names)."""
    return Path(name)


def unit_from_json(path: Path, v: dict[str, Any]) -> UnitResult:
    return UnitResult(
        path=path,
        digest=v["digest"],
        deps={_path(p): h for p, h in v["deps"].items()},
        misses=tuple(_path(p) for p in v["misses"]),
        records=tuple(record_from_json(r) for r in v["records"]),
        error=_unerror(v["error"], path),
        rendered=bool(v["rendered"]),
        parsed=bool(v["parsed"]),
        uses=tuple((a, b) for a, b in v["uses"]),
        objectives=tuple((a, b) for a, b in v["objectives"]),
        absorbed=tuple(str(name) for name in v["absorbed"]),
        keras=bool(v["keras"]),
        deferred=bool(v["deferred"]),
    )
