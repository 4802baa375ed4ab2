"""What a PyTorch class's ``forward`` does that no exported model does.

Without export calls or configured entry points, every model class is an entry point except losses,
training wrappers and inference runners (``mllint.entries`` decides, from these facts and the class's
bases). The facts are read once per class while its file is summarised (one walk of ``forward``'s
nodes), and kept in the cached ``ClassSummary``. Each fact is strict on purpose: a model that is
excluded by mistake loses all its findings, so only unambiguous signs count.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Set

import libcst as cst

from mllint._compat import SLOTS
from mllint.analysis.names import child_nodes, dotted, qualify

#: Parameter names that hold the training targets of a loss.
TARGET_PARAMS = frozenset(
    {
        "target",
        "targets",
        "label",
        "labels",
        "y",
        "y_true",
        "gt",
        "gts",
        "ground_truth",
        "groundtruth",
        "truth",
        "true",
        "tgt",
        "gt_labels",
        "gt_boxes",
        "gt_masks",
        "target_labels",
    }
)
#: Calls that read files or URLs or decode images: a model's ``forward`` takes tensors, a runner's takes paths.
RUNNER_CALLS = frozenset(
    {
        "open",
        "PIL.Image.open",
        "cv2.imread",
        "cv2.imdecode",
        "cv2.VideoCapture",
        "urllib.request.urlopen",
        "requests.get",
        "torchvision.io.read_image",
        "torchvision.io.decode_image",
        "torchvision.io.read_file",
        "imageio.imread",
        "imageio.v3.imread",
        "skimage.io.imread",
        "onnxruntime.InferenceSession",
        "tensorrt.Runtime",
        "openvino.runtime.Core",
        "openvino.Core",
    }
)
#: Export-backend names a runner dispatches on (``if self.backend == "onnx":``).
BACKEND_NAMES = frozenset(
    {
        "onnx",
        "onnxruntime",
        "ort",
        "tensorrt",
        "trt",
        "engine",
        "openvino",
        "coreml",
        "tflite",
        "edgetpu",
        "tfjs",
        "torchscript",
        "saved_model",
        "savedmodel",
        "pb",
        "paddle",
        "ncnn",
        "triton",
        "mnn",
        "rknn",
    }
)
#: ``self.<flag>`` attributes that name backends (``if self.onnx: ... elif self.engine:``): two or more tested
BACKEND_FLAGS = frozenset(
    {
        "onnx",
        "engine",
        "tflite",
        "coreml",
        "openvino",
        "saved_model",
        "pb",
        "jit",
        "triton",
        "paddle",
        "ncnn",
        "tfjs",
        "edgetpu",
        "xml",
        "dnn",
        "onnx_dynamic",
    }
)
_LOSS_FUNCTIONS = ("loss", "cross_entropy", "binary_cross_entropy", "nll", "kl_div", "ctc")


@dataclass(frozen=True, **SLOTS)
class RoleFacts:
    """Facts about one class's ``forward`` (None fields: not seen)."""

    #: ``forward`` calls ``<x>.backward()``
    backward: bool = False
    #: a required target parameter (``forward(self, x, labels)``) that is passed to a loss call
    loss_from: Optional[str] = None
    #: a required target parameter, whatever ``forward`` does with it (for classes named ``*Loss``)
    target_param: Optional[str] = None
    #: why ``forward`` looks like an inference runner ("calls PIL.Image.open"), if it does
    runner: Optional[str] = None


def _is_loss_call(name: str) -> bool:
    last = name.rsplit(".", 1)[-1].lower()
    return any(k in last for k in _LOSS_FUNCTIONS) or "criterion" in last


#: A file whose text matches none of these cannot hold any walked fact (the walk of ``forward`` is skipped).
_HINT = re.compile(
    r"backward|open\(|imread|imdecode|urlopen|requests|InferenceSession|read_image|decode_image|"
    r"isinstance|loss|criterion|Runtime|Core\(|self\.\w+\s*(?:==|!=|in\b|:|or\b|and\b|else)",
    re.I,
)


def role_facts(fn: cst.FunctionDef, aliases: Dict[str, str], text: str = "") -> Optional[RoleFacts]:
    """The facts of ``forward`` (None when it shows none: the common case, kept small in the cache)."""
    params = list(fn.params.posonly_params) + list(fn.params.params) + list(fn.params.kwonly_params)
    required = [p.name.value for p in params if p.default is None and p.name.value != "self"]
    targets = [n for n in required if n.lower() in TARGET_PARAMS]
    # the model input (the first parameter after ``self``): a runner's may be a path; a flag that may be a
    # string (``isinstance(mode, str)``) says nothing
    inputs = [p.name.value for p in params if p.name.value != "self"][:1]
    param_names = set(inputs)
    backward = False
    loss_from: Optional[str] = None
    runner: Optional[str] = None
    flags: Set[str] = set()
    stack: List[cst.CSTNode] = [fn.body] if _HINT.search(text) else []
    while stack:
        node = stack.pop()
        if isinstance(node, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            continue  # nested definitions are not what forward itself does
        if isinstance(node, cst.Call):
            raw = dotted(node.func) or ""
            name = qualify(raw, aliases) or raw
            if isinstance(node.func, cst.Attribute) and node.func.attr.value == "backward":  # ``loss.backward(...)``
                backward = True
            if runner is None and name in RUNNER_CALLS:
                runner = f"calls {name}"
            if runner is None and raw == "isinstance" and len(node.args) == 2:
                first, kinds = node.args[0].value, node.args[1].value
                names = {dotted(e.value) for e in kinds.elements} if isinstance(kinds, cst.Tuple) else {dotted(kinds)}
                if (
                    isinstance(first, cst.Name)
                    and first.value in param_names
                    and names & {"str", "Path", "pathlib.Path"}
                ):
                    runner = f"takes a file path ('{first.value}' may be a str)"
            if targets and loss_from is None and raw and _is_loss_call(raw):
                used = {n.value for a in node.args for n in _names(a.value)}
                hit = next((t for t in targets if t in used), None)
                if hit is not None:
                    loss_from = hit
        elif isinstance(node, cst.Comparison) and runner is None:
            for operand in [node.left, *(c.comparator for c in node.comparisons)]:
                if isinstance(operand, cst.SimpleString) and str(operand.evaluated_value).lower() in BACKEND_NAMES:
                    runner = f"dispatches on the backend name {operand.value}"
        elif isinstance(node, (cst.If, cst.IfExp)):
            test = node.test
            for part in [test, *_bool_parts(test)]:
                n = dotted(part) if isinstance(part, (cst.Attribute, cst.Name)) else None
                if n and n.startswith("self.") and n[5:] in BACKEND_FLAGS:
                    flags.add(n[5:])
        stack.extend(child_nodes(node))
    if runner is None and len(flags) >= 2:
        runner = "dispatches on backend flags (" + ", ".join(f"self.{f}" for f in sorted(flags)) + ")"
    facts = RoleFacts(backward, loss_from, targets[0] if targets else None, runner)
    return None if facts == RoleFacts() else facts


def _bool_parts(node: cst.BaseExpression) -> List[cst.BaseExpression]:
    if isinstance(node, cst.BooleanOperation):
        return [*_bool_parts(node.left), node.left, *_bool_parts(node.right), node.right]
    if isinstance(node, cst.UnaryOperation):
        return [node.expression]
    return []


def _names(node: cst.CSTNode) -> List[cst.Name]:
    out: List[cst.Name] = []
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, cst.Name):
            out.append(n)
        else:
            stack.extend(child_nodes(n))
    return out
