"""Data-dependent control flow in PyTorch code (family: control-flow)."""

from __future__ import annotations

from typing import FrozenSet, Iterator, List, Set, Tuple

import libcst as cst

from mllint.analysis.names import child_nodes
from mllint.analysis.values import Kind
from mllint.analysis.walker import FunctionContext
from mllint.checks.base import BranchTests, Check, tested_operands
from mllint.targets import targets_where

#: ``torch._check`` and friends: a value constrained by them lets torch.export decide a branch.
_CHECK_CALLS = ("torch._check", "torch._check_is_size", "torch._check_with")
_EXPORT_TARGETS: FrozenSet[str] = targets_where(capture="dynamo")
#: The tracer's targets: a tensor built at construction is the same for every input, so the branch the
#: trace records is right for all of them (torch.export still fails: it guards on the data).
_TRACER_TARGETS: FrozenSet[str] = targets_where(capture="jit-trace")


def _names(node: cst.CSTNode) -> Set[str]:
    found: Set[str] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, cst.Name):
            found.add(n.value)
        else:
            stack.extend(child_nodes(n))
    return found


def _conditional_operands(ctx: FunctionContext, test: cst.BaseExpression, condition: Tuple[str, ...],
                          skipped: FrozenSet[str]) -> Iterator[Tuple[cst.BaseExpression, Tuple[str, ...], FrozenSet[str]]]:
    """The tested operands, each with the static tests that must hold for it to run at all
    (``h.dtype == torch.float16 and not torch.isfinite(h).all()`` tests the tensor only for fp16
    models) and the targets that never evaluate it (``self.training and x.sum() > 0``: none in eval mode)."""
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        yield from _conditional_operands(ctx, test.expression, condition, skipped)
    elif isinstance(test, cst.BooleanOperation):
        yield from _conditional_operands(ctx, test.left, condition, skipped)
        left = test.left
        is_and = isinstance(test.operator, cst.And)
        never_true, never_false = ctx.guard_sets(left)
        skipped = skipped | (never_true if is_and else never_false)  # ``and`` / ``or`` short-circuit there
        if not any(ctx.kind(o) in (Kind.TENSOR, Kind.DATA) for o in tested_operands(left)):
            text = ctx.code(left)
            condition = condition + ((text,) if is_and else (f"not ({text})",))
        yield from _conditional_operands(ctx, test.right, condition, skipped)
    else:
        yield test, condition, skipped


class TensorBranch(BranchTests, Check):
    """PT101: Python control flow decided by tensor data."""

    codes = ("PT101",)

    @staticmethod
    def _in_tests(ctx: FunctionContext) -> Set[cst.CSTNode]:
        """Boolean operations of this walk already judged as part of a test."""
        return ctx.scratch.get(set, "PT101.in_tests")

    @staticmethod
    def _checked(ctx: FunctionContext) -> Set[str]:
        """Names this walk bounds by ``torch._check``."""
        return ctx.scratch.get(set, "PT101.checked")

    def visit_Call(self, ctx: FunctionContext, node: cst.Call) -> None:
        if ctx.qualname(node.func) in _CHECK_CALLS:
            self._checked(ctx).update(_names(node))

    def check_test(self, ctx: FunctionContext, test: cst.BaseExpression, construct: str) -> None:
        stack: List[cst.CSTNode] = [test]
        in_tests = self._in_tests(ctx)
        while stack:  # remember the boolean structure of this test, so it is judged once
            n = stack.pop()
            if isinstance(n, (cst.BooleanOperation, cst.UnaryOperation)):
                in_tests.add(n)
                stack.extend(child_nodes(n))
        checked = self._checked(ctx)
        for operand, condition, skipped in _conditional_operands(ctx, test, (), frozenset()):
            if ctx.kind(operand) not in (Kind.TENSOR, Kind.DATA):
                continue
            data_names = {n for n in _names(operand) if ctx.env.get(n) is not None and ctx.env[n].kind == Kind.DATA}
            bounded = bool(data_names) and data_names <= checked and ctx.kind(operand) == Kind.DATA
            when = " only when " + " and ".join(f"`{c}`" for c in condition) if condition else ""
            constant = ctx.value(operand).constant
            ctx.report("PT101", operand, construct=construct, expr=ctx.code(operand), condition=when,
                       also_exempt=skipped | (_EXPORT_TARGETS if bounded else frozenset())
                       | (_TRACER_TARGETS if constant else frozenset()))

    def visit_Assert(self, ctx: FunctionContext, node: cst.Assert) -> None:
        self.check_test(ctx, node.test, "assert")

    def visit_BooleanOperation(self, ctx: FunctionContext, node: cst.BooleanOperation) -> None:
        # Outside a test, ``a and b`` still calls bool() on ``a`` (``b`` is only returned).
        if node in self._in_tests(ctx):
            return
        self.check_test(ctx, node.left, node.operator.__class__.__name__.lower())
