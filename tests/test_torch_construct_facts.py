"""The facts PT2xx / PT4xx rely on, re-checked with real exports (torch, onnx, onnxruntime on CPU).

All exports run in ONE subprocess (the script below, written to a temporary file because
``torch.jit.script`` needs the source). Exports that crash the interpreter (tracing through a caught
exception, the ONNX dynamo exporter on ``x.data``) run in its child processes.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from mllint.catalogue import load_catalogue
from mllint.checks.unsupported.torch_constructs import SCRIPT_UNSUPPORTED_TENSOR_METHODS, STORAGE_METHODS
from mllint.optables.torch_tables import load_torch_tables

# find_spec, not importorskip: importing the frameworks at collection costs seconds even when deselected
pytestmark = pytest.mark.skipif(not all(importlib.util.find_spec(m) for m in ('torch', 'onnxruntime', 'onnxscript')), reason="needs torch, onnxruntime, onnxscript")

CATALOGUE = load_catalogue()


def effect(code: str, target: str):  # type: ignore[no-untyped-def]
    impact = CATALOGUE.by_code[code].impacts.get(target)
    return impact.effect if impact else None


def fails(outcome: str) -> bool:
    return outcome.startswith("FAIL")


@pytest.fixture(scope="module")
def facts(tmp_path_factory: pytest.TempPathFactory) -> dict:
    path = tmp_path_factory.mktemp("construct_facts") / "construct_facts.py"
    path.write_text(SCRIPT, encoding="utf-8")
    scripts = Path(__file__).resolve().parents[1] / "scripts"  # the op-table generator (TorchScript method list)
    proc = subprocess.run([sys.executable, str(path), str(scripts)], capture_output=True, text=True, timeout=900,
                          cwd=str(path.parent))
    line = next((l for l in proc.stdout.splitlines() if l.startswith("RESULT ")), None)
    assert line is not None, proc.stderr[-3000:]
    return json.loads(line[len("RESULT "):])


@pytest.mark.export
def test_script_syntax_PT201(facts: dict) -> None:
    for case in ("Lambda", "NestedDef", "NestedClass", "Yield", "GlobalWrite", "VarArgs", "KwOnly", "TupleKeys",
                 "ImportInside", "StarList"):
        assert fails(facts[f"{case}:script"]), case
    # the front end refuses the lambda before looking at the guard; the list unpacking is pruned by it
    assert fails(facts["LambdaGuarded:script"]) and facts["StarListGuarded:script"] == "OK"
    assert all(facts[f"Lambda:{t}"] == "OK" for t in ("trace", "export", "dynamo", "legacy"))
    assert set(CATALOGUE.by_code["PT201"].impacts) == {"torchscript-script"}


@pytest.mark.export
def test_try_except_PT202(facts: dict) -> None:
    assert fails(facts["TryExcept:script"]) and fails(facts["TryGuarded:script"])
    assert facts["child:trace-try"].startswith("CRASH") and effect("PT202", "torchscript-trace") == "crashes"
    assert facts["child:legacy-try"].startswith("CRASH") and effect("PT202", "onnx-legacy") == "crashes"
    assert all(facts[f"TryNoRaise:{t}"] == "OK" for t in ("trace", "export", "dynamo", "legacy"))


@pytest.mark.export
def test_dynamic_module_access_PT203(facts: dict) -> None:
    for case in ("SuperHelper", "ModuleListIndex", "ModuleDictVar", "GetattrF"):
        assert fails(facts[f"{case}:script"]), case
    assert facts["ModuleListLiteral:script"] == "OK" and facts["GetattrLiteral:script"] == "OK"
    assert all(facts[f"SuperHelper:{t}"] == "OK" for t in ("trace", "export", "dynamo", "legacy"))


@pytest.mark.export
def test_python_only_calls_PT204(facts: dict) -> None:
    for case in ("Logging", "Reduce", "NumpyStatic", "AutogradFnAttr", "BoolMethod", "UniqueMethod", "SumTensors",
                 "TupleComp"):
        assert fails(facts[f"{case}:script"]), case
    assert facts["AutogradFn:script"] == "OK" and fails(facts["AutogradFn:script-save"])
    assert facts["TorchForms:script"] == "OK"  # the torch spellings, and generators fed to all()/sum() of ints
    assert facts["LoggingGuarded:script"] == "OK" and facts["LoggingAfterExit:script"] == "OK"
    assert all(facts[f"Logging:{t}"] == "OK" for t in ("trace", "export", "dynamo", "legacy"))


@pytest.mark.export
def test_unsupported_tensor_methods_table_matches_torch(facts: dict) -> None:
    # the generated table (scripts/gen_torch_op_tables.py) agrees with the installed torch's compiler
    live = set(facts["unsupported-tensor-methods"])
    assert live == set(load_torch_tables().script_unsupported_methods)
    assert live == set(SCRIPT_UNSUPPORTED_TENSOR_METHODS) | set(STORAGE_METHODS) | {"numpy"}


@pytest.mark.export
def test_annotations_PT205_PT206(facts: dict) -> None:
    assert fails(facts["ScaleDefault:script"]) and fails(facts["HelperIntArg:script"])
    assert facts["ScaleAnnotated:script"] == "OK"
    assert fails(facts["BiasNone:script-call"]) and effect("PT206", "torchscript-script") == "run-fails"
    assert facts["BiasOptional:script-call"] == "OK"


@pytest.mark.export
def test_decorator_dropped_PT207(facts: dict) -> None:
    assert facts["Decorated:script-call"] == "SILENT" and effect("PT207", "torchscript-script") == "silent"
    assert facts["DecoNoGrad:script-call"] == "OK"


@pytest.mark.export
def test_jit_ignore_blocks_save_PT208(facts: dict) -> None:
    assert facts["Ignored:script"] == "OK" and fails(facts["Ignored:script-save"])
    assert facts["IgnoredDrop:script-save"] == "OK" and facts["Unused:script-save"] == "OK"


@pytest.mark.export
def test_dataclass_output_PT209(facts: dict) -> None:
    for target, key in (("torchscript-script", "script"), ("torchscript-trace", "trace"), ("torch-export", "export"),
                        ("onnx-dynamo", "dynamo"), ("onnx-legacy", "legacy")):
        assert fails(facts[f"DataclassOut:{key}"]) and effect("PT209", target) == "fails", target


@pytest.mark.export
def test_dict_output_PT217(facts: dict) -> None:
    for case in ("DictOut", "DictLikeOutModule"):  # a dict, and an OrderedDict dataclass like ModelOutput
        assert fails(facts[f"{case}:trace"]) and effect("PT217", "torchscript-trace") == "fails", case
        assert facts[f"{case}:trace-nonstrict"] == "OK", case  # the fix the card gives
        assert facts[f"{case}:legacy"] == "OK", case
    assert facts["DictOut:export"] == "OK"
    # An OrderedDict dataclass needs a pytree registration for torch.export (transformers registers its
    # ModelOutput subclasses); PT217 names tracing only, the one failure both forms share.
    assert fails(facts["DictLikeOutModule:export"])
    assert set(CATALOGUE.by_code["PT217"].impacts) == {"torchscript-trace"}


@pytest.mark.export
def test_storage_access_PT210(facts: dict) -> None:
    assert fails(facts["DataPtr:script"]) and fails(facts["DataPtr:export"]) and fails(facts["DataPtr:dynamo"])
    assert facts["DataPtr:trace"] == "OK" and effect("PT210", "torchscript-trace") is None


@pytest.mark.export
def test_data_attribute_PT211(facts: dict) -> None:
    assert facts["child:dynamo-data"].startswith("CRASH") and effect("PT211", "onnx-dynamo") == "crashes"
    assert fails(facts["child:dynamo-param-data"])
    assert fails(facts["DataIn:export"]) and fails(facts["ParamData:export"])
    assert facts["DataIn:trace-other-input"] == "SILENT" and effect("PT211", "torchscript-trace") == "silent"
    assert facts["DataIn:legacy-other-input"] == "SILENT" and effect("PT211", "onnx-legacy") == "silent"


@pytest.mark.export
def test_input_mutation_PT212(facts: dict) -> None:
    for case in ("InplaceInput", "AugInput", "SetitemInput", "ViewInput"):
        assert facts[f"{case}:export"] == "OK", case
        assert facts[f"{case}:dynamo"] == "SILENT" and facts[f"{case}:legacy"] == "SILENT", case
    assert all(facts[f"CloneFirst:{t}"] == "OK" for t in ("export", "dynamo", "legacy"))
    assert set(CATALOGUE.by_code["PT212"].impacts) == {"onnx-dynamo", "onnx-legacy"}


@pytest.mark.export
def test_state_between_calls_PT213_PT214(facts: dict) -> None:
    assert facts["Buffer:repeat-export"] == "OK" and effect("PT213", "torch-export") is None
    assert facts["Buffer:repeat-dynamo"] == "SILENT" and facts["Buffer:repeat-legacy"] == "SILENT"
    assert facts["Buffer:count-after-tracing"] > 0  # tracing ran forward and advanced the module's buffer
    assert fails(facts["PyCounter:trace"]) and effect("PT214", "torchscript-trace") == "fails"
    for how in ("export", "dynamo", "legacy"):
        assert facts[f"PyCounter:repeat-{how}"] == "SILENT", how


@pytest.mark.export
def test_python_randomness_PT215(facts: dict) -> None:
    assert fails(facts["PyRandom:script"]) and fails(facts["PyRandom:trace"])
    for how in ("export", "dynamo", "legacy"):
        assert facts[f"PyRandom:repeat-{how}"] == "SILENT", how


@pytest.mark.export
def test_static_shapes_and_names_PT401_PT402_PT403(facts: dict) -> None:
    assert fails(facts["OtherBatch:export"]) and effect("PT403", "torch-export") == "run-fails"
    assert fails(facts["OtherBatch:dynamo"]) and fails(facts["OtherBatch:legacy"])
    assert effect("PT401", "onnx-dynamo") == effect("PT401", "onnx-legacy") == "run-fails"
    assert facts["Names:dynamo"] == ["x", "softmax"]
    assert facts["Names:legacy"][0].startswith("onnx::")


@pytest.mark.export
def test_trace_of_branch_and_train_mode_PT404_PT405(facts: dict) -> None:
    assert facts["Gate:trace-other-input"] == "SILENT"
    for how, target in (("trace", "torchscript-trace"), ("export", "torch-export"), ("dynamo", "onnx-dynamo")):
        assert facts[f"TrainMode:{how}"] == "TRAIN" and effect("PT405", target) == "silent", how
    assert facts["TrainMode:legacy"] == "EVAL" and effect("PT405", "onnx-legacy") is None


SCRIPT = r'''"""Real exports of tiny modules: what each PyTorch target does with the constructs PT2xx/PT4xx report.

