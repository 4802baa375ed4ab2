"""Autofix: each codemod's exact output, re-linted clean, compiling and idempotent; ``check --fix`` / ``--diff`` /
``--unsafe-fixes`` on real files (atomic, never through a symlink, a file changed meanwhile left alone);
SARIF ``fixes``; and for PT205 / PT206 a real ``torch.jit.script`` of the fixed code."""

from __future__ import annotations

import functools

import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Tuple

import pytest

from mllint.catalogue import load_catalogue
from mllint.cli import main
from mllint.fixes import CODEMODS, fix_text, text_edits
from mllint.testing import lint_source as _lint_source

# The fixes are judged on every target (scripting-only rules such as PT205/PT206 included), not the
# ``auto`` default a project without export calls gets.
lint_source = functools.partial(_lint_source, targets=["all"])

CASES = {
    "PT101": (
        """\
import torch
from torch import nn


class Gate(nn.Module):
    def forward(self, x):
        if x.sum() > 0:
            return x
        return -x


class Pick(nn.Module):
    def forward(self, x):
        if x.mean() > 1:
            y = x * 2
        else:
            y = x - 1
        return y
""",
        """\
import torch
from torch import nn


class Gate(nn.Module):
    def forward(self, x):
        return torch.where(x.sum() > 0, x, -x)


class Pick(nn.Module):
    def forward(self, x):
        y = torch.where(x.mean() > 1, x * 2, x - 1)
        return y
""",
    ),
    "PT206": (
        """\
import torch
from torch import nn


class AddBias(nn.Module):
    def forward(self, x, bias=None):
        if bias is not None:
            x = x + bias
        return x
""",
        """\
import torch
from torch import nn
from typing import Optional


class AddBias(nn.Module):
    def forward(self, x, bias: Optional[torch.Tensor] = None):
        if bias is not None:
            x = x + bias
        return x
""",
    ),
    "PT205": (
        """\
import torch
from torch import nn


class TopK(nn.Module):
    def pick(self, x, k):
        return x.topk(k, dim=-1).values

    def forward(self, x, scale=2.0, flag=False):
        if flag:
            x = x + 1
        return self.pick(x * scale, 3)
""",
        """\
import torch
from torch import nn


class TopK(nn.Module):
    def pick(self, x, k: int):
        return x.topk(k, dim=-1).values

    def forward(self, x, scale: float = 2.0, flag: bool = False):
        if flag:
            x = x + 1
        return self.pick(x * scale, 3)
""",
    ),
    "PT405": (
        """\
import torch
from torch import nn


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(16, 16), nn.ReLU(), nn.Dropout(0.2))

    def forward(self, features):
        return self.body(features)


model = Classifier()
program = torch.export.export(model, (torch.randn(2, 16),))
""",
        """\
import torch
from torch import nn


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(16, 16), nn.ReLU(), nn.Dropout(0.2))

    def forward(self, features):
        return self.body(features)


model = Classifier()
model.eval()
program = torch.export.export(model, (torch.randn(2, 16),))
""",
    ),
    "PT402": (
        """\
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(16, 4)

    def forward(self, features, mask):
        return self.fc(features) * mask


model = Net().eval()
torch.onnx.export(
    model,
    (torch.randn(2, 16), torch.ones(2, 4)),
    "model.onnx",
    dynamic_shapes={"features": {0: torch.export.Dim("batch")}, "mask": {0: torch.export.Dim("batch")}},
)
""",
        """\
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(16, 4)

    def forward(self, features, mask):
        return self.fc(features) * mask


model = Net().eval()
torch.onnx.export(
    model,
    (torch.randn(2, 16), torch.ones(2, 4)),
    "model.onnx",
    dynamic_shapes={"features": {0: torch.export.Dim("batch")}, "mask": {0: torch.export.Dim("batch")}},
    input_names=["features", "mask"],
    output_names=["output"],
)
""",
    ),
    "PT401": (
        """\
import torch
from torch import nn

model = nn.Sequential(nn.Linear(16, 4), nn.Softmax(-1)).eval()
torch.onnx.export(model, (torch.randn(2, 16),), "model.onnx", input_names=["x"], output_names=["y"])
torch.onnx.export(model, (torch.randn(2, 16),), "legacy.onnx", dynamo=False, input_names=["x"], output_names=["y"])
""",
        """\
import torch
from torch import nn

model = nn.Sequential(nn.Linear(16, 4), nn.Softmax(-1)).eval()
torch.onnx.export(model, (torch.randn(2, 16),), "model.onnx", input_names=["x"], output_names=["y"], dynamic_shapes=({0: torch.export.Dim("batch")},))
torch.onnx.export(model, (torch.randn(2, 16),), "legacy.onnx", dynamo=False, input_names=["x"], output_names=["y"], dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
""",
    ),
    "TF405": (
        """\
import keras


class Scale(keras.layers.Layer):
    def __init__(self, factor: float = 2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, x):
        return x * self.factor


def build():
    inputs = keras.Input((4,))
    return keras.Model(inputs, Scale()(inputs))
""",
        """\
import keras


@keras.saving.register_keras_serializable()
class Scale(keras.layers.Layer):
    def __init__(self, factor: float = 2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, x):
        return x * self.factor


def build():
    inputs = keras.Input((4,))
    return keras.Model(inputs, Scale()(inputs))
""",
    ),
    "PT102": (
        """\
import torch
from torch import nn


class Scale(nn.Module):
    def forward(self, x):
        scale = x.mean().item()
        return x * scale


class Inline(nn.Module):
    def forward(self, x):
        return x - x.mean().item()


class Clamp(nn.Module):
    def forward(self, x):
        top = x.max().item()
        return torch.clamp(x, max=top) / -top


class Rebind(nn.Module):
    def forward(self, x):
        scale = x.std().item()
        x = x / scale
        return x, scale
""",
        """\
import torch
from torch import nn


class Scale(nn.Module):
    def forward(self, x):
        scale = x.mean().detach()
        return x * scale


class Inline(nn.Module):
    def forward(self, x):
        return x - x.mean().detach()


class Clamp(nn.Module):
    def forward(self, x):
        top = x.max().detach()
        return torch.clamp(x, max=top) / -top


class Rebind(nn.Module):
    def forward(self, x):
        scale = x.std().detach()
        x = x / scale
        return x, scale
""",
    ),
    "PT211": (
        """\
import torch
from torch import nn


class Scaled(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(4))

    def forward(self, x):
        return x * self.weight.data + (x.data)
""",
        """\
import torch
from torch import nn


class Scaled(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(4))

    def forward(self, x):
        return x * self.weight.detach() + (x.detach())
""",
    ),
    "PT403": (
        """\
import torch
from torch import nn


class Head(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 2)

    def forward(self, features):
        return self.fc(features).relu()


def export():
    head = Head().eval()
    head(torch.randn(16, 8))
    return torch.export.export(head, (torch.randn(4, 8),))
""",
        """\
import torch
from torch import nn


class Head(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 2)

    def forward(self, features):
        return self.fc(features).relu()


def export():
    head = Head().eval()
    head(torch.randn(16, 8))
    return torch.export.export(head, (torch.randn(4, 8),), dynamic_shapes={"features": {0: torch.export.Dim("batch")}})
""",
    ),
}


