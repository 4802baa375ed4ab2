"""Real exports behind the precision fixtures (issue 13): what each target does with the look-alikes.

Run by tests/test_precision_facts.py in ONE subprocess (torch imported once); prints ``RESULT <json>``.
Each case maps target -> OK / SILENT (wrong values for another input) / FAIL <exception type>.
"""

from __future__ import annotations

import io
import json
import warnings
from typing import Dict, List, Optional

import torch
from torch import nn

EXAMPLE = torch.randn(2, 3, 4, 4)
OTHER = -EXAMPLE.flip(0) * 3


class OptionalDictOr(nn.Module):
    """``cache = cache or {}`` on an ``Optional[Dict[str, Tensor]]`` parameter."""

    def forward(self, x: torch.Tensor, cache: Optional[Dict[str, torch.Tensor]] = None) -> torch.Tensor:
        cache = cache or {}
        if "k" in cache:
            x = x + cache["k"]
        return x * 2


class OptionalIntTruth(nn.Module):
    """``if k:`` on an ``Optional[int]`` parameter."""

    def forward(self, x: torch.Tensor, k: Optional[int] = None) -> torch.Tensor:
        if k:
            x = x * k
        return x + 1


class Window(nn.Module):
    def forward(self, x: torch.Tensor, H: int, W: int) -> torch.Tensor:
        B, L, C = x.shape
        assert L == H * W, "input feature has wrong size"
        if H % 2 == 1:
            x = x[:, :-1]
        return x * 2


class WindowStage(nn.Module):
    """A submodule ``forward(x, H, W)`` called with ``H, W = x.shape[2:]``: sizes, not tensor data."""

    def __init__(self) -> None:
        super().__init__()
        self.block = Window()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        H, W = x.shape[2:]
        return self.block(x.flatten(2).transpose(1, 2), H, W)


class Levels(nn.Module):
    """``for f in features`` over a ``List[Tensor]``: a loop over levels, not rows."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.merge([x, x * 2, x * 3])

    def merge(self, features: List[torch.Tensor]) -> torch.Tensor:
        out = features[0]
        for f in features:
            out = out + f
        return out


@torch.jit.script_if_tracing
def _scripted_branch(x: torch.Tensor) -> torch.Tensor:
    if bool(x.sum() > 0):
        return x * 2
    return x - 1


class ScriptIfTracing(nn.Module):
    """A data-dependent branch inside ``@torch.jit.script_if_tracing``: tracing scripts it (both branches kept)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _scripted_branch(x)


class DropPathEval(nn.Module):
    """``if p == 0. or not self.training: return x`` before training-only randomness."""

    def __init__(self, p: float = 0.1) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.p == 0.0 or not self.training:
            return x
        keep = torch.rand(x.shape[0], 1, 1, 1) > self.p
        if keep.sum() == 0:
            return x * 0
        return x * keep / (1 - self.p)


class IsCompiling(nn.Module):
    """Which targets see ``torch.compiler.is_compiling()`` true (the doubled output shows it)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.compiler.is_compiling():
            return x * 2
        return x + 1


class InOnnxExport(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.onnx.is_in_onnx_export():
            return x * 2
        return x + 1


def outcome(fn) -> str:  # type: ignore[no-untyped-def]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn()
    except Exception as exc:  # noqa: BLE001 - the point is to record it
        return "FAIL " + type(exc).__name__


def same(run, model) -> str:  # type: ignore[no-untyped-def]
    for x in (EXAMPLE, OTHER):
        if not torch.allclose(run(x), model(x)):
            return "SILENT"
    return "OK"


def onnx(model, dynamo: bool) -> str:  # type: ignore[no-untyped-def]
    def run() -> str:
        import onnxruntime as ort

        buf = io.BytesIO()
        if dynamo:
            data = torch.onnx.export(model, (EXAMPLE,), dynamo=True, verbose=False).model_proto.SerializeToString()
        else:
            torch.onnx.export(model, (EXAMPLE,), buf, dynamo=False)
            data = buf.getvalue()
        sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
        name = sess.get_inputs()[0].name
        return same(lambda t: torch.from_numpy(sess.run(None, {name: t.numpy()})[0]), model)

    return outcome(run)


def main() -> None:
    out: Dict[str, Dict[str, str]] = {}
    for cls in (
        OptionalDictOr,
        OptionalIntTruth,
        WindowStage,
        Levels,
        ScriptIfTracing,
        DropPathEval,
        IsCompiling,
        InOnnxExport,
    ):
        model = cls().eval()
        out[cls.__name__] = {
            "torchscript-script": outcome(lambda m=model: (torch.jit.script(m), "OK")[1]),
            "torchscript-trace": outcome(lambda m=model: same(torch.jit.trace(m, (EXAMPLE,), check_trace=False), m)),
            "torch-export": outcome(lambda m=model: same(torch.export.export(m, (EXAMPLE,)).module(), m)),
            "onnx-dynamo": onnx(model, True),
            "onnx-legacy": onnx(model, False),
        }
    print("RESULT " + json.dumps(out))


if __name__ == "__main__":
    main()
