"""Data-dependent control flow in PyTorch code (family: control-flow)."""

from __future__ import annotations

from typing import Dict, FrozenSet, Iterator, Set, Tuple

import libcst as cst

from mllint.analysis.names import child_nodes
from mllint.analysis.values import Kind
from mllint.analysis.walker import FunctionContext
from mllint.checks.base import BranchTests, Check, tested_operands

#: ``torch._check`` and friends: a value constrained by them lets torch.export decide a branch.
_CHECK_CALLS = ("torch._check", "torch._check_is_size", "torch._check_with")
_EXPORT_TARGETS: FrozenSet[str] = frozenset({"torch-export", "onnx-dynamo"})


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

    def __init__(self) -> None:
        self._in_tests: Set[int] = set()  # boolean operations already judged as part of a test
        self._checked: Dict[int, Set[str]] = {}  # per function context: names bounded by torch._check

    def visit_FunctionEntry(self, ctx: FunctionContext, node: cst.FunctionDef) -> None:
        self._checked[id(ctx)] = set()

    def visit_Call(self, ctx: FunctionContext, node: cst.Call) -> None:
        if ctx.qualname(node.func) in _CHECK_CALLS:
            self._checked.setdefault(id(ctx), set()).update(_names(node))

    def check_test(self, ctx: FunctionContext, test: cst.BaseExpression, construct: str) -> None:
        stack = [test]
        while stack:  # remember the boolean structure of this test, so it is judged once
            n = stack.pop()
            if isinstance(n, (cst.BooleanOperation, cst.UnaryOperation)):
                self._in_tests.add(id(n))
                stack.extend(child_nodes(n))
        checked = self._checked.get(id(ctx), set())
        for operand, condition, skipped in _conditional_operands(ctx, test, (), frozenset()):
            if ctx.kind(operand) not in (Kind.TENSOR, Kind.DATA):
                continue
            data_names = {n for n in _names(operand) if ctx.env.get(n) is not None and ctx.env[n].kind == Kind.DATA}
            bounded = bool(data_names) and data_names <= checked and ctx.kind(operand) == Kind.DATA
            when = " only when " + " and ".join(f"`{c}`" for c in condition) if condition else ""
            ctx.report("PT101", operand, construct=construct, expr=ctx.code(operand), condition=when,
                       also_exempt=skipped | (_EXPORT_TARGETS if bounded else frozenset()))

    def visit_Assert(self, ctx: FunctionContext, node: cst.Assert) -> None:
        self.check_test(ctx, node.test, "assert")

    def visit_BooleanOperation(self, ctx: FunctionContext, node: cst.BooleanOperation) -> None:
        # Outside a test, ``a and b`` still calls bool() on ``a`` (``b`` is only returned).
        if id(node) in self._in_tests:
            return
        self.check_test(ctx, node.left, node.operator.__class__.__name__.lower())
