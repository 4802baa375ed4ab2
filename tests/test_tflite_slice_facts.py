"""TFLite builtins-only facts the Keras benchmark (benchmarks/keras_packages.py) ran into; TF208 reads them
where the code shows the conditions (``checks/unsupported/tf_ops.py``; the site-level agreement is
``tests/test_tflite_condition_rules.py``).

* ``StridedSlice`` with a new axis: 6 keras_hub decoders (``attention_mask[:, None, :, :]``) fail
  builtins-only conversion. Measured: it does not depend on the dtype (float32 and bool fail too); it
  fails only when the sliced tensor has two or more dynamic dims *and* the subscript covers every dim
  (``...``, or one entry per dim: slices and integer indices count, new axes do not), at ranks 2, 3 and 4;
  ``m[:, None]`` of a rank-2 or rank-3 tensor, ``m[:, None, :]`` of a rank-3 one, and ``expand_dims`` convert.
* ``Abs`` / ``Sign`` on int64 (keras_hub's DeBERTa: ``ops.cast(ids, "int")`` is int64) need Flex, through
  ``tf.*`` and ``keras.ops.*`` alike; on int32 and float32 they are builtins. The op table's int probes are int32.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any, Dict

import pytest

SCRIPT = r"""
import json, os
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow as tf

def converts(fn, shape, dtype):
    f = tf.function(fn, input_signature=[tf.TensorSpec(shape, dtype)])
    conv = tf.lite.TFLiteConverter.from_concrete_functions([f.get_concrete_function()], f)
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    try:
        conv.convert()
        return True
    except Exception:
        return False

SLICES = {
    "m[:, None, :, :]": lambda m: m[:, None, :, :],
    "m[..., None]": lambda m: m[..., None],
    "m[None, ...]": lambda m: m[None, ...],
    "m[:, None]": lambda m: m[:, None],
    "m[None]": lambda m: m[None],
    "m[:, None, :]": lambda m: m[:, None, :],
}
#: other ranks: (shape, subscript) -> converts with builtins
OTHER = [
    ([None, None], "m[:, None, :]", False), ([None, None], "m[None, ...]", False), ([None, None], "m[:, None, 0]", False),
    ([None, None], "m[:, None]", True), ([None, 4], "m[:, None, :]", True), ([2, None], "m[..., None]", True),
    ([None, None, None], "m[:, None, 0, :]", False), ([None, None, None], "m[:, None, :, 1:]", False),
    ([None, None, None], "m[:, None, None, :, :]", False),
    ([None, None, None, None], "m[:, None, :, :, :]", False), ([None, 3, None, 5], "m[..., None]", False),
    ([None, None, None, None], "m[:, None, :, :]", True), ([None, 3, 4, 5], "m[..., None]", True),
]
R = {"slice": {}, "dtype": {}, "other": {}}
for shape in ([None, None, None], [None, None, 5], [None, 5, 5], [2, 5, 5]):
    for dtype in (tf.float32, tf.int32):
        for text, fn in SLICES.items():
            R["slice"][f"{text} {shape} {dtype.name}"] = converts(fn, shape, dtype)
for shape, text, _ in OTHER:
    R["other"][f"{text} {shape}"] = [converts(eval("lambda m: " + text), shape, d) for d in (tf.int32, tf.float32, tf.bool)]
R["other"]["expand_dims"] = converts(lambda m: tf.expand_dims(m, 1), [None, None, None], tf.int32)
import keras
for dtype in (tf.int32, tf.int64, tf.float32):
    for label, fn in (("tensorflow.abs", tf.abs), ("tensorflow.sign", tf.sign), ("keras.abs", keras.ops.abs),
                      ("keras.sign", keras.ops.sign)):
        R["dtype"][f"{label} {dtype.name}"] = converts(fn, [None, 4], dtype)
R["keras_int"] = str(keras.ops.cast(tf.zeros([2], tf.int32), "int").dtype.name)
print("RESULT" + json.dumps(R) + "OTHER" + json.dumps(OTHER))
"""


@pytest.fixture(scope="module")
def measured() -> Dict[str, Any]:
    pytest.importorskip("tensorflow")
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=900, env=env)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT")]
    assert lines, proc.stderr[-3000:]
    result, other = lines[-1][len("RESULT") :].split("OTHER")
    return {**json.loads(result), "expected": json.loads(other)}


@pytest.mark.export
def test_new_axis_slices_need_two_dynamic_dims_and_the_whole_rank(measured) -> None:  # type: ignore[no-untyped-def]
    got = measured["slice"]
    for dtype in ("float32", "int32"):
        for shape in ("[None, None, None]", "[None, None, 5]"):
            for text in ("m[:, None, :, :]", "m[..., None]", "m[None, ...]"):
                assert not got[f"{text} {shape} {dtype}"], (text, shape, dtype)
            for text in ("m[:, None]", "m[None]", "m[:, None, :]"):
                assert got[f"{text} {shape} {dtype}"], (text, shape, dtype)
        for shape in ("[None, 5, 5]", "[2, 5, 5]"):  # the batch alone, or nothing, dynamic: all convert
            for text in ("m[:, None, :, :]", "m[..., None]", "m[None, ...]", "m[:, None]", "m[None]", "m[:, None, :]"):
                assert got[f"{text} {shape} {dtype}"], (text, shape, dtype)


@pytest.mark.export
def test_abs_and_sign_need_flex_on_int64_only(measured) -> None:  # type: ignore[no-untyped-def]
    got = measured["dtype"]
    for fn in ("tensorflow.abs", "tensorflow.sign", "keras.abs", "keras.sign"):
        assert not got[f"{fn} int64"], fn
        assert got[f"{fn} int32"] and got[f"{fn} float32"], fn
    assert measured["keras_int"] == "int64"  # Keras' "int" dtype, as keras_hub's DeBERTa casts positions


@pytest.mark.export
def test_new_axis_slices_at_other_ranks_any_dtype(measured) -> None:  # type: ignore[no-untyped-def]
    for shape, text, ok in measured["expected"]:
        assert measured["other"][f"{text} {shape}"] == [ok, ok, ok], (text, shape)
    assert measured["other"]["expand_dims"]
