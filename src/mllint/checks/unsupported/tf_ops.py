"""TF ops that TFLite or TF.js cannot take (family: unsupported).

TF208: a call in exported TF code whose qualified name maps, through the generated op tables
(``rules/data/tf_ops.json``, see ``mllint.optables.tf_tables``), to a TensorFlow op that is not a
TFLite builtin (Flex-only, or not convertible at all) or that the TF.js converter rejects.
``tf.raw_ops.X`` is judged by op name. Only measured verdicts count: names whose outcome depended on
dtypes or arguments are reported only where the code shows the condition measured: ``Abs`` / ``Sign`` of a
tensor the code made int64, and a new-axis slice (``StridedSlice``) of a tensor whose rank and dynamic dims
the function's own ``input_signature`` (or a functional ``keras.Input``) gives.
"""

from __future__ import annotations

from typing import Dict, FrozenSet, List, Optional, Set, Tuple

import libcst as cst

from mllint.analysis.names import dotted
from mllint.analysis.walker import FileContext, FunctionContext
from mllint.checks.signature.tf_serialization import keras_uses
from mllint.analysis.values import Kind
from mllint.checks.tf_scope import TFCheck, assigned_names, exported, signature_dims, walk
from mllint.checks.tf_sites import file_sites
from mllint.optables.tf_tables import FLEX, UNSUPPORTED, load_tf_tables

#: Reported by other rules (TF204 host callbacks).
_ELSEWHERE = frozenset({"tensorflow.py_function", "tensorflow.numpy_function", "tensorflow.compat.v1.py_func",
                        "tensorflow.raw_ops.EagerPyFunc", "tensorflow.raw_ops.PyFunc",
                        "tensorflow.raw_ops.PyFuncStateless"})
_PREFIXES = ("tensorflow.", "keras.ops.")
#: TF ops that are TFLite builtins on int32 and float32 but not on int64 (measured, TF 2.21: ``tf.abs``,
#: ``tf.sign``, ``keras.ops.abs`` / ``absolute`` / ``sign`` of an int64 tensor need ``FlexAbs`` / ``FlexSign``;
#: ``tests/test_tflite_slice_facts.py``). The tables' int probes are int32, so they say "builtin".
_NOT_BUILTIN_ON_INT64 = frozenset({"Abs", "Sign"})
#: ``None`` spellings of a new axis in a subscript.
_NEW_AXIS = frozenset({"tensorflow.newaxis", "numpy.newaxis"})


class TFOpSupport(TFCheck):
    """TF208: ops that are not TFLite builtins or not in the TF.js converter's op list."""

    codes = ("TF208",)

    def visit_Call(self, ctx: FunctionContext, node: cst.Call) -> None:
        if not exported(ctx):
            return
        q = ctx.qualname(node.func)
        found = _judge(ctx.file, q) or _int64_only(ctx, q, node)
        if found is not None:
            exempt, fmt = found
            ctx.report("TF208", node, also_exempt=exempt, call=fmt["call"], ops=fmt["ops"], problem=fmt["problem"])

    def visit_Subscript(self, ctx: FunctionContext, node: cst.Subscript) -> None:
        """A new axis (``m[:, None, :, :]``, ``m[..., None]``) on a tensor with two or more dynamic dims, the
        subscript covering every dim: TFLite has no builtin for that ``StridedSlice`` (measured, TF 2.21: any
        dtype; ``m[:, None]`` of a rank-3 tensor, or one dynamic dim, converts)."""
        if not exported(ctx) or file_sites(ctx.file).select_ops:
            return
        shape = _new_axis_slice(ctx, node)
        if shape is None:
            return
        dynamic, how = shape
        code = ctx.code(node)
        ctx.report("TF208", node, also_exempt=frozenset({"tfjs"}), call=code, ops="StridedSlice",
                   problem=f"is not a TFLite builtin: a new axis on a tensor with {dynamic} dynamic dims ({how}), "
                           "indexed over every dim, converts only with SELECT_TF_OPS, and then needs the Flex "
                           "delegate; `expand_dims` converts")

    def check_file(self, fctx: FileContext) -> None:
        """Code traced with a model that no entry point reaches: the functions of ``keras.layers.Lambda``
        layers, and in tf_keras (Keras 2) files the TF ops a functional-model builder applies to
        symbolic tensors (tf_keras wraps each in a layer of the saved graph)."""
        if not fctx.summary.uses_tf:
            return
        uses = keras_uses(fctx)
        for call, top in uses.all_lambdas:
            fn = call.args[0].value if call.args and call.args[0].keyword is None else None
            if isinstance(fn, cst.Lambda):
                self._report_in(fctx, fn.body, top, "the `Lambda` layer's function")
        if fctx.summary.keras_flavor != "tf_keras":
            return
        for stmt in fctx.module.body:
            if isinstance(stmt, cst.FunctionDef) and stmt.name.value in uses.builders:
                self._report_in(fctx, stmt.body, stmt, stmt.name.value)

    def _report_in(self, fctx: FileContext, body: cst.CSTNode, top: cst.CSTNode, entry: str) -> None:
        for n in [body, *walk(body)]:
            if isinstance(n, cst.Call):
                found = _judge(fctx, fctx.qualify(dotted(n.func)))
                if found is not None:
                    exempt, fmt = found
                    fctx.report("TF208", n, top, None, exempt=exempt, entry_point=entry, call=fmt["call"],
                                ops=fmt["ops"], problem=fmt["problem"])


