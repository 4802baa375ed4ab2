"""PT111 dynamic-dim-sliced (family: dynamic-shape): a slice of an input dim declared with a named ``Dim``.

torch 2.13's ``torch.export.export`` guards the size a slice of a symbolic dim produces (``x[1:]``: size
``s0 - 1``, which must not be 1; ``x[:3]``: ``s0 >= 3``), and refuses every guard a named ``Dim("batch")``
does not satisfy over its whole range (``Constraints violated``). ``Dim.AUTO`` / ``Dim.DYNAMIC`` accept the
same slice by narrowing the range, and the dynamo ONNX exporter applies the narrower range itself, so only
dims declared with a named ``Dim`` (``min`` of 2 or less) of the entry point's own tensor inputs are judged.
"""

from __future__ import annotations

from typing import Optional, Set

import libcst as cst

from mllint.analysis.values import Kind
from mllint.analysis.walker import FunctionContext
from mllint.checks.base import Check


def _is_int(node: Optional[cst.BaseExpression], value: int) -> bool:
    return isinstance(node, cst.Integer) and node.value.isdigit() and int(node.value) == value


class DynamicDimSliced(Check):
    """PT111: ``x[1:]``, ``x[:n]``, ``x[::2]`` on an input dim declared with a named ``Dim``."""

    codes = ("PT111",)
    frameworks = ("torch",)

    @staticmethod
    def _stored(ctx: FunctionContext) -> Set[cst.CSTNode]:
        """Subscripts written to (``x[:, 1:] = y``): not measured, left alone."""
        return ctx.scratch.get(set, "PT111.stored")

    def visit_Assign(self, ctx: FunctionContext, node: cst.Assign) -> None:
        self._stored(ctx).update(t.target for t in node.targets)

    def visit_AugAssign(self, ctx: FunctionContext, node: cst.AugAssign) -> None:
        self._stored(ctx).add(node.target)

    def visit_Subscript(self, ctx: FunctionContext, node: cst.Subscript) -> None:
        if node in self._stored(ctx):
            return
        base = ctx.value(node.value)
        if base.kind != Kind.TENSOR or not base.strict_dims:
            return
        tensor = ctx.code(node.value)
        dim = 0
        for element in node.slice:
            part = element.slice
            if isinstance(part, cst.Index):
                if isinstance(part.value, cst.Ellipsis):
                    return  # later positions count from the end: unknown dims
                if isinstance(part.value, cst.Name) and part.value.value == "None":
                    continue  # a new axis consumes no dim
                dim += 1
                continue
            if not isinstance(part, cst.Slice):
                return
            if dim in base.strict_dims and not self._whole(ctx, part, tensor, dim):
                ctx.report("PT111", node, expr=ctx.code(node), tensor=tensor, dim=str(dim))
                return
            dim += 1

    @staticmethod
    def _whole(ctx: FunctionContext, part: cst.Slice, tensor: str, dim: int) -> bool:
        """``x[:]``, ``x[0:]``, ``x[:x.shape[0]]``, ``x[::1]``: the whole dim, no guard (measured)."""
        if part.lower is not None and not _is_int(part.lower, 0):
            return False
        if part.step is not None and not _is_int(part.step, 1):
            return False
        if part.upper is None:
            return True
        origin = ctx.value(part.upper).origin or ctx.code(part.upper)
        return origin.replace(" ", "") in (f"{tensor}.shape[{dim}]", f"{tensor}.size({dim})", f"{tensor}.size()[{dim}]")
