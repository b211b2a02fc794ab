"""Static conditions: the truth of an `if` test that only involves known literals."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from losslint.analysis.context import Scope
from losslint.analysis.values import (
    NO_LITERAL,
    NON_BATCH_AXES,
    Alternatives,
    Unknown,
    Value,
    literal_of,
)

if TYPE_CHECKING:
    from losslint.analysis.evaluator import Evaluator


def truth(ev: Evaluator, test: ast.expr, scope: Scope) -> bool | None:
    """True or False when the condition is decided by literals (`per_image=False`), else None."""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        inner = truth(ev, test.operand, scope)
        return None if inner is None else not inner
    if isinstance(test, ast.BoolOp):
        values = [truth(ev, v, scope) for v in test.values]
        if isinstance(test.op, ast.And):
            if False in values:
                return False
            return True if all(v is True for v in values) else None
        if True in values:
            return True
        return False if all(v is False for v in values) else None
    if isinstance(test, ast.Compare) and len(test.ops) == 1:
        left = literal_of(_peek(ev, test.left, scope))
        right = literal_of(_peek(ev, test.comparators[0], scope))
        if left is NO_LITERAL or right is NO_LITERAL:
            return None
        if isinstance(left, Alternatives) or isinstance(right, Alternatives):
            return None
        operator = test.ops[0]
        if isinstance(operator, ast.Eq):
            return bool(left == right)
        if isinstance(operator, ast.Is):
            return left is right
        if isinstance(operator, ast.NotEq):
            return bool(left != right)
        if isinstance(operator, ast.IsNot):
            return left is not right
        return None
    if isinstance(test, ast.Name | ast.Attribute | ast.Constant):
        literal = literal_of(_peek(ev, test, scope))
        if literal is NO_LITERAL or isinstance(literal, Alternatives) or literal is NON_BATCH_AXES:
            return None
        return bool(literal)
    return None


def _peek(ev: Evaluator, expr: ast.expr, scope: Scope) -> Value:
    """Evaluate a name, attribute or literal for a condition (nothing with side effects)."""
    if isinstance(expr, ast.Name | ast.Attribute | ast.Constant):
        return ev.eval_expr(expr, scope)
    if isinstance(expr, ast.UnaryOp) and isinstance(expr.op, ast.USub):
        return ev.eval_expr(expr, scope)
    return Unknown()
