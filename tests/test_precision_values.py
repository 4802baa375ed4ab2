"""Value kinds from annotations, constants that decide branches, and constructor arguments (issue 13)."""

from __future__ import annotations

from functools import partial
from typing import Optional

import pytest

from mllint.analysis.values import Kind, annotation_kind, is_optional_annotation
from mllint import testing

# Rule tests judge every target (the CLI's default, ``auto``, judges the project's own).
lint_source = partial(testing.lint_source, targets=["all"])


@pytest.mark.parametrize(
    "annotation,kind",
    [
        ("torch.Tensor", Kind.TENSOR),
        ("typing.Optional[torch.Tensor]", Kind.TENSOR),
        ("typing.Union[torch.Tensor,None]", Kind.TENSOR),  # ``Tensor | None``
        ("typing.List[torch.Tensor]", Kind.TENSOR_LIST),
        ("tuple[torch.Tensor,...]", Kind.TENSOR_LIST),
        ("typing.Optional[typing.Dict[str,torch.Tensor]]", Kind.UNKNOWN),  # a dict: neither tensor nor static
        ("int", Kind.STATIC),
        ("typing.Union[int,None]", Kind.STATIC),
        ("typing.Tuple[int,int]", Kind.STATIC),
        ("typing.Union[int,torch.Tensor]", None),  # either: unknown
        ("pkg.Config", None),
    ],
)
def test_annotation_kind(annotation: str, kind: Optional[Kind]) -> None:
    assert annotation_kind(annotation) == kind


def test_optional_forms() -> None:
    assert is_optional_annotation("typing.Optional[int]")
    assert is_optional_annotation("typing.Union[dict[str,torch.Tensor],None]")
    assert not is_optional_annotation("typing.Union[int,float]")


def _codes(code: str) -> list:
    return sorted((f.line, f.code) for f in lint_source(code) if f.suppressed is None and not f.code.startswith("ML"))


def test_string_annotation_under_future_import_is_read() -> None:
    code = (
        "from __future__ import annotations\n"
        "from typing import List\n"
        "import torch\n"
        "from torch import nn\n"
        "class M(nn.Module):\n"
        "    def forward(self, feats: 'List[torch.Tensor]', x: 'torch.Tensor'):\n"
        "        for f in feats:\n"
        "            x = x + f\n"
        "        for row in x:\n"
        "            x = x + row\n"
        "        return x\n"
    )
    assert _codes(code) == [(9, "PT106")]  # the tensor, not the list of levels


CTOR = (
    "import torch\n"
    "from torch import nn\n"
    "class Out(nn.Module):\n"
    "    def __init__(self, as_numpy: bool = True):\n"
    "        super().__init__()\n"
    "        self.as_numpy = as_numpy\n"
    "    def forward(self, x: torch.Tensor):\n"
    "        if self.as_numpy:\n"
    "            return torch.from_numpy(x.numpy())\n"
    "        return x\n"
    "class Parent(nn.Module):\n"
    "    def __init__(self):\n"
    "        super().__init__()\n"
    "        self.out = Out(ARG)\n"
    "    def forward(self, x: torch.Tensor):\n"
    "        return self.out(x)\n"
)


def _numpy_calls_reached_from_parent(arg: str, text: Optional[str] = None) -> int:
    """Walk Parent.forward and the Out.forward task it emits; count the ``.numpy()`` calls visited."""
    import libcst as cst

    from mllint.analysis.index import ProjectIndex
    from mllint.analysis.summary import summarize
    from mllint.analysis.walker import FileContext, Walker, entry_task

    text = (text or CTOR).replace("ARG", arg)
    module = cst.parse_module(text)
    summary = summarize(module, "m", False, text)
    index = ProjectIndex({"m": summary})
    seen = []

    def on_call(ctx, node):  # type: ignore[no-untyped-def]
        if isinstance(node.func, cst.Attribute) and node.func.attr.value == "numpy":
            seen.append(ctx.task.func.display)

    fctx = FileContext("m.py", module, summary, index)
    entry = next(e for e in index.module_entry_points("m", summary) if e.display == "Parent.forward")
    task = entry_task(index, entry)
    assert task is not None
    pending = [task]
    while pending:
        walker = Walker(fctx, {"Call": [on_call]}, lambda h, e: None)
        walker.run(pending.pop())
        pending.extend(walker.new_tasks)
    return len(seen)


