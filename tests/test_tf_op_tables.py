"""The generated TF op tables (rules/data/tf_ops.json) and rule TF208 that reads them.

The table's TFLite verdicts are re-checked by really converting one-op tf.functions (and a Keras
model) with ``tf.lite.TFLiteConverter`` in ONE subprocess (TensorFlow is slow to import); the linter
side runs in-process and never imports TensorFlow.
"""

from __future__ import annotations

from functools import partial
import json
import os
import subprocess
import sys
import textwrap
from importlib import metadata
from typing import Dict, List, Tuple

import pytest

from mllint import testing
from mllint.optables.tf_tables import data_path, load_tf_tables

# Rule tests judge every target (the CLI's default, ``auto``, judges the project's own).
lint_source = partial(testing.lint_source, targets=["all"])


TABLES = load_tf_tables()

#: name -> what the table must say about TFLite; each is proven by a conversion below.
PROVEN = {
    "tensorflow.math.erf": "flex",
    "tensorflow.raw_ops.Cumprod": "flex",
    "tensorflow.linalg.inv": "flex",
    "tensorflow.linalg.svd": "unsupported",
    "tensorflow.math.acos": "unsupported",
    "keras.ops.erf": "flex",
    "tensorflow.math.cumsum": None,  # builtin: converts fine
    "tensorflow.image.extract_patches": "flex",
    "keras.ops.fft2": "flex",  # keras.ops are lowered under the TF backend, not matched by name
    "keras.ops.image.extract_patches": None,  # Keras' own extract_patches is builtin (unlike tf.image's)
}


# -- the table itself ----------------------------------------------------------------------------
def test_table_parses_records_versions_and_is_small() -> None:
    path = data_path()
    assert path.is_file(), f"missing {path}: run scripts/gen_tf_op_tables.py"
    assert path.stat().st_size < 1_500_000
    data = json.loads(path.read_text(encoding="utf-8"))
    assert set(data["versions"]) >= {"tensorflow", "keras"}
    assert TABLES.versions == data["versions"]
    for status, ops in data["tflite"].items():
        assert ops == sorted(ops), status
    assert list(data["python"]) == sorted(data["python"])
    assert data["raw_ops"] == sorted(data["raw_ops"])
    assert {"builtin", "flex", "unsupported"} <= set(data["tflite"])
    assert len(data["tflite"]["flex"]) >= 20 and len(data["tflite"]["unsupported"]) >= 10
    if data["tfjs"] is not None:
        assert "tensorflowjs" in data["versions"]
        assert {"MatMul", "Conv2D", "Erf"} <= set(data["tfjs"]["supported"])
        assert "MatrixInverse" not in data["tfjs"]["supported"]


def _installed(*names: str) -> str:
    for name in names:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return ""


def test_table_matches_installed_versions() -> None:
    tf_version = _installed("tensorflow", "tensorflow-cpu")
    keras_version = _installed("keras")
    if not tf_version or not keras_version:
        pytest.skip("tensorflow / keras not installed")
    assert TABLES.versions["tensorflow"] == tf_version, "regenerate: python scripts/gen_tf_op_tables.py"
    assert TABLES.versions["keras"] == keras_version, "regenerate: python scripts/gen_tf_op_tables.py"


