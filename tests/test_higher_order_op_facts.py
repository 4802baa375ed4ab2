"""PT219: the higher-order operators' real outcomes on the five PyTorch targets, against the rule's findings.

The fixture's models (fixtures/torch/higher_order_op_outside_export.py) and a ``scan`` model are exported for
real in one subprocess; each finding's targets must be exactly the targets that fail.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Set

import pytest
from fact_runner import run_fact_script

from mllint.catalogue import load_catalogue
from mllint.testing import lint_source

pytest.importorskip("torch")

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "torch" / "higher_order_op_outside_export.py"
TARGETS = ("torchscript-script", "torchscript-trace", "torch-export", "onnx-dynamo", "onnx-legacy")

SCRIPT = r"""
import importlib.util, io, json, sys, warnings
import torch
from torch._higher_order_ops.scan import scan

warnings.simplefilter("ignore")
spec = importlib.util.spec_from_file_location("hop_fixture", sys.argv[1])
fixture = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fixture)


def combine(carry, x):
    return carry + x, carry * 1


class Scan(torch.nn.Module):
    def forward(self, xs):
        return scan(combine, xs[0] * 0, xs)[1]


def run(how, model, x):
    try:
        if how == "torchscript-script":
            torch.jit.script(model)
        elif how == "torchscript-trace":
            torch.jit.trace(model, (x,))
        elif how == "torch-export":
            torch.export.export(model, (x,))
        elif how == "onnx-dynamo":
            torch.onnx.export(model, (x,), dynamo=True, verbose=False)
        else:
            torch.onnx.export(model, (x,), io.BytesIO(), dynamo=False)
        return "OK"
    except Exception as exc:  # noqa: BLE001 - the outcome is the fact
        return "FAIL " + type(exc).__name__ + ": " + (str(exc).strip().splitlines() or [""])[0][:100]


models = {"Gate": fixture.Gate(), "Rows": fixture.Rows(), "Loop": fixture.Loop(), "Guarded": fixture.Guarded(),
          "LookAlike": fixture.LookAlike(), "Scan": Scan()}
out = {}
for name, model in models.items():
    x = torch.randn(4, 3)
    for how in ("torchscript-script", "torchscript-trace", "torch-export", "onnx-dynamo", "onnx-legacy"):
        out[f"{name}:{how}"] = run(how, model.eval(), x)
print("RESULT " + json.dumps(out))
"""


@pytest.fixture(scope="module")
def facts(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return run_fact_script(tmp_path_factory, "higher_order_op_facts", SCRIPT, [str(FIXTURE)], timeout=900)


def _failing(facts: dict, model: str) -> Set[str]:
    return {t for t in TARGETS if facts[f"{model}:{t}"].startswith("FAIL")}


@pytest.mark.export
def test_operators_fail_every_target_but_dynamo_capture(facts: dict) -> None:
    for model in ("Gate", "Loop", "Scan"):
        assert _failing(facts, model) == {"torchscript-script", "torchscript-trace", "onnx-legacy"}, model
    assert _failing(facts, "Rows") == {"torchscript-script", "torchscript-trace", "onnx-legacy", "onnx-dynamo"}
    assert "dynamo-optimized function" in facts["Gate:torchscript-trace"]
    assert "dynamo-optimized function" in facts["Gate:onnx-legacy"]


@pytest.mark.export
def test_findings_name_exactly_the_failing_targets(facts: dict) -> None:
    code = FIXTURE.read_text(encoding="utf-8")
    lines = code.splitlines()
    got: Dict[str, Set[str]] = {}
    for f in lint_source(code, targets=["all"]):
        if f.code == "PT219":
            owner = next(l.split("(")[0].split()[1] for l in reversed(lines[: f.line]) if l.startswith("class "))
            got[owner] = set(f.targets)
    assert got == {m: _failing(facts, m) for m in ("Gate", "Rows", "Loop")}
    # guarded: torch.export and dynamo run the operator and export it; the others never reach it
    assert "Guarded" not in got and not _failing(facts, "Guarded") - {"torchscript-script"}
    assert "LookAlike" not in got and not _failing(facts, "LookAlike")
    card = load_catalogue().by_code["PT219"]
    assert set(card.impacts) == {"torchscript-script", "torchscript-trace", "onnx-legacy", "onnx-dynamo"}


def test_message_names_the_exporters_that_capture_the_operator() -> None:
    messages = {
        f.line: f.message
        for f in lint_source(FIXTURE.read_text(encoding="utf-8"), targets=["all"])
        if f.code == "PT219"
    }
    lines = FIXTURE.read_text(encoding="utf-8").splitlines()
    cond = next(i for i, l in enumerate(lines, 1) if "torch.cond(" in l and "expect: PT219" in l)
    rows = next(i for i, l in enumerate(lines, 1) if "hop_map(" in l)
    assert "only torch.export and the ONNX dynamo exporter can export it" in messages[cond]
    assert "only torch.export can export it" in messages[rows]  # the dynamo exporter fails on map
