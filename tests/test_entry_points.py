"""Entry points (which model classes are judged) and the default targets ``auto`` (issue #13, 2 and 4)."""

from __future__ import annotations

import json
import re
import tempfile
import textwrap
from pathlib import Path
from typing import Dict, List, Optional, Set, Tuple

import pytest

from mllint.catalogue import load_catalogue
from mllint.config import ConfigError, load_settings
from mllint.engine import run_check
from mllint.findings import RunResult
from mllint.targets import ALL_TARGETS, MODERN_TARGETS

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "fixtures" / "entry_points"
EXPECT = re.compile(r"#\s*expect:\s*([A-Z]{2,3}[0-9]{3})")
CAT = load_catalogue()

MODELS = textwrap.dedent("""\
    import torch
    import torch.nn as nn


    class Net(nn.Module):
        def forward(self, x):
            if x.sum() > 0:
                return x
            return -x


    class Other(nn.Module):
        def forward(self, x):
            if x.mean() > 0:
                return x
            return -x


    def build(cfg):
        model = Net()
        return model.eval()
    """)


def run(files: Dict[str, str], config: str = "", jobs: int = 1, **overrides: object) -> RunResult:
    """Check a temporary project (``config``: the body of its ``[tool.mllint]`` table)."""
    with tempfile.TemporaryDirectory(prefix="mllint-entry-") as tmp:
        root = Path(tmp)
        (root / "pyproject.toml").write_text("[tool.mllint]\n" + config, encoding="utf-8")
        for rel, text in files.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        settings = load_settings(root, CAT, None, dict(overrides) or None)
        return run_check([str(root)], settings, CAT, jobs=jobs)


def judged(result: RunResult) -> Set[str]:
    return {e["class"] for e in result.entry_points["judged"]}  # type: ignore[union-attr,index]


def reported(result: RunResult) -> Set[Tuple[str, int]]:
    return {(f.path, f.line) for f in result.active if not f.code.startswith("ML")}


# -- default entry points: every model class but losses, training wrappers, inference runners ------------


def _fixture_run(**overrides: object) -> RunResult:
    settings = load_settings(FIXTURE, CAT, None, dict(overrides) or None)
    settings.root = REPO
    return run_check([str(FIXTURE)], settings, CAT)


def _expected() -> Set[Tuple[str, int]]:
    out = set()
    for path in sorted(FIXTURE.glob("*.py")):
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if EXPECT.search(line):
                out.add((path.relative_to(REPO).as_posix(), lineno))
    return out


def test_losses_wrappers_and_runners_are_not_judged_their_look_alikes_are() -> None:
    result = _fixture_run()
    assert reported(result) == _expected()
    report = result.entry_points
    assert report["mode"] == "default" and report["reason"] == "every model class: no export calls found"
    excluded = {e["class"]: e["reason"] for e in report["excluded"]}  # type: ignore[union-attr]
    assert {k: v.split(":")[0] for k, v in excluded.items()} == {
        "losses:LabelSmoothingLoss": "loss",
        "losses:DiceLoss": "loss",
        "wrappers:MaskedPredictionWrapper": "training wrapper",
        "wrappers:StepWrapper": "training wrapper",
        "wrappers:OptimizingModule": "training wrapper",
        "runners:Predictor": "inference runner",
        "runners:MultiBackend": "inference runner",
    }
    assert excluded["wrappers:OptimizingModule"] == "training wrapper: holds an optimizer (self.opt)"
    assert excluded["runners:Predictor"].startswith("inference runner: forward ")
    assert judged(result) == {
        "losses:LossPredictionHead",
        "losses:ScoreCriterion",
        "wrappers:Backbone",
        "wrappers:Classifier",
        "runners:Resizer",
    }


def test_the_excluded_classes_do_have_hazards() -> None:
    """The exclusions are what keeps their findings out: judged, every one of them reports."""
    result = _fixture_run(**{"entry-points": ["*:*"]})
    lines = {line for _, line in reported(result) - _expected()}
    files = {path.split("/")[-1] for path, _ in reported(result) - _expected()}
    assert files == {"losses.py", "wrappers.py", "runners.py"} and len(lines) >= 6
    assert not result.entry_points["excluded"]


