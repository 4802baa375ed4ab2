"""The facts PT408 relies on, re-checked with real ``torch.onnx.export`` calls on torch 2.13: when the
dynamo exporter (the default) can turn ``dynamic_axes`` into ``dynamic_shapes``, and that the legacy
exporter takes the same calls. Then the rule's verdict on each call, which must match."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import textwrap

import pytest

from mllint.testing import lint_source

# find_spec, not importorskip: importing the frameworks at collection costs seconds even when deselected
pytestmark = pytest.mark.skipif(
    not all(importlib.util.find_spec(m) for m in ("torch", "onnxscript")), reason="needs torch, onnxscript"
)

#: case -> (keyword arguments of torch.onnx.export as source text, PT408 expected)
CASES = {
    "one-name-of-two": ('input_names=["a"], output_names=["y"], dynamic_axes={"a": {0: "n"}}', True),
    "no-names-one-axis": ('dynamic_axes={"a": {0: "n"}}', True),
    "no-names-other-axis": ('dynamic_axes={"b": {0: "n"}}', True),
    "all-named-one-axis": ('input_names=["a", "b"], output_names=["y"], dynamic_axes={"a": {0: "n"}}', False),
    "no-names-all-axes": ('dynamic_axes={"a": {0: "m"}, "b": {0: "n"}}', False),
}

SCRIPT = r"""
import io, json, sys, warnings
warnings.simplefilter("ignore")
import torch
from torch import nn


class Pair(nn.Module):
    def forward(self, a, b):
        return a.sum(-1) + b.sum()


out = {}
for name, kw in json.loads(sys.argv[1]).items():
    for dynamo in (True, False):
        call = "torch.onnx.export(Pair().eval(), (torch.randn(2, 5), torch.randn(3)), "
        call += ("io.BytesIO(), dynamo=False, " if not dynamo else "verbose=False, ") + kw + ")"
        try:
            exec(call, {"torch": torch, "io": io, "Pair": Pair})
            verdict = "OK"
        except Exception as exc:
            verdict = "FAIL " + " <- ".join(str(c).strip().splitlines()[0] for c in (exc, exc.__cause__) if c)
        out[name + ("|dynamo" if dynamo else "|legacy")] = verdict
print("RESULT " + json.dumps(out))
"""


@pytest.fixture(scope="module")
def facts() -> dict:
    kws = {name: kw for name, (kw, _) in CASES.items()}
    proc = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(kws)], capture_output=True, text=True, timeout=600)
    line = next((l for l in proc.stdout.splitlines() if l.startswith("RESULT ")), None)
    assert line is not None, proc.stderr[-3000:]
    return json.loads(line[len("RESULT ") :])


@pytest.mark.export
@pytest.mark.parametrize("case", list(CASES))
def test_dynamic_axes_conversion_PT408(facts: dict, case: str) -> None:
    kw, expected = CASES[case]
    dynamo = facts[f"{case}|dynamo"]
    if expected:
        assert dynamo.startswith("FAIL") and "Failed to convert 'dynamic_axes' to 'dynamic_shapes'" in dynamo, dynamo
    else:
        assert dynamo == "OK", dynamo
    assert facts[f"{case}|legacy"] == "OK"


def pt406(kw: str, dynamo: str = "") -> list:
    code = textwrap.dedent(f"""\
        import torch
        from torch import nn


        class Pair(nn.Module):
            def forward(self, a, b):
                return a.sum(-1) + b.sum()


        torch.onnx.export(Pair().eval(), (torch.randn(2, 5), torch.randn(3)), "m.onnx", {dynamo}{kw})
        """)
    return [(f.line, f.targets) for f in lint_source(code, select=["PT408"]) if f.code == "PT408"]


@pytest.mark.parametrize("case", list(CASES))
def test_rule_matches_the_measured_cases(case: str) -> None:
    kw, expected = CASES[case]
    assert pt406(kw) == ([(10, ("onnx-dynamo",))] if expected else [])


def test_legacy_exporter_and_unknown_names_are_not_reported() -> None:
    kw = CASES["one-name-of-two"][0]
    assert pt406(kw, dynamo="dynamo=False, ") == []
    assert pt406('input_names=NAMES, dynamic_axes={"a": {0: "n"}}') == []
    assert pt406('output_names=["y"], dynamic_axes={"a": {0: "n"}}') == []  # keys may be outputs
    assert pt406('dynamic_shapes=({0: "n"}, None), dynamic_axes={"a": {0: "n"}}') == []
