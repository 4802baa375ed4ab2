"""Rule implementations. Each check reports codes whose text lives in the catalogue (``rules/``).

To add a check: subclass ``Check`` in a module here, set ``codes``, implement ``visit_<NodeType>``
methods (LibCST class names, called by the walker with a ``FunctionContext``) and/or
``check_file(fctx)`` for per-file rules, and list the class in ``ALL_CHECKS``.
"""

from __future__ import annotations

from typing import List, Type

from mllint.checks.base import Check
from mllint.checks.unsupported.torch_constructs import GraphStateAndInternals, ScriptConstructs, ScriptOptionalTruth
from mllint.checks.control_flow.torch_control_flow import TensorBranch
from mllint.checks.dynamic_shape.torch_shapes import DynamicSizeAsPython
from mllint.checks.signature.torch_signatures import TorchExportSignatures
from mllint.checks.signature.torch_legacy_inputs import LegacyPositionalInputs, TraceKeywordInputs
from mllint.checks.control_flow.torch_graph import HardCodedDevice, LeavingTheGraph, TensorLoops
from mllint.checks.unsupported.torch_ops import TorchOpSupport
from mllint.checks.unsupported.torch_traced_sizes import TracedSizeAsPython
from mllint.checks.control_flow.tf_autograph import TFAutoGraphLimits, TFUnconvertedControlFlow
from mllint.checks.unsupported.tf_conversion import TFLiteConversionPaths
from mllint.checks.control_flow.tf_effects import TFPythonState, TFTraceTimeEffects
from mllint.checks.control_flow.tf_graph import TFLeavingTheGraph
from mllint.checks.unsupported.tf_ops import TFOpSupport
from mllint.checks.unsupported.tf_portability import TFPortability
from mllint.checks.signature.tf_serialization import TFKerasSerialization
from mllint.checks.dynamic_shape.tf_shapes import TFStaticShape
from mllint.checks.signature.tf_signatures import TFSavedSignatures
from mllint.checks.unsupported.tf_state import TFStateInTrace
from mllint.checks.unsupported.pt_export_unflattenable_output import ExportUnflattenableOutput
from mllint.checks.unsupported.pt_higher_order_op_outside_export import HigherOrderOpOutsideExport
from mllint.checks.unsupported.pt_script_branch_type_mismatch import ScriptBranchTypeMismatch
from mllint.checks.dynamic_shape.pt_dynamic_dim_sliced import DynamicDimSliced
from mllint.checks.unsupported.pt_script_typing import ScriptTyping

ALL_CHECKS: List[Type[Check]] = [
    TensorBranch,
    LeavingTheGraph,
    TensorLoops,
    HardCodedDevice,
    DynamicSizeAsPython,
    ScriptConstructs,
    ScriptOptionalTruth,
    GraphStateAndInternals,
    TorchExportSignatures,
    LegacyPositionalInputs,
    TraceKeywordInputs,
    TorchOpSupport,
    TracedSizeAsPython,
    TFLeavingTheGraph,
    TFTraceTimeEffects,
    TFPythonState,
    TFUnconvertedControlFlow,
    TFAutoGraphLimits,
    TFStateInTrace,
    TFPortability,
    TFLiteConversionPaths,
    TFStaticShape,
    TFSavedSignatures,
    TFKerasSerialization,
    TFOpSupport,
    ExportUnflattenableOutput,
    HigherOrderOpOutsideExport,
    ScriptBranchTypeMismatch,
    DynamicDimSliced,
    ScriptTyping,
]