@pytest.mark.parametrize(
    "arg,reached",
    [
        ("as_numpy=False", 0),
        ("False", 0),  # built without NumPy: that branch is not in Parent's artifact
        ("as_numpy=True", 1),
        ("", 1),  # passed True, or the default True
        ("as_numpy=flag()", 1),  # not a constant: both branches
    ],
)
def test_constructor_argument_decides_branch_per_parent(arg: str, reached: int) -> None:
    assert _numpy_calls_reached_from_parent(arg) == reached


def test_call_site_constant_prunes_helper_branch() -> None:
    code = (
        "import torch\n"
        "from torch import nn\n"
        "def post(x, kind='np'):\n"
        "    if kind == 'np':\n"
        "        return x.numpy()\n"
        "    return x\n"
        "class Pt(nn.Module):\n"
        "    def forward(self, x: torch.Tensor):\n"
        "        return post(x, kind='pt')\n"
    )
    assert not [f for f in lint_source(code) if f.code == "PT105"]
    assert [f for f in lint_source(code.replace("kind='pt'", "kind='np'")) if f.code == "PT105"]


def test_constructor_argument_through_a_base_init_is_not_trusted() -> None:
    # ``super().__init__(not fast)`` forwards a different value: the base's attribute stays unknown.
    text = CTOR.replace(
        "class Parent(",
        (
            "class Sub(Out):\n"
            "    def __init__(self, as_numpy: bool = False):\n"
            "        super().__init__(not as_numpy)\n"
            "class Parent("
        ),
    ).replace("self.out = Out(ARG)", "self.out = Sub(as_numpy=False)")
    assert _numpy_calls_reached_from_parent("", text=text) == 1


def test_module_type_aliases_are_read() -> None:
    code = (
        "from typing import Dict, List, Optional\n"
        "import torch\n"
        "from torch import nn\n"
        "TensorList = List[torch.Tensor]\n"
        "MaybeCache = Optional[Dict[str, torch.Tensor]]\n"
        "class M(nn.Module):\n"
        "    def forward(self, feats: TensorList, cache: MaybeCache = None):\n"
        "        cache = cache or {}\n"
        "        out = feats[0]\n"
        "        for f in feats:\n"
        "            if f.sum() > 0:\n"
        "                out = out + f\n"
        "        return out\n"
    )
    # the alias says a list of tensors (its elements are tensors) and an Optional dict (a scripting-only claim)
    assert _codes(code) == [(8, "PT216"), (11, "PT101")]


def test_guard_inside_a_boolean_or_conditional_expression_exempts_the_rest() -> None:
    """``self.training and random() < p`` / ``random() if self.training else 1.0``: in eval mode the draw is
    never evaluated, so only scripting (which compiles every branch) is left; without the guard, every target."""
    code = (
        "import random\n"
        "import torch\n"
        "from torch import nn\n"
        "class M(nn.Module):\n"
        "    def forward(self, x: torch.Tensor):\n"
        "        if self.training and self.p > 0.0 and random.random() < self.p:\n"
        "            return x\n"
        "        y = x * (random.random() if self.training else 1.0)\n"
        "        z = x * (1.0 if self.training else random.random())\n"
        "        w = x * (not self.training or random.random())\n"
        "        return y + z + w\n"
    )
    got = {(f.line, f.code): set(f.targets) for f in lint_source(code) if f.code == "PT215"}
    assert got[(6, "PT215")] == {"torchscript-script"}
    assert got[(8, "PT215")] == {"torchscript-script"}
    assert got[(10, "PT215")] == {"torchscript-script"}
    assert len(got[(9, "PT215")]) > 1 and "torch-export" in got[(9, "PT215")]  # the else side runs in eval mode


