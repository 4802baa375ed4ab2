"""The export targets (one table), severities and effects.

Every hazard is judged per target; target names are a public contract (config, JSON, SARIF). Each
target is defined once, in ``TARGETS``: the walker's guards, the checks, the reporters, the docs, the
CLI and the ``--confirm`` runners all read it. Adding a target is one row here (plus its runner
method and the rule cards that name it); see CONTRIBUTING.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Dict, FrozenSet, Optional, Tuple


@dataclass(frozen=True)
class Target:
    """One export target.

    ``family``: how the exporter captures the model (script / trace / export / onnx / tf-graph /
    keras-file / tflite / tfjs). ``capture``: the machinery underneath (``script``: the TorchScript
    compiler; ``jit-trace``: the TorchScript tracer; ``dynamo``: torch.export's graph capture;
    ``tf-function``: a TensorFlow trace), which decides what rules apply. ``guards``: qualified calls
    that return True while exporting to this target, so code they guard is (or is not) exported for
    it. ``runner``: the confirm runner's method for a real export (``--confirm``).
    """

    name: str
    framework: str  # "torch" or "tensorflow"
    family: str
    capture: str
    description: str
    short: str  # the column heading of the --confirm table
    guards: Tuple[str, ...] = ()
    runner: Optional[str] = None


TARGETS: Tuple[Target, ...] = (
    Target(
        "torchscript-script",
        "torch",
        "script",
        "script",
        "torch.jit.script: TorchScript compiled from the source",
        "script",
        guards=("torch.jit.is_scripting",),
        runner="_run_torchscript_script",
    ),
    Target(
        "torchscript-trace",
        "torch",
        "trace",
        "jit-trace",
        "torch.jit.trace: TorchScript recorded from one run",
        "trace",
        guards=("torch.jit.is_tracing", "torch._C._get_tracing_state"),
        runner="_run_torchscript_trace",
    ),
    Target(
        "torch-export",
        "torch",
        "export",
        "dynamo",
        "torch.export.export: an ExportedProgram (dynamo capture)",
        "export",
        guards=(
            "torch.compiler.is_exporting",
            "torch.compiler.is_compiling",
            "torch.compiler.is_dynamo_compiling",
            "torch._dynamo.is_compiling",
        ),
        runner="_run_torch_export",
    ),
    Target(
        "onnx-dynamo",
        "torch",
        "onnx",
        "dynamo",
        "torch.onnx.export(dynamo=True): ONNX from torch.export",
        "dynamo",
        guards=(
            "torch.onnx.is_in_onnx_export",
            "torch.compiler.is_exporting",
            "torch.compiler.is_compiling",
            "torch.compiler.is_dynamo_compiling",
            "torch._dynamo.is_compiling",
        ),
        runner="_run_onnx_dynamo",
    ),
    Target(
        "onnx-legacy",
        "torch",
        "onnx",
        "jit-trace",
        "torch.onnx.export(dynamo=False): ONNX from the TorchScript tracer",
        "legacy",
        guards=("torch.onnx.is_in_onnx_export", "torch.jit.is_tracing", "torch._C._get_tracing_state"),
        runner="_run_onnx_legacy",
    ),
    Target(
        "savedmodel",
        "tensorflow",
        "tf-graph",
        "tf-function",
        "tf.saved_model.save: a SavedModel of traced tf.functions",
        "saved",
        guards=("tensorflow.inside_function",),
        runner="_run_savedmodel",
    ),
    Target(
        "keras-file",
        "tensorflow",
        "keras-file",
        "tf-function",
        "model.save('m.keras'): a Keras 3 archive",
        "keras",
        runner="_run_keras_file",
    ),
    Target(
        "tflite",
        "tensorflow",
        "tflite",
        "tf-function",
        "tf.lite.TFLiteConverter: a TFLite / LiteRT flatbuffer",
        "tflite",
        guards=("tensorflow.inside_function",),
        runner="_run_tflite",
    ),
    Target(
        "tfjs",
        "tensorflow",
        "tfjs",
        "tf-function",
        "tensorflowjs converter: a TF.js graph model",
        "tfjs",
        guards=("tensorflow.inside_function",),
    ),
)


def target_names(framework: Optional[str] = None) -> Tuple[str, ...]:
    """Target names in table order (of one framework, if given). Read at call time: the table is the truth."""
    return tuple(t.name for t in TARGETS if framework is None or t.framework == framework)


def target(name: str) -> Target:
    """The table row of ``name`` (KeyError if unknown)."""
    for t in TARGETS:
        if t.name == name:
            return t
    raise KeyError(name)


def runner_of(name: str) -> str:
    """The confirm runner's method for ``name`` (KeyError if the target has no real export here)."""
    runner = target(name).runner
    if runner is None:
        raise KeyError(f"{name} has no --confirm runner")
    return runner