def _fix(code: str, src: str) -> Tuple[int, str]:
    findings = [f for f in lint_source(src) if f.code == code]
    result = fix_text(src, findings)
    return len(findings), result.text if result.text is not None else src


@pytest.mark.parametrize("code", sorted(CASES))
def test_codemod_exact_output_relints_clean_compiles_and_is_idempotent(code: str) -> None:
    before, after = CASES[code]
    found, fixed = _fix(code, before)
    assert found >= 1
    assert fixed == after
    compile(fixed, "example.py", "exec")
    assert [f.code for f in lint_source(fixed) if f.code == code] == []
    assert _fix(code, fixed) == (0, fixed)  # a second run finds nothing to fix


def test_every_codemod_has_a_card_with_fix_safety() -> None:
    catalogue = load_catalogue()
    for code in CODEMODS:
        rule = catalogue.get(code)
        assert rule is not None and rule.fix_safety in ("safe", "unsafe"), code
    assert {r.code for r in catalogue if r.fix_safety} == set(CODEMODS)


def test_text_edits_reproduce_the_fixed_text() -> None:
    for before, after in CASES.values():
        edits = text_edits(before, after)
        lines = before.splitlines(keepends=True)
        offsets = [0]
        for line in lines:
            offsets.append(offsets[-1] + len(line))
        out = before
        for e in sorted(edits, key=lambda e: (e.span.line, e.span.col), reverse=True):
            start = offsets[e.span.line - 1] + e.span.col
            end = offsets[e.span.end_line - 1] + e.span.end_col
            out = out[:start] + e.text + out[end:]
        assert out == after


