"""Real exports behind #14's torch.export / ONNX families: specs declared next to the model (PT109 / PT110),
slices of a dim declared with a named ``Dim`` (PT111), ``map`` over a dynamic dim, and the in-place random
ops under the legacy ONNX exporter (PT220's table).

The fixtures' models are exported with the specs the files declare, in one subprocess (torch 2.13, CPU).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Dict, Set, Tuple

import pytest
from fact_runner import run_fact_script

from mllint.testing import lint_files

pytestmark = [
    pytest.mark.export,
    pytest.mark.skipif(not all(importlib.util.find_spec(m) for m in ("torch", "onnxruntime")), reason="needs torch"),
]

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "torch"
FILES = ("declared_dynamic_shapes.py", "declared_dynamic_shapes_class.py", "dynamic_dim_sliced.py")

SCRIPT = r"""
import importlib.util, io, json, sys, tempfile, warnings
import torch
from torch import nn
from torch.export import Dim
import onnxruntime as ort

warnings.simplefilter("ignore")
mods = {}
for path in sys.argv[1:]:
    spec = importlib.util.spec_from_file_location(path.rsplit("/", 1)[-1][:-3], path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mods[spec.name] = mod


def first(exc):
    return "FAIL " + type(exc).__name__ + ": " + (str(exc).strip().splitlines() or [""])[0][:160]


def export(model, args, ds=None):
    try:
        torch.export.export(model, args, dynamic_shapes=ds)
        return "OK"
    except Exception as exc:  # noqa: BLE001 - the outcome is the fact
        return first(exc)


def dynamo_runs(model, args, ds, other):
    try:
        prog = torch.onnx.export(model, args, dynamic_shapes=ds, dynamo=True, verbose=False)
        path = tempfile.mktemp(suffix=".onnx")
        prog.save(path)
        sess = ort.InferenceSession(path)
        got = sess.run(None, {i.name: a.numpy() for i, a in zip(sess.get_inputs(), other)})[0]
        want = model(*other).detach().numpy()
        return "OK" if got.shape == want.shape and abs(got - want).max() < 1e-4 else "MISMATCH"
    except Exception as exc:  # noqa: BLE001
        return first(exc)


out = {}
m = mods["declared_dynamic_shapes"]
out["HalfRows:module-spec"] = export(m.HalfRows(), m.example_args, m.dynamic_shapes)
out["HalfRows:integer-half"] = export(type("Half", (nn.Module,), {"forward": lambda self, x: x[: (x.shape[0] + 1) // 2]})(),
                                      m.example_args, m.dynamic_shapes)
out["Unbound:no-spec"] = export(m.Unbound(), m.example_args)
c = mods["declared_dynamic_shapes_class"]
x4 = (torch.randn(4, 3),)
out["Gate:class-spec"] = export(c.Gate(), x4, c.Gate.dynamic_shapes)
out["WideGate:class-spec"] = export(c.WideGate(), x4, c.WideGate.dynamic_shapes)
out["Static:class-spec"] = export(c.Static(), x4, c.Static.dynamic_shapes)
out["Tokens:no-spec"] = export(c.Tokens(), (torch.randn(2, 20),))
out["Head:module-spec"] = export(c.Head(), x4, c.dynamic_shapes)
s = mods["dynamic_dim_sliced"]
ex = (torch.randn(2, 6, 16), torch.ones(2, 6))
named = {"tokens": {1: Dim("seq")}, "mask": {1: Dim.AUTO}}
out["TokenPooler:named"] = export(s.TokenPooler().eval(), ex, named)
out["TokenPooler:auto"] = export(s.TokenPooler().eval(), ex, {"tokens": {1: Dim.AUTO}, "mask": {1: Dim.AUTO}})
out["TokenPooler:dynamo-named"] = dynamo_runs(s.TokenPooler().eval(), ex, {"tokens": {1: Dim("seq")}, "mask": {1: Dim("seq")}},
                                              (torch.randn(2, 9, 16), torch.ones(2, 9)))
out["Shifted:auto"] = export(s.Shifted(), (torch.randn(6, 3),), {"x": {0: Dim.AUTO}})
out["Shifted:named"] = export(s.Shifted(), (torch.randn(6, 3),), {"x": {0: Dim("n")}})

slices = {
    "x[1:]": lambda self, x: x[1:], "x[:-1]": lambda self, x: x[:-1], "x[:3]": lambda self, x: x[:3],
    "x[:n//2]": lambda self, x: x[: x.shape[0] // 2], "x[::2]": lambda self, x: x[::2],
    "x[:]": lambda self, x: x[:], "x[:x.shape[0]]": lambda self, x: x[: x.shape[0]], "x[0]": lambda self, x: x[0],
    "x[-1]": lambda self, x: x[-1], "x[:,1:]": lambda self, x: x[:, 1:],
    "if x.shape[0] == 3": lambda self, x: x * 2 if x.shape[0] == 3 else x - 1,
    "if x.shape[0] == 1": lambda self, x: x * 2 if x.shape[0] == 1 else x - 1,
    "if x.shape[0] >= 2": lambda self, x: x * 2 if x.shape[0] >= 2 else x - 1,
}
for name, fwd in slices.items():
    model = type("S", (nn.Module,), {"forward": fwd})()
    out[f"slice:{name}"] = export(model, (torch.randn(4, 6),), {"x": {0: Dim("batch")}})
    out[f"slice-auto:{name}"] = export(model, (torch.randn(4, 6),), {"x": {0: Dim.AUTO}})
out["slice-min3:x[1:]"] = export(type("S", (nn.Module,), {"forward": slices["x[1:]"]})(), (torch.randn(4, 6),),
                                 {"x": {0: Dim("batch", min=3)}})

from torch._higher_order_ops.map import map as hop_map


def body(xi, y):
    return xi + y


class MapRows(nn.Module):
    def forward(self, xs, y):
        return hop_map(body, xs, y)


out["map:dynamic-dim0"] = export(MapRows(), (torch.randn(4, 3), torch.randn(3)), {"xs": {0: Dim("n")}, "y": None})

random_ops = {
    "uniform_": lambda self, x: torch.empty_like(x).uniform_() + x,
    "exponential_": lambda self, x: torch.empty_like(x).exponential_() + x,
    "random_": lambda self, x: torch.empty_like(x).random_(0, 5) + x,
    "cauchy_": lambda self, x: torch.empty_like(x).cauchy_() + x,
    "log_normal_": lambda self, x: torch.empty_like(x).log_normal_() + x,
    "geometric_": lambda self, x: torch.empty_like(x).geometric_(0.5) + x,
    "normal_": lambda self, x: torch.empty_like(x).normal_() + x,
    "bernoulli_": lambda self, x: torch.empty_like(x).bernoulli_(0.5) + x,
}
for name, fwd in random_ops.items():
    model = type("R", (nn.Module,), {"forward": fwd})()
    for opset in (17, 18, 19, 20):
        try:
            torch.onnx.export(model, (torch.randn(2, 3),), io.BytesIO(), dynamo=False, opset_version=opset)
            out[f"legacy{opset}:{name}"] = "OK"
        except Exception as exc:  # noqa: BLE001
            out[f"legacy{opset}:{name}"] = first(exc)
print("RESULT " + json.dumps(out))
"""


@pytest.fixture(scope="module")
def facts(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, str]:
    return run_fact_script(tmp_path_factory, "declared_spec_facts", SCRIPT, [str(FIXTURES / f) for f in FILES])


def _constraints(outcome: str) -> bool:
    return outcome.startswith("FAIL UserError: Constraints violated")


def test_specs_declared_next_to_the_model_are_the_ones_export_refuses(facts: Dict[str, str]) -> None:
    """PT109 / PT110 read module- and class-level ``dynamic_shapes``: the models they report fail with them."""
    assert _constraints(facts["HalfRows:module-spec"]), facts  # round() of the size
    assert _constraints(facts["Gate:class-spec"]) and _constraints(facts["WideGate:class-spec"])  # > 8 on it
    assert _constraints(facts["Head:module-spec"])  # int() of the size (non-strict export)
    # the look-alikes: no spec for them, or one that declares nothing dynamic
    assert facts["Unbound:no-spec"] == "OK" and facts["Tokens:no-spec"] == "OK" and facts["Static:class-spec"] == "OK"
    # integer arithmetic instead of round() does not save a slice of a named Dim: PT111's hazard
    assert _constraints(facts["HalfRows:integer-half"])


def test_slices_of_a_named_dim_fail_export_and_auto_dims_pass(facts: Dict[str, str]) -> None:
    for expr in ("x[1:]", "x[:-1]", "x[:3]", "x[:n//2]", "x[::2]", "if x.shape[0] == 3"):
        assert _constraints(facts[f"slice:{expr}"]), (expr, facts[f"slice:{expr}"])
        assert facts[f"slice-auto:{expr}"] == "OK", expr  # Dim.AUTO narrows the range instead
    # export assumes a dynamic dim is never 0 or 1: tests that this decides pass (PT110 leaves torch-export out)
    for expr in ("x[:]", "x[:x.shape[0]]", "x[0]", "x[-1]", "x[:,1:]", "if x.shape[0] == 1", "if x.shape[0] >= 2"):
        assert facts[f"slice:{expr}"] == "OK", (expr, facts[f"slice:{expr}"])
    assert facts["slice-min3:x[1:]"] == "OK"
    assert _constraints(facts["TokenPooler:named"]) and facts["TokenPooler:auto"] == "OK"
    assert _constraints(facts["Shifted:named"]) and facts["Shifted:auto"] == "OK"
    # the dynamo ONNX exporter applies the narrower range itself: the model runs at another length
    assert facts["TokenPooler:dynamo-named"] == "OK"


def test_map_over_a_dynamic_dim_exports(facts: Dict[str, str]) -> None:
    """#14 listed ``map`` over a dynamic dim as specialising; torch 2.13 exports it (no rule)."""
    assert facts["map:dynamic-dim0"] == "OK"


def test_in_place_random_ops_under_the_legacy_exporter(facts: Dict[str, str]) -> None:
    for opset in (17, 18, 19, 20):
        for op in ("uniform_", "exponential_", "random_", "cauchy_", "log_normal_", "geometric_"):
            outcome = facts[f"legacy{opset}:{op}"]
            assert outcome.startswith("FAIL UnsupportedOperatorError"), (opset, op, outcome)
            assert f"'aten::{op[:-1]}'" in outcome  # the exporter rewrote it to the out-of-place op first
        assert facts[f"legacy{opset}:normal_"] == "OK" and facts[f"legacy{opset}:bernoulli_"] == "OK"


def test_findings_on_the_fixtures_are_the_failing_models(facts: Dict[str, str]) -> None:
    """Each finding claims torch-export exactly where the export above fails."""
    found: Set[Tuple[str, int, str, bool]] = {
        (Path(f.path).name, f.line, f.code, "torch-export" in f.targets)
        for f in lint_files(
            {name: (FIXTURES / name).read_text(encoding="utf-8") for name in FILES},
            targets=["all"],
            select=["PT109", "PT110", "PT111"],
        )
        if f.suppressed is None
    }
    assert found == {
        ("declared_dynamic_shapes.py", 16, "PT109", True),  # HalfRows (module-level spec, `model = HalfRows()`)
        ("declared_dynamic_shapes_class.py", 12, "PT110", True),  # Gate / WideGate: `> 8` (class attribute)
        ("declared_dynamic_shapes_class.py", 13, "PT110", False),  # Gate: `== 1` (export assumes >= 2; trace bakes)
        ("declared_dynamic_shapes_class.py", 48, "PT109", True),  # Head (module-level spec, the one model taking feats)
        ("dynamic_dim_sliced.py", 15, "PT111", True),  # TokenPooler's tokens[:, 1:]
        ("dynamic_dim_sliced.py", 16, "PT111", True),  # and tokens[:, :4]
    }
    assert _constraints(facts["TokenPooler:named"]) and _constraints(facts["Gate:class-spec"])
    assert facts["slice:if x.shape[0] == 1"] == "OK"
