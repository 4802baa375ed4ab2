"""PT218: a tensor size used where Python needs a plain number or bool, which tracing breaks.

``torch.jit.trace`` (and the legacy ONNX exporter, which traces) records ``x.shape[i]``, ``x.size(i)`` and
``x.numel()`` as 0-dim tensors so the graph can follow other input sizes; arithmetic and comparisons on
them stay tensors. Two uses then fail while tracing (tests/test_traced_size_facts.py): ``round()`` of
such a value ("type Tensor doesn't define __round__ method"), and passing it as ``is_causal`` of
``scaled_dot_product_attention`` ("argument 'is_causal' must be bool, not Tensor"). ``int()``,
``float()``, ``bool()``, ``math.floor`` and ``len(x)`` give Python values and trace fine; torch.export
passes all of them.
"""

from __future__ import annotations

from typing import Optional, Set

import libcst as cst

from mllint.analysis.values import Kind
from mllint.analysis.walker import FunctionContext
from mllint.checks.base import Check

#: Size reads that tracing records as tensors.
_SIZE_METHODS = frozenset({"size", "numel", "nelement"})
#: Calls whose result is a plain Python value again.
_PYTHON_NUMBERS = frozenset(
    {
        "int",
        "float",
        "bool",
        "len",
        "str",
        "math.floor",
        "math.ceil",
        "math.trunc",
        "math.sqrt",
        "math.log",
        "math.log2",
        "math.prod",
    }
)
_SDPA = frozenset({"torch.nn.functional.scaled_dot_product_attention", "torch._C._nn.scaled_dot_product_attention"})
_IS_CAUSAL_POSITION = 5  # query, key, value, attn_mask, dropout_p, is_causal


class TracedSizeAsPython(Check):
    """PT218: ``round()`` of, or ``is_causal=``, a value computed from a traced tensor size."""

    codes = ("PT218",)

    @staticmethod
    def _names(ctx: FunctionContext) -> Set[str]:
        """This walk's local names that hold a traced size (or a comparison of one)."""
        return ctx.scratch.get(set, "PT218.sizes")

    def visit_Assign(self, ctx: FunctionContext, node: cst.Assign) -> None:
        names = self._names(ctx)
        sized = self._sized(ctx, node.value) is not None
        shape_tuple = _is_shape(ctx, node.value)
        for t in node.targets:
            target = t.target
            if isinstance(target, cst.Name):
                (names.add if sized else names.discard)(target.value)
            elif isinstance(target, (cst.Tuple, cst.List)):
                for el in target.elements:
                    if isinstance(el.value, cst.Name):
                        (names.add if shape_tuple else names.discard)(el.value.value)

    def visit_AugAssign(self, ctx: FunctionContext, node: cst.AugAssign) -> None:
        if isinstance(node.target, cst.Name) and self._sized(ctx, node.value) is not None:
            self._names(ctx).add(node.target.value)

    def visit_Call(self, ctx: FunctionContext, node: cst.Call) -> None:
        if ctx.framework != "torch":
            return
        name = ctx.qualname(node.func) or (node.func.value if isinstance(node.func, cst.Name) else "")
        if name in ("round", "builtins.round") and node.args:
            size = self._sized(ctx, node.args[0].value)
            if size is not None:
                ctx.report(
                    "PT218",
                    node,
                    what=f"`{ctx.code(node)}`",
                    size=size,
                    fails="`round()` of a tensor fails: type Tensor doesn't define __round__",
                )
            return
        if name in _SDPA:
            for i, arg in enumerate(node.args):
                is_causal = (arg.keyword.value == "is_causal") if arg.keyword is not None else i == _IS_CAUSAL_POSITION
                if is_causal and arg.star == "":
                    size = self._sized(ctx, arg.value)
                    if size is not None:
                        ctx.report(
                            "PT218",
                            arg.value,
                            what=f"`is_causal={ctx.code(arg.value)}`",
                            size=size,
                            fails="`scaled_dot_product_attention` takes only a Python bool there",
                        )

    def _sized(self, ctx: FunctionContext, node: cst.BaseExpression) -> Optional[str]:
        """The traced size read that ``node``'s value is made from (source text), when tracing makes it a tensor."""
        if isinstance(node, cst.Subscript):
            return ctx.code(node) if _is_shape(ctx, node.value) else None
        if isinstance(node, cst.Call):
            func = node.func
            if isinstance(func, cst.Attribute) and func.attr.value in _SIZE_METHODS:
                return ctx.code(node) if ctx.kind(func.value) == Kind.TENSOR else None
            if (ctx.qualname(func) or "") == "torch.numel":
                return ctx.code(node)
            return None  # int(), len(), math.*, other calls: a Python value (or not known to be a size)
        if isinstance(node, cst.Name):
            names = self._names(ctx)
            return node.value if node.value in names and ctx.kind(node) == Kind.SHAPE else None
        if isinstance(node, cst.BinaryOperation):
            return self._sized(ctx, node.left) or self._sized(ctx, node.right)
        if isinstance(node, cst.UnaryOperation) and not isinstance(node.operator, cst.Not):
            return self._sized(ctx, node.expression)
        if isinstance(node, cst.Comparison):
            if any(isinstance(c.operator, (cst.Is, cst.IsNot, cst.In, cst.NotIn)) for c in node.comparisons):
                return None
            found = self._sized(ctx, node.left)
            for c in node.comparisons:
                found = found or self._sized(ctx, c.comparator)
            return found
        if isinstance(node, cst.BooleanOperation):  # ``a and b`` is one of its operands, not a bool
            return self._sized(ctx, node.left) or self._sized(ctx, node.right)
        if isinstance(node, cst.IfExp):
            return self._sized(ctx, node.body) or self._sized(ctx, node.orelse)
        return None


def _is_shape(ctx: FunctionContext, node: cst.BaseExpression) -> bool:
    """``x.shape`` / ``x.size()`` of a tensor: the whole size tuple, each element traced."""
    if isinstance(node, cst.Attribute) and node.attr.value == "shape":
        return ctx.kind(node.value) == Kind.TENSOR
    if (
        isinstance(node, cst.Call)
        and isinstance(node.func, cst.Attribute)
        and node.func.attr.value == "size"
        and not node.args
    ):
        return ctx.kind(node.func.value) == Kind.TENSOR
    return False
