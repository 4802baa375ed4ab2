"""TensorFlow / Keras code that leaves the graph while it is traced (family: control-flow).

TF101 ``.numpy()`` / NumPy functions on tensors, TF102 ``bool()`` (and, where AutoGraph does not
convert the code, ``int()`` / ``float()`` / ``len()``) of tensors, TF103 ``assert`` on a tensor.
"""

from __future__ import annotations

from typing import Dict, Set

import libcst as cst

from mllint.analysis.names import dotted
from mllint.analysis.values import CONVERT_TO_NUMPY, Kind
from mllint.analysis.walker import FunctionContext, narrowed_away
from mllint.checks.tf_scope import TFCheck, exported, is_tensor, walk


class TFLeavingTheGraph(TFCheck):
    """TF101-TF103: tensor data turned into NumPy or Python values in traced code."""

    codes = ("TF101", "TF102", "TF103")

    @staticmethod
    def _not_tensors(ctx: FunctionContext) -> Dict[cst.CSTNode, Set[str]]:
        """Node -> names an earlier ``isinstance`` in this walk ruled out."""
        return ctx.scratch.get(dict, "TF102.not_tensors")

    def visit_BooleanOperation(self, ctx: FunctionContext, node: cst.BooleanOperation) -> None:
        """``isinstance(x, tuple) and len(x) == 1``: ``x`` is not a tensor right of the ``and``."""
        if isinstance(node.operator, cst.And):
            names = narrowed_away(ctx, node.left)
            if names:
                not_tensors = self._not_tensors(ctx)
                for n in [node.right, *walk(node.right)]:
                    not_tensors.setdefault(n, set()).update(names)

    def visit_Call(self, ctx: FunctionContext, node: cst.Call) -> None:
        if not exported(ctx):
            return
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value == "numpy" and not node.args:
            if ctx.kind(func.value) == Kind.TENSOR:
                ctx.report("TF101", node, expr=ctx.code(node))
            return
        name = dotted(func)
        if name in ("bool", "int", "float", "len") and len(node.args) == 1 and not node.args[0].star:
            # AutoGraph overloads int()/float()/len() (they become casts and tf.shape); bool() it cannot.
            arg = node.args[0].value
            if isinstance(arg, cst.Name) and arg.value in self._not_tensors(ctx).get(node, ()):
                return
            if is_tensor(ctx, arg) and (name == "bool" or not ctx.task.autograph):
                ctx.report("TF102", node, expr=ctx.code(node), conversion=name)
            return
        q = ctx.qualname(func) if name else None
        if q in CONVERT_TO_NUMPY:
            if node.args and ctx.kind(node.args[0].value) == Kind.TENSOR:
                ctx.report("TF101", node, expr=ctx.code(node))
            return
        if q and q.startswith("numpy.") and not q.startswith("numpy.random."):
            if any(ctx.kind(a.value) == Kind.TENSOR for a in node.args):
                ctx.report("TF101", node, expr=ctx.code(node))

    def visit_Assert(self, ctx: FunctionContext, node: cst.Assert) -> None:
        if exported(ctx) and ctx.kind(node.test) == Kind.TENSOR:
            ctx.report("TF103", node.test, expr=ctx.code(node.test))
