"""The rule registry and rule selection (`select`, `ignore`, `extend-select`).

Selector validation and the default selection live in `losslint.codes` (no analysis imports).
"""

from __future__ import annotations

from collections.abc import Iterable

from losslint.rules.base import Rule, RuleInfo
from losslint.rules.ll000_unreadable_file import UnreadableFile
from losslint.rules.ll001_batch_axis_reduction import BatchAxisReduction
from losslint.rules.ll002_reducing_loss_object import ReducingLossObject
from losslint.rules.ll003_scalar_only_op import ScalarOnlyOp
from losslint.rules.ll004_batch_reduced_metric import BatchReducedMetric
from losslint.rules.ll101_dropped_sample_weight import DroppedSampleWeight
from losslint.rules.ll102_batch_level_term import BatchLevelTerm

ALL_RULES: tuple[Rule, ...] = (
    UnreadableFile(),
    BatchAxisReduction(),
    ReducingLossObject(),
    ScalarOnlyOp(),
    BatchReducedMetric(),
    DroppedSampleWeight(),
    BatchLevelTerm(),
)
RULES_BY_CODE: dict[str, Rule] = {rule.code: rule for rule in ALL_RULES}


def rule_infos() -> list[RuleInfo]:
    return [rule.info() for rule in ALL_RULES]


def _specificity(code: str, selectors: Iterable[str]) -> int:
    best = -1
    for selector in selectors:
        if selector == "ALL":
            best = max(best, 0)
        elif code.startswith(selector):
            best = max(best, len(selector))
    return best


def enabled_codes(
    select: Iterable[str], ignore: Iterable[str], extend_select: Iterable[str] = ()
) -> frozenset[str]:
    """Codes enabled by ruff's rules: the more specific selector wins, ignore wins ties."""
    chosen = [*select, *extend_select]
    ignored = list(ignore)
    enabled = set()
    for code in RULES_BY_CODE:
        selected = _specificity(code, chosen)
        if selected >= 0 and selected > _specificity(code, ignored):
            enabled.add(code)
    return frozenset(enabled)
