"""Model contracts: loading and validating them (no exports), and checking real exports against them.

The export tests run one small project each through the ``mllint`` command (one run, several models):
PyTorch models against inline and Triton ``config.pbtxt`` contracts (one meeting each, one breaking it:
a batch dimension exported static, ``float64`` where the contract says ``FP32``, a missing output, a rank
change, an output name Triton's PyTorch backend would not bind), a traced model that fails at a declared
dynamic size (probe), and Keras models against their SavedModel ``serving_default`` signature.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Dict, List

import pytest

from mllint.config import ConfigError, ModelSpec
from mllint.confirm.contract_check import Checker
from mllint.confirm.contracts import canonical_dtype, load_contract

TORCH_MODELS = textwrap.dedent("""\
    import torch
    from torch import nn


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3, 4)

        def forward(self, x):
            return torch.relu(self.lin(x))


    class Wide(nn.Module):
        def forward(self, x):
            return (x * 2).double(), x.sum(1)


    class Baked(nn.Module):
        def forward(self, x):
            width = int(x.shape[1])
            return (x * 2).reshape(-1, width)


    def static():
        torch.manual_seed(0)
        return Net().eval(), (torch.randn(2, 3),)


    def dynamic():
        torch.manual_seed(0)
        return {"model": Net().eval(), "args": (torch.randn(2, 3),),
                "dynamic_shapes": ({0: torch.export.Dim("batch")},)}


    def wide():
        torch.manual_seed(0)
        return Wide().eval(), (torch.randn(2, 3),)


    def baked():
        torch.manual_seed(0)
        return Baked().eval(), (torch.randn(2, 3),)
    """)

CONTRACT = (
    'contract.inputs = [{ name = "x", dtype = "float32", shape = ["batch", 3] }]\n'
    'contract.outputs = [{ name = "y", dtype = "FP32", shape = ["batch", 4] }]\n'
)

TRITON_GOOD = textwrap.dedent("""\
    name: "net"
    platform: "onnxruntime_onnx"
    max_batch_size: 8
    input [
      {
        name: "x"
        data_type: TYPE_FP32
        dims: [ 3 ]
      }
    ]
    output [
      {
        name: "y"
        data_type: TYPE_FP32
        dims: [ 4 ]
      }
    ]
    """)

TRITON_BAD = textwrap.dedent("""\
    name: "wide"
    max_batch_size: 8
    input [
      {
        name: "x"
        data_type: TYPE_FP32
        dims: [ 3 ]
      }
    ]
    output [
      {
        name: "OUTPUT__0"
        data_type: TYPE_FP32
        dims: [ 3 ]
      },
      {
        name: "total"
        data_type: TYPE_FP32
        dims: [ 1 ]
      },
      {
        name: "OUTPUT__2"
        data_type: TYPE_FP32
        dims: [ 4 ]
      }
    ]
    """)


def _write(root: Path, files: Dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def _line(root: Path, path: str, needle: str, after: int = 0) -> int:
    lines = (root / path).read_text().splitlines()
    return next(n for n, text in enumerate(lines, 1) if n > after and needle in text)


def _run(args: List[str], cwd: Path) -> subprocess.CompletedProcess:
    """``mllint`` in a subprocess (for a module-scoped fixture, which cannot use ``run_mllint``)."""
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    return subprocess.run(
        [sys.executable, "-m", "mllint", *args], cwd=str(cwd), capture_output=True, text=True, env=env, timeout=600
    )


def _confirm_json(run_mllint, root: Path) -> Dict[str, Any]:
    proc = run_mllint(["check", ".", "--no-cache", "--confirm", "--format", "json"], root)
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)


def _contract_findings(doc: Dict[str, Any]) -> List[Dict[str, Any]]:
    return [f for f in doc["findings"] if f["code"] in ("ML106", "ML107", "ML108", "ML109")]


# -- loading and validation (no exports) -----------------------------------------------------------------


def test_dtype_aliases() -> None:
    assert canonical_dtype("TYPE_FP32") == canonical_dtype("fp32") == canonical_dtype("torch.float32") == "float32"
    assert canonical_dtype("double") == "float64"
    assert canonical_dtype("TYPE_INT64") == canonical_dtype("long") == "int64"
    assert canonical_dtype("float33") is None


def test_inline_contract_is_read_with_its_lines(tmp_path: Path) -> None:
    config = tmp_path / "pyproject.toml"
    config.write_text(
        '[tool.mllint]\n\n[[tool.mllint.models]]\nname = "other"\nfactory = "a:b"\n'
        '\n[[tool.mllint.models]]\nname = "m"\nfactory = "pkg.m:make"\n'
        + CONTRACT
        + "contract.dims = { batch = { min = 1, max = 16 } }\n"
    )
    raw = {
        "inputs": [{"name": "x", "dtype": "float32", "shape": ["batch", 3]}],
        "outputs": [{"name": "y", "dtype": "FP32", "shape": ["batch", 4]}],
        "dims": {"batch": {"min": 1, "max": 16}},
    }
    c = load_contract(ModelSpec("m", "pkg.m:make", contract=raw), tmp_path, config, ["other", "m"])
    assert c is not None and c["source"] == "pyproject.toml"
    assert [(t["name"], t["dtype"], t["shape"], t["line"]) for t in c["inputs"]] == [("x", "float32", ["batch", 3], 10)]
    assert c["outputs"][0]["line"] == 11 and c["outputs"][0]["dtype"] == "float32"
    assert c["dims"] == {"batch": [1, 16]}


def test_triton_config_adds_the_implicit_batch_dimension(tmp_path: Path) -> None:
    pytest.importorskip("tritonclient.grpc")
    _write(tmp_path, {"models/wide/config.pbtxt": TRITON_BAD})
    c = load_contract(ModelSpec("wide", "pkg.m:wide", contract="models/wide/config.pbtxt"), tmp_path, None, ["wide"])
    assert c is not None and c["kind"] == "triton" and c["dims"] == {"batch": [1, 8]}
    assert [(t["name"], t["shape"], t["line"]) for t in c["outputs"]] == [
        ("OUTPUT__0", ["batch", 3], 12),
        ("total", ["batch", 1], 17),
        ("OUTPUT__2", ["batch", 4], 22),
    ]
    dynamic = textwrap.dedent("""\
        platform: "pytorch_libtorch"
        input [ { name: "INPUT__0" data_type: TYPE_INT64 dims: [ -1, 5 ] } ]
        """)
    _write(tmp_path, {"lt/config.pbtxt": dynamic})
    c = load_contract(ModelSpec("lt", "pkg.m:x", contract="lt/config.pbtxt"), tmp_path, None, ["lt"])
    assert c is not None and c["inputs"][0]["shape"] == [None, 5] and c["inputs"][0]["dtype"] == "int64"
    assert c["targets"] == ["torchscript-script", "torchscript-trace"]


def test_checker_reports_each_kind_of_mismatch() -> None:
    contract = {
        "source": "c.json",
        "line": 1,
        "inputs": [{"name": "x", "dtype": "float32", "shape": ["batch", 3], "line": 2}],
        "outputs": [
            {"name": "y", "dtype": "float32", "shape": ["batch", 4], "line": 3},
            {"name": "z", "dtype": "int64", "shape": None, "line": 4},
        ],
    }
    checker = Checker(contract, "onnx-dynamo")
    checker.side(
        "inputs", [{"name": "x", "dtype": "float32", "shape": [2, 3]}, {"name": "mask", "dtype": "bool", "shape": [2]}]
    )
    checker.side("outputs", [{"name": "y", "dtype": "float64", "shape": ["s0", 4, 1]}])
    got = [(v["code"], v["location"][1], v["message"]) for v in checker.found]
    assert got == [
        ("ML108", 2, "input `x` dim 0 (`batch`) is dynamic in the contract but fixed to 2 in the export"),
        ("ML106", 1, "the export has an input `mask` that the contract does not declare"),
        ("ML107", 3, "output `y` is float64 in the export; the contract says float32"),
        ("ML107", 3, "output `y` has rank 3 ([s0, 4, 1]) in the export; the contract says rank 2 ([batch, 4])"),
        ("ML107", 4, "output `z` of the contract is missing from the export (it has 1 outputs: `y`)"),
    ]
    assert checker.fixed == {(0, 0)}
    plan = Checker({**contract, "dims": {"batch": [2, 4]}}, "x").probe_plan([(2, 3)])
    assert [(label, size) for label, size, *_ in plan] == [("batch", 3), ("batch", 4)]


BAD_CONTRACTS = {
    "unknown-dtype": (
        {"c.json": '{\n  "inputs": [\n    {"name": "x", "dtype": "float33"}\n  ]\n}\n'},
        '"c.json"',
        "c.json:3: contract inputs[0]: unknown dtype 'float33'",
    ),
    "invalid-json": ({"c.json": '{\n  "inputs": [\n}\n'}, '"c.json"', "c.json:3: invalid JSON"),
    "invalid-pbtxt": (
        {"m/config.pbtxt": 'name: "m"\ninput [ { name: "x" data_typo: TYPE_FP32 } ]\n'},
        '"m/config.pbtxt"',
        "m/config.pbtxt:2: not a valid Triton model configuration",
    ),
    "unknown-triton-dtype": (
        {"m/config.pbtxt": 'input [ { name: "x" data_type: TYPE_FP33 } ]\n'},
        '"m/config.pbtxt"',
        "m/config.pbtxt:1: not a valid Triton model configuration",
    ),
    "unknown-model": (
        {"all.toml": '[models.m.inputs]\n\n[[models.ghost.inputs]]\nname = "x"\n'},
        '"all.toml"',
        "all.toml:3: contract for unknown model 'ghost'",
    ),
    "missing-file": ({}, '"nowhere.json"', "contract file 'nowhere.json' not found"),
    "parent-path": ({}, '"../c.json"', "must be relative to the project and stay inside it"),
    "absolute-path": ({}, '"/etc/c.json"', "must be relative to the project and stay inside it"),
    "bad-shape": ({}, '{ inputs = [{ name = "x", shape = ["batch", 2.5] }] }', "shape entry 2.5"),
    "no-tensors": ({}, "{ dims = { batch = [1, 2] } }", "declares no inputs and no outputs"),
}


@pytest.mark.parametrize("case", sorted(BAD_CONTRACTS))
def test_bad_contracts_are_configuration_errors(tmp_path: Path, mllint_cli, case: str) -> None:
    files, value, expected = BAD_CONTRACTS[case]
    if "pbtxt" in case:
        pytest.importorskip("tritonclient.grpc")
    _write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/m.py": "def make():\n    return None\n",
            **files,
            "pyproject.toml": f'[tool.mllint]\n\n[[tool.mllint.models]]\nname = "m"\nfactory = "pkg.m:make"\n'
            f"contract = {value}\n",
        },
    )
    proc = mllint_cli(["check", ".", "--no-cache", "--confirm"], tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "configuration error" in proc.stderr and expected in proc.stderr, proc.stderr


def test_a_symlink_out_of_the_project_is_refused(tmp_path: Path, mllint_cli) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "c.json").write_text('{"inputs": [{"name": "x"}]}')
    root = _write(
        tmp_path / "proj",
        {
            "pkg/__init__.py": "",
            "pkg/m.py": "def make():\n    return None\n",
            "pyproject.toml": '[tool.mllint]\n\n[[tool.mllint.models]]\nname = "m"\n'
            'factory = "pkg.m:make"\ncontract = "c.json"\n',
        },
    )
    os.symlink(outside / "c.json", root / "c.json")
    proc = mllint_cli(["check", ".", "--no-cache", "--confirm"], root)
    assert proc.returncode == 2 and "leads outside the project" in proc.stderr, proc.stderr


def test_contract_errors_name_the_model_and_stop_before_any_export(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="model 'm': 'contract' must be a path or a table"):
        load_contract(ModelSpec("m", "a:b", contract=3), tmp_path, None, ["m"])


# -- real exports -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def torch_doc(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Any]:
    pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    pytest.importorskip("tritonclient.grpc")
    root = _write(
        tmp_path_factory.mktemp("contracts-torch"),
        {
            "pkg/__init__.py": "",
            "pkg/m.py": TORCH_MODELS,
            "models/net/config.pbtxt": TRITON_GOOD,
            "models/wide/config.pbtxt": TRITON_BAD,
            "pyproject.toml": (
                '[tool.mllint]\ntargets = ["torchscript-script", "torchscript-trace", "torch-export", "onnx-dynamo",'
                ' "onnx-legacy"]\n'
                '\n[[tool.mllint.models]]\nname = "static"\nfactory = "pkg.m:static"\n'
                'targets = ["onnx-dynamo", "onnx-legacy"]\n'
                + CONTRACT
                + '\n[[tool.mllint.models]]\nname = "dynamic"\nfactory = "pkg.m:dynamic"\n'
                'targets = ["torch-export", "onnx-dynamo", "onnx-legacy"]\n'
                + CONTRACT
                + '\n[[tool.mllint.models]]\nname = "triton-good"\nfactory = "pkg.m:dynamic"\n'
                'targets = ["torchscript-script", "onnx-dynamo"]\ncontract = "models/net/config.pbtxt"\n'
                '\n[[tool.mllint.models]]\nname = "triton-bad"\nfactory = "pkg.m:wide"\n'
                'targets = ["torchscript-script", "onnx-dynamo"]\ncontract = "models/wide/config.pbtxt"\n'
                '\n[[tool.mllint.models]]\nname = "baked"\nfactory = "pkg.m:baked"\ntargets = ["torchscript-trace"]\n'
                'contract.inputs = [{ name = "x", dtype = "float32", shape = ["batch", "width"] }]\n'
            ),
        },
    )
    doc = _confirm_json(_run, root)
    doc["_root"] = root
    return doc


def _of(doc: Dict[str, Any], model: str) -> List[tuple]:
    return sorted(
        (f["code"], f["path"], f["line"], tuple(f["targets"]), f["message"].split("breaks its contract: ")[-1])
        for f in _contract_findings(doc)
        if f"model `{model}`" in f["message"]
    )


@pytest.mark.export
def test_inline_contract_batch_exported_static_is_found(torch_doc: Dict[str, Any]) -> None:
    root = torch_doc["_root"]
    x_line = _line(root, "pyproject.toml", "contract.inputs")
    y_line = _line(root, "pyproject.toml", "contract.outputs")
    assert _of(torch_doc, "static") == [
        (
            "ML108",
            "pyproject.toml",
            x_line,
            ("onnx-dynamo", "onnx-legacy"),
            "input `x` dim 0 (`batch`) is dynamic in the contract but fixed to 2 in the export",
        ),
        (
            "ML108",
            "pyproject.toml",
            y_line,
            ("onnx-dynamo", "onnx-legacy"),
            "output `y` dim 0 (`batch`) is dynamic in the contract but fixed to 2 in the export",
        ),
    ]
    assert torch_doc["summary"]["confirm"]["findings"]["new-failures"] >= 2


@pytest.mark.export
def test_models_meeting_their_contracts_have_no_findings_and_were_probed(torch_doc: Dict[str, Any]) -> None:
    assert _of(torch_doc, "dynamic") == []
    assert _of(torch_doc, "triton-good") == []
    exports = {(r["model"], r["target"]): r for r in torch_doc["exports"]}
    for target in ("torch-export", "onnx-dynamo", "onnx-legacy"):
        assert exports[("dynamic", target)]["status"] == "ok"
        assert exports[("dynamic", target)]["contract_probes"] == ["batch=1", "batch=3"]
    assert exports[("triton-good", "onnx-dynamo")]["contract_probes"] == ["batch=1", "batch=3"]
    # the config names an ONNX platform: the TorchScript artifact is not held to it
    assert "contract_probes" not in exports[("triton-good", "torchscript-script")]


@pytest.mark.export
def test_triton_contract_broken_in_every_way(torch_doc: Dict[str, Any]) -> None:
    root = torch_doc["_root"]
    cfg = "models/wide/config.pbtxt"
    x, out0, total, out2 = (_line(root, cfg, f'"{n}"') for n in ("x", "OUTPUT__0", "total", "OUTPUT__2"))
    found = _of(torch_doc, "triton-bad")
    both = ("torchscript-script", "onnx-dynamo")
    assert (
        "ML108",
        cfg,
        x,
        ("onnx-dynamo",),
        "input `x` dim 0 (`batch`) is dynamic in the contract but fixed to 2 in the export",
    ) in found
    assert ("ML107", cfg, out0, both, "output `OUTPUT__0` is float64 in the export; the contract says float32") in found
    assert (
        "ML108",
        cfg,
        out0,
        ("onnx-dynamo",),
        "output `OUTPUT__0` dim 0 (`batch`) is dynamic in the contract but fixed to 2 in the export",
    ) in found
    assert (
        "ML107",
        cfg,
        total,
        ("onnx-dynamo",),
        "output `total` has rank 1 ([2]) in the export; the contract says rank 2 ([batch, 1])",
    ) in found
    assert (
        "ML107",
        cfg,
        total,
        ("torchscript-script",),
        "output `total` has rank 1 ([?]) in the export; the contract says rank 2 ([batch, 1])",
    ) in found
    # `total` breaks the `<name>__<index>` convention, so Triton's PyTorch backend binds the outputs in config
    # order (with a warning, not an error): a note, and `OUTPUT__2` is the missing third output
    exports = {(r["model"], r["target"]): r for r in torch_doc["exports"]}
    notes = exports[("triton-bad", "torchscript-script")]["notes"]
    assert (
        "the contract's outputs do not all follow `<name>__<index>`: Triton's PyTorch backend binds them in "
        "config order (and logs a warning)" in notes
    ), notes
    missing = [f for f in found if f[2] == out2]
    assert {f[3] for f in missing} == {("onnx-dynamo",), ("torchscript-script",)}
    assert all(f[4].startswith("output `OUTPUT__2` of the contract is missing from the export") for f in missing)


@pytest.mark.export
def test_a_probe_at_a_declared_dynamic_size_fails_the_traced_model(torch_doc: Dict[str, Any]) -> None:
    root = torch_doc["_root"]
    line = _line(root, "pyproject.toml", "contract.inputs", after=_line(root, "pyproject.toml", 'name = "baked"'))
    ((code, path, at, targets, message),) = _of(torch_doc, "baked")
    assert (code, path, at, targets) == ("ML109", "pyproject.toml", line, ("torchscript-trace",))
    # mllint's own probes vary the batch only, where the traced reshape happens to hold
    assert message.startswith(
        "the export raises at `width` = 1 (the example has 3), a size the contract declares dynamic: RuntimeError"
    )
    exports = {(r["model"], r["target"]): r for r in torch_doc["exports"]}
    assert exports[("baked", "torchscript-trace")]["status"] == "ok"
    assert exports[("baked", "torchscript-trace")]["contract_probes"] == ["batch=1", "batch=3"]


KERAS_MODELS = textwrap.dedent("""\
    import keras
    import numpy as np


    def _example():
        return np.random.default_rng(0).standard_normal((2, 3)).astype("float32")


    def good():
        inp = keras.Input(shape=(3,), name="pixels")
        model = keras.Model(inp, keras.layers.Dense(2, name="logits")(inp))
        return model, (_example(),)


    def bad():
        import tensorflow as tf

        inp = keras.Input(shape=(3,), name="pixels")
        model = keras.Model(inp, keras.layers.Dense(2, name="logits")(inp))
        # a fixed batch in the signature; probes of the example's size only, so that the export itself passes
        return {"model": model, "args": (_example(),), "input_signature": [tf.TensorSpec([2, 3], tf.float32)],
                "probes": [(_example() * 2,)]}
    """)


@pytest.mark.export
def test_keras_serving_default_and_tflite_signatures_against_a_contract(tmp_path: Path, run_mllint) -> None:
    pytest.importorskip("tensorflow")
    pytest.importorskip("keras")
    contract_good = (
        'contract.inputs = [{ name = "pixels", dtype = "float32", shape = ["batch", 3] }]\n'
        'contract.outputs = [{ name = "output_0", dtype = "float32", shape = ["batch", 2] }]\n'
    )
    contract_bad = (
        'contract.inputs = [{ name = "pixels", dtype = "float32", shape = ["batch", 3] }]\n'
        'contract.outputs = [{ name = "probs", dtype = "float16", shape = ["batch", 5] }]\n'
    )
    root = _write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/k.py": KERAS_MODELS,
            "pyproject.toml": (
                '[tool.mllint]\ntargets = ["savedmodel", "tflite"]\n'
                '\n[[tool.mllint.models]]\nname = "good"\nfactory = "pkg.k:good"\n'
                + contract_good
                + '\n[[tool.mllint.models]]\nname = "bad"\nfactory = "pkg.k:bad"\n'
                + contract_bad
            ),
        },
    )
    doc = _confirm_json(run_mllint, root)
    exports = {(r["model"], r["target"]): r for r in doc["exports"]}
    for target in ("savedmodel", "tflite"):  # the TFLite signature runner resizes its inputs for the probes
        good = exports[("good", target)]
        assert good["status"] == "ok" and good["contract_probes"] == ["batch=1", "batch=3"], good
    assert _of(doc, "good") == []
    after = _line(root, "pyproject.toml", 'name = "bad"')
    x_line = _line(root, "pyproject.toml", "contract.inputs", after)
    y_line = _line(root, "pyproject.toml", "contract.outputs", after)
    # an unnamed tf.TensorSpec in the signature: TF Serving clients must send `args_0`, not `pixels`
    assert _of(doc, "bad") == [
        (
            "ML106",
            "pyproject.toml",
            x_line,
            ("savedmodel", "tflite"),
            "input 0 is named `args_0` in the export; the contract says `pixels`",
        ),
        (
            "ML107",
            "pyproject.toml",
            y_line,
            ("savedmodel", "tflite"),
            "output 0 is named `output_0` in the export; the contract says `probs`",
        ),
        (
            "ML107",
            "pyproject.toml",
            y_line,
            ("savedmodel", "tflite"),
            "output `probs` dim 1 is 2 in the export; the contract says 5",
        ),
        (
            "ML107",
            "pyproject.toml",
            y_line,
            ("savedmodel", "tflite"),
            "output `probs` is float32 in the export; the contract says float16",
        ),
        (
            "ML108",
            "pyproject.toml",
            x_line,
            ("savedmodel", "tflite"),
            "input `pixels` dim 0 (`batch`) is dynamic in the contract but fixed to 2 in the export",
        ),
        (
            "ML108",
            "pyproject.toml",
            y_line,
            ("savedmodel", "tflite"),
            "output `probs` dim 0 (`batch`) is dynamic in the contract but fixed to 2 in the export",
        ),
    ]


def _pytest_plugin(root: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # load the plugin from this checkout, whatever is installed
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "mllint.pytest_plugin", "-p", "no:cacheprovider", "-rA",
         "--mllint-confirm"],
        cwd=root, capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip


def _plugin_project(root: Path, contract: str) -> Path:
    from confirm_project import MODELS

    return _write(root, {
        "pkg/__init__.py": "", "pkg/models.py": MODELS,
        "pyproject.toml": '[tool.mllint]\ntargets = ["torchscript-script", "torch-export"]\n\n'
                          '[[tool.mllint.models]]\nname = "clean"\nfactory = "pkg.models:clean"\n' + contract,
    })  # fmt: skip


@pytest.mark.export
def test_the_pytest_plugin_fails_an_item_that_breaks_the_contract(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    root = _plugin_project(tmp_path, 'contract.inputs = [{ name = "x", dtype = "float32", shape = ["batch", 3] }]\n')
    proc = _pytest_plugin(root)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "1 failed, 1 passed" in proc.stdout, proc.stdout
    assert "FAILED pyproject.toml::mllint::clean::torch-export" in proc.stdout
    line = _line(root, "pyproject.toml", "contract.inputs")
    assert (
        f"pyproject.toml:{line}:1: ML108 contract-dynamic-dim-fixed torch-export export of model `clean` breaks "
        "its contract: input `x` dim 0 (`batch`) is dynamic in the contract but fixed to 2"
    ) in proc.stdout


def test_the_pytest_plugin_refuses_a_bad_contract(tmp_path: Path) -> None:
    root = _plugin_project(tmp_path, 'contract.inputs = [{ name = "x", dtype = "complex512" }]\n')
    proc = _pytest_plugin(root)
    assert proc.returncode == 4 and "unknown dtype 'complex512'" in proc.stderr, proc.stdout + proc.stderr


def test_an_output_named_like_an_input_is_located_at_the_output(tmp_path: Path) -> None:
    _write(tmp_path, {"c.json": '{"inputs": [{"name": "x"}],\n "outputs": [\n  {"name": "x"}]}\n'})
    c = load_contract(ModelSpec("m", "a:b", contract="c.json"), tmp_path, None, ["m"])
    assert c is not None and (c["inputs"][0]["line"], c["outputs"][0]["line"]) == (1, 3)
    pytest.importorskip("tritonclient.grpc")
    _write(
        tmp_path,
        {
            "m/config.pbtxt": 'input [\n  { name: "x" data_type: TYPE_FP32 dims: [ 3 ] }\n]\n'
            'output [\n  { name: "x" data_type: TYPE_FP32 dims: [ 3 ] }\n]\n'
        },
    )
    c = load_contract(ModelSpec("m", "a:b", contract="m/config.pbtxt"), tmp_path, None, ["m"])
    assert c is not None and (c["inputs"][0]["line"], c["outputs"][0]["line"]) == (2, 5)


def test_triton_pytorch_backend_binding_rules() -> None:
    from mllint.confirm.contract_check import _libtorch_positions

    forward = ["ids", "mask"]
    assert _libtorch_positions(["mask", "ids"], forward, "inputs") == ("forward-argument", [1, 0])
    assert _libtorch_positions(["INPUT__1", "INPUT__0"], forward, "inputs") == ("named-index", [1, 0])
    assert _libtorch_positions(["ids", "INPUT__1"], forward, "inputs") == ("strict", [0, 1])  # mixed
    assert _libtorch_positions(["mask", "ids"], forward, "outputs") == ("strict", [0, 1])
    assert _libtorch_positions(["OUT__0", "OUT__x"], [], "outputs") == ("strict", [0, 1])


def test_a_pbtxt_contract_without_the_triton_extra_says_what_to_install(tmp_path: Path, run_mllint) -> None:
    fake = tmp_path / "no-triton" / "tritonclient"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('tritonclient is not installed (simulated)')\n")
    root = _write(tmp_path / "proj", {
        "pkg/__init__.py": "", "pkg/m.py": "def make():\n    return None\n",
        "m/config.pbtxt": 'input [ { name: "x" data_type: TYPE_FP32 dims: [ 3 ] } ]\n',
        "pyproject.toml": '[tool.mllint]\n\n[[tool.mllint.models]]\nname = "m"\nfactory = "pkg.m:make"\n'
                          'contract = "m/config.pbtxt"\n',
    })  # fmt: skip
    path = os.pathsep.join(p for p in (str(fake.parent), os.environ.get("PYTHONPATH", "")) if p)
    proc = run_mllint(["check", ".", "--no-cache", "--confirm"], root, env_extra={"PYTHONPATH": path})
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "m/config.pbtxt: reading a Triton config.pbtxt needs the 'triton' extra" in proc.stderr, proc.stderr
    assert "pip install 'mllint-export[triton]'" in proc.stderr