# -- export calls and factories choose the entry points -----------------------------------------------------


def test_export_calls_make_the_exported_classes_the_only_entry_points() -> None:
    script = (
        "import torch\nfrom pkg.models import Net\n\nm = Net().eval()\ntorch.export.export(m, (torch.randn(2, 3),))\n"
    )
    result = run({"pkg/__init__.py": "", "pkg/models.py": MODELS, "scripts/export.py": script})
    assert judged(result) == {"pkg.models:Net"}
    assert result.entry_points["judged"][0]["source"] == "export call at scripts/export.py:5"  # type: ignore[index]
    assert result.entry_points["not_named"] == 1
    assert {line for path, line in reported(result) if path == "pkg/models.py"} == {7}  # Net's, not Other's
    assert result.entry_points["targets"] == ["torch-export"]
    assert result.entry_points["targets_reason"] == "auto: export calls in scripts/export.py"


def test_a_factory_result_is_resolved_to_its_class() -> None:
    script = (
        "import torch\nfrom pkg.models import build\n\nmodel = build(None)\ntorch.onnx.export(model, (x,), 'm.onnx')\n"
    )
    result = run({"pkg/__init__.py": "", "pkg/models.py": MODELS, "export.py": script})
    assert judged(result) == {"pkg.models:Net"}
    assert result.entry_points["targets"] == ["onnx-dynamo"]


def test_configured_model_factories_are_entry_points() -> None:
    config = "[[tool.mllint.models]]\nname = 'net'\nfactory = 'pkg.models:build'\n"
    result = run({"pkg/__init__.py": "", "pkg/models.py": MODELS}, config)
    assert judged(result) == {"pkg.models:Net"}
    assert result.entry_points["judged"][0]["source"] == "factory pkg.models:build"  # type: ignore[index]
    assert result.entry_points["targets"] == list(MODERN_TARGETS)  # a factory names no target


def test_an_export_call_of_an_unknown_model_keeps_every_class_judged() -> None:
    script = (
        "import torch\nfrom pkg.models import Net\n\ntorch.jit.trace(Net(), (x,))\n"
        "model = torch.load('m.pt')\ntorch.jit.script(model)\n"
    )
    result = run({"pkg/__init__.py": "", "pkg/models.py": MODELS, "export.py": script})
    assert judged(result) == {"pkg.models:Net", "pkg.models:Other"}
    assert "not statically clear (export.py:6)" in str(result.entry_points["reason"])
    assert result.entry_points["targets"] == ["torchscript-script", "torchscript-trace"]


def test_parallel_workers_get_the_same_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLLINT_POOL_MIN_BYTES", "0")
    script = "import torch\nfrom pkg.models import Net\n\ntorch.export.export(Net(), (x,))\n"
    files = {"pkg/__init__.py": "", "pkg/models.py": MODELS, "scripts/export.py": script}
    one, two = run(files), run(files, jobs=2)
    assert one.entry_points == two.entry_points and judged(two) == {"pkg.models:Net"}
    assert [f.sort_key() for f in one.findings] == [f.sort_key() for f in two.findings]


# -- configuration ----------------------------------------------------------------------------------------


def test_configured_entry_points_and_not_exported() -> None:
    files = {"pkg/__init__.py": "", "pkg/models.py": MODELS}
    only = run(files, "entry-points = ['pkg.models:Oth*']\n")
    assert judged(only) == {"pkg.models:Other"} and only.entry_points["reason"] == "entry-points in the configuration"
    assert {line for _, line in reported(only)} == {14}
    dropped = run(files, "not-exported = ['pkg.*:Net']\n")
    assert judged(dropped) == {"pkg.models:Other"}
    assert dropped.entry_points["excluded"] == [{"class": "pkg.models:Net", "reason": "not-exported (config)"}]