Prints one line ``RESULT {json}``. Exports that can crash the interpreter run in child processes
(``--child CASE``), started first so they overlap with the rest.
"""

import collections
import dataclasses
import functools
import io
import json
import logging
import operator
import random
import subprocess
import sys
import warnings
from typing import Optional

import numpy as np
import torch
from torch import nn

log = logging.getLogger("facts")
X = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
OTHER = -X - 1.0


def outcome(fn):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = fn()
        return "OK" if result is None else result
    except Exception as exc:  # noqa: BLE001 - recording the failure is the point
        return "FAIL " + type(exc).__name__


def script(m, *args):
    def run():
        sm = torch.jit.script(m)
        if args and not torch.allclose(sm(*args), m(*args)):
            return "SILENT"
        return None
    return outcome(run)


def script_save(m):
    return outcome(lambda: torch.jit.save(torch.jit.script(m), io.BytesIO()))


def trace(m):
    return outcome(lambda: (torch.jit.trace(m, (X,)), None)[1])


def trace_matches(m):
    def run():
        t = torch.jit.trace(m, (X,), check_trace=False)
        return "OK" if torch.allclose(t(OTHER), m(OTHER)) else "SILENT"
    return outcome(run)


def export(m):
    return outcome(lambda: (torch.export.export(m, (X,)), None)[1])


def session(m, args=(X,), dynamo=True, **kw):
    import onnxruntime as ort
    if dynamo:
        data = torch.onnx.export(m, args, dynamo=True, verbose=False, **kw).model_proto.SerializeToString()
    else:
        buf = io.BytesIO()
        torch.onnx.export(m, args, buf, dynamo=False, **kw)
        data = buf.getvalue()
    return ort.InferenceSession(data, providers=["CPUExecutionProvider"])


def run_session(sess, t):
    feed = {i.name: t.numpy() for i in sess.get_inputs()[:1]}  # a graph may have dropped its input
    return torch.from_numpy(sess.run(None, feed)[0])


def onnx(m, dynamo):
    return outcome(lambda: (session(m, dynamo=dynamo), None)[1])


# -- PT201 syntax ---------------------------------------------------------------------------------------------
class Lambda(nn.Module):
    def forward(self, x):
        f = lambda t: t * 2  # noqa: E731
        return f(x)


class LambdaGuarded(nn.Module):
    def forward(self, x):
        if not torch.jit.is_scripting():
            f = lambda t: t * 2  # noqa: E731
            return f(x)
        return x * 2


class NestedDef(nn.Module):
    def forward(self, x):
        def helper(t):
            return t * 3
        return helper(x)


class NestedClass(nn.Module):
    def forward(self, x):
        class A:
            pass
        return x


class Yield(nn.Module):
    def forward(self, x):
        yield x


_CALLS = 0


class GlobalWrite(nn.Module):
    def forward(self, x):
        global _CALLS
        _CALLS += 1
        return x + 1


class VarArgs(nn.Module):
    def forward(self, *xs):
        return xs[0] + 1


class KwOnly(nn.Module):
    def forward(self, x, *, scale: float = 2.0):
        return x * scale


class TupleKeys(nn.Module):
    def forward(self, x):
        d = {(0, 1): x, (1, 0): x * 2}
        return d[(0, 1)] + d[(1, 0)]


class ImportInside(nn.Module):
    def forward(self, x):
        import math
        return x * math.pi


class StarList(nn.Module):
    def forward(self, x):
        parts = [x, x]
        return torch.cat([*parts], 0)


class StarListGuarded(nn.Module):
    def forward(self, x):
        if not torch.jit.is_scripting():
            return torch.cat([*[x, x]], 0)
        return torch.cat([x, x], 0)


# -- PT202 try --------------------------------------------------------------------------------------------------
class TryExcept(nn.Module):
    def forward(self, x):
        try:
            return x @ x
        except RuntimeError:
            return x * x


class TryNoRaise(nn.Module):
    def forward(self, x):
        try:
            return x + 1
        except RuntimeError:
            return x * x


class TryGuarded(nn.Module):
    def forward(self, x):
        if not torch.jit.is_scripting():
            try:
                return x + 1
            except RuntimeError:
                return x
        return x + 1


# -- PT203 module access ----------------------------------------------------------------------------------------
class Base(nn.Module):
    def helper(self, x):
        return x + 1

    def forward(self, x):
        return x


class SuperHelper(Base):
    def forward(self, x):
        return super().helper(x) * 2


class ModuleListIndex(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(3, 3) for _ in range(2)])

    def forward(self, x):
        for i in range(len(self.layers)):
            x = self.layers[i](x)
        return x


class ModuleListLiteral(ModuleListIndex):
    def forward(self, x):
        return self.layers[-1](self.layers[0](x))


class ModuleDictVar(nn.Module):
    def __init__(self):
        super().__init__()
        self.heads = nn.ModuleDict({"a": nn.Linear(3, 3)})
        self.name = "a"

    def forward(self, x):
        key = self.name
        return self.heads[key](x)


class GetattrF(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer0 = nn.Linear(3, 3)
        self.layer1 = nn.Linear(3, 3)

    def forward(self, x):
        for i in range(2):
            x = getattr(self, f"layer{i}")(x)
        return x


class GetattrLiteral(GetattrF):
    def forward(self, x):
        return getattr(self, "layer0")(x)


# -- PT204 Python-only calls ------------------------------------------------------------------------------------
class Logging(nn.Module):
    def forward(self, x):
        log.info("shape %s", x.shape)
        return x + 1


class LoggingGuarded(nn.Module):
    def forward(self, x):
        if not torch.jit.is_scripting():
            log.info("shape %s", x.shape)
        return x + 1


class LoggingAfterExit(nn.Module):
    def forward(self, x):
        if torch.jit.is_scripting():
            return x + 1
        log.info("shape %s", x.shape)
        return x + 1


class Reduce(nn.Module):
    def forward(self, x):
        return functools.reduce(operator.add, [x, x, x])


class NumpyStatic(nn.Module):
    def forward(self, x):
        return x * float(np.sqrt(4.0))


class Fn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, g):
        return g * 2


class AutogradFn(nn.Module):
    def forward(self, x):
        return Fn.apply(x)


class AutogradFnAttr(nn.Module):
    Fn = Fn

    def forward(self, x):
        return self.Fn.apply(x)


class BoolMethod(nn.Module):
    def forward(self, x):
        return x.bool().float() + x


class UniqueMethod(nn.Module):
    def forward(self, x):
        return x.unique()


class TorchForms(nn.Module):
    def forward(self, x):
        assert all(d > 0 for d in x.shape)
        parts = torch.stack([t * 2 for t in x.unbind(0)])
        return torch.unique(x).sum() + (x > 0).to(torch.bool).float().sum() + parts.sum(0).sum() + sum(d for d in x.shape)


class SumTensors(nn.Module):
    def forward(self, x):
        return sum(t * 2 for t in x.unbind(0))


class TupleComp(nn.Module):
    def forward(self, x):
        return x.new_zeros(tuple(d * 2 for d in x.shape))


# -- PT205 / PT206 / PT207 / PT208 --------------------------------------------------------------------------------
class ScaleDefault(nn.Module):
    def forward(self, x, scale=2.0):
        return x * scale


class ScaleAnnotated(nn.Module):
    def forward(self, x, scale: float = 2.0):
        return x * scale


class HelperIntArg(nn.Module):
    def helper(self, x, k):
        return x * k

    def forward(self, x):
        return self.helper(x, 3)


class BiasNone(nn.Module):
    def forward(self, x, bias=None):
        if bias is not None:
            x = x + bias
        return x


class BiasOptional(nn.Module):
    def forward(self, x, bias: Optional[torch.Tensor] = None):
        if bias is not None:
            x = x + bias
        return x


def plus_one(fn):
    @functools.wraps(fn)
    def wrapper(self, x):
        return fn(self, x) + 1
    return wrapper


class Decorated(nn.Module):
    @plus_one
    def forward(self, x):
        return x * 2


class DecoNoGrad(nn.Module):
    @torch.no_grad()
    def forward(self, x):
        return x * 2


class Ignored(nn.Module):
    @torch.jit.ignore
    def py_only(self, x):
        return x * 2

    def forward(self, x):
        return self.py_only(x)


class IgnoredDrop(nn.Module):
    @torch.jit.ignore(drop=True)
    def py_only(self, x):
        return x * 2

    def forward(self, x):
        if self.training:
            return self.py_only(x)
        return x


class Unused(nn.Module):
    @torch.jit.unused
    def py_only(self, x):
        return x * 2

    def forward(self, x):
        if self.training:
            return self.py_only(x)
        return x


# -- PT209-PT215 ---------------------------------------------------------------------------------------------------
@dataclasses.dataclass
class Out:
    a: torch.Tensor
    b: torch.Tensor


class DataclassOut(nn.Module):
    def forward(self, x):
        return Out(x + 1, x * 2)


class DictOut(nn.Module):
    def forward(self, x):
        return {"a": x + 1, "b": x * 2}


@dataclasses.dataclass
class DictLikeOut(collections.OrderedDict):  # the shape of transformers' ModelOutput
    a: torch.Tensor = None
    b: torch.Tensor = None

    def __post_init__(self):
        self["a"], self["b"] = self.a, self.b


class DictLikeOutModule(nn.Module):
    def forward(self, x):
        return DictLikeOut(a=x + 1, b=x * 2)


class DataPtr(nn.Module):
    def forward(self, x):
        if x.data_ptr() % 16 == 0:
            return x + 1
        return x + 1


class DataIn(nn.Module):
    def forward(self, x):
        return x.data * 2


class ParamData(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.ones(3))

    def forward(self, x):
        return x * self.w.data


class InplaceInput(nn.Module):
    def forward(self, x):
        x.add_(1)
        return x * 2


class AugInput(nn.Module):
    def forward(self, x):
        x += 1
        return x * 2


class SetitemInput(nn.Module):
    def forward(self, x):
        x[0] = 0.0
        return x + 1


class ViewInput(nn.Module):
    def forward(self, x):
        v = x[:, 0]
        v.mul_(10)
        return x.sum(1)


class CloneFirst(nn.Module):
    def forward(self, x):
        x = x.clone()
        x.add_(1)
        return x * 2


class Buffer(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("count", torch.zeros(1))

    def forward(self, x):
        self.count += 1
        return x + self.count


class PyCounter(nn.Module):
    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return x * self.calls


class PyRandom(nn.Module):
    def forward(self, x):
        return x * random.random()


class Gate(nn.Module):
    def forward(self, x):
        if x.sum() > 0:
            return x * 2
        return x - 1


class DropoutNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.drop = nn.Dropout(0.5)

    def forward(self, x):
        return self.drop(x) + 1


class Scale(nn.Module):
    def forward(self, x):
        return torch.softmax(x * 2, -1)


def repeated(make, how):
    """Same input twice: does the artifact follow the changing state like eager (OK) or repeat itself (SILENT)?"""
    def run():
        m = make().eval()
        if how == "trace":
            art = torch.jit.trace(m, (X,), check_trace=False)
            call = art
        elif how == "export":
            call = torch.export.export(m, (X,)).module()
        else:
            sess = session(m, dynamo=(how == "dynamo"))
            call = lambda t: run_session(sess, t)  # noqa: E731
        a, b = call(X), call(X)
        return "SILENT" if torch.equal(a, b) else "OK"
    return outcome(run)


def mutation(cls, how):
    """Is the caller's input tensor updated as in eager after running the artifact?"""
    def run():
        m = cls().eval()
        eager_in = X.clone()
        m(eager_in)
        inp = X.clone()
        if how == "export":
            torch.export.export(m, (X.clone(),)).module()(inp)
        else:
            sess = session(m, (X.clone(),), dynamo=(how == "dynamo"))
            sess.run(None, {sess.get_inputs()[0].name: inp.numpy()})
        return "OK" if torch.equal(inp, eager_in) else "SILENT"
    return outcome(run)


