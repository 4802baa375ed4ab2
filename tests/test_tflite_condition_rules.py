"""TF208's site-dependent verdicts agree with real builtins-only TFLite conversions (TF 2.21 / Keras 3.15).

Every class of ``fixtures/keras_project/flex_conditions.py`` is converted for real (``tf.Module``: its
concrete function; Keras layers: a functional model, ``model.export``, ``from_saved_model``, as the Keras
benchmark does); a class fails to convert exactly when mllint reports TF208 in it.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

from mllint.testing import lint_source

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "fixtures" / "keras_project" / "flex_conditions.py"

CONVERT = r"""
import json, os, sys
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(sys.argv[1]))
OUT = sys.argv[2]
import keras
import tensorflow as tf
import flex_conditions as fc


def converts(conv):
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    try:
        conv.convert()
        return {"ok": True}
    except Exception as exc:
        return {"ok": False, "ops": sorted({e.operator.name for e in getattr(exc, "errors", []) or []})}


def exported(model, name):
    path = os.path.join(OUT, name)
    model.export(path, verbose=False)
    return tf.lite.TFLiteConverter.from_saved_model(path)


R = {}
for name in ("MaskHeads", "MaskLastAxis", "MaskHeadsFixedLength", "MaskHeadsPartial", "MaskHeadsExpandDims"):
    module = getattr(fc, name)()
    fn = module.__call__.get_concrete_function()
    R[name] = converts(tf.lite.TFLiteConverter.from_concrete_functions([fn], module))
R["SequenceChannels"] = converts(exported(fc.sequence_model(), "seq"))
R["FixedChannels"] = converts(exported(fc.fixed_model(), "fixed"))
for name in ("RelativeBuckets", "RelativeBuckets32"):
    inp = keras.Input((None, 4))
    R[name] = converts(exported(keras.Model(inp, getattr(fc, name)()(inp)), name))
print("RESULT" + json.dumps(R))
"""


def _class_lines() -> Dict[str, Tuple[int, int]]:
    tree = ast.parse(FIXTURE.read_text(encoding="utf-8"))
    return {n.name: (n.lineno, n.end_lineno or n.lineno) for n in tree.body if isinstance(n, ast.ClassDef)}


@pytest.mark.export
def test_new_axis_slices_and_int64_abs_sign_are_reported_exactly_where_conversion_fails(tmp_path: Path) -> None:
    pytest.importorskip("keras")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run(
        [sys.executable, "-c", CONVERT, str(FIXTURE), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
        cwd=str(tmp_path),
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT")]
    assert lines, proc.stderr[-3000:]
    real = json.loads(lines[-1][len("RESULT") :])
    findings = lint_source(FIXTURE.read_text(encoding="utf-8"), select=["TF208"], targets=["tflite"])
    classes = _class_lines()
    assert set(real) == set(classes)
    for name, (first, last) in classes.items():
        said = [f for f in findings if first <= f.line <= last]
        assert bool(said) == (not real[name]["ok"]), (name, real[name], [f.message for f in said])
        for f in said:  # the message names the op the converter rejected
            assert any(op.split(".")[-1] in f.message for op in real[name]["ops"]), (name, real[name], f.message)


def _lines(code: str) -> List[int]:
    return sorted(f.line for f in lint_source(code, select=["TF208"], targets=["tflite"]))


def test_int64_is_followed_through_casts_and_integer_arithmetic_only() -> None:
    code = """
import tensorflow as tf


class Pos(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.int32)])
    def __call__(self, x):
        wide = tf.cast(x, tf.int64)
        a = tf.sign(wide * 2 - 1)
        b = tf.abs(tf.cast(wide, "float32"))
        c = tf.abs(wide / 2)
        d = tf.abs(tf.cast(x, "int32"))
        e = tf.math.abs(tf.reshape(wide, [-1]))
        return a, b, c, d, e
"""
    assert _lines(code) == [9, 13]


def test_select_tf_ops_in_the_file_leaves_it_to_TF207() -> None:
    code = """
import tensorflow as tf


class Mask(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec([None, None, None], tf.int32)])
    def __call__(self, m):
        return m[:, None, :, :], tf.sign(tf.cast(m, tf.int64))


converter = tf.lite.TFLiteConverter.from_saved_model("saved")
converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
"""
    assert _lines(code) == []


def test_new_axis_slice_of_a_rebound_or_indexed_tensor_is_not_judged() -> None:
    code = """
import tensorflow as tf


class Mask(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec([None, None, None], tf.int32), tf.TensorSpec([], tf.int32)])
    def __call__(self, m, i):
        a = m[:, None, i, :]
        m = m + 1
        return a, m[:, None, :, :]
"""
    assert _lines(code) == []
