"""The facts behind the precision fixtures (fixtures/torch/precision_*.py), with real exports.

One subprocess (tests/precision_facts_script.py) runs every export, so torch is imported once.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from mllint.analysis.guards import call_guard
from mllint.catalogue import load_catalogue

# find_spec, not importorskip: importing the frameworks at collection costs seconds even when deselected
pytestmark = pytest.mark.skipif(
    not all(importlib.util.find_spec(m) for m in ("torch", "onnxruntime")), reason="needs torch, onnxruntime"
)

SCRIPT = Path(__file__).with_name("precision_facts_script.py")
GRAPH_TARGETS = ("torchscript-trace", "torch-export", "onnx-dynamo", "onnx-legacy")


@pytest.fixture(scope="module")
def facts() -> dict:
    proc = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=900)
    line = next((l for l in proc.stdout.splitlines() if l.startswith("RESULT ")), None)
    assert line is not None, proc.stderr[-3000:]
    return json.loads(line[len("RESULT ") :])


@pytest.mark.export
@pytest.mark.slow
def test_truth_of_optional_fails_scripting_only(facts: dict) -> None:
    # ``cache = cache or {}`` on Optional[Dict[str, Tensor]], ``if k:`` on Optional[int]: not tensor data.
    for case in ("OptionalDictOr", "OptionalIntTruth"):
        assert facts[case]["torchscript-script"].startswith("FAIL"), facts[case]
        assert all(facts[case][t] == "OK" for t in GRAPH_TARGETS), facts[case]
    # PT216 claims exactly that: a scripting failure, no other target.
    impacts = load_catalogue().by_code["PT216"].impacts
    assert set(impacts) == {"torchscript-script"} and impacts["torchscript-script"].effect == "fails"


@pytest.mark.export
@pytest.mark.slow
def test_sizes_and_tensor_lists_are_not_data(facts: dict) -> None:
    # forward(x, H, W) fed ``H, W = x.shape[2:]``; ``for f in features`` over List[Tensor].
    for case in ("WindowStage", "Levels", "DropPathEval"):
        assert set(facts[case].values()) == {"OK"}, (case, facts[case])


@pytest.mark.export
@pytest.mark.slow
def test_script_if_tracing_keeps_both_branches(facts: dict) -> None:
    f = facts["ScriptIfTracing"]
    assert f["torchscript-trace"] == "OK" and f["onnx-legacy"] == "OK"  # scripted under trace: not baked
    assert f["torch-export"].startswith("FAIL") and f["onnx-dynamo"].startswith("FAIL")


@pytest.mark.export
@pytest.mark.slow
def test_guard_functions_true_where_mllint_says(facts: dict) -> None:
    # SILENT = the example took the doubled branch: the guard was true on that target.
    for case, guard in (
        ("IsCompiling", "torch.compiler.is_compiling"),
        ("InOnnxExport", "torch.onnx.is_in_onnx_export"),
    ):
        sets = call_guard(guard)
        assert sets is not None
        never_true, never_false = sets
        for target in GRAPH_TARGETS:
            seen_true = facts[case][target] == "SILENT"
            assert (target in never_false) == seen_true, (case, target, facts[case])
            assert (target in never_true) == (not seen_true), (case, target, facts[case])
