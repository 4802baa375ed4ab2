"""Real ``torch.jit.script`` facts behind PT221's statement form, PT222 (a name retyped inside a block), PT223 (a
``return`` its annotation contradicts) and the #14 additions to PT201 (star-unpacking a list), PT203 (``getattr``
with a computed name on any object) and PT204 (``setattr``, class reflection, ``torch.sym_*``, context managers).

Every class of the script below is scripted and run once; the lines marked ``# PTxxx`` are exactly the findings
mllint reports for those codes, each within three lines of the line TorchScript's error names, and every class
without a marker scripts and runs.
"""

from __future__ import annotations

import re

import pytest
from fact_runner import run_fact_script

from mllint.catalogue import load_catalogue
from mllint.testing import lint_source

pytest.importorskip("torch")

CODES = ("PT201", "PT203", "PT204", "PT221", "PT222", "PT223")
MARK = re.compile(r"#\s*(PT2\d\d)\s*$")

SCRIPT = r"""
import contextlib
import json
import re
import warnings
from typing import List, Optional, Tuple

import torch
from torch import nn

warnings.simplefilter("ignore")


# -- PT221: an if / else statement whose branches give a name two types --------------------------
class IfElseRead(nn.Module):
    def __init__(self):
        super().__init__()
        self.p = 0.1

    def forward(self, x):
        if self.training:  # PT221
            p = self.p
        else:
            p = 0
        return x * (1 - p)


class IfElseTensorInt(nn.Module):
    def forward(self, x, flag: bool = False):
        if flag:  # PT221
            bias = x.mean()
        else:
            bias = 0
        return x + bias


class ElifChain(nn.Module):
    def forward(self, x, mode: int = 0):
        if mode == 0:
            s = 0.5
        elif mode == 1:  # PT221
            s = 2
        else:
            s = 1.5
        return x * s


class IfElseNotRead(nn.Module):
    def forward(self, x, flag: bool = False):
        if flag:
            s = 0.5
        else:
            s = 1
        return x


class IfElseRebound(nn.Module):
    def forward(self, x, flag: bool = False):
        if flag:
            s = 0.5
        else:
            s = 1
        s = 2.0
        return x * s


class IfElseReturns(nn.Module):
    def forward(self, x, flag: bool = False):
        if flag:
            s = 0.5
        else:
            s = 1
            return x * s
        return x * s


class IfElseHasattr(nn.Module):
    def forward(self, x):
        if hasattr(self, "scale"):
            s = 0.5
        else:
            s = 1
        return x * s


class IfElseScripting(nn.Module):
    def forward(self, x):
        if torch.jit.is_scripting():
            s = 0.5
        else:
            s = 1
        return x * s


class IfElseNone(nn.Module):
    def forward(self, x, flag: bool = False):
        if flag:
            m = None
        else:
            m = x * 2
        return x if m is None else m


# -- PT222: a name given another type inside a block -------------------------------------------------
class NoneThenTensor(nn.Module):
    def forward(self, x, flag: bool = False):
        mask = None
        if flag:
            mask = x > 0  # PT222
        return x


class IntThenFloatLoop(nn.Module):
    def forward(self, x):
        s = 1
        for _ in range(2):
            s = 0.5  # PT222
        return x * s


class TensorThenNone(nn.Module):
    def forward(self, x, flag: bool = False):
        y = x * 2
        if flag:
            y = None  # PT222
        return x


class DictThenTuple(nn.Module):
    def forward(self, x, flag: bool = False):
        out = {"hidden": x * 2}
        if flag:
            out = (out["hidden"],)  # PT222
        return x


class IntThenTensor(nn.Module):
    def forward(self, x, flag: bool = False):
        total = 0
        if flag:
            total = x.sum()
        return x + total


class AnnotatedOptional(nn.Module):
    def forward(self, x, flag: bool = False):
        mask: Optional[torch.Tensor] = None
        if flag:
            mask = x > 0
        return x if mask is None else x * mask


class StraightRebind(nn.Module):
    def forward(self, x):
        m = None
        m = x * 2
        return m


class NoneThenSubmodule(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(3, 3)

    def forward(self, x):
        out = None
        if self.proj is not None:
            out = self.proj(x)
        return x if out is None else out


class NoneThenModuleLoop(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(3, 3), nn.Linear(3, 3)])

    def forward(self, x):
        last = None
        for layer in self.layers:
            last = layer(x)
        return x if last is None else last


class NoneThenTupleLoop(nn.Module):
    def forward(self, x):
        last = None
        for t in (x, x * 2):
            last = t
        return x if last is None else last


# -- PT223: a return its annotation contradicts ---------------------------------------------------------
class RetIntFloat(nn.Module):
    def scale(self) -> int:
        return 0.5  # PT223

    def forward(self, x):
        return x * self.scale()


class RetFloatInt(nn.Module):
    def scale(self) -> float:
        return 1  # PT223

    def forward(self, x):
        return x * self.scale()


class RetBoolInt(nn.Module):
    def flag(self) -> bool:
        return 1  # PT223

    def forward(self, x):
        return x if self.flag() else x * 2


class RetTensorTuple(nn.Module):
    def forward(self, x) -> torch.Tensor:
        return x, x * 2  # PT223


class RetTensorNone(nn.Module):
    def forward(self, x) -> torch.Tensor:
        if x.dim() > 4:
            return None  # PT223
        return x


class RetTensorNumber(nn.Module):
    def forward(self, x) -> torch.Tensor:
        if x.dim() > 4:
            return 0.0  # PT223
        return x


class RetTensorDict(nn.Module):
    def forward(self, x) -> torch.Tensor:
        return {"y": x}  # PT223


class RetTupleList(nn.Module):
    def forward(self, x) -> Tuple[torch.Tensor, torch.Tensor]:
        return [x, x * 2]  # PT223


class RetIntNone(nn.Module):
    def scale(self) -> int:
        return None  # PT223

    def forward(self, x):
        return x * self.scale()


class RetIntBool(nn.Module):
    def scale(self) -> int:
        return True

    def forward(self, x):
        return x * self.scale()


class RetFloatTensor(nn.Module):
    def scale(self, x) -> float:
        return x.mean()

    def forward(self, x):
        return x * self.scale(x)


class RetListTuple(nn.Module):
    def parts(self, x) -> List[torch.Tensor]:
        return x, x * 2

    def forward(self, x):
        return self.parts(x)[0]


class RetOptionalNone(nn.Module):
    def forward(self, x) -> Optional[torch.Tensor]:
        if x.dim() > 4:
            return None
        return x


class RetTupleOk(nn.Module):
    def forward(self, x) -> Tuple[torch.Tensor, torch.Tensor]:
        return x, x * 2


# -- PT201: star-unpacking a list ------------------------------------------------------------------------
class StarTargetList(nn.Module):
    def forward(self, x):
        first, *rest = x.unbind(0)  # PT201
        return first


class StarTargetShape(nn.Module):
    def forward(self, x):
        b, *dims = x.shape  # PT201
        return x.view(b, -1)


class StarArgShape(nn.Module):
    def forward(self, x):
        return x.view(*x.shape[:-1], 3, 1)  # PT201


class StarArgName(nn.Module):
    def forward(self, x):
        new_shape = x.size()[:-1] + (3, 1)
        return x.view(*new_shape)  # PT201


class StarTargetTuple(nn.Module):
    def forward(self, x):
        parts = (x, x * 2, x * 3)
        first, *rest = parts
        return first


class StarArgTuple(nn.Module):
    def forward(self, x):
        shape = (3, 2)
        return x.reshape(*shape)


# -- PT203: getattr with a computed name --------------------------------------------------------------
class GetattrComputed(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 3)

    def forward(self, x):
        name = "weight"
        return x @ getattr(self.lin, name)  # PT203


class GetattrLiteral(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 3)

    def forward(self, x):
        return getattr(self, "lin")(x) * getattr(self, "scale", 2.0)


# -- PT204: calls and context managers TorchScript cannot compile ------------------------------------
class Setattr(nn.Module):
    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, x):
        setattr(self, "calls", 1)  # PT204
        return x


class TypeOfSelf(nn.Module):
    @staticmethod
    def act(t):
        return t * 2

    def forward(self, x):
        return type(self).act(x)  # PT204


class SelfClass(nn.Module):
    def forward(self, x):
        name = self.__class__.__name__  # PT204
        return x


class SymMin(nn.Module):
    def forward(self, x):
        return x[: torch.sym_min(x.shape[0], 2)]  # PT204


class SymMax(nn.Module):
    def forward(self, x):
        return x[: torch.sym_max(x.shape[0], 2)]  # PT204


class SymNot(nn.Module):
    def forward(self, x):
        if torch.sym_not(x.shape[0] == 2):  # PT204
            return x
        return x * 2


class SymInt(nn.Module):
    def forward(self, x):
        return x * torch.sym_int(x.shape[0])  # PT204


class NullContext(nn.Module):
    def forward(self, x):
        with contextlib.nullcontext():  # PT204
            y = x * 2
        return y


class EnableGrad(nn.Module):
    def forward(self, x):
        with torch.enable_grad():  # PT204
            y = x * 2
        return y


class InferenceMode(nn.Module):
    def forward(self, x):
        with torch.inference_mode():  # PT204
            y = x * 2
        return y


class SetGradEnabled(nn.Module):
    def forward(self, x):
        with torch.set_grad_enabled(False):  # PT204
            y = x * 2
        return y


class NoGrad(nn.Module):
    def forward(self, x):
        with torch.no_grad():
            y = x * 2
        return y


class Autocast(nn.Module):
    def forward(self, x):
        with torch.autocast("cpu", enabled=False):
            y = x * 2
        return y


class RecordFunction(nn.Module):
    def forward(self, x):
        with torch.autograd.profiler.record_function("block"):
            y = x * 2
        return y


class MinBuiltin(nn.Module):
    def forward(self, x):
        return x[: min(x.shape[0], 2)]


# -- not a hazard: a Sequential subclass returning a list ------------------------------------------------
class Taps(nn.Sequential):
    def __init__(self):
        super().__init__(nn.Linear(3, 3), nn.ReLU())

    def forward(self, x):
        outs = []
        for m in self:
            x = m(x)
            outs.append(x)
        return outs


class TapsUser(nn.Module):
    def __init__(self):
        super().__init__()
        self.taps = Taps()

    def forward(self, x):
        a, b = self.taps(x)
        return a + b


def outcome(fn):
    try:
        fn()
        return "OK", None
    except Exception as exc:  # noqa: BLE001 - the outcome is the fact
        text = str(exc).strip()
        found = re.search(r'File "[^"]*script_retyping_facts\.py", line (\d+)', text)
        return "FAIL " + (text.splitlines() or [""])[0][:160], int(found.group(1)) if found else None


out = {}
x = torch.randn(2, 3)
TRACED = ("IfElseRead", "NoneThenTensor", "RetIntFloat", "RetTensorTuple", "StarArgShape", "GetattrComputed",
          "Setattr", "SymMin", "NullContext", "EnableGrad")
for name, cls in list(globals().items()):
    if not (isinstance(cls, type) and issubclass(cls, nn.Module) and cls.__module__ == "__main__"):
        continue
    if name == "Taps":
        continue
    model = cls().eval()
    result, line = outcome(lambda: torch.jit.script(model)(x))
    out[name] = {"script": result, "line": line}
    if name in TRACED:
        out[name]["trace"] = outcome(lambda: torch.jit.trace(model, (x,)))[0]
        out[name]["export"] = outcome(lambda: torch.export.export(model, (x,)))[0]
print("RESULT " + json.dumps(out))
"""

