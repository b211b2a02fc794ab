"""The rule base class: code, name, documentation, examples, message and fix decision."""

from __future__ import annotations

import abc
import inspect
from dataclasses import field
from typing import TYPE_CHECKING, ClassVar

from losslint.frozen import frozen
from losslint.model import Applicability

if TYPE_CHECKING:  # the rules' documentation and examples load without the analysis
    from losslint.analysis.losses import Issue
    from losslint.analysis.values import FixPlan, Origin

SECTIONS = ("What it does", "Why is this bad?", "Example", "Use instead", "Fix safety")


@frozen
class Example:
    """An example that runs as a test: the source, the expected codes and fixed sources."""

    code: str | bytes
    codes: tuple[str, ...] = ()
    fixed: str | None = None
    unsafe_fixed: str | None = None
    note: str = ""


@frozen
class FixDecision:
    """Which plans to apply for an issue, and how safe that is."""

    parts: tuple[tuple[Origin, FixPlan, str | None], ...]
    applicability: Applicability
    message: str


@frozen
class RuleInfo:
    code: str
    name: str
    summary: str
    doc: str
    fixable: bool = field(default=False)


class Rule(abc.ABC):
    """A rule claims some issues and words their message; see `rules/ll001_*.py`."""

    code: ClassVar[str]
    name: ClassVar[str]
    VALID: ClassVar[tuple[Example, ...]] = ()
    INVALID: ClassVar[tuple[Example, ...]] = ()

    @classmethod
    def info(cls) -> RuleInfo:
        doc = inspect.cleandoc(cls.__doc__ or "")
        summary = doc.splitlines()[0] if doc else ""
        fixable = any(e.fixed is not None or e.unsafe_fixed is not None for e in cls.INVALID)
        return RuleInfo(cls.code, cls.name, summary, doc, fixable)

    @abc.abstractmethod
    def claims(self, issue: Issue) -> bool:
        """Whether this rule reports the issue (by its origin kind and the loss's role)."""

    @abc.abstractmethod
    def message(self, issue: Issue) -> str:
        """The one-line message of the finding."""

    def fix(self, issue: Issue) -> FixDecision | None:
        return decide_fix(issue)


def describe_origin(issue: Issue) -> str:
    """`tf.reduce_mean` without `axis` (in `helper`) (and 2 more reductions ...)."""
    first = issue.origins[0]
    text = f"`{first.label}` {first.why}"
    if first.function != issue.loss_name and first.function != "<module>":
        text += f" in `{first.function}`"
    extra = len(issue.origins) - 1
    if extra:
        text += f" (with {extra} more reduction{'s' if extra > 1 else ''}, combined non-linearly)"
    return text


def when(issue: Issue) -> str:
    """` when robust=True` for an issue reached only with a non-default argument."""
    return f" when {issue.condition}" if issue.condition else ""


def batch_level_note(issue: Issue) -> str:
    if issue.batch_level:
        return (
            "; the loss mixes samples of the batch by design, so return one value per"
            " sample or anchor rather than a scalar"
        )
    return ""


_ACTION_MESSAGES = {
    "add_axis": "Add `axis=-1`",
    "replace_axis": "Replace the axis with `axis=-1`",
    "drop_call": "Remove the outer `{label}` (its operand is already per-sample)",
    "reduction_none": 'Construct the loss object with `reduction="none"`',
}


def decide_fix(issue: Issue) -> FixDecision | None:
    """The fix for an issue, from the plans recorded where the batch axis was removed.

    A single origin used linearly keeps its own plan; origins combined non-linearly (ratio
    losses, `sqrt(mean(...))`) must each reduce over every non-batch axis instead: unsafe.
    Losses that mix samples by design get no fix.
    """
    from losslint.analysis.values import FixPlan

    if issue.batch_level:
        return None
    origins = issue.origins
    if len(origins) == 1 and not issue.nonlinear:
        origin = origins[0]
        plan = origin.plan
        if plan is None:
            return None
        safety = Applicability.SAFE if plan.safe else Applicability.UNSAFE
        if origin.function != issue.loss_name and plan.action != "reduction_none":
            safety = Applicability.UNSAFE  # a shared helper: other callers may want the scalar
        message = _ACTION_MESSAGES[plan.action].format(label=origin.label)
        return FixDecision(((origin, plan, None),), safety, message)
    parts = []
    for origin in origins:
        plan = origin.plan
        if plan is None:
            return None
        if plan.action in ("add_axis", "replace_axis") and origin.all_axes_ref:
            parts.append(
                (origin, FixPlan("all_axes", False, axis_arg=plan.axis_arg), origin.all_axes_ref)
            )
        elif plan.action == "drop_call":
            parts.append((origin, FixPlan("drop_call", False, operand_arg=plan.operand_arg), None))
        else:
            return None
    return FixDecision(tuple(parts), Applicability.UNSAFE, "Reduce over every non-batch axis")