def _run(capsys: pytest.CaptureFixture, *args: str) -> Tuple[int, str, str]:
    code = main(["check", "--no-cache", "--target", "all", *args])
    out, err = capsys.readouterr()
    return code, out, err


def _project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, files: dict) -> Path:
    (tmp_path / "pyproject.toml").write_text("[tool.mllint]\n", encoding="utf-8")
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_diff_prints_without_writing_and_exits_1_then_fix_writes_and_a_second_fix_changes_nothing(
    tmp_path, monkeypatch, capsys
) -> None:
    before, after = CASES["PT206"]
    root = _project(tmp_path, monkeypatch, {"model.py": before})
    os.chmod(root / "model.py", 0o640)
    code, out, err = _run(capsys, "model.py", "--diff")
    assert code == 1
    assert out.startswith("--- a/model.py\n+++ b/model.py\n")
    assert "+    def forward(self, x, bias: Optional[torch.Tensor] = None):" in out
    assert (root / "model.py").read_text(encoding="utf-8") == before
    code, out, err = _run(capsys, "model.py", "--fix")
    assert code == 0, out + err  # the remaining findings are reported: none
    assert "fixed 1 finding in 1 file" in err
    assert (root / "model.py").read_text(encoding="utf-8") == after
    assert oct((root / "model.py").stat().st_mode & 0o777) == oct(0o640)
    assert _run(capsys, "model.py", "--fix")[2].count("fixed 0 findings") == 1
    assert (root / "model.py").read_text(encoding="utf-8") == after
    code, out, err = _run(capsys, "model.py", "--diff")
    assert (code, out) == (0, "")
    assert [p.name for p in root.iterdir() if p.name.startswith(".model.py")] == []  # no temporary file left


def test_unsafe_fixes_only_with_unsafe_fixes_and_remaining_findings_are_reported(tmp_path, monkeypatch, capsys) -> None:
    before, after = CASES["PT405"]
    root = _project(tmp_path, monkeypatch, {"export.py": before})
    code, out, err = _run(capsys, "export.py", "--fix", "-q")
    assert code == 1 and "PT405" in out  # unsafe: left, and still reported
    assert "1 more fix available with --unsafe-fixes" in err
    assert (root / "export.py").read_text(encoding="utf-8") == before
    code, out, err = _run(capsys, "export.py", "--fix", "--unsafe-fixes", "-q")
    assert "PT405" not in out
    assert (root / "export.py").read_text(encoding="utf-8") == after


def test_fix_never_writes_through_a_symlink(tmp_path, monkeypatch, capsys) -> None:
    before, _ = CASES["PT206"]
    root = _project(tmp_path, monkeypatch, {"real.py": before})
    (root / "link.py").symlink_to(root / "real.py")
    code, out, err = _run(capsys, "link.py", "--fix")
    assert "not fixed" in err and "symlink" in err
    assert (root / "real.py").read_text(encoding="utf-8") == before
    assert (root / "link.py").is_symlink()


def test_a_file_changed_while_fixing_is_left_alone_and_reported(tmp_path, monkeypatch, capsys) -> None:
    before, _ = CASES["PT206"]
    root = _project(tmp_path, monkeypatch, {"model.py": before})
    import mllint.fixes.apply as apply

    real = apply.fix_text

    def racing(text, findings, **kwargs):
        result = real(text, findings, **kwargs)
        (root / "model.py").write_text(before + "# edited meanwhile\n", encoding="utf-8")
        return result

    monkeypatch.setattr(apply, "fix_text", racing)
    code, out, err = _run(capsys, "model.py", "--fix")
    assert "left alone" in err and "changed" in err
    assert (root / "model.py").read_text(encoding="utf-8") == before + "# edited meanwhile\n"


