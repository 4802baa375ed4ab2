"""The documented rich form a model factory may return (importable without torch or TensorFlow)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Sequence, Tuple


@dataclass
class ExportSpec:
    """A model and how to call it, for ``mllint check --confirm``.

    A factory may return this, a dict with the same keys, or simply ``(model, example_args)``.

    * ``model``: a ``torch.nn.Module``, a ``keras.Model`` / Keras layer, or a ``tf.Module``.
    * ``args`` / ``kwargs``: example inputs (tensors or NumPy arrays), passed as ``model(*args, **kwargs)``.
    * ``dynamic_shapes``: PyTorch only, as ``torch.export.export`` takes it; also used for the ONNX
      exporters. Without it exported PyTorch graphs are static and are compared on same-shape inputs only.
    * ``input_signature``: TensorFlow/Keras only, a list of ``tf.TensorSpec`` (one per positional argument);
      without ``args`` the example inputs are generated from it.
    * ``probes``: further inputs to compare on, each an args tuple or a dict ``{"args": ..., "kwargs": ...}``.
      Without them mllint derives two: the example with other values, and another batch size.
    * ``tolerance``: absolute and relative tolerance of the comparisons (overrides the config's).
    """

    model: Any
    args: Tuple[Any, ...] = ()
    kwargs: Dict[str, Any] = field(default_factory=dict)
    dynamic_shapes: Any = None
    input_signature: Optional[Sequence[Any]] = None
    probes: Optional[Sequence[Any]] = None
    tolerance: Optional[float] = None


SPEC_KEYS = ("model", "args", "kwargs", "dynamic_shapes", "input_signature", "probes", "tolerance")
