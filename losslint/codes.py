"""Rule codes, selectors, documentation URLs and rule docs, without importing the analysis.

The codes come from the rule modules' file names (`rules/ll001_batch_axis_reduction.py` is
LL001), so a new rule module is a valid selector as soon as it exists, and reading a config or
checking `--select` imports nothing heavy.
"""

from __future__ import annotations

import functools
import os
import re

from losslint.frozen import frozen

DEFAULT_SELECT: tuple[str, ...] = ("LL0",)
DOCS_URL = "https://github.com/losslint/losslint/blob/main/docs/rules.md"

_RULE_MODULE = re.compile(r"ll(\d{3})_\w+\.py")


@functools.cache
def rule_codes() -> tuple[str, ...]:
    """Every rule code, sorted, read from the names of the modules in `losslint/rules/`."""
    folder = os.path.join(os.path.dirname(__file__), "rules")  # (importlib.resources: ~4 ms)
    codes = {
        f"LL{match.group(1)}"
        for name in os.listdir(folder)
        if (match := _RULE_MODULE.fullmatch(name))
    }
    return tuple(sorted(codes))


def rule_url(code: str, name: str) -> str:
    """The rule's section in docs/rules.md (`...#ll001-batch-axis-reduction`)."""
    return f"{DOCS_URL}#{code.lower()}-{name}"


def is_valid_selector(selector: str) -> bool:
    """`ALL`, or a code or prefix (at least `LL`) that matches at least one rule."""
    if selector == "ALL":
        return True
    return len(selector) >= 2 and any(code.startswith(selector) for code in rule_codes())


def _selector_candidates(length: int) -> set[str]:
    """Valid selectors to suggest: every code, `ALL`, and prefixes as long as the typo."""
    codes = rule_codes()
    return {"ALL", *codes, *(code[:length] for code in codes if length < len(code))}


def did_you_mean(word: str, candidates: set[str] | frozenset[str]) -> str:
    """` (did you mean `x`?)` for the closest candidate, or an empty string."""
    import difflib

    for text in (word, word.lower()):
        matches = difflib.get_close_matches(text, sorted(candidates), n=len(candidates))
        if matches:
            return f" (did you mean `{_closest(text, matches)}`?)"
    return ""


def _closest(word: str, matches: list[str]) -> str:
    """difflib's best match; among equally close ones, one that only doubles or undoubles a
    character of `word` (`LL01` -> `LL001`, not `LL101`)."""
    import difflib
    import itertools

    def runs(text: str) -> list[str]:
        return [char for char, _ in itertools.groupby(text)]

    best = difflib.SequenceMatcher(None, word, matches[0]).ratio()
    tied = [m for m in matches if difflib.SequenceMatcher(None, word, m).ratio() == best]
    return next((m for m in tied if runs(m) == runs(word)), tied[0])


def selector_error(selector: str, where: str) -> str | None:
    """An error message for a selector that matches no rule, else None."""
    if is_valid_selector(selector):
        return None
    upper = selector.upper()
    hint = (
        f" (did you mean `{upper}`?)"
        if is_valid_selector(upper)
        else did_you_mean(upper, _selector_candidates(len(upper)))
    )
    return f"unknown rule selector `{selector}` in {where}: it matches no rule{hint}"


@frozen
class RuleDoc:
    """What `--explain`, `--list-rules`, SARIF and docs/rules.md show about a rule."""

    code: str
    name: str
    summary: str
    doc: str
    fix: str | None  # "safe" (some safe fix), "unsafe" (only unsafe fixes) or None

    @property
    def url(self) -> str:
        return rule_url(self.code, self.name)


def rule_docs() -> list[RuleDoc]:
    """The documentation of every rule, from the rule classes' docstrings and examples.

    The one place that imports the rule classes for their docs (today they still import the
    analysis; keep it that way so that this import is easy to make light).
    """
    from losslint.rules import ALL_RULES

    docs = []
    for rule in ALL_RULES:
        info = rule.info()
        fix = None
        if any(example.fixed is not None for example in rule.INVALID):
            fix = "safe"
        elif any(example.unsafe_fixed is not None for example in rule.INVALID):
            fix = "unsafe"
        docs.append(RuleDoc(info.code, info.name, info.summary, info.doc, fix))
    return docs