def test_sarif_results_carry_fixes_valid_against_the_schema(tmp_path, monkeypatch, capsys) -> None:
    from test_sarif import validate

    before, after = CASES["PT206"]
    _project(tmp_path, monkeypatch, {"model.py": before})
    code, out, err = _run(capsys, "model.py", "--format", "sarif")
    log = json.loads(out)
    validate(log)
    result = next(r for r in log["runs"][0]["results"] if r["ruleId"] == "PT206")
    change = result["fixes"][0]["artifactChanges"][0]
    assert change["artifactLocation"]["uri"] == "model.py"
    assert change["replacements"] == [
        {
            "deletedRegion": {"startLine": 3, "startColumn": 1, "endLine": 3, "endColumn": 1},
            "insertedContent": {"text": "from typing import Optional\n"},
        },
        {
            "deletedRegion": {"startLine": 6, "startColumn": 30, "endLine": 6, "endColumn": 31},
            "insertedContent": {"text": ": Optional[torch.Tensor] = "},
        },
    ]
    rule = next(r for r in log["runs"][0]["tool"]["driver"]["rules"] if r["id"] == "PT206")
    assert rule["properties"]["fixSafety"] == "safe"


def test_rules_and_explain_show_fix_safety(capsys) -> None:
    assert main(["rules", "--format", "json"]) == 0
    rules = {r["code"]: r for r in json.loads(capsys.readouterr().out)}
    assert rules["PT206"]["fix"] == "safe" and rules["PT401"]["fix"] == "unsafe" and rules["PT104"]["fix"] is None
    assert main(["explain", "PT405"]) == 0
    assert "Autofix: unsafe (`mllint check --fix --unsafe-fixes`)." in capsys.readouterr().out


