"""Static sizes of dynamic dimensions in traced TensorFlow / Keras code (family: dynamic-shape).

TF301: ``x.shape[i]`` (``get_shape()``, ``shape.as_list()``) is ``None`` for a dimension that is
dynamic when the code is traced for export; arithmetic, comparisons, ``range`` and shape arguments
then fail, or the size traced on the first call is baked into the artifact.
"""

from __future__ import annotations

from typing import Dict, Iterator, Optional, Set, Tuple

import libcst as cst

from mllint.analysis.names import dotted
from mllint.analysis.walker import FunctionContext
from mllint.checks.tf_scope import TFCheck, exported, may_be_none, walk

#: Last name of TF / Keras functions whose arguments are sizes or shapes.
_SHAPE_TAKING = frozenset({
    "zeros", "ones", "fill", "full", "empty", "reshape", "broadcast_to", "tile", "range", "arange", "eye",
    "normal", "uniform", "truncated_normal", "stateless_normal", "stateless_uniform", "categorical",
    "slice", "split", "pad", "resize", "one_hot", "linspace", "repeat", "image.resize",
})
_SHAPE_NAMESPACES = ("tensorflow.", "keras.ops.", "keras.random.", "keras.src.ops.", "keras.src.random.",
                     "tensorflow.keras.ops.")
#: Functions that accept ``None`` sizes (partial shapes).
_ACCEPTS_NONE = ("tensorflow.TensorSpec", "tensorflow.ensure_shape", "tensorflow.TensorShape", "tensorflow.debugging.",
                 "tensorflow.print", "tensorflow.RaggedTensorSpec", "tensorflow.SparseTensorSpec")


def _sizes_in(node: cst.BaseExpression) -> Iterator[cst.BaseExpression]:
    """The expression and, for list/tuple literals, their elements (one level)."""
    yield node
    if isinstance(node, (cst.List, cst.Tuple)):
        for el in node.elements:
            yield el.value


class TFStaticShape(TFCheck):
    """TF301: a possibly-None static size used as a number in traced code."""

    codes = ("TF301",)

    @staticmethod
    def _guards(ctx: FunctionContext) -> Dict[cst.CSTNode, Set[str]]:
        """Node -> sizes this walk checked ``is not None`` earlier in an ``and``."""
        return ctx.scratch.get(dict, "TF301.guards")

    @staticmethod
    def _done(ctx: FunctionContext) -> Set[Tuple[Optional[cst.CSTNode], str]]:
        """(statement, size) pairs this walk already reported."""
        return ctx.scratch.get(set, "TF301.done")

    def visit_BooleanOperation(self, ctx: FunctionContext, node: cst.BooleanOperation) -> None:
        if not isinstance(node.operator, cst.And):
            return
        checked = _not_none_texts(ctx, node.left)
        if checked:
            guards = self._guards(ctx)
            for n in [node.right, *walk(node.right)]:
                guards.setdefault(n, set()).update(checked)

    def _report(self, ctx: FunctionContext, node: cst.BaseExpression, use: str, whole: bool = False) -> bool:
        value = ctx.value(node)
        if not may_be_none(ctx, value, whole_shape_ok=whole):
            return False
        texts = {ctx.code(node), value.origin or ""}
        if texts & self._guards(ctx).get(node, set()) or _tested_not_none(ctx, texts):
            return False
        key = (ctx.stmt, value.origin or "")
        done = self._done(ctx)
        if key in done:
            return True
        done.add(key)
        expr = ctx.code(node)
        size = f"`{expr}`" if expr == value.origin else f"`{expr}` (from `{value.origin}`)"
        ctx.report("TF301", node, size=size, origin=value.origin, use=use)
        return True

    def visit_BinaryOperation(self, ctx: FunctionContext, node: cst.BinaryOperation) -> None:
        if not exported(ctx):
            return
        for side in (node.left, node.right):
            if isinstance(side, (cst.SimpleString, cst.FormattedString, cst.ConcatenatedString)):
                return  # string formatting
        for side in (node.left, node.right):
            if self._report(ctx, side, "arithmetic"):
                return

    def visit_Comparison(self, ctx: FunctionContext, node: cst.Comparison) -> None:
        if not exported(ctx):
            return
        if any(isinstance(c.operator, (cst.Is, cst.IsNot)) for c in node.comparisons):
            return  # ``x.shape[0] is None`` is the guard
        if any(isinstance(c.comparator, cst.Name) and c.comparator.value == "None" for c in node.comparisons):
            return
        for operand in (node.left, *(c.comparator for c in node.comparisons)):
            if self._report(ctx, operand, "a comparison"):
                return

    def visit_Call(self, ctx: FunctionContext, node: cst.Call) -> None:
        if not exported(ctx):
            return
        name = dotted(node.func)
        if name == "range":
            for arg in node.args:
                if self._report(ctx, arg.value, "`range()`"):
                    return
            return
        q = ctx.qualname(node.func) if name else None
        if not q or not q.startswith(_SHAPE_NAMESPACES) or q.startswith(_ACCEPTS_NONE):
            return
        last = q.rsplit(".", 1)[-1]
        if last not in _SHAPE_TAKING:
            return
        shown = q.replace("tensorflow.", "tf.", 1)
        args = node.args[1:] if last in ("reshape", "broadcast_to", "tile", "slice", "split", "pad", "resize",
                                         "one_hot", "repeat") else node.args
        for arg in args:
            for size in _sizes_in(arg.value):
                if self._report(ctx, size, f"a shape argument of `{shown}`", whole=True):
                    return


def _not_none_texts(ctx: FunctionContext, test: cst.BaseExpression) -> Set[str]:
    """Source texts that ``test`` checks with ``is not None`` (through ``and``)."""
    if isinstance(test, cst.BooleanOperation) and isinstance(test.operator, cst.And):
        return _not_none_texts(ctx, test.left) | _not_none_texts(ctx, test.right)
    if isinstance(test, cst.Comparison) and len(test.comparisons) == 1:
        comp = test.comparisons[0]
        if isinstance(comp.operator, cst.IsNot) and isinstance(comp.comparator, cst.Name) and comp.comparator.value == "None":
            return {ctx.code(test.left)}
    return set()


def _none_texts(ctx: FunctionContext, test: cst.BaseExpression) -> Set[str]:
    if isinstance(test, cst.Comparison) and len(test.comparisons) == 1:
        comp = test.comparisons[0]
        if isinstance(comp.operator, cst.Is) and isinstance(comp.comparator, cst.Name) and comp.comparator.value == "None":
            return {ctx.code(test.left)}
    return set()


def _tested_not_none(ctx: FunctionContext, texts: Set[str]) -> bool:
    """Inside ``if size is not None:`` (or the ``else`` of ``if size is None:``)."""
    for test, positive in ctx.tests:
        found = _not_none_texts(ctx, test) if positive else _none_texts(ctx, test)
        if found & texts:
            return True
    return False