def test_try_without_tensor_operations_is_a_scripting_finding_only() -> None:
    """Measured (tests/test_torch_construct_facts.py, TryNoRaise): a ``try`` whose exception does not fire exports
    fine on trace, torch.export and both ONNX exporters; only a tensor computation inside can fire while they run."""
    code = (
        "import torch\n"
        "from torch import nn\n"
        "def compiling():\n"
        "    try:\n"
        "        import apex\n"
        "        return torch.compiler.is_compiling()\n"
        "    except Exception:\n"
        "        return False\n"
        "class M(nn.Module):\n"
        "    def forward(self, x: torch.Tensor, y: torch.Tensor):\n"
        "        if compiling():\n"
        "            x = x + 1\n"
        "        try:\n"
        "            return x @ y\n"
        "        except RuntimeError:\n"
        "            return x\n"
    )
    got = {f.line: set(f.targets) for f in lint_source(code) if f.code == "PT202"}
    assert got[4] == {"torchscript-script"}
    assert {"torchscript-trace", "torch-export", "onnx-dynamo", "onnx-legacy"} <= got[13]


def test_try_around_another_frameworks_method_is_a_scripting_finding_only() -> None:
    """transformers' ``is_jax_jitting(x)``: ``x.jax()`` is not a ``torch.Tensor`` method, so the ``try`` computes
    nothing in torch (and ``hasattr(x, "jax")`` is False for a real tensor); ``x.float()`` is torch's."""
    code = (
        "import torch\n"
        "from torch import nn\n"
        "def is_jax_jitting(x):\n"
        "    if not hasattr(x, 'jax'):\n"
        "        return False\n"
        "    try:\n"
        "        import jax\n"
        "        return isinstance(x.jax(), jax.core.Tracer)\n"
        "    except Exception:\n"
        "        return False\n"
        "class M(nn.Module):\n"
        "    def forward(self, x: torch.Tensor):\n"
        "        if is_jax_jitting(x):\n"
        "            x = x + 1\n"
        "        try:\n"
        "            y = x.float()\n"
        "        except RuntimeError:\n"
        "            y = x\n"
        "        return y\n"
    )
    got = {f.line: set(f.targets) for f in lint_source(code) if f.code == "PT202"}
    assert got[6] == {"torchscript-script"}
    assert "torch-export" in got[15] and "torchscript-trace" in got[15]


def test_dict_outputs_PT217_and_look_alikes() -> None:
    code = (
        "import collections\n"
        "import dataclasses\n"
        "from typing import NamedTuple\n"
        "import torch\n"
        "from torch import nn\n"
        "@dataclasses.dataclass\n"
        "class Out(collections.OrderedDict):\n"
        "    a: torch.Tensor = None\n"
        "class Pair(NamedTuple):\n"
        "    a: torch.Tensor\n"
        "    b: torch.Tensor\n"
        "class Head(nn.Module):\n"
        "    def forward(self, x: torch.Tensor):\n"
        "        return {'y': x}\n"
        "class Wrapped(nn.Module):\n"
        "    def forward(self, x: torch.Tensor):\n"
        "        return Out(a=x)\n"
        "class Plain(nn.Module):\n"
        "    def forward(self, x: torch.Tensor):\n"
        "        stats = {'y': x}\n"
        "        return Pair(x, stats['y'])\n"
        "class Block(nn.Module):\n"
        "    def forward(self, x: torch.Tensor):\n"
        "        return {'hidden': x}\n"
        "class Model(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.block = Block()\n"
        "    def forward(self, x: torch.Tensor):\n"
        "        return self.block(x)['hidden']\n"
    )
    got = {f.line: f for f in lint_source(code) if f.code == "PT217"}
    assert sorted(got) == [14, 17]  # not the NamedTuple, not a dict built and read inside, not a part's output
    assert got[14].targets == ("torchscript-trace",) and got[14].severity.value == "error"
    assert "`Out`, which derives from `OrderedDict`" in got[17].message
