"""State created while TensorFlow traces (family: unsupported).

TF201 ``tf.Variable`` in traced code (the ``if self.v is None`` lazy pattern is fine), TF202 a Keras
layer with weights constructed inside ``call()``, TF203 ``add_weight`` or a new sub-layer assigned
to ``self`` inside ``call()``.
"""

from __future__ import annotations

import re
from typing import Optional, Set

import libcst as cst

from mllint.analysis.names import dotted
from mllint.analysis.walker import FunctionContext
from mllint.checks.tf_scope import TFCheck, exported, lazy_guarded

_VARIABLE_CALLS = frozenset({"tensorflow.Variable", "tensorflow.compat.v1.Variable", "keras.Variable",
                             "keras.backend.Variable", "keras.src.backend.Variable"})
_LAYER_NAMESPACES = ("keras.layers.", "tensorflow.keras.layers.", "tf_keras.layers.", "keras.src.layers.")
#: Built-in Keras layers that create variables (weights, or a seed generator's state).
_WEIGHTED = re.compile(
    r"^(Dense|EinsumDense|Embedding|Conv\w*|Convolution\w*|DepthwiseConv\w*|SeparableConv\w*|\w*LSTM\w*|\w*GRU\w*|"
    r"SimpleRNN\w*|RNN|Bidirectional|TimeDistributed|\w*Normalization|MultiHeadAttention|GroupedQueryAttention|"
    r"AdditiveAttention|Attention|PReLU|\w*Dropout\w*|Gaussian\w*|Random\w+|StringLookup|IntegerLookup|"
    r"TextVectorization)$"
)
_ADD_STATE = frozenset({"self.add_weight", "self.add_variable"})


class TFStateInTrace(TFCheck):
    """TF201-TF203: variables and weighted layers created while tracing."""

    codes = ("TF201", "TF202", "TF203")

    @staticmethod
    def _assigned_to_self(ctx: FunctionContext) -> Set[cst.CSTNode]:
        """Layer constructions this walk assigns to ``self.<name>`` (TF203, not TF202)."""
        return ctx.scratch.get(set, "TF203.assigned_to_self")

    def _weighted_layer(self, ctx: FunctionContext, call: cst.Call) -> Optional[str]:
        """The class name when ``call`` constructs a Keras layer that owns variables."""
        q = ctx.qualname(call.func)
        name = dotted(call.func)
        if q is None and name in ctx.file.summary.classes:  # a class of this file
            q = ctx.file.summary.classes[name].qualname
        if q is None:
            return None
        if q.startswith(_LAYER_NAMESPACES):
            last = q.rsplit(".", 1)[-1]
            return last if _WEIGHTED.match(last) else None
        cls = ctx.index.resolve_class(q)
        if cls is None or ctx.index.framework_of(cls) != "keras":
            return None
        mro = ctx.index.mro(cls)
        owns_state = any(a.kind in ("module", "module_list", "tensor") for c in mro for a in c.attrs.values())
        return cls.name if owns_state or any("build" in c.methods for c in mro) else None

    def _in_keras_class(self, ctx: FunctionContext) -> bool:
        return ctx.self_class is not None and ctx.index.framework_of(ctx.self_class) == "keras"

    def visit_Assign(self, ctx: FunctionContext, node: cst.Assign) -> None:
        if not exported(ctx) or not self._in_keras_class(ctx) or not isinstance(node.value, cst.Call):
            return
        for t in node.targets:
            name = dotted(t.target) or ""
            if name.startswith("self.") and name.count(".") == 1:
                layer = self._weighted_layer(ctx, node.value)
                if layer is not None:
                    self._assigned_to_self(ctx).add(node.value)
                    ctx.report("TF203", node.value, expr=ctx.code(node.value), what=f"a new `{layer}` sub-layer")
                    return

    def visit_Call(self, ctx: FunctionContext, node: cst.Call) -> None:
        if not exported(ctx):
            return
        name = dotted(node.func)
        if name in _ADD_STATE and self._in_keras_class(ctx):
            ctx.report("TF203", node, expr=ctx.code(node), what="a weight")
            return
        q = ctx.qualname(node.func) if name else None
        if q in _VARIABLE_CALLS:
            if not lazy_guarded(ctx):
                ctx.report("TF201", node, expr=ctx.code(node))
            return
        if node in self._assigned_to_self(ctx):
            return
        layer = self._weighted_layer(ctx, node) if name else None
        if layer is not None:
            ctx.report("TF202", node, expr=ctx.code(node), layer=layer)
