"""The facts the TensorFlow / Keras rules rely on, re-checked by really tracing, exporting, saving,
reloading in a fresh process and converting the fixture models (fixtures/tensorflow/).

Two subprocesses in all (TensorFlow is imported twice): one builds, traces, exports, saves and
converts; the second is the "serving" process that loads what the first wrote. Each test then
checks an outcome against the rule's catalogue entry and against mllint's findings on the fixture.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Dict

import pytest

from mllint.catalogue import load_catalogue
from mllint.config import load_settings
from mllint.engine import run_check

# find_spec, not importorskip: importing the frameworks at collection costs seconds even when deselected
pytestmark = pytest.mark.skipif(not all(importlib.util.find_spec(m) for m in ('tensorflow', 'keras')), reason="needs tensorflow, keras")

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures" / "tensorflow"
CATALOGUE = load_catalogue()

BUILD = r'''
import contextlib, io, json, os, sys, traceback
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, sys.argv[1])
OUT = sys.argv[2]
import numpy as np
import tensorflow as tf
import keras
import keras3_layers as kl
import tf_modules as tm
import serialization as ser
import keras_export as ke

R = {}
X = np.array([[1.0, 2.0, 3.0], [-4.0, 0.5, 2.0]], "float32")


def outcome(fn):
    try:
        value = fn()
        return {"ok": True, "value": value}
    except Exception as exc:
        return {"ok": False, "error": type(exc).__name__, "message": str(exc)[:1500]}


class Wrap(keras.Model):
    """A subclassed model around one fixture layer (layers cannot be exported by themselves)."""

    def __init__(self, layer):
        super().__init__()
        self.layer = layer

    def call(self, x):
        return self.layer(x)


def keras_paths(name, layer, batch=X):
    model = Wrap(layer)
    R[name] = {"eager": outcome(lambda: model(batch).shape.as_list())}
    R[name]["export"] = outcome(lambda: model.export(os.path.join(OUT, name), verbose=False) or "exported")
    R[name]["predict"] = outcome(lambda: list(model.predict(batch, verbose=0).shape))
    return model


# TF109 / TF101 / TF102: tensor control flow and leaving the graph in a Keras 3 call()
keras_paths("GatedDense", kl.GatedDense(3))
keras_paths("PortableGate", kl.PortableGate(3))
keras_paths("HelperGate", kl.HelperGate())
keras_paths("NumpyScale", kl.NumpyScale())
keras_paths("Normalise", kl.Normalise())

# TF301: static batch size in a shape argument; the dynamic form serves any batch
keras_paths("PaddedFeatures", kl.PaddedFeatures())
keras_paths("DynamicPad", kl.DynamicPad())
R["DynamicPad"]["serve5"] = outcome(
    lambda: tf.saved_model.load(os.path.join(OUT, "DynamicPad")).serve(np.ones((5, 3), "float32")).shape.as_list())
R["StaticBatch"] = outcome(lambda: str(tm.StaticBatch().__call__.get_concrete_function()))
R["FixedBatch"] = outcome(lambda: tm.FixedBatch()(tf.ones([2, 3])).shape.as_list())

# TF202 / TF203: state created in call()
keras_paths("DenseInCall", kl.DenseInCall())
keras_paths("FlattenInCall", kl.FlattenInCall())
keras_paths("LateBias", kl.LateBias())

# TF104 / TF105 / TF107: trace-time effects in a Keras 3 call(), through the exported artifact
noisy = Wrap(kl.NoisyHead())
tracing, serving = io.StringIO(), io.StringIO()
with contextlib.redirect_stdout(tracing):
    eager = [noisy(X).numpy().tolist() for _ in range(2)]
    noisy.export(os.path.join(OUT, "NoisyHead"), verbose=False)
    served = tf.saved_model.load(os.path.join(OUT, "NoisyHead"))
calls_before = noisy.layer.calls
with contextlib.redirect_stdout(serving):
    artifact = [served.serve(X).numpy().tolist() for _ in range(3)]
R["NoisyHead"] = {
    "eager_differs": eager[0] != eager[1],
    "artifact_frozen": artifact[0] == artifact[1] == artifact[2],
    "prints_while_tracing": tracing.getvalue().count("noise"),
    "prints_while_serving": serving.getvalue().count("noise"),
    "counter_moved_while_serving": noisy.layer.calls != calls_before,
}

# TF106 / TF107 / TF108: Python state in a tf.function
one = tf.constant([1.0])
counter = tm.CallCounter()
R["CallCounter"] = [float(counter(one)[0]) for _ in range(3)]
R["VariableCounter"] = [float(v) for v in [tm.VariableCounter()(one)[0] for _ in range(1)]]
vc = tm.VariableCounter()
R["VariableCounter"] = [float(vc(one)[0]) for _ in range(3)]
glob = tm.GlobalCounter()
R["GlobalCounter"] = [float(glob(one)[0]) for _ in range(3)]
doubler = tm.Doubler()
first = float(doubler(one)[0])
doubler.disable()
R["Doubler"] = {"before": first, "after_disable": float(doubler(one)[0]), "eager_after": float(one[0])}

# TF110-TF115, TF103, TF201: what AutoGraph rejects, and the converted forms that work
traps = tm.AutoGraphTraps()
for method in ("first_large", "one_branch", "none_default", "collect", "grow", "checked", "fresh_variable"):
    R["trap_" + method] = outcome(lambda m=method: str(getattr(traps, m).get_concrete_function()))
R["trap_guarded_log"] = {
    "positive": outcome(lambda: traps.guarded_log(tf.constant([1.0, 2.0])).numpy().tolist()),
    "negative": outcome(lambda: traps.guarded_log(tf.constant([-1.0, 2.0])).numpy().tolist()),
}
R["AutoGraphFine"] = outcome(lambda: tm.AutoGraphFine()(tf.constant([1.0, 3.0, 2.0])).numpy().tolist())
R["serve_fn"] = outcome(lambda: str(tm.serve.get_concrete_function()))

# TF401-TF403 and TF204: what save_modules writes (loaded by the serving process)
tm.save_modules(OUT)
R["two_signed_tflite"] = outcome(
    lambda: len(tf.lite.TFLiteConverter.from_saved_model(os.path.join(OUT, "two_signed")).convert()))

# TF404: exporting a subclassed model before its first call
R["export_unbuilt"] = outcome(lambda: ke.export_unbuilt(OUT) or "exported")
R["export_built"] = outcome(lambda: ke.export_built(OUT) or "exported")


def tflite_outputs(flatbuffer, batch):
    interpreter = tf.lite.Interpreter(model_content=flatbuffer)
    detail = interpreter.get_input_details()[0]
    interpreter.resize_tensor_input(detail["index"], batch.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(detail["index"], batch)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


# TF206: Keras 3 through tf.saved_model.save vs through export()
probe = X.copy()
for name, fn in (("via_saved_model", ke.tflite_via_saved_model), ("via_export", ke.tflite_via_export)):
    model, flat = fn(OUT)
    expected = np.asarray(model(probe))
    got = tflite_outputs(flat, probe)
    R["tflite_" + name] = {"close": bool(np.allclose(expected, got, atol=1e-4)), "got": got.tolist()[:1]}

# TF205: check_numerics is gone after TFLite conversion
checked = tm.CheckedLog()
R["check_numerics_tf"] = outcome(lambda: checked(tf.constant([-1.0, 2.0])).numpy().tolist())
flat = tf.lite.TFLiteConverter.from_concrete_functions([checked.__call__.get_concrete_function()], checked).convert()
R["check_numerics_tflite"] = outcome(lambda: [str(v) for v in tflite_outputs(flat, np.array([-1.0, 2.0], "float32"))])

# TF405-TF407: .keras save here, load in the serving process
for name, make in (("UnregisteredScale", lambda: ser.UnregisteredScale()),
                   ("RegisteredScale", lambda: ser.RegisteredScale()),
                   ("Residual", lambda: ser.Residual(keras.layers.Dense(3))),
                   ("Lookup", lambda: ser.Lookup(np.ones(3, "float32"))),
                   ("RenamedArg", lambda: ser.RenamedArg(3)),
                   ("SerialisedResidual", lambda: ser.SerialisedResidual(keras.layers.Dense(3)))):
    R["save_" + name] = outcome(lambda: ser.wrap(make()).save(os.path.join(OUT, name + ".keras")) or "saved")

print("RESULT " + json.dumps(R))
'''

SERVE = r'''
import json, os, sys
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, sys.argv[1])
OUT = sys.argv[2]
import numpy as np
import tensorflow as tf
import keras
import serialization  # serving code imports the module that defines (and registers) the classes

R = {}


def outcome(fn):
    try:
        return {"ok": True, "value": fn()}
    except Exception as exc:
        return {"ok": False, "error": type(exc).__name__, "message": str(exc)[:1500]}


def load(name):
    return tf.saved_model.load(os.path.join(OUT, name))


R["scaler"] = outcome(lambda: [list(load("scaler").signatures), load("scaler")(tf.ones([5])).numpy().tolist()])
R["unsigned_signatures"] = outcome(lambda: list(load("unsigned").signatures))
R["unsigned_other_shape"] = outcome(lambda: load("unsigned")(tf.ones([5])).numpy().tolist())
R["two_signed_signatures"] = outcome(lambda: list(load("two_signed").signatures))
R["two_named_signatures"] = outcome(lambda: sorted(load("two_named").signatures))
R["with_helper_predict"] = outcome(lambda: load("with_helper").predict(tf.ones([2])).numpy().tolist())
R["host_callback"] = outcome(lambda: load("host_callback")(tf.ones([2])).numpy().tolist())
for name in ("UnregisteredScale", "RegisteredScale", "RenamedArg", "SerialisedResidual"):
    path = os.path.join(OUT, name + ".keras")
    if os.path.exists(path):
        R["load_" + name] = outcome(lambda: keras.saving.load_model(path)(np.ones((2, 3), "float32")).shape.as_list())
print("RESULT " + json.dumps(R))
'''


def _run(script: str, tmp: Path, name: str) -> Dict[str, object]:
    path = tmp / name
    path.write_text(script, encoding="utf-8")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    proc = subprocess.run([sys.executable, str(path), str(FIXTURES), str(tmp / "out")], capture_output=True,
                          text=True, timeout=300, env=env, cwd=str(tmp))
    line = next((l for l in proc.stdout.splitlines() if l.startswith("RESULT ")), None)
    assert line is not None, (proc.stdout[-2000:], proc.stderr[-4000:])
    return json.loads(line[len("RESULT "):])


@pytest.fixture(scope="module")
def facts(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Dict[str, object]]:
    tmp = tmp_path_factory.mktemp("tf-facts")
    (tmp / "out").mkdir()
    built = _run(BUILD, tmp, "build.py")
    served = _run(SERVE, tmp, "serve.py")
    return {"build": built, "serve": served}


@pytest.fixture(scope="module")
def findings() -> Dict[str, set]:
    """(file name, line) of each code mllint reports on the fixture folder."""
    settings = load_settings(REPO, CATALOGUE)
    settings.root = REPO
    result = run_check([str(FIXTURES)], settings, CATALOGUE)
    out: Dict[str, set] = {}
    for f in result.findings:
        out.setdefault(f.code, set()).add((Path(f.path).name, f.line))
    return out


def _line(file: str, text: str, exact: bool = False) -> int:
    """The first line of ``file`` containing ``text`` (or, with ``exact``, equal to it once stripped)."""
    for i, line in enumerate((FIXTURES / file).read_text(encoding="utf-8").splitlines(), 1):
        if (line.strip() == text.strip()) if exact else (text in line):
            return i
    raise AssertionError(f"{text!r} not in {file}")


def _impact(code: str, target: str):  # type: ignore[no-untyped-def]
    impact = CATALOGUE.by_code[code].impacts.get(target)
    return (impact.severity.value, impact.effect) if impact else None


def _failed(result: dict, error: str = "") -> bool:  # type: ignore[type-arg]
    return not result["ok"] and error in result["error"] + ": " + result["message"]


@pytest.mark.export
def test_keras3_call_is_not_autograph_converted_TF109(facts, findings) -> None:  # type: ignore[no-untyped-def]
    gated = facts["build"]["GatedDense"]
    assert gated["eager"]["ok"]
    assert _failed(gated["predict"], "OperatorNotAllowedInGraphError")
    assert not gated["export"]["ok"]  # OperatorNotAllowedInGraphError, or "never called" when building traced it
    for fixed in ("PortableGate", "HelperGate"):  # keras.ops.cond, and a @tf.function helper
        assert facts["build"][fixed]["export"]["ok"], facts["build"][fixed]
    assert _impact("TF109", "savedmodel") == ("error", "fails") and _impact("TF109", "keras-file") is None
    assert ("keras3_layers.py", _line("keras3_layers.py", "if tf.reduce_sum(y) > 0:  # expect")) in findings["TF109"]
    # the converted helper and the portable form are not reported
    assert ("keras3_layers.py", _line("keras3_layers.py", "if tf.reduce_sum(y) > 0:", exact=True)) not in findings["TF109"]


@pytest.mark.export
def test_numpy_and_python_values_in_keras_call_TF101_TF102(facts) -> None:  # type: ignore[no-untyped-def]
    assert facts["build"]["NumpyScale"]["eager"]["ok"]
    assert _failed(facts["build"]["NumpyScale"]["export"], "numpy")
    assert facts["build"]["Normalise"]["eager"]["ok"]
    assert not facts["build"]["Normalise"]["export"]["ok"]
    assert _failed(facts["build"]["Normalise"]["predict"], "TypeError")


@pytest.mark.export
def test_static_batch_size_TF301(facts, findings) -> None:  # type: ignore[no-untyped-def]
    build = facts["build"]
    assert build["PaddedFeatures"]["eager"]["ok"] and not build["PaddedFeatures"]["export"]["ok"]
    assert build["DynamicPad"]["export"]["ok"] and build["DynamicPad"]["serve5"]["value"] == [5, 4]
    assert _failed(build["StaticBatch"], "TypeError")  # None * 3 while tracing with a [None, 3] signature
    assert build["FixedBatch"]["ok"]  # a static batch in the signature is fine, and not reported
    assert ("tf_modules.py", _line("tf_modules.py", "return tf.reshape(x, [x.shape[0] * 3])", exact=True)) not in findings["TF301"]
    assert ("tf_modules.py", _line("tf_modules.py", "* width  # expect: TF301")) in findings["TF301"]
    assert _impact("TF301", "savedmodel") == ("error", "fails")


@pytest.mark.export
def test_layers_and_weights_created_in_call_TF202_TF203(facts) -> None:  # type: ignore[no-untyped-def]
    build = facts["build"]
    assert build["DenseInCall"]["eager"]["ok"]  # silently works eagerly (fresh weights every call)
    assert _failed(build["DenseInCall"]["export"], "singleton")
    assert build["FlattenInCall"]["export"]["ok"]  # weight-less layers are fine (not reported)
    assert _failed(build["LateBias"]["eager"], "new elements of state")
    assert _impact("TF202", "keras-file") == ("warning", "silent")
    assert _impact("TF203", "keras-file") == ("error", "fails")


@pytest.mark.export
def test_trace_time_effects_are_frozen_TF104_TF105_TF107(facts) -> None:  # type: ignore[no-untyped-def]
    noisy = facts["build"]["NoisyHead"]
    assert noisy["eager_differs"]  # np.random gives new noise eagerly
    assert noisy["artifact_frozen"]  # ... and one frozen value in the exported model
    assert noisy["prints_while_tracing"] >= 2 and noisy["prints_while_serving"] == 0
    assert not noisy["counter_moved_while_serving"]  # the Python counter does not count served calls
    for code in ("TF104", "TF105", "TF107"):
        assert _impact(code, "savedmodel")[1] == "silent"


@pytest.mark.export
def test_python_state_in_tf_function_TF106_TF107_TF108(facts) -> None:  # type: ignore[no-untyped-def]
    build = facts["build"]
    assert build["CallCounter"] == [1.0, 1.0, 1.0]  # eager would give 1, 2, 3
    assert build["GlobalCounter"] == [1.0, 1.0, 1.0]
    assert build["VariableCounter"] == [1.0, 2.0, 3.0]  # the fix: a tf.Variable counter
    assert build["Doubler"]["after_disable"] == build["Doubler"]["before"] == 2.0  # branch frozen at trace


@pytest.mark.export
def test_autograph_limits_TF110_to_TF115_and_TF103_TF201(facts) -> None:  # type: ignore[no-untyped-def]
    build = facts["build"]
    assert _failed(build["trap_first_large"], "return statement cannot be placed inside this TensorFlow loop")
    assert _failed(build["trap_one_branch"], "must also be initialized in the else branch")
    assert _failed(build["trap_none_default"], "is None at the end of the else branch")
    assert _failed(build["trap_collect"], "InaccessibleTensorError")
    assert _failed(build["trap_grow"], "shape invariants")
    assert _failed(build["trap_checked"], "OperatorNotAllowedInGraphError")
    assert _failed(build["trap_fresh_variable"], "singleton tf.Variables")
    log = build["trap_guarded_log"]
    assert log["positive"]["ok"] and _failed(log["negative"], "InvalidArgumentError")  # except never ran
    assert build["AutoGraphFine"]["ok"], build["AutoGraphFine"]
    assert _failed(build["serve_fn"], "numpy")  # tf.function(f) call form is traced scope too


@pytest.mark.export
def test_signatures_after_reload_TF401_TF402_TF403(facts) -> None:  # type: ignore[no-untyped-def]
    serve = facts["serve"]
    assert serve["scaler"]["ok"] and serve["scaler"]["value"][0] == ["serving_default"]
    assert serve["unsigned_signatures"]["value"] == []
    assert _failed(serve["unsigned_other_shape"], "Could not find matching concrete function")
    assert serve["two_signed_signatures"]["value"] == []  # two signed functions: no serving_default
    assert _failed(facts["build"]["two_signed_tflite"], "at least one signature")
    assert serve["two_named_signatures"]["value"] == ["embed", "serving_default"]
    assert _failed(serve["with_helper_predict"], "has no attribute 'predict'")
    assert _impact("TF401", "savedmodel") == ("error", "run-fails")
    assert _impact("TF402", "tflite") == ("error", "fails")


@pytest.mark.export
def test_host_callback_fails_in_a_fresh_process_TF204(facts) -> None:  # type: ignore[no-untyped-def]
    assert _failed(facts["serve"]["host_callback"], "callback")
    assert _impact("TF204", "savedmodel") == ("error", "run-fails")


@pytest.mark.export
def test_export_before_first_call_TF404(facts) -> None:  # type: ignore[no-untyped-def]
    assert _failed(facts["build"]["export_unbuilt"], "built")
    assert facts["build"]["export_built"]["ok"]


@pytest.mark.export
def test_keras3_tflite_paths_TF206_and_dropped_checks_TF205(facts) -> None:  # type: ignore[no-untyped-def]
    build = facts["build"]
    assert not build["tflite_via_saved_model"]["close"], build["tflite_via_saved_model"]  # silently wrong numbers
    assert build["tflite_via_export"]["close"]
    assert _failed(build["check_numerics_tf"], "InvalidArgumentError")
    assert build["check_numerics_tflite"]["ok"] and build["check_numerics_tflite"]["value"][0] == "nan"
    assert _impact("TF206", "tflite") == ("error", "silent") and _impact("TF205", "tflite") == ("warning", "silent")


@pytest.mark.export
def test_keras_file_serialization_TF405_TF406_TF407(facts) -> None:  # type: ignore[no-untyped-def]
    build, serve = facts["build"], facts["serve"]
    assert build["save_UnregisteredScale"]["ok"]
    assert _failed(serve["load_UnregisteredScale"], "Could not locate class 'UnregisteredScale'")
    assert serve["load_RegisteredScale"]["ok"]
    assert _failed(build["save_Residual"], "NotImplementedError")
    assert _failed(build["save_Lookup"], "NotImplementedError")
    assert build["save_RenamedArg"]["ok"] and _failed(serve["load_RenamedArg"], "Unrecognized keyword arguments")
    assert build["save_SerialisedResidual"]["ok"] and serve["load_SerialisedResidual"]["ok"]
    for code in ("TF405", "TF406", "TF407"):
        assert _impact(code, "keras-file") == ("error", "fails") and CATALOGUE.by_code[code].targets == ("keras-file",)


def test_fixture_driver_scripts_are_valid_python() -> None:
    compile(BUILD, "build.py", "exec")
    compile(SERVE, "serve.py", "exec")
    assert textwrap.dedent(BUILD) == BUILD
