"""The facts PT218 relies on, re-checked with real exports (torch on CPU): each model of its fixture
(fixtures/torch/traced_sizes) is traced, exported with the legacy ONNX exporter and with torch.export,
and the rule must report exactly the models that tracing fails on.

The exports run in one subprocess (the script below) so a crash cannot touch the test run.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from fact_runner import run_fact_script

from mllint.catalogue import load_catalogue
from mllint.config import load_settings
from mllint.engine import run_check

# find_spec, not importorskip: importing the frameworks at collection costs seconds even when deselected
pytestmark = pytest.mark.skipif(not all(importlib.util.find_spec(m) for m in ("torch",)), reason="needs torch")

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "fixtures" / "torch" / "traced_sizes"
CATALOGUE = load_catalogue()


@pytest.fixture(scope="module")
def facts(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return run_fact_script(tmp_path_factory, "traced_size_facts", SCRIPT, [str(FIXTURE.parent)], timeout=600)


def _reported(target: str) -> set:
    settings = load_settings(REPO, CATALOGUE, overrides={"targets": [target], "entry-points": ["*:*"]})
    settings.root = REPO
    result = run_check([str(FIXTURE)], settings, CATALOGUE)
    lines = (FIXTURE / "models.py").read_text(encoding="utf-8").splitlines()
    out = set()
    for f in result.findings:
        if f.code == "PT218" and f.path.endswith("models.py") and f.suppressed is None:
            owner = next(l for l in reversed(lines[: f.line]) if l.startswith("class "))
            out.add(owner.split()[1].split("(")[0])
    return out


@pytest.mark.export
def test_PT218_matches_tracing_on_its_fixture(facts: dict) -> None:
    models = {k.split(":")[0] for k in facts}
    assert len(models) >= 13, facts
    messages = ("type Tensor doesn't define __round__", "argument 'is_causal'")
    for target, key in (("torchscript-trace", "trace"), ("onnx-legacy", "legacy")):
        failing = {m for m in models if facts[f"{m}:{key}"] != "OK"}
        assert all(any(s in facts[f"{m}:{key}"] for s in messages) for m in failing), facts
        assert _reported(target) == failing, (target, failing)
        assert CATALOGUE.by_code["PT218"].impacts[target].effect == "fails"
    # torch.export follows the sizes symbolically: every model exports, and the card names no export target
    assert all(facts[f"{m}:export"] == "OK" for m in models), facts
    assert set(CATALOGUE.by_code["PT218"].impacts) == {"torchscript-trace", "onnx-legacy"}


SCRIPT = r'''"""Trace / legacy ONNX / torch.export of the PT218 fixture models. Prints ``RESULT {json}``."""

import importlib
import inspect
import io
import json
import sys
import warnings

import torch
from torch import nn

X = torch.randn(2, 4, 6, 8)


def outcome(fn):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fn()
        return "OK"
    except Exception as exc:  # noqa: BLE001 - recording the failure is the point
        return f"FAIL {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


sys.path.insert(0, sys.argv[1])
models = importlib.import_module("traced_sizes.models")
facts = {}
for name, cls in list(vars(models).items()):
    if inspect.isclass(cls) and issubclass(cls, nn.Module) and cls.__module__ == models.__name__:
        m = cls().eval()
        facts[f"{name}:trace"] = outcome(lambda: torch.jit.trace(m, (X,)))
        facts[f"{name}:legacy"] = outcome(lambda: torch.onnx.export(m, (X,), io.BytesIO(), dynamo=False))
        facts[f"{name}:export"] = outcome(lambda: torch.export.export(m, (X,)))
print("RESULT " + json.dumps(facts))
'''
