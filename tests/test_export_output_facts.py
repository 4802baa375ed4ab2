"""The facts PT225 (export-unflattenable-output) relies on, re-checked with real exports on torch 2.13.

Which objects ``torch.export`` and the ONNX dynamo exporter accept in a model's output: tensors, tuples,
lists, dicts, NamedTuples and registered pytree nodes flatten; any other class (a plain class, an
unregistered dataclass, a cache object like transformers' ``DynamicCache``) fails with "Found <class ...>
in output, which is not a known type". All exports run in one subprocess (pytree registrations are
process-global, so each case registers its own classes).
"""

from __future__ import annotations


import importlib.util
import pytest
from fact_runner import run_fact_script

from mllint.catalogue import load_catalogue

# find_spec, not importorskip: importing the frameworks at collection costs seconds even when deselected
pytestmark = pytest.mark.skipif(
    not all(importlib.util.find_spec(m) for m in ("torch", "onnxscript")), reason="needs torch, onnxscript"
)

CATALOGUE = load_catalogue()

SCRIPT = r"""
import collections, dataclasses, json, typing, warnings
import torch
from torch import nn
import torch.utils._pytree as pytree

warnings.filterwarnings("ignore")


class Cache:  # a plain class holding tensors, like transformers' DynamicCache
    def __init__(self):
        self.keys = []

    def update(self, k):
        self.keys.append(k)
        return k


@dataclasses.dataclass
class DC:
    a: torch.Tensor


@dataclasses.dataclass
class DCRegistered:
    a: torch.Tensor


torch.export.register_dataclass(DCRegistered)


class NT(typing.NamedTuple):
    a: torch.Tensor
    b: torch.Tensor


class DictSub(dict):
    pass


@dataclasses.dataclass
class ODOut(collections.OrderedDict):  # transformers' ModelOutput: an OrderedDict dataclass
    a: typing.Optional[torch.Tensor] = None

    def __post_init__(self):
        self["a"] = self.a


@dataclasses.dataclass
class ODOutRegistered(collections.OrderedDict):
    a: typing.Optional[torch.Tensor] = None

    def __post_init__(self):
        self["a"] = self.a


pytree.register_pytree_node(
    ODOutRegistered,
    lambda o: ([o.a], None),
    lambda values, ctx: ODOutRegistered(values[0]),
)


class CacheRegistered(Cache):
    pass


pytree.register_pytree_node(
    CacheRegistered,
    lambda c: (list(c.keys), None),
    lambda values, ctx: CacheRegistered(),
)


def model(make):
    class M(nn.Module):
        def forward(self, x):
            return make(x)
    return M().eval()


def cache_of(x, cls=Cache):
    c = cls()
    c.update(x * 2)
    return c


CASES = {
    "Tensor": lambda x: x + 1,
    "PlainClass": lambda x: cache_of(x),
    "PlainClassInTuple": lambda x: (x + 1, cache_of(x)),
    "PlainClassInDict": lambda x: {"out": x + 1, "cache": cache_of(x)},
    "PlainClassInList": lambda x: [x + 1, cache_of(x)],
    "PlainClassInModelOutput": lambda x: ODOutRegistered(cache_of(x)),
    "CacheUsedNotReturned": lambda x: cache_of(x).keys[0] + 1,
    "CacheTensorAttr": lambda x: (x + 1, cache_of(x).keys[0]),
    "RegisteredClass": lambda x: cache_of(x, CacheRegistered),
    "Dataclass": lambda x: DC(x + 1),
    "DataclassRegistered": lambda x: DCRegistered(x + 1),
    "NamedTuple": lambda x: NT(x + 1, x * 2),
    "PlainDict": lambda x: {"a": x + 1},
    "DictSubclass": lambda x: DictSub(a=x + 1),
    "ModelOutputUnregistered": lambda x: ODOut(x + 1),
    "ModelOutputRegistered": lambda x: ODOutRegistered(x + 1),
    "NoneInTuple": lambda x: (x + 1, None),
}


def run(how, m, x):
    try:
        if how == "export":
            torch.export.export(m, (x,), strict=False)
        else:
            torch.onnx.export(m, (x,), dynamo=True, verbose=False)
        return "OK"
    except Exception as e:  # noqa: BLE001 - the outcome is the fact
        # the ONNX exporter wraps torch.export's error: read the whole chain of causes
        chain, cause = [], e
        while cause is not None and len(chain) < 5:
            chain.append(str(cause))
            cause = cause.__cause__ or cause.__context__
        unknown = " [not a known type]" if any("which is not a known type" in c for c in chain) else ""
        text = str(e).strip().splitlines()
        return "FAIL " + type(e).__name__ + ": " + (text[0] if text else "")[:120] + unknown


out = {}
x = torch.randn(2, 3)
for name, make in CASES.items():
    for how in ("export", "dynamo"):
        out[name + ":" + how] = run(how, model(make), x)
print("RESULT " + json.dumps(out))
"""


@pytest.fixture(scope="module")
def facts(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return run_fact_script(tmp_path_factory, "output_facts", SCRIPT, (), timeout=900)


UNKNOWN_TYPE = "[not a known type]"


@pytest.mark.export
@pytest.mark.parametrize("how", ["export", "dynamo"])
def test_unflattenable_outputs_fail(facts: dict, how: str) -> None:
    for case in (
        "PlainClass",
        "PlainClassInTuple",
        "PlainClassInDict",
        "PlainClassInList",
        "PlainClassInModelOutput",
        "Dataclass",
        "ModelOutputUnregistered",
        "DictSubclass",
    ):
        outcome = facts[f"{case}:{how}"]
        assert outcome.startswith("FAIL") and UNKNOWN_TYPE in outcome, (case, outcome)


@pytest.mark.export
@pytest.mark.parametrize("how", ["export", "dynamo"])
def test_flattenable_outputs_export(facts: dict, how: str) -> None:
    for case in (
        "Tensor",
        "CacheUsedNotReturned",
        "CacheTensorAttr",
        "RegisteredClass",
        "DataclassRegistered",
        "NamedTuple",
        "PlainDict",
        "ModelOutputRegistered",
        "NoneInTuple",
    ):
        assert facts[f"{case}:{how}"] == "OK", (case, facts[f"{case}:{how}"])


@pytest.mark.export
def test_card_names_the_measured_targets(facts: dict) -> None:
    impacts = CATALOGUE.by_code["PT225"].impacts
    # trace and legacy ONNX: measured in tests/test_legacy_input_facts.py (test_legacy_output_containers)
    assert set(impacts) == {"torch-export", "onnx-dynamo", "torchscript-trace", "onnx-legacy"}
    assert all(i.effect == "fails" for i in impacts.values())
