"""Graph code that runs in TensorFlow but does not travel (family: unsupported).

TF204 host Python callbacks (``tf.py_function`` / ``tf.numpy_function``), TF205 validation ops that
TFLite drops (``tf.debugging.assert_*``, ``tf.Assert``, ``check_numerics``).
"""

from __future__ import annotations

import libcst as cst

from mllint.analysis.walker import FunctionContext
from mllint.checks.tf_scope import TFCheck, exported

_HOST_CALLBACKS = frozenset({"tensorflow.py_function", "tensorflow.numpy_function", "tensorflow.py_func",
                             "tensorflow.compat.v1.py_func", "tensorflow.compat.v1.py_function",
                             "tensorflow.compat.v1.numpy_function"})
_VALIDATION = frozenset({"tensorflow.Assert", "tensorflow.debugging.Assert", "tensorflow.debugging.check_numerics",
                         "tensorflow.check_numerics", "tensorflow.compat.v1.check_numerics",
                         "tensorflow.debugging.assert_all_finite"})
_VALIDATION_PREFIXES = ("tensorflow.debugging.assert_", "tensorflow.assert_", "tensorflow.compat.v1.assert_",
                        "tensorflow.compat.v1.debugging.assert_")


class TFPortability(TFCheck):
    """TF204 host callbacks and TF205 dropped validation in exported code."""

    codes = ("TF204", "TF205")

    def visit_Call(self, ctx: FunctionContext, node: cst.Call) -> None:
        if not exported(ctx):
            return
        q = ctx.qualname(node.func)
        if not q:
            return
        if q in _HOST_CALLBACKS:
            ctx.report("TF204", node, call=q.replace("tensorflow.", "tf.", 1))
        elif q in _VALIDATION or q.startswith(_VALIDATION_PREFIXES):
            ctx.report("TF205", node, call=q.replace("tensorflow.", "tf.", 1))
