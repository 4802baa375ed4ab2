"""The fixed vocabulary of export targets, severities and effects.

Every hazard is judged per target; these names are a public contract (config, JSON, SARIF).
"""

from __future__ import annotations

from enum import Enum
from typing import Dict, Tuple

TORCH_TARGETS: Tuple[str, ...] = (
    "torchscript-script",
    "torchscript-trace",
    "torch-export",
    "onnx-dynamo",
    "onnx-legacy",
)
TF_TARGETS: Tuple[str, ...] = ("savedmodel", "keras-file", "tflite", "tfjs")
ALL_TARGETS: Tuple[str, ...] = TORCH_TARGETS + TF_TARGETS

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
            raise ValueError(
                f"unknown severity {value!r} (expected one of: error, warning, info)"
            ) from None


_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.ERROR: 2}