@pytest.mark.parametrize(
    "value, message",
    [
        ("entry-points = ['pkg.models.Net']", "expected 'package.module:ClassName'"),
        ("entry-points = 'pkg:Net Head'", "expected 'package.module:ClassName'"),
        ("not-exported = [3]", "must be a list of strings"),
        ("targets = ['auto', 'tflite']", "'auto' cannot be combined"),
    ],
)
def test_bad_entry_values_are_configuration_errors(tmp_path: Path, value: str, message: str) -> None:
    (tmp_path / "pyproject.toml").write_text(f"[tool.mllint]\n{value}\n")
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_settings(tmp_path, CAT)


def test_bad_entry_point_exits_2(mllint_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "pyproject.toml").write_text("[tool.mllint]\nentry-points = ['Net']\n")
    (tmp_path / "m.py").write_text("x = 1\n")
    proc = mllint_cli(["check", "."], cwd=tmp_path)
    assert proc.returncode == 2 and "'entry-points' has 'Net'" in proc.stderr


# -- default targets auto ---------------------------------------------------------------------------------

TORCH_HEAD = "import torch\nfrom pkg.models import Net\nm = Net()\n"
TF_HEAD = "import tensorflow as tf\nimport keras\nm = keras.Sequential([])\n"


@pytest.mark.parametrize(
    "script, targets",
    [
        (TORCH_HEAD + "torch.jit.script(m)\n", ["torchscript-script"]),
        (TORCH_HEAD + "torch.jit.trace(m, (x,))\n", ["torchscript-trace"]),
        (TORCH_HEAD + "torch.export.export(m, (x,))\n", ["torch-export"]),
        (TORCH_HEAD + "from torch.export import export\nep = export(m, (x,))\n", ["torch-export"]),
        (TORCH_HEAD + "torch.onnx.export(m, (x,), 'm.onnx', dynamo=False)\n", ["onnx-legacy"]),
        (TORCH_HEAD + "torch.onnx.export(m, (x,), 'm.onnx')\n", ["onnx-dynamo"]),
        (TORCH_HEAD + "torch.onnx.export(m, (x,), 'm.onnx', dynamo=True)\n", ["onnx-dynamo"]),
        (TF_HEAD + "tf.saved_model.save(m, 'out')\n", ["savedmodel"]),
        (TF_HEAD + "m.export('out')\n", ["savedmodel"]),
        (TF_HEAD + "m.export('m.tflite', format='litert')\n", ["tflite"]),
        (TF_HEAD + "m.save('m.keras')\n", ["keras-file"]),
        (TF_HEAD + "m.save(f'{out}/m.keras')\n", ["keras-file"]),
        (TF_HEAD + "c = tf.lite.TFLiteConverter.from_keras_model(m)\n", ["tflite"]),
        (TF_HEAD + "import tensorflowjs as tfjs\ntfjs.converters.save_keras_model(m, 'web')\n", ["tfjs"]),
        (TF_HEAD + "m.save('m.h5')\nnp_save = 1\n", list(MODERN_TARGETS)),  # not a .keras archive
        (TORCH_HEAD + "torch.save(m.state_dict(), 'm.pt')\n", list(MODERN_TARGETS)),  # a checkpoint, not an export
    ],
)
def test_auto_targets_follow_the_export_calls(script: str, targets: List[str]) -> None:
    result = run({"pkg/__init__.py": "", "pkg/models.py": MODELS, "export.py": script})
    assert result.entry_points["targets"] == targets


def test_auto_targets_union_in_table_order_and_all_restores_nine() -> None:
    script = TORCH_HEAD + "torch.onnx.export(m, (x,), 'a.onnx', dynamo=False)\ntorch.jit.script(m)\n"
    files = {"pkg/__init__.py": "", "pkg/models.py": MODELS, "export.py": script}
    assert run(files).entry_points["targets"] == ["torchscript-script", "onnx-legacy"]
    assert run(files, "targets = 'auto'\n").entry_points["targets"] == ["torchscript-script", "onnx-legacy"]
    everything = run(files, "targets = 'all'\n")
    assert everything.entry_points["targets"] == list(ALL_TARGETS)
    assert everything.entry_points["targets_reason"] == "all"
    assert run(files, "targets = ['tflite']\n", targets=["auto"]).entry_points["targets"] == [
        "torchscript-script",
        "onnx-legacy",
    ]  # --target auto wins over the configured targets
    named = run(files, targets=["tflite"])
    assert named.entry_points["targets"] == ["tflite"] and named.entry_points["targets_reason"] == "configured"


