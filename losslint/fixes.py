"""Turning fix plans into minimal text edits that keep the code's layout, and applying them."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence

import libcst as cst

from losslint.index.modules import ModuleInfo
from losslint.model import Applicability, Diagnostic, Edit, Fix, Position
from losslint.shapes.values import FixPlan

_NEWLINE = re.compile(r"\r\n|\r|\n")


def _minus_one() -> cst.BaseExpression:
    return cst.UnaryOperation(operator=cst.Minus(), expression=cst.Integer("1"))


def _all_axes(ref: str) -> cst.BaseExpression:
    return cst.parse_expression(f"tuple(range(1, len({ref}.shape)))")


def _plain_sep(ws: cst.BaseParenthesizableWhitespace) -> cst.BaseParenthesizableWhitespace:
    """A separator like `ws` (same line breaks and indentation) without its comment."""
    if isinstance(ws, cst.ParenthesizedWhitespace):
        return cst.ParenthesizedWhitespace(
            first_line=cst.TrailingWhitespace(),
            empty_lines=[],
            indent=ws.indent,
            last_line=ws.last_line,
        )
    return cst.SimpleWhitespace(" ")


def with_keyword_arg(call: cst.Call, keyword: str, value: cst.BaseExpression) -> cst.Call:
    """Append `keyword=value` to a call, copying how its arguments are already separated."""
    args = list(call.args)
    new_arg = cst.Arg(
        value=value,
        keyword=cst.Name(keyword),
        equal=cst.AssignEqual(
            whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")
        ),
    )
    if not args:
        return call.with_changes(args=[new_arg])
    last = args[-1]
    if len(args) >= 2 and isinstance(args[-2].comma, cst.Comma):
        sep = _plain_sep(args[-2].comma.whitespace_after)
    else:
        sep = _plain_sep(call.whitespace_before_args)
    if isinstance(last.comma, cst.Comma):
        # trailing comma: keep it, after the new argument
        tail = last.comma.whitespace_after
        args[-1] = last.with_changes(comma=last.comma.with_changes(whitespace_after=sep))
        args.append(new_arg.with_changes(comma=cst.Comma(whitespace_after=tail)))
    else:
        tail_ws = last.whitespace_after_arg
        if isinstance(tail_ws, cst.ParenthesizedWhitespace) and isinstance(
            sep, cst.ParenthesizedWhitespace
        ):
            # `)` on its own line: the new argument gets a line of its own, and a comment after
            # the last argument stays on that argument's line
            comma_ws: cst.BaseParenthesizableWhitespace = cst.ParenthesizedWhitespace(
                first_line=tail_ws.first_line,
                empty_lines=tail_ws.empty_lines,
                indent=sep.indent,
                last_line=sep.last_line,
            )
            tail_ws = cst.ParenthesizedWhitespace(
                first_line=cst.TrailingWhitespace(),
                empty_lines=[],
                indent=tail_ws.indent,
                last_line=tail_ws.last_line,
            )
        else:
            comma_ws = sep
        args[-1] = last.with_changes(
            comma=cst.Comma(whitespace_after=comma_ws),
            whitespace_after_arg=cst.SimpleWhitespace(""),
        )
        args.append(new_arg.with_changes(whitespace_after_arg=tail_ws))
    return call.with_changes(args=args)


def _needs_parens(module: ModuleInfo, call: cst.Call, operand: cst.BaseExpression) -> bool:
    if operand.lpar or isinstance(
        operand,
        cst.Name
        | cst.Attribute
        | cst.Call
        | cst.Subscript
        | cst.Integer
        | cst.Float
        | cst.SimpleString,
    ):
        return False
    parent = module.parent_of(call)
    return not isinstance(parent, cst.Return | cst.Assign | cst.AnnAssign | cst.Arg | cst.Element)


def replacement_for(
    module: ModuleInfo, plan: FixPlan, call: cst.CSTNode, all_axes_ref: str | None = None
) -> tuple[cst.CSTNode, cst.CSTNode] | None:
    """The (old node, new node) pair a plan describes, or None when it cannot be built."""
    if plan.action == "reduction_none":
        if plan.ctor is None:
            return None
        return plan.ctor, with_keyword_arg(plan.ctor, "reduction", cst.SimpleString('"none"'))
    if not isinstance(call, cst.Call):
        return None
    if plan.action in ("add_axis", "replace_axis", "all_axes"):
        value = _all_axes(all_axes_ref) if all_axes_ref else _minus_one()
        if plan.axis_arg is None:
            return call, with_keyword_arg(call, "axis", value)
        args = [a.with_changes(value=value) if a is plan.axis_arg else a for a in call.args]
        return call, call.with_changes(args=args)
    if plan.action == "drop_call":
        if plan.operand_arg is None:
            return None
        outside = module.code_for(call.with_changes(lpar=[], rpar=[]))
        inner = module.code_for(plan.operand_arg.value)
        if "#" in outside.replace(inner, "", 1):
            return None  # never drop a comment
        operand = plan.operand_arg.value
        if _needs_parens(module, call, operand):
            operand = operand.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
        if call.lpar:
            operand = operand.with_changes(lpar=call.lpar, rpar=call.rpar)
        return call, operand
    return None


def _with_child(parent: cst.CSTNode, old: cst.CSTNode, new: cst.CSTNode) -> cst.CSTNode | None:
    for field in dataclasses.fields(parent):
        value = getattr(parent, field.name)
        if value is old:
            return parent.with_changes(**{field.name: new})
        if isinstance(value, list | tuple) and any(item is old for item in value):
            items = [new if item is old else item for item in value]
            return parent.with_changes(**{field.name: type(value)(items)})
    return None


def _replaced(module: ModuleInfo, old: cst.CSTNode, new: cst.CSTNode) -> cst.Module:
    """The module with one node replaced, rebuilding only its ancestors (deep_replace visits
    the whole tree)."""
    current_old, current_new = old, new
    while current_old is not module.tree:
        parent = module.parent_of(current_old)
        rebuilt = _with_child(parent, current_old, current_new) if parent is not None else None
        if rebuilt is None:
            return module.tree.deep_replace(old, new)  # type: ignore[return-value]
        current_old, current_new = parent, rebuilt  # type: ignore[assignment]
    assert isinstance(current_new, cst.Module)
    return current_new


_STANDALONE = cst.Module(body=[])


def _single_line_edit(module: ModuleInfo, old: cst.CSTNode, new: cst.CSTNode) -> Edit | None:
    """The edit for a node written on one line, from rendering just the node (cheap)."""
    if getattr(old, "lpar", None):
        return None
    before = _STANDALONE.code_for_node(old)
    after = _STANDALONE.code_for_node(new)
    if any(c in before or c in after for c in "\r\n\\"):
        return None
    line, column, end_line, _ = module.span_of(old)
    if line != end_line:
        return None
    prefix, end_before, end_after = _common(before, after)
    return Edit(
        content=after[prefix:end_after],
        location=Position(line, column + prefix + 1),
        end_location=Position(line, column + end_before + 1),
    )


def _common(before: str, after: str) -> tuple[int, int, int]:
    """Length of the common prefix, and where the common suffix starts in each string."""
    start = 0
    limit = min(len(before), len(after))
    while start < limit and before[start] == after[start]:
        start += 1
    end_before, end_after = len(before), len(after)
    while (
        end_before > start and end_after > start and before[end_before - 1] == after[end_after - 1]
    ):
        end_before -= 1
        end_after -= 1
    return start, end_before, end_after


def edit_for(module: ModuleInfo, old: cst.CSTNode, new: cst.CSTNode) -> Edit:
    """The smallest text edit that turns the module's text with `old` into the one with `new`."""
    quick = _single_line_edit(module, old, new)
    if quick is not None:
        return quick
    before = module.source.text
    after = _replaced(module, old, new).code
    start, end_before, end_after = _common(before, after)
    return Edit(
        content=after[start:end_after],
        location=offset_to_position(before, start),
        end_location=offset_to_position(before, end_before),
    )


