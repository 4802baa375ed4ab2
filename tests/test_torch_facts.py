"""The facts the PyTorch rules rely on, re-checked with real exports (torch, onnx, onnxruntime on CPU).

All exports run in one subprocess (tests/torch_facts_script.py) so torch is imported once.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from mllint.catalogue import load_catalogue
from mllint.testing import lint_source

# find_spec, not importorskip: importing the frameworks at collection costs seconds even when deselected
pytestmark = pytest.mark.skipif(not all(importlib.util.find_spec(m) for m in ('torch', 'onnxruntime')), reason="needs torch, onnxruntime")

SCRIPT = Path(__file__).with_name("torch_facts_script.py")
CATALOGUE = load_catalogue()


@pytest.fixture(scope="module")
def facts() -> dict:
    proc = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=600)
    line = next((l for l in proc.stdout.splitlines() if l.startswith("RESULT ")), None)
    assert line is not None, proc.stderr[-3000:]
    return json.loads(line[len("RESULT "):])


def _fails(outcome: str) -> bool:
    return outcome.startswith("FAIL")


def _effect(code: str, target: str):  # type: ignore[no-untyped-def]
    impact = CATALOGUE.by_code[code].impacts.get(target)
    return impact.effect if impact else None


@pytest.mark.export
def test_tensor_branch_PT101(facts: dict) -> None:
    f = facts["Branch"]
    assert f["torchscript-script"] == "OK" and _effect("PT101", "torchscript-script") is None
    assert f["torchscript-trace"] == "SILENT" and _effect("PT101", "torchscript-trace") == "silent"
    assert f["onnx-legacy"] == "SILENT" and _effect("PT101", "onnx-legacy") == "silent"
    assert _fails(f["torch-export"]) and _effect("PT101", "torch-export") == "fails"
    assert _fails(f["onnx-dynamo"]) and _effect("PT101", "onnx-dynamo") == "fails"
    # The suggested fix that works on all PyTorch targets really does (for the same shapes).
    assert all(v in ("OK", "BATCH-FAIL") for v in facts["Where"].values()), facts["Where"]
    assert facts["Where"]["torch-export-dynamic-batch"] == "OK"


@pytest.mark.export
def test_branch_on_a_construction_time_tensor_PT101(facts: dict) -> None:
    """The tracer records the branch a constant tensor takes, and it is the same for every input: trace and the
    legacy exporter are right on other values (trace on other batch sizes too); torch.export guards on the data."""
    f = facts["ConstantMask"]
    # (the legacy ONNX graph has a fixed batch size without dynamic_axes: BATCH-FAIL is that, not the branch)
    assert f["torchscript-trace"] == "OK" and f["onnx-legacy"] in ("OK", "BATCH-FAIL"), f
    assert _fails(f["torch-export"]) and _fails(f["onnx-dynamo"]), f
    code = (
        "import torch\n"
        "from torch import nn\n"
        "class M(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.keep = torch.tensor([True, False, True])\n"
        "        self.proj = nn.Linear(1, 1)\n"
        "    def forward(self, x: torch.Tensor):\n"
        "        for i, keep in enumerate(self.keep):\n"
        "            if keep:\n"
        "                x = x + 1\n"
        "        if self.keep[0] and x.sum() > 0:\n"
        "            x = x * 2\n"
        "        return x\n"
    )
    got = {(f.line, f.col): set(f.targets) for f in lint_source(code, targets=["all"]) if f.code == "PT101"}
    assert got[(10, 15)] == got[(12, 11)] == {"torch-export", "onnx-dynamo"}
    assert "torchscript-trace" in got[(12, 28)] and "onnx-legacy" in got[(12, 28)]  # x.sum() is the input's


@pytest.mark.export
def test_branch_on_data_dependent_size_PT101(facts: dict) -> None:
    f = facts["DataSize"]
    assert f["torchscript-script"] == "OK"
    assert f["torchscript-trace"] == "SILENT"
    assert _fails(f["torch-export"]) and _fails(f["onnx-dynamo"])
    # the data-dependent op by itself exports (so mllint reports the branch, not the op)
    assert not _fails(facts["Nonzero"]["torch-export"]) and not _fails(facts["Nonzero"]["onnx-dynamo"])


@pytest.mark.export
def test_item_PT102(facts: dict) -> None:
    f = facts["Item"]
    assert f["torchscript-trace"] == "SILENT" and f["onnx-legacy"] == "SILENT"
    assert f["torch-export-dynamic-batch"] == "OK" and _effect("PT102", "torch-export") is None
    assert f["torchscript-script"] == "OK"


@pytest.mark.export
def test_int_of_tensor_PT103(facts: dict) -> None:
    f = facts["IntOf"]
    assert _fails(f["torch-export"]) and _effect("PT103", "torch-export") == "fails"
    assert f["torchscript-trace"] == "SILENT" and f["onnx-legacy"] == "SILENT"
    assert not _fails(f["onnx-dynamo"]) and _effect("PT103", "onnx-dynamo") is None


@pytest.mark.export
def test_tolist_PT104(facts: dict) -> None:
    f = facts["ToList"]
    assert _fails(f["torchscript-script"]) and _effect("PT104", "torchscript-script") == "fails"
    assert f["torchscript-trace"] == "SILENT"
    assert not _fails(f["torch-export"]) and _effect("PT104", "torch-export") is None


@pytest.mark.export
def test_numpy_PT105(facts: dict) -> None:
    f = facts["Numpy"]
    assert _fails(f["torchscript-script"]) and _fails(f["torch-export"])
    assert f["torchscript-trace"] == "SILENT" and f["onnx-legacy"] == "SILENT"
    assert not _fails(f["onnx-dynamo"]) and _effect("PT105", "onnx-dynamo") is None


@pytest.mark.export
def test_loops_PT106_PT107(facts: dict) -> None:
    for case in ("Rows", "RangeBatch"):
        f = facts[case]
        assert f["torchscript-script"] == "OK"
        assert _fails(f["torch-export-dynamic-batch"]), f  # declaring the batch dynamic does not help
        for target in ("torch-export", "onnx-dynamo", "onnx-legacy"):
            assert f[target] == "BATCH-FAIL", (case, target, f[target])
    assert facts["RangeBatch"]["torchscript-trace"] == "BATCH-SILENT"


@pytest.mark.export
def test_hard_coded_device_PT108(facts: dict) -> None:
    import importlib.util

    if importlib.util.find_spec("torch") and subprocess.run(
            [sys.executable, "-c", "import torch,sys; sys.exit(0 if torch.cuda.is_available() else 1)"]).returncode == 0:
        pytest.skip("the CPU-only failure cannot be shown on a machine with CUDA")
    f = facts["Cuda"]
    for target in ("torchscript-trace", "torch-export", "onnx-dynamo", "onnx-legacy"):
        assert _fails(f[target]) and _effect("PT108", target) == "fails"


@pytest.mark.export
def test_branch_on_declared_dynamic_size_PT110(facts: dict) -> None:
    f = facts["ShapeIf"]
    assert f["torchscript-script"] == "OK" and _effect("PT110", "torchscript-script") is None
    assert f["torchscript-trace"] == "BATCH-SILENT" and _effect("PT110", "torchscript-trace") == "silent"
    assert _fails(f["torch-export-dynamic-batch"]) and _effect("PT110", "torch-export") == "fails"
    # the ONNX dynamo exporter keeps the batch dynamic in the model, but the graph is one branch
    assert f["onnx-dynamo-dynamic-batch"] == "BATCH-SILENT" and _effect("PT110", "onnx-dynamo") == "silent"
    assert f["onnx-legacy-dynamic-batch"] == "BATCH-SILENT" and _effect("PT110", "onnx-legacy") == "silent"
    # torch.cond fixes export and ONNX dynamo, and breaks scripting and tracing (as the fix says)
    cond = facts["ShapeCond"]
    assert cond["torch-export-dynamic-batch"] == "OK" and cond["onnx-dynamo-dynamic-batch"] == "OK"
    assert _fails(cond["torchscript-script"]) and _fails(cond["torchscript-trace"])
    fix = next(f for f in CATALOGUE.by_code["PT110"].fixes if "torch.cond" in f.text)
    assert set(fix.works_on) == {"torch-export", "onnx-dynamo"}


@pytest.mark.export
def test_declared_dynamic_size_turned_into_a_number_PT109(facts: dict) -> None:
    for case in ("IntShape", "MathShape"):
        f = facts[case]
        assert f["torchscript-script"] == "OK" and _effect("PT109", "torchscript-script") is None
        assert _fails(f["torch-export-dynamic-batch"]) and _effect("PT109", "torch-export") == "fails"
        assert f["onnx-dynamo-dynamic-batch"] == "BATCH-FAIL" and _effect("PT109", "onnx-dynamo") == "run-fails"
        # trace and the legacy exporter record the example's size: wrong numbers or a failure at another batch
        assert f["torchscript-trace"] in ("BATCH-SILENT", "BATCH-FAIL")
        assert f["onnx-legacy-dynamic-batch"] in ("BATCH-SILENT", "BATCH-FAIL")
    assert facts["MathShape"]["torchscript-trace"] == "BATCH-SILENT" and _effect("PT109", "torchscript-trace") == "silent"
    # the rule's fix (sizes kept symbolic: torch ops, scalar torch.tensor) exports with the batch dynamic
    for case in ("TensorShapeMath", "ZerosShape"):
        f = facts[case]
        for target in ("torchscript-script", "torchscript-trace", "torch-export-dynamic-batch",
                       "onnx-dynamo-dynamic-batch", "onnx-legacy-dynamic-batch"):
            assert f[target] == "OK", (case, target, f[target])
