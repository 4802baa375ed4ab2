"""PyTorch code that leaves the graph: tensor data turned into Python values, Python loops over
tensor data or the batch dimension, and hard-coded devices (families: control-flow, dynamic-shape)."""

from __future__ import annotations

from typing import Optional

import libcst as cst

from mllint.analysis.names import dotted
from mllint.analysis.values import Kind
from mllint.analysis.walker import FunctionContext
from mllint.checks.base import Check

#: Size expressions whose value is the batch dimension (the one that varies in production).
_BATCH_ORIGINS = (".shape[0]", ".size(0)", ".numel()", ".nelement()")


def _is_batch_size(origin: Optional[str]) -> bool:
    if not origin:
        return False
    compact = origin.replace(" ", "")
    return compact.endswith(_BATCH_ORIGINS) or compact.startswith("len(")


class LeavingTheGraph(Check):
    """PT102 ``.item()``, PT103 ``int()``/``float()`` of a tensor, PT104 ``.tolist()``, PT105 numpy."""

    codes = ("PT102", "PT103", "PT104", "PT105")

    def visit_Call(self, ctx: FunctionContext, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Attribute) and ctx.kind(func.value) == Kind.TENSOR:
            method = func.attr.value
            if method == "item" and not node.args:
                # the fix (keep the 0-d tensor) depends on every use of the number: mllint.fixes.codemods
                ctx.report("PT102", node, expr=ctx.code(node))
            elif method == "tolist" and not node.args:
                ctx.report("PT104", node, expr=ctx.code(node))
            elif method == "numpy":
                ctx.report("PT105", node, expr=ctx.code(node))
            return
        name = dotted(func)
        if name in ("int", "float") and len(node.args) == 1 and ctx.kind(node.args[0].value) == Kind.TENSOR:
            ctx.report("PT103", node, expr=ctx.code(node), conversion=name)
            return
        qualified = ctx.qualname(func) if name else None
        if qualified and qualified.startswith("numpy.") and not qualified.startswith("numpy.random."):
            if any(ctx.kind(a.value) in (Kind.TENSOR,) for a in node.args):
                ctx.report("PT105", node, expr=ctx.code(node))


def _unannotated_parameter(ctx: FunctionContext, node: cst.BaseExpression) -> bool:
    """A bare, unannotated parameter may as well be a tuple of tensors (``for t in inputs``)."""
    return isinstance(node, cst.Name) and any(
        p.name == node.value and not p.annotation for p in ctx.func.params)


class TensorLoops(Check):
    """PT106 iterating over a tensor's rows; PT107 a Python loop whose trip count is the batch size."""

    codes = ("PT106", "PT107")

    def visit_For(self, ctx: FunctionContext, node: cst.For) -> None:
        value = ctx.value(node.iter)
        if value.kind == Kind.TENSOR and not _unannotated_parameter(ctx, node.iter):
            ctx.report("PT106", node.iter, expr=ctx.code(node.iter))
            return
        it = node.iter
        if isinstance(it, cst.Call) and dotted(it.func) == "range" and it.args:
            for arg in it.args:
                v = ctx.value(arg.value)
                if v.kind == Kind.SHAPE and _is_batch_size(v.origin):
                    ctx.report("PT107", arg.value, expr=ctx.code(arg.value), origin=v.origin)
                    return


_CUDA_LITERALS = ("cuda", "cuda:")


def _is_cuda_literal(node: cst.BaseExpression) -> bool:
    if isinstance(node, cst.SimpleString) and isinstance(node.evaluated_value, str):
        return node.evaluated_value.startswith(_CUDA_LITERALS)
    return False


class HardCodedDevice(Check):
    """PT108: ``.cuda()``, ``.to("cuda")``, ``device="cuda"`` inside code that is exported."""

    codes = ("PT108",)

    def visit_Call(self, ctx: FunctionContext, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value == "cuda" and ctx.kind(func.value) == Kind.TENSOR:
            ctx.report("PT108", node, expr=ctx.code(node))
            return
        if isinstance(func, cst.Attribute) and func.attr.value == "to" and ctx.kind(func.value) == Kind.TENSOR:
            if any(_is_cuda_literal(a.value) for a in node.args):
                ctx.report("PT108", node, expr=ctx.code(node))
                return
        for arg in node.args:
            if arg.keyword is not None and arg.keyword.value == "device" and _is_cuda_literal(arg.value):
                q = ctx.qualname(func) or ""
                if q.startswith("torch.") or ctx.kind(func.value if isinstance(func, cst.Attribute) else func) == Kind.TENSOR:
                    ctx.report("PT108", arg, expr=ctx.code(node))
                    return