def targets_where(**fields: str) -> FrozenSet[str]:
    """Names of the targets whose fields equal ``fields`` (``targets_where(capture="dynamo")``)."""
    return frozenset(t.name for t in TARGETS if all(getattr(t, k) == v for k, v in fields.items()))


def guard_targets() -> Dict[str, FrozenSet[str]]:
    """Guard call -> the targets under which it returns True."""
    out: Dict[str, FrozenSet[str]] = {}
    for t in TARGETS:
        for g in t.guards:
            out[g] = out.get(g, frozenset()) | {t.name}
    return out


#: Snapshots of the table for code that needs a constant (config defaults, annotations).
TORCH_TARGETS: Tuple[str, ...] = target_names("torch")
TF_TARGETS: Tuple[str, ...] = target_names("tensorflow")
ALL_TARGETS: Tuple[str, ...] = target_names()

#: What happens to the exported artifact on a target, as measured in the research reports.
EFFECTS: Dict[str, str] = {
    "fails": "the export raises",
    "silent": "exports, but the artifact silently computes something else",
    "run-fails": "exports, but the artifact fails on other inputs",
    "crashes": "the exporter crashes the process",
    "degrades": "exports, but with a portability or serving cost",
}

FAMILIES: Dict[str, str] = {
    "control-flow": "data-dependent control flow",
    "unsupported": "unsupported ops and constructs",
    "dynamic-shape": "dynamic shapes",
    "signature": "missing signatures",
    "tool": "mllint diagnostics",
    "confirm": "export confirmation",
}


class Severity(str, Enum):
    """Finding severity; ordered so that ``max`` picks the most severe."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @classmethod
    def parse(cls, value: str) -> "Severity":
        try:
            return cls(value.lower())
        except ValueError:
            raise ValueError(f"unknown severity {value!r} (expected one of: error, warning, info)") from None


_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.ERROR: 2}


# -- default targets ``auto``: the targets whose export calls appear in the project ----------------------

#: The targets judged when no export call is found (TorchScript is deprecated; TF.js is niche).
MODERN_TARGETS: Tuple[str, ...] = ("torch-export", "onnx-dynamo", "savedmodel", "keras-file", "tflite")

#: Export API (qualified, canonical) -> the target it exports to. ``torch.onnx.export`` is onnx-dynamo
#: unless called with ``dynamo=False`` (see ``export_target``); the method forms ``model.export(...)`` and
#: ``model.save("m.keras")`` are read by the summary (``analysis/summary.py``) and named here by ``.export`` /
#: ``.save``.
EXPORT_API_TARGETS: Dict[str, str] = {
    "torch.jit.script": "torchscript-script",
    "torch.jit.trace": "torchscript-trace",
    "torch.jit.trace_module": "torchscript-trace",
    "torch.export.export": "torch-export",
    "torch.export._trace._export": "torch-export",
    "torch.onnx.export": "onnx-dynamo",
    "torch.onnx.dynamo_export": "onnx-dynamo",
    "tensorflow.saved_model.save": "savedmodel",
    ".export": "savedmodel",
    ".save": "keras-file",
    "tensorflow.lite.TFLiteConverter.from_keras_model": "tflite",
    "tensorflow.lite.TFLiteConverter.from_concrete_functions": "tflite",
    "tensorflow.lite.TFLiteConverter.from_saved_model": "tflite",
    "tensorflowjs.converters.save_keras_model": "tfjs",
    "tensorflowjs.converters.convert_tf_saved_model": "tfjs",
    "tensorflowjs.converters.convert": "tfjs",
}


def export_target(api: str, keywords: Dict[str, str]) -> Optional[str]:
    """The target an export call exports to, from its API and its literal keyword arguments (source text)."""
    found = EXPORT_API_TARGETS.get(api)
    if api == "torch.onnx.export" and keywords.get("dynamo") == "False":
        return "onnx-legacy"
    if api == ".export":  # Keras 3 ``model.export(path, format=...)``: "tf_saved_model" (default) or "litert"
        fmt = keywords.get("format", "").strip("'\"").lower()
        if fmt in ("litert", "tflite"):
            return "tflite"
        if fmt and fmt != "tf_saved_model":
            return None  # "onnx", "openvino": no target of ours
    return found
