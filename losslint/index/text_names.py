"""What names a file's text binds, read without parsing it: for the gate (index/gate.py).

`TextNames` answers two questions about a name the gate meets: is it only ever imported from
TensorFlow or Keras (`losses` in `compile(loss=losses.Huber())`), and does a class base
certainly make no Keras Loss (`Operation`, `layers.Dense`, or a class of the same file built on
those). Both hold only when every binding the text could hold is such an import: any other
occurrence that could bind the name (an assignment, a parameter, a loop, another import, a
star import) makes the answer "unknown", which the gate treats as "may be a loss". The text
is read as it is first; only when that leaves a name unsure is it read again with its strings
and comments blanked out (slower), since a name in prose binds nothing.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Iterator, Sequence

# Bases that are certainly not keras Loss classes (layers, models, modules).
NOT_LOSS_BASES = frozenset(
    {
        "object", "Layer", "Model", "Module", "Sequential", "Callback", "Metric", "Mean",
        "Wrapper", "Optimizer", "Regularizer", "Constraint", "Initializer", "Exception",
        "Enum", "NamedTuple", "Protocol", "ABC", "TestCase", "Generic",
    }
)  # fmt: skip


def line_matches(
    text: str, keywords: tuple[str, ...], pattern: re.Pattern[str]
) -> Iterator[re.Match[str]]:
    """`pattern.finditer(text)` for a MULTILINE pattern that matches a line beginning with
    one of `keywords` (after its indentation), in the order of the text: the keywords are
    found with `str.find`, much faster than a regular expression tried at every offset."""
    found: list[re.Match[str]] = []
    starts: set[int] = set()
    for keyword in keywords:
        at = text.find(keyword)
        while at >= 0:
            start = text.rfind("\n", 0, at) + 1
            if start not in starts and not text[start:at].strip(" \t"):
                match = pattern.match(text, start)
                if match is not None:
                    starts.add(start)
                    found.append(match)
            at = text.find(keyword, at + len(keyword))
    return iter(sorted(found, key=lambda match: match.start()))


_IMPORT_STATEMENT = re.compile(
    r"^[ \t]*(?:from[ \t]+([\w.]+)[ \t]+import[ \t]*(\([^)]*\)|[^\n]*)|import[ \t]+([^\n]*))",
    re.MULTILINE,
)
_QUOTES = re.compile("[\"'#]")
_DOTTED = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")


class _Bindings:
    """The names one text binds by imports from TensorFlow or Keras, and the class bases
    that certainly make no Keras Loss: a class TensorFlow or Keras exports that is no Loss
    (`Operation`, `layers.Dense`), or a class of the same text whose bases are all such.

    A name counts only when every binding of it the text could hold is one of those: its
    import statements all import from a framework (or it is one class statement of the
    text), and every other occurrence of it is an attribute access, a call, a subscript, a
    class base or inside `calls`, so no assignment, parameter, loop or other import can bind
    it to something else. The catalogue decides what is a Loss, as loss discovery does. With
    `blank`, names in strings and comments do not count; without, they do (a faster look that
    can only find fewer names certain), and an import statement that may end in a string is
    no binding's place.
    """

    def __init__(
        self,
        text: str,
        headers: list[re.Match[str]],
        blank: bool,
        calls: Sequence[tuple[int, int]] = (),
    ) -> None:
        if blank:  # strings and comments name nothing
            text = _STRINGS_AND_COMMENTS.sub(_blank, text)
        self.text = text
        # spans of base lists, and of the arguments of calls whose keywords bind nothing
        self.allowed = [(m.start(2), m.end(2)) for m in headers] + list(calls)
        self.classes: dict[str, list[re.Match[str]]] = {}
        for match in headers:
            self.classes.setdefault(match.group(1), []).append(match)
        self.imports: dict[str, list[str]] = {}
        self.star = False
        for match in line_matches(text, ("import", "from"), _IMPORT_STATEMENT):
            if blank or not _QUOTES.search(match.group()):  # (else it may end in a string)
                self.allowed.append(match.span())
            module, names, plain = match.groups()
            names = (names or plain or "").strip().strip("()")
            for item in names.split(","):
                parts = item.split("#", 1)[0].split()
                if not parts:
                    continue
                if parts[0] == "*":
                    self.star = True
                    continue
                alias = parts[2] if len(parts) == 3 and parts[1] == "as" else None
                if module is None:  # import a.b.c [as x]: binds `a` (the module a), or x
                    name = alias or parts[0].split(".", 1)[0]
                    self.imports.setdefault(name, []).append(parts[0] if alias else name)
                else:
                    self.imports.setdefault(alias or parts[0], []).append(f"{module}.{parts[0]}")
        self.allowed.sort()
        self.starts = [start for start, _ in self.allowed]
        self.own = {match.start(1) for match in headers}  # where class statements name theirs
        self._known: dict[str, bool] = {}
        self._framework: dict[str, bool] = {}
        self._rebound: dict[str, bool] = {}

    def not_a_loss(self, base: str, cls: str) -> bool:
        """Whether `base`, a base of the class named `cls`, certainly makes it no Loss."""
        if self.star or not _DOTTED.fullmatch(base) or cls in _loss_class_names():
            return False
        head, _, rest = base.partition(".")
        if head not in self._known:
            self._known[head] = False  # (a cycle of classes: unknown)
            self._known[head] = self._imported_from_frameworks(head) or self._own_non_loss(head)
        if not self._known[head]:
            return False
        if head in self.classes:
            return not rest  # (an attribute of a class: unknown)
        return all(
            _catalogue_says_not_a_loss(f"{q}.{rest}" if rest else q) for q in self.imports[head]
        )

    def unbound(self, base: str) -> bool:
        """Whether the first name of `base` has no import and no class statement here."""
        head = base.partition(".")[0]
        return head not in self.imports and head not in self.classes

    def framework_only(self, name: str) -> bool:
        """Whether every binding of `name` imports it from TensorFlow or Keras."""
        known = self._framework.get(name)
        if known is None:
            known = self._framework[name] = self._imported_from_frameworks(name)
        return known

    def _imported_from_frameworks(self, name: str) -> bool:
        """Bound by imports only, all of them from TensorFlow or Keras (what they import is
        the caller's question)."""
        found = self.imports.get(name)
        if found is None or name in self.classes or self.rebound(name):
            return False
        return all(not q.startswith(".") and _is_framework(q) for q in found)

    def _own_non_loss(self, name: str) -> bool:
        """One class of this file, whose bases certainly make no Loss."""
        found = self.classes.get(name)
        if found is None or len(found) != 1 or name in self.imports:
            return False
        header = found[0]
        if self.rebound(name):
            return False
        for base in header.group(2).split(","):
            base = base.strip()
            if "=" in base or not base:
                continue
            base = base.split("[", 1)[0].strip()
            if base.rsplit(".", 1)[-1] not in NOT_LOSS_BASES and not self.not_a_loss(base, name):
                return False
        return True

    def rebound(self, name: str) -> bool:
        """Whether some occurrence of `name` may bind it: not in an import statement, a class
        statement or a list of bases, nor an attribute access (`name.x`, `x.name`), a call or
        a subscript."""
        found = self._rebound.get(name)
        if found is None:
            found = self._rebound[name] = self._scan(name)
        return found

    def _scan(self, name: str) -> bool:
        text = self.text
        at = text.find(name)
        while at >= 0:
            end = at + len(name)
            before = text[at - 1] if at else " "
            after = text[end] if end < len(text) else " "
            word = not (before.isalnum() or before in "_.") and not (
                after.isalnum() or after == "_"
            )
            if word and at not in self.own and not self._allowed(at):
                used = _USE_AFTER.match(text, end) is not None
                if not used or _BINDS_BEFORE.search(text, max(0, at - 8), at):
                    return True
            at = text.find(name, end)
        return False

    def _allowed(self, at: int) -> bool:
        """Whether offset `at` lies in an import statement or a list of bases."""
        index = bisect.bisect_right(self.starts, at) - 1
        return index >= 0 and at < self.allowed[index][1]


# a string's prefix (`rb`) stays: it binds nothing. Each kind is written as runs of the
# characters it may hold (`[^']*`) rather than one character at a time (`[\s\S]*?`): the
# same matches, a fifth faster on keras' sources
_STRINGS_AND_COMMENTS = re.compile(
    r"""'''[^']*(?:'(?!'')[^']*)*'''"""
    r'''|"""[^"]*(?:"(?!"")[^"]*)*"""'''
    r"""|'[^'\\\n]*(?:\\.[^'\\\n]*)*'"""
    r'''|"[^"\\\n]*(?:\\.[^"\\\n]*)*"'''
    r"|#[^\n]*"
)


def _blank(match: re.Match[str]) -> str:
    """A string or comment as spaces (its line breaks kept: offsets and lines stay)."""
    found = match.group()
    if "\n" not in found:
        return " " * len(found)
    return _NOT_NEWLINE.sub(" ", found)


_NOT_NEWLINE = re.compile(r"[^\n]")


_USE_AFTER = re.compile(r"[ \t]*[.(\[]")
_BINDS_BEFORE = re.compile(r"(?:\bdef|\bclass|\*)[ \t]*$")


@functools.cache
def _loss_class_names() -> frozenset[str]:
    """The last names of the catalogue's Loss classes: in keras' own sources, the classes of
    these names are Losses by their own name, whatever their bases."""
    from losslint.analysis.catalogue import load

    catalogue = load()
    return frozenset(n.rsplit(".", 1)[-1] for n in catalogue.loss_bases | catalogue.loss_classes)


def _is_framework(qualname: str) -> bool:
    from losslint.analysis.catalogue import load

    return load().is_framework(qualname)


@functools.lru_cache(maxsize=1024)
def _catalogue_says_not_a_loss(qualname: str) -> bool:
    """Whether a framework name (`keras.src.ops.operation.Operation`) is no Keras Loss class,
    as loss discovery decides it (analysis/names.py `class_kind`)."""
    from losslint.analysis.catalogue import load

    catalogue = load()
    name = catalogue.canonical(qualname)
    return name not in catalogue.loss_bases and name not in catalogue.loss_classes


class TextNames:
    """The two questions, for one text: its import statements, class statements and the
    arguments of calls whose keywords bind nothing (`calls`, as spans)."""

    def __init__(
        self,
        text: str,
        headers: Sequence[re.Match[str]] = (),
        calls: Sequence[tuple[int, int]] = (),
    ) -> None:
        self.text = text
        self.headers = list(headers)
        self.calls = calls
        self._raw: _Bindings | None = None
        self._blank: _Bindings | None = None

    def framework_only(self, name: str) -> bool:
        """Whether every binding of `name` imports it from TensorFlow or Keras."""
        raw = self._bindings(blank=False)
        if raw.framework_only(name):
            return True
        return not raw.unbound(name) and self._bindings(blank=True).framework_only(name)

    def not_a_loss(self, base: str, cls: str) -> bool:
        """Whether `base`, a base of the class named `cls`, certainly makes it no Loss."""
        raw = self._bindings(blank=False)
        if raw.not_a_loss(base, cls):
            return True
        return not raw.unbound(base) and self._bindings(blank=True).not_a_loss(base, cls)

    def _bindings(self, blank: bool) -> _Bindings:
        if blank:
            self._blank = self._blank or _Bindings(self.text, self.headers, True, self.calls)
            return self._blank
        self._raw = self._raw or _Bindings(self.text, self.headers, False, self.calls)
        return self._raw
