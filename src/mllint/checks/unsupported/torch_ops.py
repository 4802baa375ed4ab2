"""PT220: calls to PyTorch ops that an ONNX exporter cannot lower, from the generated op tables
(``rules/data/torch_ops.json``, see ``mllint.optables``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, FrozenSet, Optional, Tuple

import libcst as cst

from mllint.analysis.names import dotted
from mllint.analysis.values import Kind
from mllint.analysis.walker import FunctionContext
from mllint.checks.base import Check
from mllint.optables.torch_tables import DEFAULT_OPSET, TORCH_OP_TARGETS, load_torch_tables

if TYPE_CHECKING:
    from mllint.config import Settings

#: Qualified-name prefixes whose calls the tables key directly (``torch.nn.functional`` included).
_FUNCTION_PREFIXES = ("torch.",)
_EXPORTER = {"onnx-dynamo": "the ONNX dynamo exporter", "onnx-legacy": "the legacy (TorchScript) ONNX exporter"}


def _where(failing: Tuple[str, ...]) -> str:
    if len(failing) == len(TORCH_OP_TARGETS):
        return "either ONNX exporter (dynamo or legacy)"
    return " or ".join(_EXPORTER.get(t, t) for t in failing)


class TorchOpSupport(Check):
    """PT220: ``torch.X(...)``, ``torch.linalg.X(...)``, ``F.X(...)``, ``x.X(...)`` / ``x.X_(...)`` on a
    tensor, ``torch.X(..., out=...)``, where the op has no lowering for an ONNX target.

    ``onnx_opset``: the opset the ONNX targets are judged at (the ``onnx-opset`` setting).
    """

    codes = ("PT220",)

    @classmethod
    def from_settings(cls, settings: "Settings") -> "TorchOpSupport":
        return cls(onnx_opset=settings.onnx_opset)

    def __init__(self, onnx_opset: Optional[int] = None) -> None:
        self.onnx_opset = onnx_opset or DEFAULT_OPSET

    def visit_Call(self, ctx: FunctionContext, node: cst.Call) -> None:
        name = self._python_name(ctx, node)
        if name is None:
            return
        tables = load_torch_tables()
        op = tables.aten_op(name)
        if op is None:
            return
        failing = tuple(t for t in TORCH_OP_TARGETS if tables.unsupported_for(name, t, self.onnx_opset))
        if not failing:
            self._required_args(ctx, node, name, op)
            return
        exempt: FrozenSet[str] = frozenset(t for t in TORCH_OP_TARGETS if t not in failing)
        stops_at = tables.reaches(op, "onnx-dynamo") if "onnx-dynamo" in failing else None
        if stops_at and stops_at.split(".")[0] != f"aten::{op}":
            detail = f" (the dynamo exporter stops at `{stops_at}`)"
        elif failing == ("onnx-legacy",):
            detail = " (the default dynamo exporter lowers it)"
        else:
            detail = ""
        ctx.report("PT220", node, also_exempt=exempt, expr=ctx.code(node.func), op=f"aten::{op}",
                   where=_where(failing), detail=detail, opset=self.onnx_opset)

    @staticmethod
    def _required_args(ctx: FunctionContext, node: cst.Call, name: str, op: str) -> None:
        """``x.amax()``: the op lowers, but only with an argument the call leaves to its default."""
        if any(a.star for a in node.args):
            return  # ``*args`` / ``**kwargs``: which arguments are given is unknown
        tables = load_torch_tables()
        # ``x.amax(...)`` binds ``self`` to the receiver; ``torch.amax(x, ...)`` passes it first
        offset = 1 if name.startswith("Tensor.") else 0
        positional = [a for a in node.args if a.keyword is None]
        for target in TORCH_OP_TARGETS:
            for arg, position in tables.required_args(op, target):
                given = next((a.value for a in node.args if a.keyword is not None and a.keyword.value == arg), None)
                if given is None and len(positional) > position - offset:
                    given = positional[position - offset].value
                if given is not None and not (isinstance(given, (cst.Tuple, cst.List)) and not given.elements):
                    continue
                exempt = frozenset(t for t in TORCH_OP_TARGETS if t != target)
                ctx.report("PT220", node, also_exempt=exempt, expr=ctx.code(node.func), op=f"aten::{op}",
                           where=_where((target,)), opset=DEFAULT_OPSET,
                           detail=f" without `{arg}` (its ONNX function requires it: pass `{arg}=...`)")
                return

    @staticmethod
    def _python_name(ctx: FunctionContext, node: cst.Call) -> Optional[str]:
        func = node.func
        qualified = ctx.qualname(func) if dotted(func) else None
        if qualified and qualified.startswith(_FUNCTION_PREFIXES):
            return qualified  # torch.X, torch.linalg.X, torch.nn.functional.X, torch.Tensor.X
        # A method: only when the receiver is known to be a tensor.
        if isinstance(func, cst.Attribute) and ctx.kind(func.value) == Kind.TENSOR:
            return "Tensor." + func.attr.value
        return None
