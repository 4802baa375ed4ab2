"""Sizes of dimensions an export call declares dynamic, used as Python values (family: dynamic-shape).

The walker marks an entry point's tensor parameters with the dims an export call site declares
dynamic (``dynamic_shapes`` / ``dynamic_axes``); the evaluator carries that mark to sizes read from
them. PT109 reports where such a size becomes a plain Python number; PT110 where Python control
flow compares it with a fixed value.
"""

from __future__ import annotations

import operator
from typing import List, Set

import libcst as cst

from mllint.analysis.names import dotted
from mllint.analysis.values import Kind, Value
from mllint.analysis.walker import FunctionContext
from mllint.checks.base import BranchTests, Check, tested_operands

#: Python built-ins that turn a symbolic size into a plain number.
_CONVERTERS = frozenset({"int", "float", "round"})


def _dynamic_size(value: Value) -> bool:
    return value.kind == Kind.SHAPE and value.dynamic and not value.baked


class DynamicSizeAsPython(BranchTests, Check):
    """PT109 a declared-dynamic size converted to a Python number; PT110 a branch on one."""

    codes = ("PT109", "PT110")

    @staticmethod
    def _loop_counts(ctx: FunctionContext) -> Set[cst.CSTNode]:
        """``range(...)`` arguments of this walk that PT107 judges."""
        return ctx.scratch.get(set, "PT109.loop_counts")

    def visit_For(self, ctx: FunctionContext, node: cst.For) -> None:
        it = node.iter
        if isinstance(it, cst.Call) and dotted(it.func) == "range":
            self._loop_counts(ctx).update(a.value for a in it.args)

    def visit_Call(self, ctx: FunctionContext, node: cst.Call) -> None:
        if node in self._loop_counts(ctx):
            return  # ``for i in range(int(x.shape[0]))``: the loop is the hazard (PT107)
        name = dotted(node.func)
        qual = ctx.qualname(node.func) or ""
        if name in _CONVERTERS or qual.startswith(("math.", "numpy.")):
            for arg in node.args:
                value = ctx.value(arg.value)
                if _dynamic_size(value):
                    ctx.report("PT109", node, expr=ctx.code(node), origin=value.origin or ctx.code(arg.value))
                    return
        elif qual == "torch.tensor" and node.args and isinstance(node.args[0].value, (cst.List, cst.Tuple)):
            for el in node.args[0].value.elements:
                value = ctx.value(el.value)
                if _dynamic_size(value):
                    ctx.report("PT109", node, expr=ctx.code(node), origin=value.origin or ctx.code(el.value))
                    return

    def check_test(self, ctx: FunctionContext, test: cst.BaseExpression, construct: str) -> None:
        for operand in tested_operands(test):
            if isinstance(operand, cst.Comparison):
                if any(isinstance(c.operator, (cst.Is, cst.IsNot, cst.In, cst.NotIn)) for c in operand.comparisons):
                    continue
                sides = [ctx.value(operand.left)] + [ctx.value(c.comparator) for c in operand.comparisons]
                dynamic = [v for v in sides if v.kind == Kind.SHAPE and v.dynamic]
                if dynamic and all(v.kind == Kind.STATIC or v in dynamic for v in sides) and len(dynamic) == 1:
                    decided = _decided_for_export(operand, [ctx.value(operand.left)] + [ctx.value(c.comparator)
                                                                                       for c in operand.comparisons])
                    ctx.report("PT110", operand, construct=construct, expr=ctx.code(operand),
                               also_exempt=frozenset({"torch-export"}) if decided else frozenset())
            else:
                value = ctx.value(operand)
                if value.kind == Kind.SHAPE and value.dynamic:  # ``if x.shape[0]:``
                    ctx.report("PT110", operand, construct=construct, expr=ctx.code(operand))

    def visit_If(self, ctx: FunctionContext, node: cst.If) -> None:
        if not _only_raises(node.body):  # input validation: export fails loudly on sizes it cannot serve, as intended
            self.check_test(ctx, node.test, "if")


_COMPARE = {cst.Equal: operator.eq, cst.NotEqual: operator.ne, cst.LessThan: operator.lt,
            cst.LessThanEqual: operator.le, cst.GreaterThan: operator.gt, cst.GreaterThanEqual: operator.ge}


def _decided_for_export(test: cst.Comparison, sides: List[Value]) -> bool:
    """``x.shape[0] == 1``, ``> 1``, ``>= 2``: torch.export assumes a dynamic dim is never 0 or 1, so the test
    has one outcome over its whole range and export passes (measured: ``== 1`` and ``>= 2`` with a named
    ``Dim``); the other targets still keep one branch. Only one comparison against an integer literal."""
    if len(test.comparisons) != 1:
        return False
    comp = test.comparisons[0]
    op = _COMPARE.get(type(comp.operator))
    literal = comp.comparator if sides[0].kind == Kind.SHAPE else test.left
    if op is None or not isinstance(literal, cst.Integer) or not literal.value.isdigit():
        return False
    k = int(literal.value)
    samples = (2, 3, k, k + 1, k + 1000)
    if sides[0].kind == Kind.SHAPE:
        results = {op(s, k) for s in samples if s >= 2}
    else:
        results = {op(k, s) for s in samples if s >= 2}
    return len(results) == 1


def _only_raises(body: cst.BaseSuite) -> bool:
    stmts = body.body if isinstance(body, cst.IndentedBlock) else []
    return bool(stmts) and all(
        isinstance(s, cst.SimpleStatementLine) and all(isinstance(small, cst.Raise) for small in s.body) for s in stmts)
