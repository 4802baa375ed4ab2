"""Data-dependent control flow in PyTorch code (family: control-flow)."""

from __future__ import annotations

from typing import Optional

import libcst as cst

from mllint.analysis.values import Kind
from mllint.analysis.walker import FunctionContext
from mllint.checks.base import Check


def _describe(ctx: FunctionContext, test: cst.BaseExpression) -> Optional[str]:
    """Source text of a test whose truth depends on tensor data, else None."""
    if ctx.kind(test) in (Kind.TENSOR, Kind.DATA):
        return ctx.code(test)
    return None


class TensorBranch(Check):
    """PT101: Python control flow decided by tensor data."""

    codes = ("PT101",)

    def _check(self, ctx: FunctionContext, node: cst.CSTNode, test: cst.BaseExpression, construct: str) -> None:
        expr = _describe(ctx, test)
        if expr is not None:
            ctx.report("PT101", test, construct=construct, expr=expr)

    def visit_If(self, ctx: FunctionContext, node: cst.If) -> None:
        self._check(ctx, node, node.test, "if")

    def visit_While(self, ctx: FunctionContext, node: cst.While) -> None:
        self._check(ctx, node, node.test, "while")

    def visit_IfExp(self, ctx: FunctionContext, node: cst.IfExp) -> None:
        self._check(ctx, node, node.test, "conditional expression")

    def visit_Assert(self, ctx: FunctionContext, node: cst.Assert) -> None:
        self._check(ctx, node, node.test, "assert")

    def visit_BooleanOperation(self, ctx: FunctionContext, node: cst.BooleanOperation) -> None:
        # ``a and b`` calls bool() on ``a`` (the right operand is only returned, not tested).
        self._check(ctx, node, node.left, node.operator.__class__.__name__.lower())
