"""PT217 on its fixture (fixtures/torch/trace_outputs.py) against real traces: every model class that is not a
part of another is traced (torch on CPU), and the rule must report exactly those whose trace fails on the
dict output. The traces run in one subprocess (the script below).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import libcst as cst
import pytest
from fact_runner import run_fact_script

from mllint.analysis.summary import summarize
from mllint.catalogue import load_catalogue
from mllint.config import load_settings
from mllint.engine import run_check

# find_spec, not importorskip: importing the frameworks at collection costs seconds even when deselected
pytestmark = pytest.mark.skipif(not all(importlib.util.find_spec(m) for m in ("torch",)), reason="needs torch")

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "fixtures" / "torch" / "trace_outputs.py"
CATALOGUE = load_catalogue()


@pytest.fixture(scope="module")
def traces(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return run_fact_script(tmp_path_factory, "trace_output_facts", SCRIPT, [str(FIXTURE.parent)], timeout=600)


@pytest.mark.export
def test_PT217_matches_tracing_on_its_fixture(traces: dict) -> None:
    text = FIXTURE.read_text(encoding="utf-8")
    summary = summarize(cst.parse_module(text), "trace_outputs", False, text)
    parts = {name for name, cls in summary.classes.items() if cls.used_as_part}
    judged = {name: v for name, v in traces.items() if name not in parts}
    assert len(judged) >= 8 and all(v != "NO INPUT" for v in judged.values()), traces
    settings = load_settings(REPO, CATALOGUE, overrides={"targets": ["torchscript-trace"], "entry-points": ["*:*"]})
    settings.root = REPO
    result = run_check([str(FIXTURE)], settings, CATALOGUE)
    lines = text.splitlines()
    reported = set()
    for f in result.findings:
        if f.code == "PT217" and f.suppressed is None:
            owner = next(l for l in reversed(lines[: f.line]) if l.startswith("class "))
            reported.add(owner.split()[1].split("(")[0])
    failing = {name for name, v in judged.items() if v != "OK"}
    assert all("dict" in judged[name] or "cannot infer type" in judged[name] for name in failing), judged
    assert reported == failing, (reported, judged)


SCRIPT = r'''"""Trace each model class of fixtures/torch/trace_outputs.py. Prints ``RESULT {json}``."""

import importlib
import inspect
import json
import sys
import warnings

import torch
from torch import nn


def outcome(fn):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fn()
        return "OK"
    except Exception as exc:  # noqa: BLE001 - recording the failure is the point
        return f"FAIL {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


sys.path.insert(0, sys.argv[1])
models = importlib.import_module("trace_outputs")
traces = {}
for name, cls in list(vars(models).items()):
    if inspect.isclass(cls) and issubclass(cls, nn.Module) and cls.__module__ == models.__name__:
        m = cls().eval()
        # the example input: the first feature size the model runs on in eager mode
        example = next((x for x in (torch.randn(2, 4), torch.randn(2, 5)) if outcome(lambda: m(x)) == "OK"), None)
        traces[name] = "NO INPUT" if example is None else outcome(lambda: torch.jit.trace(m, (example,)))
print("RESULT " + json.dumps(traces))
'''