def _load(path: Path, text: str):
    path.write_text(text, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.export
def test_pt206_fixed_model_scripts_and_runs_without_the_argument(tmp_path) -> None:
    torch = pytest.importorskip("torch")
    before, after = CASES["PT206"]
    broken = torch.jit.script(_load(tmp_path / "pt206_before.py", before).AddBias())
    with pytest.raises(RuntimeError, match="Expected a proper Tensor but got None"):
        broken(torch.ones(2))  # the unannotated None default is typed Tensor
    fixed = torch.jit.script(_load(tmp_path / "pt206_after.py", after).AddBias())
    assert torch.equal(fixed(torch.ones(2)), torch.ones(2))
    assert torch.equal(fixed(torch.ones(2), torch.ones(2)), torch.full((2,), 2.0))


@pytest.mark.export
def test_pt205_fixed_model_scripts(tmp_path) -> None:
    torch = pytest.importorskip("torch")
    before, after = CASES["PT205"]
    with pytest.raises(RuntimeError, match="assumed to be type 'Tensor'|Expected a value of type 'Tensor"):
        torch.jit.script(_load(tmp_path / "pt205_before.py", before).TopK())
    scripted = torch.jit.script(_load(tmp_path / "pt205_after.py", after).TopK())
    assert scripted(torch.arange(8.0).reshape(2, 4)).shape == (2, 3)


ONNX_EXPORT = """\
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(16, 4)

    def forward(self, features):
        return self.fc(features)


def export(path):
    model = Net().eval()
    torch.onnx.export(model, (torch.randn(2, 16),), path)
"""


def _fix_all(src: str, codes: Tuple[str, ...]) -> str:
    result = fix_text(src, [f for f in lint_source(src) if f.code in codes])
    assert result.text is not None and len(result.fixed) == len(codes)
    return result.text


@pytest.mark.export
def test_pt401_pt402_fixed_onnx_export_names_io_and_takes_another_batch(tmp_path) -> None:
    pytest.importorskip("torch")
    ort = pytest.importorskip("onnxruntime")
    import numpy as np

    fixed = _fix_all(ONNX_EXPORT, ("PT401", "PT402"))
    assert 'dynamic_shapes={"features": {0: torch.export.Dim("batch")}}' in fixed
    assert 'input_names=["features"], output_names=["output"]' in fixed
    batch3 = np.zeros((3, 16), dtype=np.float32)
    _load(tmp_path / "onnx_before.py", ONNX_EXPORT).export(str(tmp_path / "before.onnx"))
    before = ort.InferenceSession(str(tmp_path / "before.onnx"), providers=["CPUExecutionProvider"])
    with pytest.raises(Exception, match="dimensions"):  # noqa: B017 - onnxruntime's own exception type
        before.run(None, {before.get_inputs()[0].name: batch3})
    _load(tmp_path / "onnx_after.py", fixed).export(str(tmp_path / "after.onnx"))
    after = ort.InferenceSession(str(tmp_path / "after.onnx"), providers=["CPUExecutionProvider"])
    assert [i.name for i in after.get_inputs()] == ["features"]
    assert [o.name for o in after.get_outputs()] == ["output"]
    assert after.run(None, {"features": batch3})[0].shape == (3, 4)


TRAIN_MODE_EXPORT = """\
import torch
from torch import nn


class Noisy(nn.Module):
    def __init__(self):
        super().__init__()
        self.drop = nn.Dropout(0.5)

    def forward(self, x):
        return self.drop(x)


def export():
    model = Noisy()
    return torch.export.export(model, (torch.ones(4, 64),))
"""


@pytest.mark.export
def test_pt405_fixed_export_is_in_eval_mode(tmp_path) -> None:
    torch = pytest.importorskip("torch")
    fixed = _fix_all(TRAIN_MODE_EXPORT, ("PT405",))
    assert "    model = Noisy()\n    model.eval()\n    return torch.export.export(" in fixed
    x = torch.ones(4, 64)
    before = _load(tmp_path / "train_before.py", TRAIN_MODE_EXPORT).export().module()
    assert not torch.equal(before(x), x)  # dropout still active in the artifact
    after = _load(tmp_path / "train_after.py", fixed).export().module()
    assert torch.equal(after(x), x)


@pytest.mark.slow  # lints and fixes every fixture, four times (about 10 s)
def test_fix_on_a_copy_of_the_fixtures_leaves_only_findings_without_a_mechanical_fix(
    tmp_path, monkeypatch, capsys
) -> None:
    import shutil

    repo = Path(__file__).resolve().parents[1]
    copy = tmp_path / "fixtures"
    shutil.copytree(repo / "fixtures", copy)
    monkeypatch.chdir(copy)
    _, before, _ = _run(capsys, ".", "-q", "--exit-zero")
    fixable = {line.split()[1] for line in before.splitlines()} & set(CODEMODS)
    assert fixable == set(CODEMODS)  # the fixtures exercise every codemod
    code, _, err = _run(capsys, ".", "--fix", "--unsafe-fixes", "-q", "--exit-zero")
    # TF405 is also reported where a functional model builds a layer from another file: the decorator
    # belongs on that class, not at the call, so those sites have no mechanical fix; TF401 is fixed only from a
    # declared model contract, which the fixtures do not have (tests/test_autofix_tf401.py)
    no_fix = {"PT101", "TF405", "TF401"}
    # PT205 where a caller passes a size (``self.block(x, H, W)`` with ``H, W = x.shape[2:]``): the annotation
    # belongs on the callee's parameter, not at the call, so that site has no codemod
    sized = "torch/precision_kinds.py:100:"
    unfixed = [line for line in err.splitlines() if "not fixed" in line]
    assert {line.split()[1] for line in unfixed if not line.startswith(sized)} <= no_fix, err
    _, after, _ = _run(capsys, ".", "-q", "--exit-zero")
    left = [
        line.split()[1] for line in after.splitlines() if line.split()[1] in CODEMODS and not line.startswith(sized)
    ]
    # PT101's codemod takes only the two-branch `if` that assigns one name or returns; the rest keep their finding
    assert set(left) <= no_fix
    assert left.count("PT101") < [line.split()[1] for line in before.splitlines()].count("PT101")
    for path in copy.rglob("*.py"):
        compile(path.read_text(encoding="utf-8"), str(path), "exec")
    assert _run(capsys, ".", "--diff", "--unsafe-fixes")[:2] == (0, "")  # nothing left to change


_KERAS_SAVE = """\
import sys
import keras
import numpy as np
sys.path.insert(0, sys.argv[1])
for name in ("tf405_before", "tf405_after"):
    layer = __import__(name).Scale()
    model = keras.Sequential([keras.Input((3,)), layer])
    model(np.ones((1, 3), dtype="float32"))
    model.save(f"{sys.argv[1]}/{name}.keras")
"""

_KERAS_LOAD = """\
import sys
import keras
sys.path.insert(0, sys.argv[1])
for name in ("tf405_before", "tf405_after"):
    __import__(name)  # a fresh process that imports the defining module, as the card measured
    try:
        keras.saving.load_model(f"{sys.argv[1]}/{name}.keras")
        print(name, "loaded")
    except Exception as exc:
        print(name, "failed", type(exc).__name__, str(exc).splitlines()[0])
"""


@pytest.mark.export
@pytest.mark.slow
def test_tf405_fixed_keras_class_loads_in_a_fresh_process(tmp_path) -> None:
    import subprocess

    pytest.importorskip("keras")
    before, after = CASES["TF405"]
    (tmp_path / "tf405_before.py").write_text(before, encoding="utf-8")
    (tmp_path / "tf405_after.py").write_text(after, encoding="utf-8")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    for script in (_KERAS_SAVE, _KERAS_LOAD):
        done = subprocess.run(
            [sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, env=env, timeout=300
        )
        assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert lines[0].startswith("tf405_before failed TypeError"), lines  # the unregistered class is not found
    assert lines[1] == "tf405_after loaded"


def test_fix_keeps_crlf_bom_and_the_torch_alias_and_diff_marks_a_missing_final_newline(
    tmp_path, monkeypatch, capsys
) -> None:
    crlf = "import torch\r\nfrom torch import nn\r\n\r\n\r\nclass A(nn.Module):\r\n    def forward(self, x, k=-1):\r\n        return x * k\r\n"
    bom = "\ufeffimport torch as th\nfrom torch import nn\n\n\nclass A(nn.Module):\n    def forward(self, x, b=None):\n        if b is not None:\n            x = x + b\n        return x"
    root = tmp_path
    (root / "pyproject.toml").write_text("[tool.mllint]\n", encoding="utf-8")
    (root / "crlf.py").write_bytes(crlf.encode())
    (root / "bom.py").write_bytes(bom.encode())
    monkeypatch.chdir(root)
    code, out, _ = _run(capsys, "bom.py", "--diff")
    assert code == 1 and out.endswith(
        "+    def forward(self, x, b: Optional[th.Tensor] = None):\n"
        "         if b is not None:\n             x = x + b\n         return x\n"
        "\\ No newline at end of file\n"
    )
    _run(capsys, ".", "--fix")
    assert (root / "crlf.py").read_bytes() == crlf.replace("k=-1", "k: int = -1").encode()
    fixed = (root / "bom.py").read_bytes().decode()
    assert fixed.startswith("\ufeffimport torch as th\n") and "b: Optional[th.Tensor] = None" in fixed
    assert "from typing import Optional\n" in fixed and "import torch\n" not in fixed


def test_stdin_is_not_fixed(tmp_path, monkeypatch, capsys) -> None:
    import io

    before, _ = CASES["PT206"]
    (tmp_path / "pyproject.toml").write_text("[tool.mllint]\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(before.encode())))
    code, out, err = _run(capsys, "-", "--fix", "-q")
    assert "not fixed: stdin cannot be fixed in place" in err and "PT206" in out


def test_language_server_findings_carry_the_codemod_edits_computed_on_the_buffer(tmp_path) -> None:
    pytest.importorskip("pygls")
    from mllint.server import Linter

    before, after = CASES["PT206"]
    (tmp_path / "pyproject.toml").write_text('[tool.mllint]\ntargets = "all"\n', encoding="utf-8")
    (tmp_path / "model.py").write_text("# on disk: something else\n", encoding="utf-8")
    findings = Linter(load_catalogue()).lint(tmp_path / "model.py", before)
    pt206 = next(f for f in findings if f.code == "PT206")
    assert [e.text for e in pt206.edits] == ["from typing import Optional\n", ": Optional[torch.Tensor] = "]


@pytest.mark.export
def test_pt101_fixed_model_exports_with_torch_export(tmp_path) -> None:
    torch = pytest.importorskip("torch")
    before, after = CASES["PT101"]
    x = torch.randn(2, 4)
    with pytest.raises(Exception, match="data-dependent|Data-dependent|guard"):  # noqa: B017 - torch's own type
        torch.export.export(_load(tmp_path / "pt101_before.py", before).Gate(), (x,))
    fixed = _load(tmp_path / "pt101_after.py", after)
    for cls in (fixed.Gate, fixed.Pick):
        model = cls()
        program = torch.export.export(model, (x,))
        for sample in (x, -x.abs() - 1, x.abs() + 2):
            assert torch.equal(program.module()(sample), model(sample))


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("f(a, b)", "f(a, b, x=1, y=2)"),
        ("f(a, b,)", "f(a, b, x=1, y=2,)"),
        ("f(\n    a,\n    b,\n)", "f(\n    a,\n    b,\n    x=1,\n    y=2,\n)"),
        ("f()", "f(x=1, y=2)"),
    ],
)
def test_added_keywords_follow_the_calls_layout(before: str, after: str) -> None:
    import libcst as cst

    from mllint.fixes.codemods import _add_keywords

    call = cst.parse_expression(before)
    assert isinstance(call, cst.Call)
    assert cst.Module([]).code_for_node(_add_keywords(call, [("x", "1"), ("y", "2")])) == after


def test_a_file_changed_between_the_check_and_the_fix_is_left_alone(tmp_path, monkeypatch, capsys) -> None:
    before, _ = CASES["PT206"]
    root = _project(tmp_path, monkeypatch, {"model.py": before})
    import mllint.fixes.cli as fix_cli

    real = fix_cli.fix_files
    edited = "# a new first line: every finding moved\n" + before

    def edit_first(*args, **kwargs):
        (root / "model.py").write_text(edited, encoding="utf-8")
        return real(*args, **kwargs)

    monkeypatch.setattr(fix_cli, "fix_files", edit_first)
    code, out, err = _run(capsys, "model.py", "--fix")
    assert "not fixed: file left alone: it changed since mllint checked it" in err
    assert (root / "model.py").read_text(encoding="utf-8") == edited


# Each `.item()` here is PT102 and each has a use that may need the Python number: no fix for any of them.
PT102_LOOK_ALIKES = """\
import torch
from torch import nn


class Loop(nn.Module):
    def forward(self, x):
        n = x.sum().item()
        return [x for _ in range(n)]  # range() needs an int


class Index(nn.Module):
    def forward(self, x):
        i = x.argmax().item()
        return [x, -x][i]  # a list index


class Fmt(nn.Module):
    def forward(self, x):
        m = x.mean().item()
        print(f"{m:.3f}")  # formatting
        return x * m


class Ann(nn.Module):
    def forward(self, x):
        k: int = x.sum().item()  # annotated a Python number
        return x * k


class Branch(nn.Module):
    def forward(self, x):
        m = x.mean().item()
        if m > 0:  # a Python bool
            return x
        return x * m


class Other(nn.Module):
    def forward(self, x):
        m = x.mean().item()
        return x * float(m)  # a non-torch function


class TwoNumbers(nn.Module):
    def forward(self, x):
        m = x.mean().item()
        return x * (m * m)  # number times number


class Shape(nn.Module):
    def forward(self, x):
        m = x.mean().item()
        return x.shape[0] * m  # an int times the number: would become a tensor


class Gone(nn.Module):
    def forward(self, x):
        m = x.mean().item()
        x = x.tolist()
        return [v * m for v in x]  # a comprehension uses it (and x is no longer the tensor)


class Cast(nn.Module):
    def forward(self, x):
        m = x.double().mean().item()  # a 0-d float64 tensor promotes an int x to float64, a number does not
        return x * m


class Reassigned(nn.Module):
    def forward(self, x):
        m = x.mean().item()
        m += 1
        return x * m

"""


def test_pt102_no_fix_where_a_use_may_need_the_python_number() -> None:
    findings = [f for f in lint_source(PT102_LOOK_ALIKES) if f.code == "PT102"]
    assert len(findings) == 11
    result = fix_text(PT102_LOOK_ALIKES, findings)
    assert result.text is None and len(result.unfixed) == 11


@pytest.mark.export
def test_pt102_fixed_model_traces_correctly_and_exports(tmp_path) -> None:
    import warnings

    torch = pytest.importorskip("torch")
    before, after = CASES["PT102"]
    old, new = _load(tmp_path / "pt102_before.py", before), _load(tmp_path / "pt102_after.py", after)
    x, other = torch.randn(2, 4), torch.randn(2, 4) * 5 + 1
    first = lambda out: out[0] if isinstance(out, tuple) else out  # noqa: E731
    with pytest.raises(RuntimeError, match="Only tensors"):  # a Python number cannot be a traced output
        torch.jit.trace(old.Rebind(), (x,), check_trace=False)
    for name in ("Scale", "Inline", "Clamp", "Rebind"):
        want = getattr(old, name)()(other)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if name != "Rebind":
                traced_before = torch.jit.trace(getattr(old, name)(), (x,), check_trace=False)
                # the number of the example input was recorded as a constant
                assert not torch.allclose(traced_before(other), want), name
            traced_after = torch.jit.trace(getattr(new, name)(), (x,))
        assert torch.allclose(first(traced_after(other)), first(want)), name
        program = torch.export.export(getattr(new, name)(), (x,))
        assert torch.allclose(first(program.module()(other)), first(want)), name
    grad = torch.randn(2, 4, requires_grad=True)
    old.Inline()(grad).sum().backward()
    expected = grad.grad.clone()
    grad.grad = None
    new.Inline()(grad).sum().backward()
    assert torch.equal(grad.grad, expected)  # .detach() keeps gradients out of it, as .item() did
    ints = torch.arange(4, dtype=torch.int32)  # why the Cast look-alike gets no fix
    assert (ints * ints.double().mean().item()).dtype == torch.float32
    assert (ints * ints.double().mean()).dtype == torch.float64


PT211_WRITES = """\
import torch
from torch import nn


class Writes(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(4))

    def forward(self, x):
        self.weight.data.mul_(0.5)  # an in-place write through .data: detach() would let autograd see it
        self.weight.data[0] = 1.0  # an item assignment through .data
        return x * self.weight
"""


def test_pt211_no_fix_where_data_is_written_through() -> None:
    findings = [f for f in lint_source(PT211_WRITES) if f.code == "PT211"]
    assert len(findings) == 2
    assert fix_text(PT211_WRITES, findings).text is None


@pytest.mark.export
def test_pt211_fixed_model_exports_with_torch_export(tmp_path) -> None:
    torch = pytest.importorskip("torch")
    before, after = CASES["PT211"]
    x = torch.randn(2, 4)
    with pytest.raises(RuntimeError, match="fake tensor in the exported program constant"):
        torch.export.export(_load(tmp_path / "pt211_before.py", before).Scaled(), (x,))
    model = _load(tmp_path / "pt211_after.py", after).Scaled()
    program = torch.export.export(model, (x,))
    sample = torch.randn(2, 4)
    assert torch.equal(program.module()(sample), model(sample))


PT403_LOOK_ALIKES = """\
import torch
from torch import nn


class Pair(nn.Module):
    def forward(self, a, b):
        return a + b.sum()


class Flat(nn.Module):
    def forward(self, x):
        return x.flatten()


def export_pair():
    pair = Pair().eval()
    pair(torch.randn(16, 8), torch.randn(3))
    return torch.export.export(pair, (torch.randn(4, 8), torch.randn(3)))  # two inputs: which one is fed is unknown


def export_flat():
    flat = Flat().eval()
    flat(torch.randn(16, 8, 2))
    return torch.export.export(flat, (torch.randn(4, 8),))  # ranks differ: no dimension to name
"""


def test_pt403_no_fix_for_several_inputs_or_ranks_that_differ() -> None:
    findings = [f for f in lint_source(PT403_LOOK_ALIKES) if f.code == "PT403"]
    assert len(findings) == 2
    assert fix_text(PT403_LOOK_ALIKES, findings).text is None


@pytest.mark.export
def test_pt403_fixed_program_takes_the_other_size(tmp_path) -> None:
    torch = pytest.importorskip("torch")
    before, after = CASES["PT403"]
    big = torch.randn(16, 8)
    with pytest.raises(Exception, match="Guard failed|size"):  # noqa: B017 - torch's own exception type
        _load(tmp_path / "pt403_before.py", before).export().module()(big)
    fixed = _load(tmp_path / "pt403_after.py", after)
    program = fixed.export()
    assert program.module()(big).shape == (16, 2)


def test_fix_judges_each_file_in_the_projects_context(tmp_path, monkeypatch, capsys) -> None:
    """The check before fixing sees the whole project: an export call in another file chooses the targets and
    the model judged. A file re-checked alone would get other targets and other findings, and every fix in it
    was refused as "changed since mllint checked it" although nothing changed."""
    before, after = CASES["PT206"]
    other = "\n\nclass Unused(nn.Module):\n    def forward(self, x, scale=None):\n        return x if scale is None else x * scale\n"
    export = "import torch\nfrom model import AddBias\n\ntorch.jit.script(AddBias())\n"
    root = _project(tmp_path, monkeypatch, {"model.py": before + other, "export.py": export})
    code = main(["check", "--no-cache", "--fix", "."])
    _, err = capsys.readouterr()
    assert "changed since mllint checked it" not in err, err
    fixed = (root / "model.py").read_text(encoding="utf-8")
    assert "bias: Optional[torch.Tensor] = None" in fixed, err  # the scripted model's PT206 is fixed
    assert "scale=None" in fixed  # the class no export call names is not judged, so not touched
    assert code in (0, 1)