def other_batch(how):
    """Exported with batch 2, no dynamic spec, run with batch 3."""
    def run():
        m = Scale().eval()
        bigger = torch.ones(3, 3)
        if how == "export":
            torch.export.export(m, (X,)).module()(bigger)
        else:
            run_session(session(m, dynamo=(how == "dynamo")), bigger)
    return outcome(run)


def io_names(dynamo):
    def run():
        sess = session(Scale().eval(), dynamo=dynamo)
        return [i.name for i in sess.get_inputs()] + [o.name for o in sess.get_outputs()]
    return outcome(run)


def train_mode(how):
    """A model left in train mode: is dropout active in the artifact?"""
    def run():
        m = DropoutNet()
        x = torch.ones(64, 64)
        if how == "trace":
            art = torch.jit.trace(m, (x,), check_trace=False)
        elif how == "export":
            art = torch.export.export(m, (x,)).module()
        else:
            sess = session(m, (x,), dynamo=(how == "dynamo"))
            art = lambda t: run_session(sess, t)  # noqa: E731
        return "EVAL" if torch.equal(art(x), x + 1) else "TRAIN"
    return outcome(run)


CHILDREN = {
    "trace-try": lambda: trace(TryExcept()),
    "legacy-try": lambda: onnx(TryExcept(), dynamo=False),
    "dynamo-data": lambda: onnx(DataIn(), dynamo=True),
    "dynamo-param-data": lambda: onnx(ParamData().eval(), dynamo=True),
}


