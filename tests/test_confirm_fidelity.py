"""--confirm fidelity: real exports of models that used to be judged wrongly (one child per model).

Each model exports fine (or fails for a plain reason) on the targets named; the results must say so, compare
outputs, and locate what is located at the user's line.
"""

from __future__ import annotations

import importlib.util
import textwrap
from pathlib import Path
from typing import Dict

import pytest

from mllint.config import ModelSpec
from mllint.confirm import ExportResult, run_confirm

# find_spec, not importorskip: importing the frameworks at collection costs seconds even when deselected
pytestmark = [
    pytest.mark.export,
    pytest.mark.skipif(
        not all(importlib.util.find_spec(m) for m in ("torch", "onnxruntime")), reason="needs torch, onnxruntime"
    ),
]

MODELS = textwrap.dedent("""\
    import torch
    from torch import nn


    class ListInput(nn.Module):
        def forward(self, xs):
            return xs[0] * 2 + xs[1]


    class DictInput(nn.Module):
        def forward(self, d):
            return d["b"].sum() * 2 + d["a"]


    class TensorDefault(nn.Module):
        def forward(self, x, scale=torch.tensor(2.0)):
            return x * scale


    class MutatesInput(nn.Module):
        def forward(self, x):
            x.add_(1.0)
            return x * 2


    class VarArgs(nn.Module):
        def forward(self, *args, **kwargs):
            return args[0] * kwargs["scale"]


    class Recurrent(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(4, 8, batch_first=True)

        def forward(self, x):
            y, _ = self.lstm(x)  # the LSTM's TracerWarnings belong here
            return y.sum(1)


    def list_input():
        return ListInput().eval(), ([torch.randn(2, 3), torch.randn(2, 3)],)


    def dict_input():
        return DictInput().eval(), ({"b": torch.randn(2), "a": torch.randn(3, 2)},)


    def tensor_default():
        return TensorDefault().eval(), (torch.randn(2, 3),)


    def mutates_input():
        return MutatesInput().eval(), (torch.randn(2, 3),)


    def var_args():
        return {"model": VarArgs().eval(), "args": (torch.randn(2, 3),), "kwargs": {"scale": torch.tensor(3.0)}}


    def recurrent():
        return Recurrent().eval(), (torch.randn(2, 3, 4),)
    """)

LEGACY = ("onnx-legacy",)


@pytest.fixture(scope="module")
def by(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Dict[str, ExportResult]]:
    root = tmp_path_factory.mktemp("fidelity")
    (root / "fid").mkdir()
    (root / "fid" / "__init__.py").write_text("")
    (root / "fid" / "models.py").write_text(MODELS)
    models = [
        ModelSpec("list", "fid.models:list_input", targets=LEGACY),
        ModelSpec("dict", "fid.models:dict_input", targets=LEGACY),
        ModelSpec("default", "fid.models:tensor_default", targets=LEGACY),
        ModelSpec("mutates", "fid.models:mutates_input", targets=("torchscript-trace", "torch-export", "onnx-legacy")),
        ModelSpec("varargs", "fid.models:var_args", targets=("torchscript-trace",)),
        ModelSpec("recurrent", "fid.models:recurrent", targets=("torchscript-trace",)),
    ]
    targets = ("torchscript-trace", "torch-export", "onnx-legacy")
    out: Dict[str, Dict[str, ExportResult]] = {}
    for r in run_confirm(models, root, targets, "cpu", 2, None, False, None):
        out.setdefault(r.model, {})[r.target] = r
    return out


@pytest.mark.parametrize("model", ["list", "dict", "default"])
def test_legacy_onnx_feeds_nested_inputs_and_tensor_defaults(by, model: str) -> None:
    r = by[model]["onnx-legacy"]
    assert r.status == "ok", r.message
    assert "other-values" in r.details["compared"]


def test_a_model_that_mutates_its_input_is_still_compared(by) -> None:
    for target, r in by["mutates"].items():
        assert r.status == "ok", (target, r.message)
        assert "example" in r.details["compared"] and "other-values" in r.details["compared"], target


def test_tracing_varargs_with_keyword_inputs_says_why(by) -> None:
    r = by["varargs"]["torchscript-trace"]
    assert r.status == "failed"
    assert "cannot pass the positional inputs of `*args` together with keyword inputs" in r.message


def test_tracer_warnings_inside_torch_modules_are_attributed_to_the_user_call(by) -> None:
    r = by["recurrent"]["torchscript-trace"]
    assert r.status == "ok", r.message
    line = next(n for n, text in enumerate(MODELS.splitlines(), 1) if "belong here" in text)
    assert ("fid/models.py", line) in {(p, n) for p, n, _ in r.details["warnings"]}


DYNAMO = textwrap.dedent("""\
    import torch
    from torch import nn
    from torch.export import Dim


    class HalfRows(nn.Module):
        def forward(self, x):
            n = round(x.shape[0] * 0.5)  # onnx-dynamo: no ONNX function for round
            return x[:n] * 2


    class Mapped(nn.Module):
        def forward(self, xs, y):
            from torch._higher_order_ops.map import map as hmap

            return hmap(lambda a, b: a * b, xs, y)  # onnx-dynamo: map


    def half_rows():
        return {"model": HalfRows().eval(), "args": (torch.randn(4, 3),),
                "dynamic_shapes": {"x": {0: Dim("b", min=2)}}}


    def mapped():
        return Mapped().eval(), (torch.randn(3, 2), torch.randn(2))
    """)


def test_onnx_dynamo_conversion_failures_are_located_at_the_user_line(tmp_path: Path) -> None:
    (tmp_path / "dyn").mkdir()
    (tmp_path / "dyn" / "__init__.py").write_text("")
    (tmp_path / "dyn" / "models.py").write_text(DYNAMO)
    models = [ModelSpec("round", "dyn.models:half_rows"), ModelSpec("map", "dyn.models:mapped")]
    results = {r.model: r for r in run_confirm(models, tmp_path, ("onnx-dynamo",), "cpu", 2, None, False, None)}
    lines = {
        key: n
        for n, text in enumerate(DYNAMO.splitlines(), 1)
        for key in ("round", "map")
        if f"onnx-dynamo: {'no ONNX function for round' if key == 'round' else 'map'}" in text
    }
    for model, r in results.items():
        assert r.status == "failed", (model, r.message)
        assert r.location == ("dyn/models.py", lines[model]), (model, r.location, r.message)
