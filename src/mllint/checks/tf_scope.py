"""Shared questions the TensorFlow / Keras checks ask about the code being walked.

Which walked code ends up in an exported artifact, which loops AutoGraph turns into graph loops,
which sizes may be ``None`` at trace time, and which parameters may be Python lists rather than
tensors. Kept here so every TF rule answers them the same way.
"""

from __future__ import annotations

import re
from typing import Dict, Iterator, List, Optional, Set, Tuple

import libcst as cst

from mllint.analysis.names import child_nodes, dotted
from mllint.analysis.values import Kind, Value
from mllint.analysis.walker import FunctionContext
from mllint.checks.base import Check

TENSOR_ANNOTATION_HINTS = ("Tensor", "tensorflow.", "keras.KerasTensor")


class TFCheck(Check):
    """Base for walker-driven TensorFlow checks."""

    frameworks = ("tensorflow",)


def exported(ctx: FunctionContext) -> bool:
    """Whether the walked code is reached from an entry point that export runs (not a training step).

    Part of the task's key (``Task.exported``), never read from the entry point's name: the name a
    task is credited to is the first of several, and the walk must not depend on which."""
    return ctx.task.exported


def walk(node: cst.CSTNode, into_functions: bool = False) -> Iterator[cst.CSTNode]:
    """Every node below ``node`` (not into nested functions, lambdas or classes unless asked)."""
    stack = list(child_nodes(node))
    while stack:
        n = stack.pop()
        yield n
        if not into_functions and isinstance(n, (cst.FunctionDef, cst.Lambda, cst.ClassDef)):
            continue
        stack.extend(child_nodes(n))


def assigned_names(node: cst.CSTNode) -> Set[str]:
    """Names bound by assignments, augmented assignments, for targets and ``with ... as`` in ``node``."""
    out: Set[str] = set()
    for n in walk(node):
        targets: List[cst.BaseExpression] = []
        if isinstance(n, cst.Assign):
            targets = [t.target for t in n.targets]
        elif isinstance(n, (cst.AugAssign, cst.AnnAssign)):
            targets = [n.target]
        elif isinstance(n, (cst.For, cst.CompFor)):
            targets = [n.target]
        elif isinstance(n, cst.AsName):
            targets = [n.name]
        elif isinstance(n, cst.NamedExpr):
            targets = [n.target]
        for t in targets:
            stack: List[cst.BaseExpression] = [t]
            while stack:
                e = stack.pop()
                if isinstance(e, cst.Name):
                    out.add(e.value)
                elif isinstance(e, (cst.Tuple, cst.List)):
                    stack.extend(el.value for el in e.elements)
                elif isinstance(e, cst.StarredElement):
                    stack.append(e.value)
    return out


def _bindings(fn: cst.FunctionDef) -> Tuple[Set[str], Dict[str, List[cst.BaseExpression]]]:
    """Names bound other than by loops, and for each loop target the iterables it runs over."""
    loops: Dict[str, List[cst.BaseExpression]] = {}
    for n in walk(fn.body):
        if isinstance(n, (cst.For, cst.CompFor)):
            for name in _target_names(n.target):
                loops.setdefault(name, []).append(n.iter)
    other: Set[str] = set()
    for n in walk(fn.body):
        targets: List[cst.BaseExpression]
        if isinstance(n, cst.Assign):
            targets = [t.target for t in n.targets]
        elif isinstance(n, (cst.AugAssign, cst.AnnAssign, cst.NamedExpr)):
            targets = [n.target]
        elif isinstance(n, cst.AsName):
            targets = [n.name]
        else:
            continue
        for t in targets:
            other.update(_target_names(t))
    return other, loops


def _target_names(target: cst.BaseExpression) -> List[str]:
    out: List[str] = []
    stack: List[cst.CSTNode] = [target]
    while stack:
        e = stack.pop()
        if isinstance(e, cst.Name):
            out.append(e.value)
        elif isinstance(e, (cst.Tuple, cst.List)):
            stack.extend(el.value for el in e.elements)
        elif isinstance(e, cst.StarredElement):
            stack.append(e.value)
    return out