def _judge(fctx: FileContext, q: Optional[str]) -> Optional[Tuple[FrozenSet[str], Dict[str, str]]]:
    """(targets the call does not break, message fields) for a call of ``q``, or None when fine / unknown."""
    if not q or not q.startswith(_PREFIXES) or q in _ELSEWHERE:
        return None
    verdict = load_tf_tables().lookup(q)
    if verdict is None or not verdict.any:
        return None
    tflite = verdict.tflite
    if tflite == FLEX and file_sites(fctx).select_ops:
        tflite = None  # this file converts with SELECT_TF_OPS: it converts (TF207 warns about Flex)
    if tflite is None and not verdict.tfjs:
        return None
    exempt: FrozenSet[str] = frozenset(
        t for t, hit in (("tflite", tflite is not None), ("tfjs", verdict.tfjs)) if not hit
    )
    problems: List[str] = []
    if tflite == FLEX:
        problems.append("is not a TFLite builtin: converts only with SELECT_TF_OPS, "
                        "and then needs the Flex delegate")
    elif tflite == UNSUPPORTED:
        problems.append("cannot be converted to TFLite, not even with SELECT_TF_OPS")
    if verdict.tfjs:
        problems.append("is not in the TF.js converter's op list")
    ops = sorted(set(verdict.tflite_ops if tflite else ()) | set(verdict.tfjs_ops))
    short = q.replace("tensorflow.", "tf.", 1) if q.startswith("tensorflow.") else q
    return exempt, {"call": short, "ops": ", ".join(ops), "problem": "; it ".join(problems)}


def _int64_only(ctx: FunctionContext, q: Optional[str], node: cst.Call) -> Optional[Tuple[FrozenSet[str], Dict[str, str]]]:
    """``Abs`` / ``Sign`` of a tensor the code made int64 (the tables judge them on int32)."""
    if not q or not q.startswith(_PREFIXES) or not node.args or node.args[0].keyword is not None:
        return None
    entry = load_tf_tables().python.get(q.replace("tensorflow.keras.ops.", "keras.ops.", 1))
    ops = set(entry.get("ops", ())) if entry else set()
    if not ops or not ops <= _NOT_BUILTIN_ON_INT64 or file_sites(ctx.file).select_ops:
        return None
    arg = node.args[0].value
    if ctx.value(arg).dtype != "int64":
        return None
    short = q.replace("tensorflow.", "tf.", 1) if q.startswith("tensorflow.") else q
    return frozenset({"tfjs"}), {
        "call": short, "ops": ", ".join(sorted(ops)),
        "problem": f"on an int64 tensor (`{ctx.code(arg)}`) is not a TFLite builtin (on int32 it is): converts "
                   "only with SELECT_TF_OPS, and then needs the Flex delegate",
    }


def _new_axis_slice(ctx: FunctionContext, node: cst.Subscript) -> Optional[Tuple[int, str]]:
    """(dynamic dims, where they are declared) when ``node`` is a new-axis slice TFLite builtins cannot take.

    Known only for a parameter the function never rebinds: its literal ``input_signature`` shape gives rank
    and dynamic dims; a functional ``keras.Input`` the layer is applied to gives the dynamic dims only, so
    then only ``...`` subscripts (which cover every dim whatever the rank) are judged."""
    if not isinstance(node.value, cst.Name):
        return None
    new_axes = others = 0
    ellipsis = False
    for el in node.slice:
        part = el.slice
        if isinstance(part, cst.Slice):
            others += 1
            continue
        if not isinstance(part, cst.Index) or part.star is not None:
            return None
        value = part.value
        if isinstance(value, cst.Ellipsis):
            if ellipsis:
                return None
            ellipsis = True
        elif (isinstance(value, cst.Name) and value.value == "None") or ctx.qualname(value) in _NEW_AXIS:
            new_axes += 1
        elif isinstance(value, cst.Integer) or (
            isinstance(value, cst.UnaryOperation) and isinstance(value.operator, cst.Minus)
            and isinstance(value.expression, cst.Integer)
        ):
            others += 1
        else:
            return None  # a tensor or variable index: a gather, or not known
    if not new_axes:
        return None
    name = node.value.value
    if name in _rebound(ctx) or ctx.value(node.value).kind != Kind.TENSOR:
        return None
    dims = signature_dims(ctx, name)
    if dims is not None:
        dynamic = sum(d is None for d in dims)
        covers = ellipsis or others == len(dims)
        how = f"`input_signature` shape {list(dims)}"
    else:
        dyn = ctx.value(node.value).dyn_dims
        dynamic, covers = len(dyn), ellipsis
        how = "a `keras.Input` with `None` dims"
    if dynamic < 2 or not covers:
        return None
    return dynamic, how


def _rebound(ctx: FunctionContext) -> Set[str]:
    """Names the walked function assigns (its parameters' declared shapes do not hold for them)."""
    key = "TF208.rebound"
    found = ctx.scratch.get(dict, key)
    if "names" not in found:
        found["names"] = assigned_names(ctx.node.body)
    return found["names"]
