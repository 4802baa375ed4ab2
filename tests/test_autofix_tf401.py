"""TF401's autofix: ``input_signature=`` built from the model's declared contract (inline, JSON file, Triton
``config.pbtxt``), no fix without one or where the function does not line up with it; and a real
``tf.saved_model.save`` of the fixed module, loaded in a fresh process, serves the contract's inputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, Tuple

import pytest

from mllint.cli import main

MODULE = """\
import tensorflow as tf


class Scaler(tf.Module):
    def __init__(self):
        self.w = tf.Variable(2.0)

    @tf.function
    def __call__(self, x):
        return x * self.w


def build():
    return Scaler()


def save(path):
    tf.saved_model.save(Scaler(), path)
"""

FIXED = MODULE.replace(
    "    @tf.function\n",
    '    @tf.function(input_signature=[tf.TensorSpec(shape=[None, 3], dtype=tf.float32, name="x")])\n',
)

INLINE = """\
[[tool.mllint.models]]
name = "scaler"
factory = "pkg.scaler:{factory}"
contract.inputs = [{{ name = "x", dtype = "float32", shape = ["batch", 3] }}]
"""

TRITON = """\
name: "scaler"
platform: "tensorflow_savedmodel"
max_batch_size: 8
input [ { name: "x", data_type: TYPE_FP32, dims: [ 3 ] } ]
output [ { name: "output_0", data_type: TYPE_FP32, dims: [ 3 ] } ]
"""


def _project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, config: str, files: Dict[str, str]) -> Path:
    (tmp_path / "pyproject.toml").write_text("[tool.mllint]\n\n" + config, encoding="utf-8")
    (tmp_path / "pkg").mkdir()
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _run(capsys: pytest.CaptureFixture, *args: str) -> Tuple[int, str, str]:
    code = main(["check", "--no-cache", "--target", "all", *args])
    out, err = capsys.readouterr()
    return code, out, err


def _tf401(out: str) -> int:
    return sum(" TF401 " in line for line in out.splitlines())


@pytest.mark.parametrize(
    "config",
    [
        INLINE.format(factory="Scaler"),
        INLINE.format(factory="build"),  # a factory function of the file that returns the class
        '[[tool.mllint.models]]\nname = "scaler"\nfactory = "pkg.scaler:Scaler"\ncontract = "contract.json"\n',
        '[[tool.mllint.models]]\nname = "scaler"\nfactory = "pkg.scaler:Scaler"\ncontract = "repo/scaler/config.pbtxt"\n',
    ],
    ids=["inline", "factory-function", "json", "triton"],
)
def test_fix_writes_the_contracts_input_signature_and_relints_clean(tmp_path, monkeypatch, capsys, config) -> None:
    if "pbtxt" in config:
        pytest.importorskip("tritonclient.grpc.model_config_pb2")
    contract = {"inputs": [{"name": "x", "dtype": "fp32", "shape": [-1, 3]}]}
    root = _project(
        tmp_path,
        monkeypatch,
        config,
        {"pkg/scaler.py": MODULE, "contract.json": json.dumps(contract), "repo/scaler/config.pbtxt": TRITON},
    )
    code, out, err = _run(capsys, "pkg", "--fix", "-q", "--exit-zero")
    assert "1 more fix available with --unsafe-fixes" in err  # unsafe: not applied by plain --fix
    assert (root / "pkg/scaler.py").read_text(encoding="utf-8") == MODULE
    code, out, err = _run(capsys, "pkg", "--fix", "--unsafe-fixes", "-q", "--exit-zero")
    fixed = (root / "pkg/scaler.py").read_text(encoding="utf-8")
    assert fixed == FIXED, err
    compile(fixed, "scaler.py", "exec")
    assert _tf401(out) == 0
    assert _run(capsys, "pkg", "--diff", "--unsafe-fixes")[:2] == (0, "")  # idempotent


def test_the_modules_own_alias_for_tensorflow_and_an_existing_decorator_call(tmp_path, monkeypatch, capsys) -> None:
    src = MODULE.replace("import tensorflow as tf", "import tensorflow as tfx").replace("tf.", "tfx.")
    src = src.replace("@tfx.function\n", "@tfx.function(jit_compile=False)\n")
    root = _project(tmp_path, monkeypatch, INLINE.format(factory="Scaler"), {"pkg/scaler.py": src})
    _run(capsys, "pkg", "--fix", "--unsafe-fixes", "-q", "--exit-zero")
    assert (root / "pkg/scaler.py").read_text(encoding="utf-8") == src.replace(
        "@tfx.function(jit_compile=False)\n",
        '@tfx.function(jit_compile=False, input_signature=[tfx.TensorSpec(shape=[None, 3], dtype=tfx.float32, name="x")])\n',
    )


LOOK_ALIKES = {
    # no contract at all: the shapes and dtypes are not in the code, so there is nothing to write
    "no-contract": ("", MODULE),
    # the contract is another class's
    "other-class": (INLINE.format(factory="Other"), MODULE),
    # the contract is another module's (same class name)
    "other-module": (INLINE.format(factory="Scaler").replace("pkg.scaler", "pkg.other"), MODULE),
    # two inputs declared, one parameter: they do not line up
    "arity": (
        INLINE.format(factory="Scaler").replace(
            '[{ name = "x", dtype = "float32", shape = ["batch", 3] }]',
            '[{ name = "x", dtype = "float32", shape = ["batch", 3] }, { name = "y", dtype = "float32" }]',
        ),
        MODULE,
    ),
    # no dtype declared: a guessed dtype would serve a signature the contract does not declare
    "no-dtype": (INLINE.format(factory="Scaler").replace('dtype = "float32", ', ""), MODULE),
    # the contract is for ONNX only
    "other-target": (INLINE.format(factory="Scaler") + 'contract.targets = ["onnx-dynamo"]\n', MODULE),
    # the model is exported to ONNX only
    "model-targets": (
        INLINE.format(factory="Scaler").replace('name = "scaler"\n', 'name = "scaler"\ntargets = ["onnx-dynamo"]\n'),
        MODULE,
    ),
    # two unsigned functions: which one the contract describes is not known
    "two-unsigned": (
        INLINE.format(factory="Scaler"),
        MODULE.replace(
            "    def __call__(self, x):\n        return x * self.w\n",
            "    def __call__(self, x):\n        return x * self.w\n\n    @tf.function\n    def half(self, x):\n"
            "        return x / 2\n",
        ),
    ),
}


@pytest.mark.parametrize("case", sorted(LOOK_ALIKES))
def test_no_fix_without_a_contract_that_lines_up(tmp_path, monkeypatch, capsys, case: str) -> None:
    config, src = LOOK_ALIKES[case]
    root = _project(tmp_path, monkeypatch, config, {"pkg/scaler.py": src, "pkg/other.py": "X = 1\n"})
    code, out, err = _run(capsys, "pkg", "--fix", "--unsafe-fixes", "-q", "--exit-zero")
    assert "TF401 not fixed: no mechanical fix for this site" in err
    assert (root / "pkg/scaler.py").read_text(encoding="utf-8") == src
    assert _tf401(out) == 1


def test_sarif_carries_the_contract_fix(tmp_path, monkeypatch, capsys) -> None:
    _project(tmp_path, monkeypatch, INLINE.format(factory="Scaler"), {"pkg/scaler.py": MODULE})
    _, out, _ = _run(capsys, "pkg", "--format", "sarif", "--exit-zero")
    results = [r for r in json.loads(out)["runs"][0]["results"] if r["ruleId"] == "TF401"]
    inserted = results[0]["fixes"][0]["artifactChanges"][0]["replacements"][0]["insertedContent"]["text"]
    assert 'input_signature=[tf.TensorSpec(shape=[None, 3], dtype=tf.float32, name="x")]' in inserted


_SAVE_AND_LOAD = """\
import subprocess, sys
sys.path.insert(0, sys.argv[1])
import tensorflow as tf
for name in ("before", "after"):
    __import__(name).save(f"{sys.argv[1]}/{name}_model")