def test_no_export_call_judges_the_modern_targets() -> None:
    result = run({"pkg/__init__.py": "", "pkg/models.py": MODELS})
    assert result.entry_points["targets"] == list(MODERN_TARGETS)
    assert result.entry_points["targets_reason"] == "auto: no export calls found"
    assert {t for f in result.active for t in f.targets} <= set(MODERN_TARGETS)


# -- the summaries and --show-entry-points --------------------------------------------------------------


def _project(tmp_path: Path, script: Optional[str] = None) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.mllint]\n")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "models.py").write_text(
        MODELS + "\n\nclass FocalLoss(nn.Module):\n    def forward(self, logits, labels):\n        return logits\n"
    )
    if script is not None:
        (tmp_path / "export.py").write_text(script)


def test_text_and_json_summaries_say_what_was_judged_and_why(mllint_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _project(tmp_path)
    text = mllint_cli(["check", ".", "--no-cache"], cwd=tmp_path).stdout
    assert "Entry points: 2 (every model class: no export calls found)" in text
    assert "Excluded 1: FocalLoss (loss)" in text
    assert "Targets (auto: no export calls found): torch-export, onnx-dynamo, savedmodel, keras-file, tflite" in text
    doc = json.loads(mllint_cli(["check", ".", "--no-cache", "--format", "json"], cwd=tmp_path).stdout)
    assert doc["targets"] == list(MODERN_TARGETS)
    report = doc["entry_points"]
    assert report["mode"] == "default" and [e["class"] for e in report["judged"]] == [
        "pkg.models:Net",
        "pkg.models:Other",
    ]
    assert report["excluded"] == [
        {"class": "pkg.models:FocalLoss", "reason": "loss: forward takes the target 'labels'"}
    ]


def test_show_entry_points_lists_sources_exclusions_and_calls(mllint_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _project(tmp_path, "import torch\nfrom pkg.models import Net\n\nnet = Net()\ntorch.jit.trace(net, (x,))\n")
    proc = mllint_cli(["check", ".", "--no-cache", "--show-entry-points"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr  # findings do not fail this listing
    assert proc.stdout == textwrap.dedent("""\
        Entry points: 1 (export calls in export.py)
          pkg.models:Net  export call at export.py:5
        Not named by the configuration or an export call: 2 model classes
        Export calls: 1
          export.py:5  torch.jit.trace -> torchscript-trace: pkg.models.Net
        Targets (auto: export calls in export.py): torchscript-trace
        """)
    listing = json.loads(
        mllint_cli(["check", ".", "--no-cache", "--show-entry-points", "--format", "json"], cwd=tmp_path).stdout
    )
    assert listing["judged"] == [{"class": "pkg.models:Net", "source": "export call at export.py:5"}]


def test_confirm_factory_forms_are_resolved_and_an_unclear_factory_keeps_every_class() -> None:
    factories = textwrap.dedent("""\
        from pkg.models import Net, Other


        def as_tuple():
            return Net().eval(), (1,)


        def as_dict():
            model = Other()
            return {"model": model, "args": (1,)}


        def either(flag):
            if flag:
                return Net(), (1,)
            return Other(), (1,)
        """)
    files = {"pkg/__init__.py": "", "pkg/models.py": MODELS, "pkg/factories.py": factories}
    config = "[[tool.mllint.models]]\nfactory = 'pkg.factories:as_tuple'\n[[tool.mllint.models]]\nfactory = 'pkg.factories:as_dict'\n"
    both = run(files, config)
    assert both.entry_points["mode"] == "export" and judged(both) == {"pkg.models:Net", "pkg.models:Other"}
    assert both.entry_points["reason"] == "[[tool.mllint.models]] factories"
    unclear = run(files, "[[tool.mllint.models]]\nfactory = 'pkg.factories:either'\n")
    assert unclear.entry_points["mode"] == "default"
    assert unclear.entry_points["reason"] == (
        "every model class: what 1 export call or factory exports is not statically clear "
        "(factory pkg.factories:either)"
    )


def test_keras_export_then_conversion_of_the_saved_model() -> None:
    layers = textwrap.dedent("""\
        import keras


        class Net(keras.Model):
            def call(self, x):
                return x


        class Unused(keras.layers.Layer):
            def call(self, x):
                return x
        """)
    script = (
        "import tensorflow as tf\nfrom pkg.nets import Net\n\nm = Net()\nm.export('out')\n"
        "converter = tf.lite.TFLiteConverter.from_saved_model('out')\n"
    )
    result = run({"pkg/__init__.py": "", "pkg/nets.py": layers, "export.py": script})
    assert result.entry_points["mode"] == "export" and judged(result) == {"pkg.nets:Net"}
    assert result.entry_points["targets"] == ["savedmodel", "tflite"]
    assert [c["exports"] for c in result.entry_points["export_calls"]] == ["pkg.nets.Net", "a saved model (a path)"]


def test_a_cached_run_reports_the_same_entry_points(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    (root / "pkg").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[tool.mllint]\n")
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "models.py").write_text(MODELS)
    (root / "export.py").write_text("import torch\nfrom pkg.models import Net\n\ntorch.jit.trace(Net(), (x,))\n")
    reports = []
    for _ in range(2):
        settings = load_settings(root, CAT)
        result = run_check([str(root)], settings, CAT, cache=True, cache_dir=tmp_path / "cache")
        reports.append((result.entry_points, [f.sort_key() for f in result.findings]))
    assert reports[0] == reports[1] and judged_of(reports[1][0]) == {"pkg.models:Net"}


def judged_of(report: Dict[str, object]) -> Set[str]:
    return {e["class"] for e in report["judged"]}  # type: ignore[union-attr,index]


def test_a_class_an_export_call_names_is_judged_as_the_model_not_as_a_part(tmp_path: Path, mllint_cli) -> None:  # type: ignore[no-untyped-def]
    """``BertModel`` is both a part of ``BertForX`` in its file and what the user traces: the export call
    decides. Without it the dict output of the part is an intermediate value and is not reported."""
    (tmp_path / "pyproject.toml").write_text("[tool.mllint]\ntargets = 'all'\n")
    (tmp_path / "models.py").write_text(
        "import torch\n"
        "from torch import nn\n"
        "class Base(nn.Module):\n"
        "    def forward(self, x: torch.Tensor):\n"
        "        return {'hidden': x * 2}\n"
        "class Head(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.base = Base()\n"
        "    def forward(self, x: torch.Tensor):\n"
        "        return self.base(x)['hidden'].sum(-1)\n"
    )

    def pt217() -> List[str]:
        proc = mllint_cli(["check", ".", "--no-cache", "--format", "json"], tmp_path)
        assert proc.returncode in (0, 1), proc.stderr
        return [f"{f['path']}:{f['line']}" for f in json.loads(proc.stdout)["findings"] if f["code"] == "PT217"]

    assert pt217() == []
    (tmp_path / "export.py").write_text(
        "import torch\nfrom models import Base\ntorch.jit.trace(Base().eval(), (torch.randn(2, 3),))\n"
    )
    assert pt217() == ["models.py:5"]
    (tmp_path / "export.py").unlink()
    (tmp_path / "pyproject.toml").write_text("[tool.mllint]\ntargets = 'all'\nentry-points = ['models:*']\n")
    assert pt217() == []  # a wildcard names no class in particular
    (tmp_path / "pyproject.toml").write_text("[tool.mllint]\ntargets = 'all'\nentry-points = ['models:Base']\n")
    assert pt217() == ["models.py:5"]
