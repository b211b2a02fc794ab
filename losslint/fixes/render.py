"""Rendering fix plans as minimal text edits with libcst, keeping the code's layout.

The analysis works on `ast` trees and locates what to change by position. Here, the source text
of just the call to change (from its `ast` position) is parsed with libcst, changed as a tree,
and rendered back: whitespace, line breaks, trailing commas and comments inside the call are
kept exactly, and nothing else in the file is touched.
"""

from __future__ import annotations

import ast

import libcst as cst

from losslint.analysis.values import ArgRef, FixPlan
from losslint.index.modules import ModuleInfo
from losslint.model import Edit, Position

_STANDALONE = cst.Module(body=[])
# Parents under which a replacement expression needs no parentheses.
_BARE_PARENTS = (
    ast.Return,
    ast.Assign,
    ast.AnnAssign,
    ast.keyword,
    ast.List,
    ast.Tuple,
    ast.Set,
)


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


class _Segment:
    """The source text of one call, parsed on its own with libcst."""

    def __init__(self, module: ModuleInfo, node: ast.Call) -> None:
        self.module = module
        self.node = node
        line, column, end_line, end_column = module.span_of(node)
        self.start = Position(line, column + 1)
        self.text = module.code_for(node)
        self.before = module.lines[line - 1][:column]
        self.after = module.lines[end_line - 1][end_column:]
        parsed = cst.parse_expression(self.text)
        if not isinstance(parsed, cst.Call):
            raise ValueError("not a call")
        self.call = parsed
        # the call's arguments in source order, as ast sees them
        order = sorted([*node.args, *node.keywords], key=lambda n: (n.lineno, n.col_offset))
        self._ast_args = order
        if len(order) != len(parsed.args):
            raise ValueError("arguments do not match")

    def arg(self, ref: ArgRef) -> cst.Arg:
        for index, item in enumerate(self._ast_args):
            if item is ref.value or (isinstance(item, ast.keyword) and item.value is ref.value):
                return self.call.args[index]
        raise ValueError("argument not found")

    def parenthesized(self) -> bool:
        """Whether the call is wrapped in its own parentheses in the source."""
        return self.before.rstrip().endswith("(") and self.after.lstrip().startswith(")")

    def edit(self, new: cst.CSTNode) -> Edit | None:
        after = _STANDALONE.code_for_node(new)
        before = self.text
        if after == before:
            return None
        start, end_before, end_after = _common(before, after)
        return Edit(
            content=after[start:end_after],
            location=_advance(self.start, before[:start]),
            end_location=_advance(self.start, before[:end_before]),
        )


def _advance(start: Position, text: str) -> Position:
    """The position reached after `text`, starting at `start`."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if len(lines) == 1:
        return Position(start.row, start.column + len(text))
    return Position(start.row + len(lines) - 1, len(lines[-1]) + 1)


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


def _needs_parens(module: ModuleInfo, segment: _Segment, operand: cst.BaseExpression) -> bool:
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
    parent = module.parent_of(segment.node)
    if isinstance(parent, _BARE_PARENTS):
        return False
    if isinstance(parent, ast.Call) and segment.node in parent.args:
        return False
    return not segment.parenthesized()


def render(
    module: ModuleInfo, plan: FixPlan, node: ast.AST, all_axes_ref: str | None = None
) -> Edit | None:
    """The edit a plan describes on `node` (a call in `module`), or None when it cannot be
    rendered safely (then the finding has no fix)."""
    target = plan.ctor if plan.action == "reduction_none" else node
    if not isinstance(target, ast.Call):
        return None
    try:
        segment = _Segment(module, target)
        return _render(module, segment, plan, all_axes_ref)
    except (cst.ParserSyntaxError, ValueError, RecursionError):
        return None


def _render(
    module: ModuleInfo, segment: _Segment, plan: FixPlan, all_axes_ref: str | None
) -> Edit | None:
    call = segment.call
    if plan.action == "reduction_none":
        return segment.edit(with_keyword_arg(call, "reduction", cst.SimpleString('"none"')))
    if plan.action in ("add_axis", "replace_axis", "all_axes"):
        value = _all_axes(all_axes_ref) if all_axes_ref else _minus_one()
        if plan.axis_arg is None:
            return segment.edit(with_keyword_arg(call, "axis", value))
        old = segment.arg(plan.axis_arg)
        args = [a.with_changes(value=value) if a is old else a for a in call.args]
        return segment.edit(call.with_changes(args=args))
    if plan.action == "drop_call":
        if plan.operand_arg is None:
            return None
        operand = segment.arg(plan.operand_arg).value
        inner = _STANDALONE.code_for_node(operand)
        if "#" in segment.text.replace(inner, "", 1):
            return None  # never drop a comment
        if _needs_parens(module, segment, operand):
            operand = operand.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
        return segment.edit(operand)
    return None