#: class -> the start of the first line of TorchScript's error ("OK": it scripts and runs)
EXPECTED = {
    "IfElseRead": "Type mismatch: p is set to type float in the true branch and type int in the false branch",
    "IfElseTensorInt": "Type mismatch: bias is set to type Tensor in the true branch and type int",
    "ElifChain": "s is not defined in the false branch",
    "NoneThenTensor": "Variable 'mask' previously had type NoneType but is now being assigned to a value of type Tensor",
    "DictThenTuple": "Variable 'out' previously had type Dict[str, Tensor] but is now being assigned to a value of type "
    "Tuple[Tensor]",
    "IntThenFloatLoop": "Variable 's' previously had type int but is now being assigned to a value of type float",
    "TensorThenNone": "Variable 'y' previously had type Tensor but is now being assigned to a value of type NoneType",
    "RetIntFloat": "Return value was annotated as having type int but is actually of type float",
    "RetFloatInt": "Return value was annotated as having type float but is actually of type int",
    "RetBoolInt": "Return value was annotated as having type bool but is actually of type int",
    "RetTensorTuple": "Return value was annotated as having type Tensor but is actually of type Tuple[Tensor, Tensor]",
    "RetTensorNone": "Return value was annotated as having type Tensor but is actually of type NoneType",
    "RetTensorNumber": "Return value was annotated as having type Tensor but is actually of type float",
    "RetTensorDict": "Expected an annotation of type Dict but got Tensor",
    "RetTupleList": "Expected an annotation of type List but got Tuple[Tensor, Tensor]",
    "RetIntNone": "Return value was annotated as having type int but is actually of type NoneType",
    "StarTargetList": "cannot statically infer the expected size of a list in this context",
    "StarTargetShape": "cannot statically infer the expected size of a list in this context",
    "StarArgShape": "cannot statically infer the expected size of a list in this context",
    "StarArgName": "cannot statically infer the expected size of a list in this context",
    "GetattrComputed": "getattr's second argument must be a string literal",
    "Setattr": "Python builtin <built-in function setattr> is currently not supported in Torchscript",
    "TypeOfSelf": "type(Tensor 0) -> Tensor 0",
    "SelfClass": "type object 'type' has no attribute '__globals__'",
    "SymMin": "Unknown builtin op: aten::sym_min",
    "SymMax": "Unknown builtin op: aten::sym_max",
    "SymNot": "Unknown builtin op: aten::sym_not",
    "SymInt": "Unknown builtin op: aten::sym_int",
    "NullContext": "Expected <function nullcontext.__aenter__",
    "EnableGrad": "Unknown builtin op: aten::enable_grad",
    "InferenceMode": "Unknown builtin op: aten::inference_mode",
    "SetGradEnabled": "With item expression must return an object",
}


