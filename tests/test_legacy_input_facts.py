"""The facts PT406 relies on, re-checked with real exports (torch on CPU), and the rule's verdicts on its
fixture (fixtures/torch/legacy_inputs) compared with what the legacy ONNX exporter does to each model.

The exports run in one subprocess (the script below) so a crash or a leaked global cannot touch the test run.
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
FIXTURE = REPO / "fixtures" / "torch" / "legacy_inputs"
CATALOGUE = load_catalogue()


@pytest.fixture(scope="module")
def facts(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return run_fact_script(tmp_path_factory, "legacy_input_facts", SCRIPT, [str(FIXTURE.parent)], timeout=600)


@pytest.mark.export
def test_legacy_fills_every_parameter_positionally(facts: dict) -> None:
    # a wraps-wrapper adding a named parameter as keyword: only the legacy exporter fails, with any input form
    for form in ("args", "kwargs", "trailing-dict"):
        assert (
            facts[f"Injects:legacy-{form}"].startswith("FAIL TypeError: ")
            and "multiple values" in facts[f"Injects:legacy-{form}"]
        ), form
        assert "positional arguments but" in facts[f"KwOnly:legacy-{form}"], form
    for target in ("eager", "trace", "export", "dynamo"):
        assert facts[f"Injects:{target}"] == "OK", target
        assert facts[f"KwOnly:{target}"] == "OK", target
    assert set(CATALOGUE.by_code["PT406"].impacts) == {"onnx-legacy"}
    assert CATALOGUE.by_code["PT406"].impacts["onnx-legacy"].effect == "fails"


def _reported(target: str) -> dict:
    """Rule code -> the fixture classes it reports for ``target``."""
    settings = load_settings(REPO, CATALOGUE, overrides={"targets": [target], "entry-points": ["*:*"]})
    settings.root = REPO
    result = run_check([str(FIXTURE)], settings, CATALOGUE)
    lines = (FIXTURE / "models.py").read_text(encoding="utf-8").splitlines()
    out: dict = {"PT406": set(), "PT407": set()}
    for f in result.findings:
        if f.code in out and f.path.endswith("models.py") and f.suppressed is None:
            owner = next(l for l in reversed(lines[: f.line]) if l.startswith("class "))
            out[f.code].add(owner.split()[1].split("(")[0])
    return out


@pytest.mark.export
def test_PT406_PT407_match_the_exporters_on_their_fixture(facts: dict) -> None:
    legacy = {k.split(":")[1]: v for k, v in facts.items() if k.startswith("fixture:")}
    trace = {k.split(":")[1]: v for k, v in facts.items() if k.startswith("fixture-trace:")}
    assert len(legacy) >= 14 and set(trace) == set(legacy), facts
    allowed = ("OK", "FAIL TypeError", "FAIL RuntimeError: 0 INTERNAL ASSERT FAILED")  # the last: Tensor | bool
    assert all(v.startswith(allowed) for v in [*legacy.values(), *trace.values()]), facts
    on_legacy = _reported("onnx-legacy")
    assert on_legacy["PT406"] | on_legacy["PT407"] == {m for m, v in legacy.items() if v != "OK"}, (on_legacy, legacy)
    assert not on_legacy["PT406"] & on_legacy["PT407"]
    on_trace = _reported("torchscript-trace")
    assert on_trace["PT407"] == {m for m, v in trace.items() if v != "OK"}, (on_trace, trace)
    assert not on_trace["PT406"]  # a legacy-only rule
    assert set(CATALOGUE.by_code["PT407"].impacts) == {"torchscript-trace", "onnx-legacy"}


@pytest.mark.export
def test_legacy_turns_filled_defaults_into_tensors(facts: dict) -> None:
    # the defaults it fills are traced inputs: a bool default is a Tensor inside forward (PT406's ``flag | (not
    # ...)`` case; the fixture's TokenHead models show which combinations then fail)
    assert facts["defaults-under-legacy"] == "Tensor,Tensor"
    assert facts["defaults-eager"] == "bool,int"


@pytest.mark.export
def test_keyword_only_inputs_need_a_keyword_tracing_never_passes(facts: dict) -> None:
    assert "positional argument but" in facts["KwargsOnly:trace"]
    assert facts["KwargsOnly:trace-kw"].startswith("FAIL NameError")  # example_kwarg_inputs: named parameters only
    assert "positional argument but" in facts["KwargsOnly:legacy-args"]
    assert facts["KwargsOnly:legacy-kwargs"].startswith("FAIL")
    assert facts["KwargsOnly:export-kwargs"] == "OK" and facts["KwargsOnly:dynamo-kwargs"] == "OK"


@pytest.mark.export
def test_legacy_output_containers(facts: dict) -> None:
    """What the legacy exporter accepts at the output (PT217 names tracing only; PT209 names dataclasses):
    dicts and ``ModelOutput``-style ``OrderedDict`` dataclasses of tensors, ``None``, strings and lists
    export; a plain object inside (a key/value cache such as transformers' ``DynamicCache``) fails, in a
    dict as in a tuple ("Only tuples, lists and Variables are supported as JIT inputs/outputs")."""
    for case in ("DictOfTensors", "DictWithNone", "DictWithStr", "DictWithList", "OutputClass", "OutputClassNone"):
        assert facts[f"{case}:legacy"] == "OK", case
        assert facts[f"{case}:trace"].startswith("FAIL RuntimeError"), case  # PT217
    for case in ("DictWithObject", "TupleWithObject", "OutputClassWithObject"):
        assert facts[f"{case}:legacy"].startswith("FAIL RuntimeError: Only tuples, lists and Variables"), case
        assert facts[f"{case}:trace"].startswith("FAIL RuntimeError"), case
    assert set(CATALOGUE.by_code["PT217"].impacts) == {"torchscript-trace"}


SCRIPT = r'''"""Real legacy ONNX exports of forwards that the exporter fills positionally. Prints ``RESULT {json}``."""

import collections
import dataclasses
import functools
import importlib
import inspect
import io
import json
import sys
import warnings

import torch
from torch import nn

X = torch.randn(2, 8)
IDS = torch.randint(1, 99, (2, 5))


def outcome(fn):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fn()
        return "OK"
    except Exception as exc:  # noqa: BLE001 - recording the failure is the point
        return f"FAIL {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


def adds_flag(func):
    @functools.wraps(func)
    def wrapper(self, *args, **kwargs):
        kwargs["flag"] = True
        return func(self, *args, **kwargs)
    return wrapper


class Injects(nn.Module):
    @adds_flag
    def forward(self, x, flag=None):
        return x * 2 if flag else x


class KwOnly(nn.Module):
    def forward(self, x, *, flag=None):
        return x * 2 if flag else x


class KwargsOnly(nn.Module):
    def forward(self, **inputs):
        return inputs["x"] * 2


def legacy(m, args, kwargs=None):
    return outcome(lambda: torch.onnx.export(m, args, io.BytesIO(), kwargs=kwargs, dynamo=False))


facts = {}
for cls in (Injects, KwOnly):
    m = cls().eval()
    name = cls.__name__
    facts[f"{name}:legacy-args"] = legacy(m, (X,))
    facts[f"{name}:legacy-kwargs"] = legacy(m, (), {"x": X})
    facts[f"{name}:legacy-trailing-dict"] = legacy(m, (X, {}))
    facts[f"{name}:eager"] = outcome(lambda: m(X))
    facts[f"{name}:trace"] = outcome(lambda: torch.jit.trace(m, (X,)))
    facts[f"{name}:export"] = outcome(lambda: torch.export.export(m, (X,)))
    facts[f"{name}:dynamo"] = outcome(lambda: torch.onnx.export(m, (X,), dynamo=True))


class Cache:
    def __init__(self, keys):
        self.keys = keys


@dataclasses.dataclass
class Output(collections.OrderedDict):  # transformers' ModelOutput, in short
    hidden: object = None
    cache: object = None

    def __post_init__(self):
        for f in dataclasses.fields(self):
            if getattr(self, f.name) is not None:
                self[f.name] = getattr(self, f.name)


OUTPUTS = {
    "DictOfTensors": lambda x: {"a": x + 1, "b": x * 2},
    "DictWithNone": lambda x: {"a": x + 1, "b": None},
    "DictWithStr": lambda x: {"a": x + 1, "b": "label"},
    "DictWithList": lambda x: {"a": x + 1, "b": [x, x]},
    "OutputClass": lambda x: Output(x + 1, x * 2),
    "OutputClassNone": lambda x: Output(x + 1, None),
    "DictWithObject": lambda x: {"a": x + 1, "b": Cache(x)},
    "TupleWithObject": lambda x: (x + 1, Cache(x)),
    "OutputClassWithObject": lambda x: Output(x + 1, Cache(x)),
}


class Returns(nn.Module):
    def __init__(self, make):
        super().__init__()
        self.make = make

    def forward(self, x):
        return self.make(x)


for name, make in OUTPUTS.items():
    facts[f"{name}:legacy"] = legacy(Returns(make), (X,))
    facts[f"{name}:trace"] = outcome(lambda: torch.jit.trace(Returns(make), (X,)))

SEEN = {}


class SeesDefaults(nn.Module):
    def forward(self, x, flag=False, n=2):
        SEEN["types"] = f"{type(flag).__name__},{type(n).__name__}"
        return x


legacy(SeesDefaults(), (X,))
facts["defaults-under-legacy"] = SEEN.get("types", "")
SeesDefaults()(X)
facts["defaults-eager"] = SEEN.get("types", "")

k = KwargsOnly()
facts["KwargsOnly:trace"] = outcome(lambda: torch.jit.trace(k, (X,)))
facts["KwargsOnly:trace-kw"] = outcome(lambda: torch.jit.trace(k, example_kwarg_inputs={"x": X}))
facts["KwargsOnly:legacy-args"] = legacy(k, (X,))
facts["KwargsOnly:legacy-kwargs"] = legacy(k, (), {"x": X})
facts["KwargsOnly:export-kwargs"] = outcome(lambda: torch.export.export(k, (), {"x": X}))
facts["KwargsOnly:dynamo-kwargs"] = outcome(lambda: torch.onnx.export(k, (), kwargs={"x": X}, dynamo=True))

sys.path.insert(0, sys.argv[1])
models = importlib.import_module("legacy_inputs.models")
for name, cls in list(vars(models).items()):
    if inspect.isclass(cls) and issubclass(cls, nn.Module) and cls.__module__ == models.__name__:
        m = cls().eval()
        example = (IDS,) if "input_ids" in inspect.signature(cls.forward).parameters else (X,)
        facts[f"fixture:{name}"] = legacy(m, example)
        facts[f"fixture-trace:{name}"] = outcome(lambda: torch.jit.trace(m, example))
print("RESULT " + json.dumps(facts))
'''
