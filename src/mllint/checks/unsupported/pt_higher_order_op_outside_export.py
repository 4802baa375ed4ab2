"""PT219 higher-order-op-outside-export: ``torch.cond`` / ``map`` / ``while_loop`` / ``scan`` outside torch.export.

The control-flow operators of ``torch._higher_order_ops`` capture their branch or body functions as
subgraphs, which only dynamo (``torch.export`` and the ONNX dynamo exporter) can do. Measured on torch 2.13
(tests/test_higher_order_op_facts.py): ``torch.jit.script`` fails inside torch's own implementation,
``torch.jit.trace`` and the legacy ONNX exporter fail with "Detected that you are using FX to torch.jit.trace a
dynamo-optimized function", and the ONNX dynamo exporter has no function for ``map`` ("ConversionError").
"""

from __future__ import annotations

from typing import FrozenSet, Optional

import libcst as cst

from mllint.analysis.walker import FunctionContext
from mllint.checks.base import Check

#: qualified name -> the operator's short name (as messages show it)
_OPERATORS = {
    "torch.cond": "cond",
    "torch._higher_order_ops.cond": "cond",
    "torch._higher_order_ops.cond.cond": "cond",
    "functorch.experimental.control_flow.cond": "cond",
    "torch._higher_order_ops.map": "map",
    "torch._higher_order_ops.map.map": "map",
    "functorch.experimental.control_flow.map": "map",
    "torch._higher_order_ops.while_loop": "while_loop",
    "torch._higher_order_ops.while_loop.while_loop": "while_loop",
    "torch._higher_order_ops.scan": "scan",
    "torch._higher_order_ops.scan.scan": "scan",
    "torch._higher_order_ops.associative_scan": "associative_scan",
    "torch._higher_order_ops.associative_scan.associative_scan": "associative_scan",
}
#: operators the ONNX dynamo exporter lowers (measured): the others fail it too
_DYNAMO_LOWERS: FrozenSet[str] = frozenset({"cond", "while_loop", "scan"})


def _operator(qualname: Optional[str]) -> Optional[str]:
    if not qualname:
        return None
    if qualname.startswith("torch.ops.higher_order."):
        return qualname.rsplit(".", 1)[-1]
    return _OPERATORS.get(qualname)


class HigherOrderOpOutsideExport(Check):
    """PT219: a higher-order control-flow operator, which only dynamo's capture can export."""

    codes = ("PT219",)
    frameworks = ("torch",)

    def visit_Call(self, ctx: FunctionContext, node: cst.Call) -> None:
        op = _operator(ctx.qualname(node.func))
        if op is None:
            return
        lowers = op in _DYNAMO_LOWERS
        capture = "torch.export and the ONNX dynamo exporter" if lowers else "torch.export"
        ctx.report(
            "PT219",
            node.func,
            op=op,
            capture=capture,
            also_exempt=frozenset({"onnx-dynamo"}) if lowers else frozenset(),
        )
