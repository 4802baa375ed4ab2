"""PT221 script-branch-type-mismatch: a conditional expression whose branches are an ``int`` and a ``float``.

TorchScript gives every expression one static type and does not widen ``int`` to ``float``: ``p if
self.training else 0`` with ``p = 0.1`` fails to compile ("if-expression's true branch has type float but
false branch has type int"), whatever the condition's value. Python, and so tracing and torch.export, never
notice. Only branches whose Python type is known are judged: numeric literals, and ``self`` attributes the
constructor sets to one.
"""

from __future__ import annotations

import ast
from typing import Optional

import libcst as cst

from mllint.analysis.values import Kind
from mllint.analysis.walker import FunctionContext
from mllint.checks.base import Check


def _number_type(ctx: FunctionContext, node: cst.BaseExpression) -> Optional[str]:
    """``int`` / ``float`` for a numeric literal (signed) or a value whose literal mllint knows, else None."""
    inner = (
        node.expression
        if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, (cst.Minus, cst.Plus))
        else node
    )
    if isinstance(inner, cst.Integer):
        return "int"
    if isinstance(inner, cst.Float):
        return "float"
    value = ctx.value(node)
    if value.kind != Kind.STATIC or value.literal is None:
        return None
    try:
        literal = ast.literal_eval(value.literal)
    except (ValueError, SyntaxError):
        return None
    if isinstance(literal, bool):
        return None
    return "int" if isinstance(literal, int) else "float" if isinstance(literal, float) else None


class ScriptBranchTypeMismatch(Check):
    """PT221: ``a if c else b`` with an ``int`` on one side and a ``float`` on the other."""

    codes = ("PT221",)
    frameworks = ("torch",)

    def visit_IfExp(self, ctx: FunctionContext, node: cst.IfExp) -> None:
        body, orelse = _number_type(ctx, node.body), _number_type(ctx, node.orelse)
        if body is not None and orelse is not None and body != orelse:
            ctx.report(
                "PT221",
                node,
                expr=ctx.code(node),
                body=body,
                orelse=orelse,
                fix=ctx.code(node.orelse if orelse == "int" else node.body),
            )