@pytest.fixture(scope="module")
def facts(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return run_fact_script(tmp_path_factory, "script_retyping_facts", SCRIPT)


def _code() -> str:
    return SCRIPT.split("def outcome")[0]


def _marked() -> dict:
    """line -> code for the ``# PTxxx`` markers, and the class each line is in."""
    out = {}
    for i, line in enumerate(_code().splitlines(), 1):
        m = MARK.search(line)
        if m:
            out[i] = m.group(1)
    return out


def _class_at(line: int) -> str:
    name = ""
    for i, text in enumerate(_code().splitlines(), 1):
        if i > line:
            break
        m = re.match(r"class (\w+)\(", text)
        if m:
            name = m.group(1)
    return name


@pytest.mark.export
def test_scripting_outcomes(facts: dict) -> None:
    for name, result in facts.items():
        want = EXPECTED.get(name, "OK")
        if want == "OK":
            assert result["script"] == "OK", (name, result)
        else:
            assert result["script"].startswith("FAIL " + want), (name, result)


@pytest.mark.export
def test_tracing_and_export_are_not_affected(facts: dict) -> None:
    traced = [n for n, r in facts.items() if "trace" in r]
    assert len(traced) == 10
    for name in traced:
        assert facts[name]["export"] == "OK", (name, facts[name])
        if name != "SymMin":  # ``torch.sym_min`` on traced sizes fails tracing too (a tensor, not an int)
            assert facts[name]["trace"] == "OK", (name, facts[name])
    for code in ("PT221", "PT222", "PT223"):
        assert set(load_catalogue().by_code[code].impacts) == {"torchscript-script"}


@pytest.mark.export
def test_findings_are_the_failing_lines(facts: dict) -> None:
    got = {(f.line, f.code) for f in lint_source(_code(), targets=["all"]) if f.code in CODES}
    marked = _marked()
    assert got == {(line, code) for line, code in marked.items()}
    for line, code in marked.items():
        name = _class_at(line)
        assert name in EXPECTED, (line, code, name)  # every marked class really fails scripting
        where = facts[name]["line"]
        if where is not None:  # TorchScript names the line (not for errors raised outside the compiler)
            assert abs(where - line) <= 3, (name, where, line)
    failing = {_class_at(line) for line in marked}
    assert failing == set(EXPECTED), sorted(set(EXPECTED) ^ failing)