"""

_LOAD = """\
import json, sys
import tensorflow as tf
from mllint.confirm.contract_check import saved_model_interface
out = {}
for name in ("before", "after"):
    path = f"{sys.argv[1]}/{name}_model"
    loaded = tf.saved_model.load(path)
    try:
        result = loaded(tf.ones([5, 3])).numpy().tolist()
    except ValueError as exc:
        result = str(exc).splitlines()[0]
    interface = saved_model_interface(path)
    out[name] = {"call": result, "inputs": interface[0] if interface else None}
print(json.dumps(out))
"""


@pytest.mark.export
@pytest.mark.slow
def test_fixed_module_saves_a_serving_signature_that_matches_the_contract(tmp_path) -> None:
    pytest.importorskip("tensorflow")
    (tmp_path / "before.py").write_text(MODULE, encoding="utf-8")
    (tmp_path / "after.py").write_text(FIXED, encoding="utf-8")
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=src + os.pathsep + os.environ.get("PYTHONPATH", ""))
    for script in (_SAVE_AND_LOAD, _LOAD):  # saved in one process, loaded in a fresh one
        done = subprocess.run(
            [sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, env=env, timeout=600
        )
        assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.splitlines()[-1])
    assert out["before"]["call"].startswith("Found zero restored functions for caller function")
    assert out["before"]["inputs"] is None  # no serving_default at all
    assert out["after"]["call"] == [[2.0, 2.0, 2.0]] * 5
    assert out["after"]["inputs"] == [{"name": "x", "dtype": "float32", "shape": ["?", 3]}]