def possibly_a_list(ctx: FunctionContext, expr: cst.BaseExpression, _depth: int = 0) -> bool:
    """An unannotated parameter that the function never rebinds (or an item of it, or a loop
    variable over it): Keras passes lists and dicts of tensors as ``inputs`` too, so iterating it
    or taking its ``len`` may be plain Python."""
    while isinstance(expr, cst.Subscript):  # inputs[0], inputs[1:], data["boxes"]
        expr = expr.value
    if not isinstance(expr, cst.Name) or _depth > 4:
        return False
    other, loops = ctx.file.memo.get(lambda: _bindings(ctx.node), "tf_scope.bindings", ctx.node)
    if expr.value in loops and any(possibly_a_list(ctx, it, _depth + 1) for it in loops[expr.value]):
        return True  # ``for level in inputs`` / ``[... for level in inputs]``: an item of a possible list
    if expr.value in other:
        return False
    param = next((p for p in ctx.func.params if p.name == expr.value), None)
    if param is None:
        return False
    if param.annotation and any(h in param.annotation for h in TENSOR_ANNOTATION_HINTS):
        return False
    info = ctx.func.tf_function
    if info is not None and info.has_signature and (info.shapes is None or signature_dims(ctx, expr.value) is not None):
        return False  # a parameter of a signed tf.function is a tensor
    return True


def is_tensor(ctx: FunctionContext, expr: cst.BaseExpression) -> bool:
    """A tensor for sure: not a parameter that may as well be a list of tensors."""
    return ctx.kind(expr) == Kind.TENSOR and not possibly_a_list(ctx, expr)


# -- sizes -------------------------------------------------------------------------------------
_STATIC_SHAPE = re.compile(
    r"^(?P<base>[A-Za-z_][\w.]*?)(?:\.shape|\.get_shape\(\)|\.shape\.as_list\(\))(?:\[(?P<index>-?\d+)\])?$"
)


def static_shape_origin(value: Value) -> Optional["re.Match[str]"]:
    """``x.shape[i]``, ``x.get_shape()[i]``, ``x.shape.as_list()[i]`` or a whole static shape."""
    if value.kind != Kind.SHAPE or not value.origin:
        return None
    return _STATIC_SHAPE.match(value.origin.replace(" ", ""))


def may_be_none(ctx: FunctionContext, value: Value, whole_shape_ok: bool = False) -> bool:
    """Whether a static size can be ``None`` when the code is traced for export.

    The batch dimension (index 0) is ``None`` under Keras ``export()`` and under the usual
    ``input_signature``; other dimensions only when the function's own literal ``input_signature``
    says so, or a functional ``keras.Input((None, ...))`` the layer is applied to. Sizes of ``self.``
    attributes (weights) are static.
    """
    m = static_shape_origin(value)
    if m is None:
        return False
    base = m.group("base")
    if base.startswith("self."):
        return False
    index = m.group("index")
    dims = signature_dims(ctx, base)
    if index is None:
        if not whole_shape_ok:
            return False
        return dims is None or any(d is None for d in dims)
    i = int(index)
    if dims is not None:
        if -len(dims) <= i < len(dims):
            return dims[i] is None
        return False
    return i == 0 or i in _input_dyn_dims(ctx, base)


def signature_dims(ctx: FunctionContext, name: str):  # type: ignore[no-untyped-def]
    """The literal TensorSpec shape of parameter ``name`` of the function being walked, if any."""
    info = ctx.func.tf_function
    if info is None or not info.has_signature or info.shapes is None:
        return None
    params = [p for p in ctx.func.params if p.star == ""]
    if ctx.task.func.cls is not None and params:
        params = params[1:]
    for p, shape in zip(params, info.shapes):
        if p.name == name:
            return shape
    return None


