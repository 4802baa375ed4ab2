"""TF ops that TFLite or TF.js cannot take (family: unsupported).

TF208: a call in exported TF code whose qualified name maps, through the generated op tables
(``rules/data/tf_ops.json``, see ``mllint.optables.tf_tables``), to a TensorFlow op that is not a
TFLite builtin (Flex-only, or not convertible at all) or that the TF.js converter rejects.
``tf.raw_ops.X`` is judged by op name. Only measured verdicts count: names whose outcome depended on
dtypes or arguments are never reported.
"""

from __future__ import annotations

from typing import FrozenSet, List

import libcst as cst

from mllint.analysis.walker import FunctionContext
from mllint.checks.tf_scope import TFCheck, exported
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
        q = ctx.qualname(node.func)
        if not q or not q.startswith(_PREFIXES) or q in _ELSEWHERE:
            return
        verdict = load_tf_tables().lookup(q)
        if verdict is None or not verdict.any:
            return
        tflite = verdict.tflite
        if tflite == FLEX and file_sites(ctx.file).select_ops:
            tflite = None  # this file converts with SELECT_TF_OPS: it converts (TF207 warns about Flex)
        if tflite is None and not verdict.tfjs:
            return
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
        ctx.report("TF208", node, also_exempt=exempt, call=short, ops=", ".join(ops),
                   problem="; it ".join(problems))
