"""From the records of every analysed file to the findings of the files being reported on.

A record is reported at the reducing call when that file is reported on; else at the closest
call leading to it from a reported file ("reached through this call"); else, for a loss that
a reported file compiles, at that compile site. One finding per place: the best-evidenced loss
names it, and `losses` lists every loss it makes batch-reduced. A fix that is safe for one of
those losses but not for another (a helper shared by several losses) is unsafe, and so is the
fix of a function whose scalar another loss takes as a term of a per-sample result: a
per-sample value would no longer fit there (`bce - log(dice(t, p))`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from dataclasses import replace
from pathlib import Path

from losslint.engine.records import Record, Span
from losslint.model import Applicability, Diagnostic, Fix

Key = tuple[str, str]  # (file, qualified name) of a function
# findings about a loss's parameters, not its returned value: a custom loop's scalar
# objective does not change them
_NOT_ABOUT_RETURNS = frozenset({"LL101"})


def _place(record: Record, targets: set[Path]) -> tuple[Span, str, bool] | None:
    """Where to report a record: (span, message, at the origin itself)."""
    if record.origin.path in targets:
        return record.origin, record.message, True
    for call in reversed(record.chain):
        if call.path in targets:
            note = f" (in {record.origin.path.name}, reached through this call)"
            return call, record.message + note, False
    if record.site is not None and record.site.path in targets and record.site_message:
        return record.site, record.site_message, False
    return None


def _adjusted(
    record: Record,
    uses: AbstractSet[Key],
    objectives: AbstractSet[Key],
    absorbed: AbstractSet[str],
    keras_free: bool,
) -> Record | None:
    if keras_free and record.by_name:
        # parameters named like a loss's, in a project that never names Keras (nor
        # TensorFlow beside a `y_pred`): TensorFlow 1 graphs, Estimators, plain TensorFlow,
        # NumPy and scikit-learn; nothing makes it a Keras loss
        return None
    if record.code in _NOT_ABOUT_RETURNS:
        return record
    key = (str(record.target.path), record.target.qualname)
    fix = record.fix
    if fix and fix.applicability is Applicability.SAFE and record.target.qualname in absorbed:
        # another loss takes this one's scalar as a term (`bce - log(dice(t, p))`), or other
        # code of its module calls it (known by qualified name): a per-sample value would
        # change what that code computes
        name = record.target.qualname.rsplit(".", 1)[-1]
        message = f"{fix.message} (unsafe: other code uses the scalar `{name}` returns)"
        record = replace(record, fix=Fix(Applicability.UNSAFE, message, fix.edits))
    if record.conditional and key in uses:
        # reached only with a non-default argument, and the project compiles the loss: with
        # its defaults (safe), or pinning the argument (then reported without condition)
        return None
    if key not in objectives:
        return record
    if key not in uses:
        return None if record.by_name else record
    name = record.target.qualname.rsplit(".", 1)[-1]
    fix = record.fix
    if fix is not None:
        fix = Fix(Applicability.UNSAFE, fix.message, fix.edits)
    note = (
        f"; `{name}` is also a custom training loop's objective, where a scalar is right:"
        " give the loop its own reduction before fixing"
    )
    return replace(record, message=record.message + note, fix=fix)


def diagnostics(
    records: Iterable[Record],
    targets: set[Path],
    uses: AbstractSet[Key] = frozenset(),
    objectives: AbstractSet[Key] = frozenset(),
    absorbed: AbstractSet[str] = frozenset(),
    keras_free: bool = False,
) -> dict[Path, list[Diagnostic]]:
    """The findings in `targets`, one per place. `keras_free`: no file of the project speaks
    Keras (index/gate.py), so losses found only by their parameter names are not reported."""
    best: dict[tuple[Path, object, object], tuple[tuple[int, int, int], Diagnostic]] = {}
    affected: dict[tuple[Path, object, object], set[str]] = defaultdict(set)
    for original in records:
        record = _adjusted(original, uses, objectives, absorbed, keras_free)
        if record is None:
            continue
        place = _place(record, targets)
        if place is None:
            continue
        span, message, at_origin = place
        key = (span.path, span.start, span.end)
        affected[key].add(record.function)
        if key in best and best[key][0] <= record.rank:
            continue
        best[key] = (
            record.rank,
            Diagnostic(
                code=record.code,
                name=record.name,
                message=message,
                path=span.path,
                location=span.start,
                end_location=span.end,
                noqa_row=span.start.row,
                fix=record.fix if at_origin else None,
                function=record.function,
                role=record.role,
                evidence=record.evidence,
                target=record.target,
            ),
        )
    found: dict[Path, list[Diagnostic]] = defaultdict(list)
    for key, (_, diagnostic) in best.items():
        losses = tuple(sorted(affected[key] - {""}))
        found[diagnostic.path].append(replace(diagnostic, losses=losses))
    return found
