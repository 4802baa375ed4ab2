"""Real ``torch.jit.script`` typing facts, against the findings: PT221 (a conditional expression mixing int and
float) and PT205 at a call (a size or a fixed Python value passed to an unannotated parameter)."""

from __future__ import annotations

import pytest
from fact_runner import run_fact_script

from mllint.catalogue import load_catalogue
from mllint.testing import lint_source

pytest.importorskip("torch")

SCRIPT = r"""
import json, warnings
import torch
from torch import nn

warnings.simplefilter("ignore")


class Attr(nn.Module):
    def __init__(self):
        super().__init__()
        self.p = 0.1

    def forward(self, x):
        p = self.p if self.training else 0
        return x * (1 - p)


class Signed(nn.Module):
    def forward(self, x, flag: bool = False):
        return x * (-1 if flag else 0.5)


class Floats(nn.Module):
    def __init__(self):
        super().__init__()
        self.p = 0.1

    def forward(self, x):
        p = self.p if self.training else 0.0
        return x * (1 - p)


class Ints(nn.Module):
    def forward(self, x, flag: bool = False):
        return x * (2 if flag else 1)


class Block(nn.Module):
    def forward(self, x, H, W):
        return x * H * W


class TypedBlock(nn.Module):
    def forward(self, x, H: int, W: int):
        return x * H * W


class SizeArgs(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = Block()

    def forward(self, x):
        H, W = x.shape
        return self.block(x, H, W)


class TypedSizeArgs(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = TypedBlock()

    def forward(self, x):
        H, W = x.shape
        return self.block(x, H, W)


def outcome(fn):
    try:
        fn()
        return "OK"
    except Exception as exc:  # noqa: BLE001 - the outcome is the fact
        return "FAIL " + (str(exc).strip().splitlines() or [""])[0][:120]


out = {}
x = torch.randn(2, 3)
for cls in (Attr, Signed, Floats, Ints, SizeArgs, TypedSizeArgs):
    model = cls().eval()
    out[cls.__name__ + ":script"] = outcome(lambda: torch.jit.script(model))
    out[cls.__name__ + ":trace"] = outcome(lambda: torch.jit.trace(model, (x,)))
    out[cls.__name__ + ":export"] = outcome(lambda: torch.export.export(model, (x,)))
print("RESULT " + json.dumps(out))
"""


@pytest.fixture(scope="module")
def facts(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return run_fact_script(tmp_path_factory, "script_branch_type_facts", SCRIPT)


@pytest.mark.export
def test_int_and_float_branches_fail_scripting_only(facts: dict) -> None:
    for name in ("Attr", "Signed"):
        assert facts[f"{name}:script"].startswith("FAIL if-expression's true branch has type"), facts
        assert facts[f"{name}:trace"] == facts[f"{name}:export"] == "OK"
    for name in ("Floats", "Ints"):
        assert facts[f"{name}:script"] == "OK", facts
    assert set(load_catalogue().by_code["PT221"].impacts) == {"torchscript-script"}


@pytest.mark.export
def test_findings_are_the_failing_expressions(facts: dict) -> None:
    code = SCRIPT.split("def outcome")[0]
    got = {f.line for f in lint_source(code, targets=["all"]) if f.code == "PT221"}
    lines = code.splitlines()
    assert got == {i for i, l in enumerate(lines, 1) if "else 0\n" in l + "\n" or "-1 if flag else 0.5" in l}
    assert all(facts[f"{n}:script"].startswith("FAIL") for n in ("Attr", "Signed"))


@pytest.mark.export
def test_sizes_passed_to_unannotated_submodule_parameters_fail_scripting(facts: dict) -> None:
    # the first line of the error shows the inferred schema: every unannotated parameter is a Tensor
    assert facts["SizeArgs:script"].startswith("FAIL forward(__torch__.Block self, Tensor x, Tensor H, Tensor W)")
    assert facts["SizeArgs:trace"] == facts["SizeArgs:export"] == "OK"
    assert facts["TypedSizeArgs:script"] == "OK"
    code = SCRIPT.split("def outcome")[0]
    lines = code.splitlines()
    got = {(f.line, f.col) for f in lint_source(code, targets=["all"]) if f.code == "PT205"}
    call = next(i for i, line in enumerate(lines, 1) if "return self.block(x, H, W)" in line)
    assert {line for line, _ in got} == {call}  # the untyped block's call only; the typed one is fine
    assert len(got) == 2  # H and W