def test_loader_never_imports_tensorflow() -> None:
    code = ("import sys; from mllint.optables.tf_tables import load_tf_tables; from mllint.checks import ALL_CHECKS; "
            "v = load_tf_tables().lookup('tensorflow.math.erf'); assert v.tflite == 'flex', v; "
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'imported'")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_lookup_verdicts() -> None:
    for name, status in PROVEN.items():
        verdict = TABLES.lookup(name)
        assert verdict is not None, name
        assert verdict.tflite == status, (name, verdict)
    erf = TABLES.lookup("tensorflow.math.erf")
    assert erf is not None and not erf.tfjs  # fine in TF.js (measured in the research report)
    inv = TABLES.lookup("tensorflow.linalg.inv")
    assert inv is not None and inv.tfjs and inv.tfjs_ops == ("MatrixInverse",)
    raw = TABLES.lookup("tensorflow.raw_ops.Svd")
    assert raw is not None and raw.tflite == "unsupported"
    assert TABLES.lookup("tensorflow.keras.ops.erf") == TABLES.lookup("keras.ops.erf")
    # unknown, dtype-dependent and plumbing names get no verdict
    assert TABLES.lookup("tensorflow.no_such_function") is None
    assert TABLES.lookup("tensorflow.raw_ops.NoSuchOp") is None
    assert TABLES.lookup("numpy.linalg.svd") is None
    argmax = TABLES.lookup("keras.ops.argmax")  # Flex only for float inputs (signbit -> BitwiseAnd)
    assert argmax is None or argmax.tflite is None
    for op in ("ReadVariableOp", "ResourceGather", "StatefulPartitionedCall", "Assert"):  # rewritten by freezing
        verdict = TABLES.lookup(f"tensorflow.raw_ops.{op}")
        assert verdict is None or not verdict.any, verdict


def test_data_file_lives_in_the_catalogue_directory() -> None:
    from mllint.catalogue import catalogue_dir

    assert data_path() == catalogue_dir() / "data" / "tf_ops.json"  # packaged as mllint/_catalogue/data
    assert load_tf_tables(str(data_path())).python == TABLES.python


# -- the facts behind the table: real conversions ----------------------------------------------
CONVERT = r'''
import json, os, sys
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["KERAS_BACKEND"] = "tensorflow"
import tensorflow as tf
import keras


SPEC = [tf.TensorSpec([4, 4], tf.float32)]
PROBES = {
    "tensorflow.math.erf": lambda x: tf.math.erf(x),
    "tensorflow.raw_ops.Cumprod": lambda x: tf.raw_ops.Cumprod(x=x, axis=0),
    "tensorflow.linalg.inv": lambda x: tf.linalg.inv(x),
    "tensorflow.linalg.svd": lambda x: tf.linalg.svd(x, compute_uv=False),
    "tensorflow.math.acos": lambda x: tf.math.acos(x),
    "tensorflow.math.cumsum": lambda x: tf.math.cumsum(x),
}
BUILTINS = [tf.lite.OpsSet.TFLITE_BUILTINS]
SELECT = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]


def convert(make, ops):
    conv = make()
    conv.target_spec.supported_ops = ops
    try:
        conv.convert()
        return {"ok": True}
    except Exception as exc:
        errors = sorted({(e.operator.name, int(e.error_code)) for e in getattr(exc, "errors", []) or []})
        return {"ok": False, "error": type(exc).__name__, "ops": errors, "message": str(exc)[-600:]}


R = {}
for name, fn in PROBES.items():
    concrete = tf.function(fn, input_signature=SPEC).get_concrete_function()
    make = lambda: tf.lite.TFLiteConverter.from_concrete_functions([concrete])
    R[name] = {"builtins": convert(make, BUILTINS), "select": convert(make, SELECT)}

# a Keras model using keras.ops.erf, converted the way Keras 3 models convert: from its export
inp = keras.Input((4,))
model = keras.Model(inp, keras.ops.erf(inp))
model.export(os.path.join(sys.argv[1], "erf_model"), format="tf_saved_model", verbose=False)
make = lambda: tf.lite.TFLiteConverter.from_saved_model(os.path.join(sys.argv[1], "erf_model"))
R["keras.ops.erf"] = {"builtins": convert(make, BUILTINS), "select": convert(make, SELECT)}

IMG = [tf.TensorSpec([1, 8, 8, 3], tf.float32)]
patches = lambda x: tf.image.extract_patches(x, [1, 2, 2, 1], [1, 2, 2, 1], [1, 1, 1, 1], "VALID")
concrete_patches = tf.function(patches, input_signature=IMG).get_concrete_function()
make = lambda: tf.lite.TFLiteConverter.from_concrete_functions([concrete_patches])
R["tensorflow.image.extract_patches"] = {"builtins": convert(make, BUILTINS), "select": convert(make, SELECT)}
for name, build in (("keras.ops.fft2", lambda t: keras.ops.fft2((t, t))[0]),
                    ("keras.ops.image.extract_patches", lambda t: keras.ops.image.extract_patches(t, 2))):
    inp = keras.Input((8, 8, 3))
    model = keras.Model(inp, build(inp))
    path = os.path.join(sys.argv[1], name)
    model.export(path, format="tf_saved_model", verbose=False)
    make = lambda: tf.lite.TFLiteConverter.from_saved_model(path)
    R[name] = {"builtins": convert(make, BUILTINS), "select": convert(make, SELECT)}
print("RESULT " + json.dumps(R))
'''


@pytest.fixture(scope="module")
def conversions(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Dict[str, dict]]:
    pytest.importorskip("tensorflow")
    pytest.importorskip("keras")
    tmp = tmp_path_factory.mktemp("tf-op-tables")
    script = tmp / "convert.py"
    script.write_text(CONVERT, encoding="utf-8")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    proc = subprocess.run([sys.executable, str(script), str(tmp)], capture_output=True, text=True, timeout=300,
                          env=env, cwd=str(tmp))
    line = next((l for l in proc.stdout.splitlines() if l.startswith("RESULT ")), None)
    assert line is not None, (proc.stdout[-2000:], proc.stderr[-4000:])
    return json.loads(line[len("RESULT "):])


NEEDS_FLEX, NEEDS_CUSTOM = 1, 2  # ConverterErrorData.ErrorCode


@pytest.mark.export  # runs the real TFLite conversions (the module fixture, about 5 s)
@pytest.mark.parametrize("name", sorted(PROVEN))
def test_table_agrees_with_real_conversion(conversions, name: str) -> None:  # type: ignore[no-untyped-def]
    got = conversions[name]
    status = PROVEN[name]
    if status is None:
        assert got["builtins"]["ok"], got
        return
    builtins = got["builtins"]
    assert not builtins["ok"] and builtins["error"] == "ConverterError", got
    op_names = {op for op, _ in builtins["ops"]}
    verdict = TABLES.lookup(name)
    assert verdict is not None and {f"tf.{op}" for op in verdict.tflite_ops} <= op_names, (verdict, builtins)
    codes = {code for _, code in builtins["ops"]}
    if status == "flex":
        assert codes == {NEEDS_FLEX}, builtins
        assert got["select"]["ok"], got["select"]  # converts with SELECT_TF_OPS
    else:
        assert NEEDS_CUSTOM in codes, builtins
        assert not got["select"]["ok"], got["select"]  # not even with SELECT_TF_OPS


# -- the rule ----------------------------------------------------------------------------------
def found(code: str, **kwargs) -> List[Tuple[int, Tuple[str, ...]]]:  # type: ignore[no-untyped-def]
    findings = lint_source(textwrap.dedent(code), select=["TF208"], **kwargs)
    return sorted((f.line, f.targets) for f in findings if f.code == "TF208" and f.suppressed is None)


MODULE = """\
    import numpy as np
    import tensorflow as tf
    import keras
    from tensorflow import raw_ops
    from tensorflow.math import erf as tf_erf


    class M(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([4, 4], tf.float32)])
        def __call__(self, x):
            a = tf.math.erf(x)
            b = tf.linalg.svd(x, compute_uv=False)
            c = raw_ops.Svd(input=x, compute_uv=False)
            d = tf.raw_ops.Cumprod(x=x, axis=0)
            e = tf_erf(x)
            f = tf.linalg.inv(x)
            g = tf.math.lgamma(x)
            h = tf.nn.relu(x) + tf.math.cumsum(x) + tf.linalg.matmul(x, x)
            i = np.linalg.svd(np.ones((2, 2)))
            j = self.linalg.svd(x) + x.erf() + keras.ops.argmax(x)
            return a
    """
BOTH, LITE, JS = ("tflite", "tfjs"), ("tflite",), ("tfjs",)


def test_aliases_raw_ops_and_targets() -> None:
    assert found(MODULE) == [(11, LITE), (12, BOTH), (13, BOTH), (14, LITE), (15, LITE), (16, BOTH), (17, JS)]


def test_severity_and_message() -> None:
    findings = lint_source(textwrap.dedent(MODULE), select=["TF208"])
    by_line = {f.line: f for f in findings}
    assert by_line[11].severity.value == "error"
    assert "tf.math.erf" in by_line[11].message and "Erf" in by_line[11].message
    assert "SELECT_TF_OPS" in by_line[11].message
    assert "not even with SELECT_TF_OPS" in by_line[12].message and "TF.js" in by_line[12].message


def test_only_selected_targets() -> None:
    assert found(MODULE, targets=["tfjs"]) == [(12, JS), (13, JS), (16, JS), (17, JS)]
    assert found(MODULE, targets=["savedmodel", "keras-file"]) == []


def test_flex_is_left_to_TF207_when_the_file_converts_with_select_ops() -> None:
    code = """\
        import tensorflow as tf


        class M(tf.Module):
            @tf.function(input_signature=[tf.TensorSpec([4, 4], tf.float32)])
            def __call__(self, x):
                return tf.math.erf(x) + tf.linalg.inv(x) + tf.linalg.svd(x, compute_uv=False)


        converter = tf.lite.TFLiteConverter.from_saved_model("saved")
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
        """
    # erf: converts with Flex (TF207's business) and TF.js takes it; inv: TF.js only; svd: both
    assert found(code) == [(7, JS), (7, BOTH)]


def test_keras_layer_call() -> None:
    code = """\
        import keras


        class Smooth(keras.layers.Layer):
            def call(self, x):
                return keras.ops.erf(x) + keras.ops.tanh(x)
        """
    assert found(code) == [(6, LITE)]


def test_not_reported_outside_exported_code() -> None:
    code = """\
        import tensorflow as tf


        def helper(x):
            return tf.math.erf(x)  # never traced


        class Model(tf.keras.Model):
            def call(self, x):
                return tf.nn.relu(x)

            def train_step(self, data):
                return {"loss": tf.math.erf(data)}


        print(tf.linalg.svd(tf.ones([2, 2])))
        """
    assert found(code) == []


def test_host_callbacks_are_left_to_TF204() -> None:
    code = """\
        import tensorflow as tf


        class M(tf.Module):
            @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
            def __call__(self, x):
                return tf.py_function(lambda t: t * 2.0, [x], tf.float32)
        """
    assert found(code) == []
