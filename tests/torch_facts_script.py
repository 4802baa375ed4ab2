"""Run tiny modules through the real PyTorch exporters and print what happened (JSON).

Used by tests/test_torch_facts.py in ONE subprocess, so torch is imported once.
"""

from __future__ import annotations

import io
import json
import math
import sys
import warnings

import numpy as np
import torch
from torch import nn


class Branch(nn.Module):
    def forward(self, x):
        if x.sum() > 0:
            return x * 2
        return x - 1


class ConstantMask(nn.Module):
    """A branch on a tensor the module built at construction (pytorch_tabnet's EmbeddingGenerator)."""

    def __init__(self):
        super().__init__()
        self.keep = torch.tensor([True, False, True])
        self.proj = nn.Linear(1, 1)

    def forward(self, x):
        cols = []
        for i, keep in enumerate(self.keep):
            if keep:
                cols.append(x[:, i:i + 1])
            else:
                cols.append(self.proj(x[:, i:i + 1]))
        return torch.cat(cols, 1)


class Where(nn.Module):
    def forward(self, x):
        return torch.where(x.sum() > 0, x * 2, x - 1)


class Item(nn.Module):
    def forward(self, x):
        return x * x.mean().item()


class IntOf(nn.Module):
    def forward(self, x):
        return x * int(x.sum())


class ToList(nn.Module):
    def forward(self, x):
        out = x.new_zeros(x.shape[1])
        for v in x[:, 0].tolist():
            out = out + v
        return out


class Numpy(nn.Module):
    def forward(self, x):
        return torch.from_numpy(np.sin(x.detach().numpy())) + x


class Rows(nn.Module):
    def forward(self, x):
        out = torch.zeros_like(x[0])
        for row in x:
            out = out + row
        return out


class RangeBatch(nn.Module):
    def forward(self, x):
        out = torch.zeros_like(x[0])
        for i in range(x.shape[0]):
            out = out + x[i] * i
        return out


class DataSize(nn.Module):
    def forward(self, x):
        idx = torch.nonzero(x > 0)
        if idx.numel() == 0:
            return x - 1
        return x + 1


class Nonzero(nn.Module):
    def forward(self, x):
        return torch.nonzero(x > 0).sum() + x


class ShapeIf(nn.Module):
    def forward(self, x):
        if x.shape[0] > 2:
            return x * 2
        return x - 1


class ShapeCond(nn.Module):
    def forward(self, x):
        return torch.cond(x.shape[0] > 2, lambda t: t * 2, lambda t: t - 1, (x,))


class IntShape(nn.Module):
    def forward(self, x):
        n = int(x.shape[0])
        return x + torch.zeros(n, x.shape[1])


class MathShape(nn.Module):
    def forward(self, x):
        return x / math.sqrt(x.shape[0])


class TensorShapeMath(nn.Module):
    def forward(self, x):
        n = torch.tensor(x.shape[0], dtype=x.dtype)
        return x / n.sqrt()


class ZerosShape(nn.Module):
    def forward(self, x):
        return x + torch.zeros(x.shape[0], x.shape[1])


class Cuda(nn.Module):
    def forward(self, x):
        return x + torch.ones(3, device="cuda")


EXAMPLE = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
FLIPPED = -EXAMPLE - 1.0  # same shape, other values: flips data-dependent branches
OTHER_BATCH = torch.arange(9.0).reshape(3, 3) + 1.0  # another batch size, same sign


def outcome(fn):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn()
    except Exception as exc:  # noqa: BLE001 - the point is to record it
        return "FAIL " + type(exc).__name__


def matches(run, model):
    """OK, SILENT (wrong values on flipped data), BATCH-FAIL / BATCH-SILENT (another batch size)."""
    try:
        got = run(FLIPPED)
    except Exception as exc:  # noqa: BLE001
        return "RUN-FAIL " + type(exc).__name__
    if not torch.allclose(got, model(FLIPPED)):
        return "SILENT"
    try:
        got = run(OTHER_BATCH)
    except Exception:  # noqa: BLE001
        return "BATCH-FAIL"
    return "OK" if got.shape == model(OTHER_BATCH).shape and torch.allclose(got, model(OTHER_BATCH)) else "BATCH-SILENT"


def script(model):
    return outcome(lambda: (torch.jit.script(model), "OK")[1])


def trace(model):
    return outcome(lambda: matches(torch.jit.trace(model, (EXAMPLE,), check_trace=False), model))


def export(model):
    return outcome(lambda: matches(torch.export.export(model, (EXAMPLE,)).module(), model))


def export_dynamic(model):
    batch = torch.export.Dim("batch", min=1, max=64)
    return outcome(lambda: matches(torch.export.export(model, (EXAMPLE,), dynamic_shapes=({0: batch},)).module(), model))


def onnx(model, dynamo, dynamic=False):
    def run():
        import onnxruntime as ort

        buf = io.BytesIO()
        if dynamo:
            spec = {"dynamic_shapes": ({0: torch.export.Dim("batch", min=1, max=64)},)} if dynamic else {}
            program = torch.onnx.export(model, (EXAMPLE,), dynamo=True, verbose=False, **spec)
            data = program.model_proto.SerializeToString()
        else:
            spec = {"input_names": ["x"], "dynamic_axes": {"x": {0: "batch"}}} if dynamic else {}
            torch.onnx.export(model, (EXAMPLE,), buf, dynamo=False, **spec)
            data = buf.getvalue()
        sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
        name = sess.get_inputs()[0].name
        return matches(lambda t: torch.from_numpy(sess.run(None, {name: t.numpy()})[0]), model)

    return outcome(run)


def main() -> None:
    wanted = sys.argv[1:]
    cases = {c.__name__: c() for c in (Branch, ConstantMask, Where, Item, IntOf, ToList, Numpy, Rows, RangeBatch, DataSize, Nonzero, Cuda,
                                       ShapeIf, ShapeCond, IntShape, MathShape, TensorShapeMath, ZerosShape)}
    declared_dynamic = {"ShapeIf", "ShapeCond", "IntShape", "MathShape", "TensorShapeMath", "ZerosShape"}
    out = {}
    for name, model in cases.items():
        if wanted and name not in wanted:
            continue
        model.eval()
        out[name] = {
            "torchscript-script": script(model),
            "torchscript-trace": trace(model),
            "torch-export": export(model),
            "torch-export-dynamic-batch": export_dynamic(model),
            "onnx-dynamo": onnx(model, True),
            "onnx-legacy": onnx(model, False),
        }
        if name in declared_dynamic:  # the batch declared dynamic at the export call
            out[name]["onnx-dynamo-dynamic-batch"] = onnx(model, True, dynamic=True)
            out[name]["onnx-legacy-dynamic-batch"] = onnx(model, False, dynamic=True)
    print("RESULT " + json.dumps(out))


if __name__ == "__main__":
    main()
