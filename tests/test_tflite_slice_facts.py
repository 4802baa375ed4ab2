"""TFLite builtins-only facts the Keras benchmark (benchmarks/keras_packages.py) ran into, measured so a
rule can rest on them later; no rule reads them yet (the conditions need ranks and dtypes, which the
analysis does not track).

* ``StridedSlice`` with a new axis: 6 keras_hub decoders (``attention_mask[:, None, :, :]``) fail
  builtins-only conversion. Measured: it does not depend on the dtype (float32 fails too); it fails
  only when the sliced tensor has two or more dynamic dims *and* the subscript spells out every dim
  (or uses ``...``); ``m[:, None]`` or ``m[None]`` convert.
* ``Abs`` / ``Sign`` on int64 (keras_hub's DeBERTa: ``ops.cast(ids, "int")`` is int64) need Flex;
  on int32 and float32 they are builtins. The op table's int probes are int32.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Dict

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
R = {"slice": {}, "dtype": {}}
for shape in ([None, None, None], [None, None, 5], [None, 5, 5], [2, 5, 5]):
    for dtype in (tf.float32, tf.int32):
        for text, fn in SLICES.items():
            R["slice"][f"{text} {shape} {dtype.name}"] = converts(fn, shape, dtype)
for dtype in (tf.int32, tf.int64, tf.float32):
    for fn in (tf.abs, tf.sign):
        R["dtype"][f"{fn.__name__} {dtype.name}"] = converts(fn, [None, 4], dtype)
print("RESULT" + json.dumps(R))
"""


@pytest.fixture(scope="module")
def measured() -> Dict[str, Dict[str, bool]]:
    pytest.importorskip("tensorflow")
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=900, env=env)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT")]
    assert lines, proc.stderr[-3000:]
    return json.loads(lines[-1][len("RESULT") :])  # type: ignore[no-any-return]


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
    for fn in ("abs", "sign"):
        assert not got[f"{fn} int64"], fn
        assert got[f"{fn} int32"] and got[f"{fn} float32"], fn
