"""PT109 / PT110: sizes of dimensions an export call declares dynamic, used as Python values."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import List, Tuple

import pytest

from mllint.testing import lint_files, lint_source

SELECT = ["PT109", "PT110"]


def found(code: str) -> List[Tuple[int, str]]:
    return sorted((f.line, f.code) for f in lint_source(textwrap.dedent(code), select=SELECT) if f.suppressed is None)


MODEL = """\
    import math
    import numpy as np
    import torch
    from torch import nn
    from torch.export import Dim

    class Net(nn.Module):
        def forward(self, x, y):
            b, c = x.shape
            n = int(x.shape[0])
            m = math.sqrt(n)
            if x.shape[0] > 4:
                x = x * 2
            if y.shape[0] > 4:
                y = y * 2
            if x.shape[1] > 4:
                x = x * 2
            if x.size(0) == y.size(0):
                x = x + 1
            if b > 64:
                raise ValueError("batch too large")
            z = torch.zeros(n, c) + torch.zeros(x.shape[0], c) + x.new_zeros(x.size(0), c)
            t = torch.tensor([x.shape[0], c])
            s = torch.tensor(x.shape[0])
            for i in range(int(x.shape[0])):
                z = z + i
            w = x * 2 if x.size(0) == 1 else x
            return x / math.sqrt(b) + z + math.sqrt(x.shape[1]) + float(np.log(len(x)))

    """


def test_declared_dynamic_dims_at_a_torch_export_call() -> None:
    code = MODEL + """\
    batch = Dim("batch")
    shapes = {"x": {0: batch}, "y": None}
    model = Net().eval()
    torch.export.export(model, (torch.randn(4, 3), torch.randn(4, 3)), dynamic_shapes=shapes)
    """
    assert found(code) == [
        (10, "PT109"),  # int(x.shape[0]); math.sqrt(n) of that number is the same flow (not reported)
        (12, "PT110"),  # x.shape[0] > 4; y's dims are static, x.shape[1] is not declared, two sizes compared, raise-only
        (23, "PT109"),  # the list form of torch.tensor; the scalar form and sizes handed to torch ops stay symbolic
        # line 27's `x.size(0) == 1` is PT110 without torch-export (export assumes a dynamic dim >= 2): not here
        (28, "PT109"),  # math.sqrt(b) from the unpacked shape
        (28, "PT109"),  # np.log(len(x)); float() of that number is the same flow
    ]


def test_dynamic_dims_setting_declares_dims_for_models_without_an_export_call() -> None:
    """``dynamic-dims = { batch = 0 }``: dim 0 of every tensor input; a labelled dim limited to named inputs."""
    def with_config(config: dict) -> List[Tuple[int, str]]:
        got = lint_source(textwrap.dedent(MODEL), select=SELECT, config=config)
        return sorted((f.line, f.code) for f in got if f.suppressed is None)

    batch = with_config({"dynamic-dims": {"batch": 0}})
    assert (10, "PT109") in batch and (12, "PT110") in batch and (14, "PT110") in batch  # x and y alike
    assert (16, "PT110") not in batch  # x.shape[1] is not declared
    both = with_config({"dynamic-dims": {"batch": 0, "features": {"dim": 1, "inputs": ["x"]}}})
    assert (16, "PT110") in both and set(batch) <= set(both)
    only_y = with_config({"dynamic-dims": {"batch": {"dim": 0, "inputs": ["y"]}}})
    assert (14, "PT110") in only_y and (12, "PT110") not in only_y
    # the setting adds to what an export call declares (the call judges its own dims; the setting, what you ship)
    declared = MODEL + """\
    torch.export.export(Net(), (torch.randn(4, 3), torch.randn(4, 3)), dynamic_shapes={"x": None, "y": None})
    """
    got = lint_source(textwrap.dedent(declared), select=SELECT, config={"dynamic-dims": {"batch": 0}})
    assert {(12, "PT110"), (14, "PT110")} <= {(f.line, f.code) for f in got}
    assert not lint_source(textwrap.dedent(declared), select=SELECT)


@pytest.mark.parametrize("value", [0, {"batch": -1}, {"batch": "0"}, {"batch": {"dim": 0, "axes": ["x"]}}, {}])
def test_dynamic_dims_setting_is_validated(value: object) -> None:
    from mllint.catalogue import load_catalogue
    from mllint.config import ConfigError, load_settings

    with pytest.raises(ConfigError, match="dynamic-dims"):
        load_settings(Path("."), load_catalogue(), None, {"dynamic-dims": value})


def test_nothing_without_a_declaration() -> None:
    code = MODEL + """\
    torch.export.export(Net(), (torch.randn(4, 3), torch.randn(4, 3)))
    traced = torch.jit.trace(Net(), (torch.randn(4, 3), torch.randn(4, 3)))
    """
    assert found(code) == []


def test_static_markers_and_other_dims_are_not_dynamic() -> None:
    code = MODEL + """\
    torch.export.export(Net(), (torch.randn(4, 3), torch.randn(4, 3)),
                        dynamic_shapes=({0: Dim.STATIC, 1: Dim("c")}, None))
    """
    # only dim 1 of x is dynamic: its test, the list torch.tensor of c, and math.sqrt(x.shape[1])
    assert found(code) == [(16, "PT110"), (23, "PT109"), (28, "PT109")]


def test_positional_spec_dynamic_axes_through_input_names_and_another_file() -> None:
    model = textwrap.dedent("""\
        import torch
        from torch import nn

        class Net(nn.Module):
            def forward(self, x):
                if x.size(0) == 1:
                    return x[0]
                return x * float(x.shape[0])
        """)
    onnx_site = textwrap.dedent("""\
        import torch
        from pkg.net import Net

        def main():
            m = Net()
            torch.onnx.export(m, (torch.randn(2, 3),), "m.onnx", input_names=["input"],
                              output_names=["y"], dynamic_axes={"input": {0: "batch"}}, dynamo=False)
        """)
    files = {"pkg/__init__.py": "", "pkg/net.py": model, "pkg/export_onnx.py": onnx_site}
    got = sorted((f.path, f.line, f.code) for f in lint_files(files, select=SELECT))
    assert got == [("pkg/net.py", 6, "PT110"), ("pkg/net.py", 8, "PT109")]
    # the same model exported elsewhere with a positional spec
    files["pkg/export_onnx.py"] = textwrap.dedent("""\
        import torch
        from torch.export import Dim
        from pkg.net import Net

        torch.export.export(Net().eval(), (torch.randn(2, 3),), dynamic_shapes=({0: Dim.AUTO},))
        """)
    got = sorted((f.path, f.line, f.code) for f in lint_files(files, select=SELECT))
    assert got == [("pkg/net.py", 8, "PT109")]  # `x.size(0) == 1`: torch.export assumes a dynamic dim >= 2
    # no export call in the project: nothing is declared dynamic
    del files["pkg/export_onnx.py"]
    assert lint_files(files, select=SELECT) == []


def test_reassigned_tensor_loses_the_declaration() -> None:
    code = """\
    import torch
    from torch import nn
    from torch.export import Dim

    class Net(nn.Module):
        def forward(self, x):
            x = x.transpose(0, 1)
            y = x.T
            return x * int(x.shape[0]) + y * int(y.shape[0])

    torch.export.export(Net(), (torch.randn(4, 3),), dynamic_shapes={"x": {0: Dim("b")}})
    """
    assert found(code) == []


GATE = """\
    import torch
    from torch import nn
    from torch.export import Dim

    class A(nn.Module):
        def forward(self, x):
            return x * 2 if x.shape[0] > 4 else x

    class B(nn.Module):
        def forward(self, x):
            return x * 2 if x.shape[0] > 4 else x

    """


def test_module_level_spec_goes_with_the_model_binding_or_the_only_fitting_model() -> None:
    def gate(tail: str) -> List[Tuple[int, str]]:
        return found(GATE + textwrap.indent(tail, "    ")[4:])  # GATE ends in its indentation

    spec = 'dynamic_shapes = {"x": {0: Dim("batch")}}\n'
    assert gate(spec) == []  # two models take `x`: unknown, neither
    assert gate(spec + "model = B()\n") == [(11, "PT110")]
    assert gate('dynamic_shapes = {"tokens": {0: Dim("batch")}}\nmodel = B()\n') == []  # B takes no `tokens`
    assert gate("dynamic_shapes = (None,)\nmodel = A()\n") == []  # nothing declared dynamic
    assert gate("shapes = {'x': {0: Dim('batch')}}\nmodel = A()\n") == []  # not the spec's name


def test_class_level_spec_is_inherited_and_an_export_call_wins() -> None:
    code = """\
    import torch
    from torch import nn
    from torch.export import Dim

    class A(nn.Module):
        dynamic_shapes = {"x": {0: Dim("batch")}}

        def forward(self, x):
            return x * 2 if x.shape[0] > 4 else x

    class B(A):
        pass

    class C(nn.Module):
        dynamic_shapes = {"x": {1: Dim("seq")}}

        def forward(self, x):
            return x * 2 if x.shape[0] > 4 else x

    """
    assert found(code) == [(9, "PT110")]  # A and B; C declares dim 1 only
    call = '    torch.export.export(C(), (torch.randn(4, 3),), dynamic_shapes={"x": {0: Dim("batch")}})\n'
    assert found(code + call) == [(9, "PT110"), (18, "PT110")]  # the call's dims for C


def test_PT111_only_for_named_dims() -> None:
    body = """\
    import torch
    from torch import nn
    from torch.export import Dim

    class Net(nn.Module):
        def forward(self, x):
            return x[1:]

    """

    def pt111(tail: str, config: object = None) -> List[int]:
        got = lint_source(textwrap.dedent(body) + tail, select=["PT111"], targets=["torch-export"],
                          config=config)  # type: ignore[arg-type]
        return [f.line for f in got if f.suppressed is None]

    export = "torch.export.export(Net(), (torch.randn(4, 3),), dynamic_shapes={{'x': {{0: {}}}}})\n"
    assert pt111(export.format('Dim("batch")')) == [7]
    assert pt111("batch = Dim('batch', max=64)\n" + export.format("batch")) == [7]  # a name bound to a Dim
    assert pt111(export.format('Dim("batch", min=2)')) == [7]
    assert pt111(export.format('Dim("batch", min=3)')) == []  # the guard holds over the range
    assert pt111(export.format("Dim.AUTO")) == [] and pt111(export.format("Dim.DYNAMIC")) == []
    assert pt111(export.format("2 * Dim('b')")) == []  # a derived dim: unknown
    assert pt111("", {"dynamic-dims": {"batch": 0}}) == []  # which Dim the user passes is unknown