def tensor_loop(ctx: FunctionContext, node: cst.CSTNode) -> bool:
    """A loop AutoGraph turns into a graph ``while_loop``: over a tensor, ``tf.range``, a ``range`` of
    a tensor or of a dynamic size, or ``while`` on a tensor condition."""
    if isinstance(node, cst.While):
        return ctx.kind(node.test) in (Kind.TENSOR, Kind.DATA)
    if not isinstance(node, cst.For):
        return False
    it = node.iter
    if is_tensor(ctx, it):
        return True
    if isinstance(it, cst.Call) and dotted(it.func) == "range":
        for arg in it.args:
            v = ctx.value(arg.value)
            if v.kind in (Kind.TENSOR, Kind.DATA):
                return True
            if v.kind == Kind.SHAPE and v.origin and v.origin.startswith("len("):
                inner = it.args[0].value
                if isinstance(inner, cst.Call) and inner.args and not possibly_a_list(ctx, inner.args[0].value):
                    return _len_dynamic(ctx, inner.args[0].value)
    return False


_OPS_SHAPE = frozenset({"keras.ops.shape", "tensorflow.keras.ops.shape", "keras.src.ops.shape", "keras.ops.core.shape"})


def dynamic_ops_size(ctx: FunctionContext, expr: cst.BaseExpression, _depth: int = 0) -> bool:
    """``keras.ops.shape(x)[i]`` (or a name bound once to it) of a dimension that is dynamic when traced
    for export: the batch (index 0), what the function's literal ``input_signature`` says, or a ``None``
    of the functional ``keras.Input`` the layer is applied to. Under the
    TensorFlow backend that size is then a scalar tensor, not a Python int."""
    if isinstance(expr, cst.Name) and _depth == 0:
        bound = [n.value for n in walk(ctx.node) if isinstance(n, cst.Assign) and len(n.targets) == 1
                 and isinstance(n.targets[0].target, cst.Name) and n.targets[0].target.value == expr.value]
        other, _ = ctx.file.memo.get(lambda: _bindings(ctx.node), "tf_scope.bindings", ctx.node)
        if len(bound) != 1 or expr.value not in other:
            return False
        return dynamic_ops_size(ctx, bound[0], 1)
    if not (isinstance(expr, cst.Subscript) and len(expr.slice) == 1 and isinstance(expr.slice[0].slice, cst.Index)):
        return False
    call, index = expr.value, expr.slice[0].slice.value
    if not (isinstance(call, cst.Call) and call.args and isinstance(index, cst.Integer)):
        return False
    if ctx.qualname(call.func) not in _OPS_SHAPE:
        return False
    base = dotted(call.args[0].value)
    if base is None or base.startswith("self."):
        return False
    i = int(index.value)
    dims = signature_dims(ctx, base)
    if dims is not None:
        return i < len(dims) and dims[i] is None
    return i == 0 or i in _input_dyn_dims(ctx, base)


def _input_dyn_dims(ctx: FunctionContext, name: str) -> Tuple[int, ...]:
    """Dims of parameter ``name`` that the entry point declares dynamic (a functional ``keras.Input((None, ...))``
    the layer is applied to), read from the parameter's value: empty for anything else."""
    if "." in name:
        return ()
    return ctx.value(cst.Name(name)).dyn_dims


def _len_dynamic(ctx: FunctionContext, expr: cst.BaseExpression) -> bool:
    name = dotted(expr)
    if name is None or name.startswith("self."):
        return False
    dims = signature_dims(ctx, name)
    return dims is None or (len(dims) > 0 and dims[0] is None)


def lazy_guarded(ctx: FunctionContext, attr: Optional[str] = None) -> bool:
    """Inside ``if self.x is None:`` (or ``if not hasattr(self, "x")`` / ``if not self.built``):
    code that runs once, on the first trace (the documented lazy-creation pattern)."""
    for test, positive in ctx.tests:
        if not positive:
            continue
        if isinstance(test, cst.Comparison) and len(test.comparisons) == 1 and isinstance(test.comparisons[0].operator, cst.Is):
            name = dotted(test.left)
            comp = test.comparisons[0].comparator
            if name and name.startswith("self.") and isinstance(comp, cst.Name) and comp.value == "None":
                if attr is None or name == f"self.{attr}":
                    return True
        if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
            inner = test.expression
            if isinstance(inner, cst.Call) and dotted(inner.func) == "hasattr":
                return True
            if dotted(inner) in ("self.built", "self._built"):
                return True
    return False