def offset_to_position(text: str, offset: int) -> Position:
    row, line_start = 1, 0
    for match in _NEWLINE.finditer(text, 0, offset):
        if match.end() > offset:
            break
        row += 1
        line_start = match.end()
    return Position(row, offset - line_start + 1)


def _line_starts(text: str) -> list[int]:
    return [0, *(m.end() for m in _NEWLINE.finditer(text))]


def position_to_offset(starts: Sequence[int], position: Position) -> int:
    return starts[position.row - 1] + position.column - 1


def apply_fixes(text: str, fixes: Iterable[Fix]) -> tuple[str, int]:
    """Apply non-overlapping fixes (in order); returns the new text and how many applied.

    Identical edits shared by several fixes (one fix for a group of reductions) apply once.
    """
    starts = _line_starts(text)
    accepted: list[tuple[int, int, str]] = []
    applied = 0
    for fix in fixes:
        spans = []
        for edit in fix.edits:
            lo = position_to_offset(starts, edit.location)
            hi = position_to_offset(starts, edit.end_location)
            spans.append((lo, hi, edit.content))
        new = [s for s in spans if s not in accepted]
        if not new:
            applied += 1
            continue
        if any(_overlap(span, other) for span in new for other in accepted):
            continue
        accepted.extend(new)
        applied += 1
    result = text
    for lo, hi, content in sorted(accepted, reverse=True):
        result = result[:lo] + content + result[hi:]
    return result, applied


def _overlap(a: tuple[int, int, str], b: tuple[int, int, str]) -> bool:
    if a[0] == a[1] == b[0] == b[1]:
        return True  # two insertions at one point: their order would be a guess
    return a[0] < b[1] and b[0] < a[1]


def applicable(diagnostics: Iterable[Diagnostic], unsafe: bool) -> list[Fix]:
    """The fixes to apply under the current flags, in source order."""
    fixes = []
    for diag in sorted(diagnostics, key=Diagnostic.sort_key):
        if diag.fix is None:
            continue
        if diag.fix.applicability is Applicability.SAFE or unsafe:
            fixes.append(diag.fix)
    return fixes
