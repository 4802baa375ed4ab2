"""TF ops that TFLite or TF.js cannot take (family: unsupported).

TF208: a call in exported TF code whose qualified name maps, through the generated op tables
(``rules/data/tf_ops.json``, see ``mllint.optables.tf_tables``), to a TensorFlow op that is not a
TFLite builtin (Flex-only, or not convertible at all) or that the TF.js converter rejects.
``tf.raw_ops.X`` is judged by op name. Only measured verdicts count: names whose outcome depended on
dtypes or arguments are never reported.
"""

from __future__ import annotations

from typing import Dict, FrozenSet, List, Optional, Tuple

import libcst as cst

from mllint.analysis.names import dotted
from mllint.analysis.walker import FileContext, FunctionContext
from mllint.checks.signature.tf_serialization import keras_uses
from mllint.checks.tf_scope import TFCheck, exported, walk
from mllint.checks.tf_sites import file_sites
from mllint.optables.tf_tables import FLEX, UNSUPPORTED, load_tf_tables

#: Reported by other rules (TF204 host callbacks).
_ELSEWHERE = frozenset({"tensorflow.py_function", "tensorflow.numpy_function", "tensorflow.compat.v1.py_func",
                        "tensorflow.raw_ops.EagerPyFunc", "tensorflow.raw_ops.PyFunc",
                        "tensorflow.raw_ops.PyFuncStateless"})
_PREFIXES = ("tensorflow.", "keras.ops.")


class TFOpSupport(TFCheck):
    """TF208: ops that are not TFLite builtins or not in the TF.js converter's op list."""

    codes = ("TF208",)

    def visit_Call(self, ctx: FunctionContext, node: cst.Call) -> None:
        if not exported(ctx):
            return
        found = _judge(ctx.file, ctx.qualname(node.func))
        if found is not None:
            exempt, fmt = found
            ctx.report("TF208", node, also_exempt=exempt, call=fmt["call"], ops=fmt["ops"], problem=fmt["problem"])

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