def main():
    children = {c: subprocess.Popen([sys.executable, __file__, "--child", c], stdout=subprocess.PIPE,
                                    stderr=subprocess.DEVNULL, text=True) for c in CHILDREN}
    out = {}
    for cls in (Lambda, LambdaGuarded, NestedDef, NestedClass, Yield, GlobalWrite, VarArgs, KwOnly, TupleKeys,
                ImportInside, StarList, StarListGuarded, TryExcept, TryNoRaise, TryGuarded, SuperHelper,
                ModuleListIndex, ModuleListLiteral, ModuleDictVar, GetattrF, GetattrLiteral, Logging, LoggingGuarded,
                LoggingAfterExit, Reduce, NumpyStatic, AutogradFn, AutogradFnAttr, BoolMethod, UniqueMethod,
                TorchForms, SumTensors, TupleComp, ScaleDefault, ScaleAnnotated, HelperIntArg, DataclassOut, DataPtr,
                PyRandom, Ignored, IgnoredDrop, Unused):
        out[cls.__name__ + ":script"] = script(cls().eval())
    for cls in (BiasNone, BiasOptional, Decorated, DecoNoGrad):
        out[cls.__name__ + ":script-call"] = script(cls().eval(), X)
    for cls in (Ignored, IgnoredDrop, Unused, AutogradFn):
        out[cls.__name__ + ":script-save"] = script_save(cls().eval())
    for cls in (DictOut, DictLikeOutModule):
        out[cls.__name__ + ":trace"] = trace(cls().eval())
        out[cls.__name__ + ":trace-nonstrict"] = outcome(lambda: (torch.jit.trace(cls().eval(), (X,), strict=False), None)[1])
        out[cls.__name__ + ":export"] = export(cls().eval())
        out[cls.__name__ + ":legacy"] = onnx(cls().eval(), False)
    for cls in (Lambda, TryNoRaise, SuperHelper, Logging, DataclassOut, DataPtr, DataIn, ParamData):
        m = cls().eval()
        out[cls.__name__ + ":trace"] = trace(m)
        out[cls.__name__ + ":export"] = export(m)
        if cls not in (DataIn, ParamData):  # these crash / fail in children
            out[cls.__name__ + ":dynamo"] = onnx(m, True)
        out[cls.__name__ + ":legacy"] = onnx(m, False)
    for cls in (DataIn, Gate):
        out[cls.__name__ + ":trace-other-input"] = trace_matches(cls().eval())
    out["DataIn:legacy-other-input"] = outcome(
        lambda: "OK" if torch.allclose(run_session(session(DataIn(), dynamo=False), OTHER), OTHER * 2) else "SILENT")
    for cls in (InplaceInput, AugInput, SetitemInput, ViewInput, CloneFirst):
        for how in ("export", "dynamo", "legacy"):
            out[f"{cls.__name__}:{how}"] = mutation(cls, how)
    for make, name in ((Buffer, "Buffer"), (PyCounter, "PyCounter"), (PyRandom, "PyRandom")):
        for how in ("export", "dynamo", "legacy"):
            out[f"{name}:repeat-{how}"] = repeated(make, how)
    out["PyCounter:trace"] = trace(PyCounter().eval())
    out["PyRandom:trace"] = trace(PyRandom().eval())
    traced = Buffer().eval()
    torch.jit.trace(traced, (X,))
    out["Buffer:count-after-tracing"] = float(traced.count)
    for how in ("export", "dynamo", "legacy"):
        out[f"OtherBatch:{how}"] = other_batch(how)
    out["Names:dynamo"] = io_names(True)
    out["Names:legacy"] = io_names(False)
    for how in ("trace", "export", "dynamo", "legacy"):
        out[f"TrainMode:{how}"] = train_mode(how)
    sys.path.insert(0, sys.argv[1])  # the repository's scripts/: the generator's own method, run here
    from gen_torch_op_tables import script_unsupported_tensor_methods

    out["unsupported-tensor-methods"] = script_unsupported_tensor_methods()
    for case, proc in children.items():
        stdout, _ = proc.communicate(timeout=300)
        lines = [line[6:] for line in stdout.splitlines() if line.startswith("CHILD ")]
        out["child:" + case] = f"CRASH {-proc.returncode}" if proc.returncode < 0 else (lines[-1] if lines else "NONE")
    print("RESULT " + json.dumps(out))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        print("CHILD " + CHILDREN[sys.argv[2]](), flush=True)
    else:
        main()
'''
