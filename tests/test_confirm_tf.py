"""Real TensorFlow / Keras exports of the fixtures/confirm Keras models: SavedModel (reloaded in a fresh
process), .keras files (loaded in a fresh process) and TFLite (builtins; Flex ops named)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Dict

import pytest

from mllint.config import ModelSpec
from mllint.confirm import ExportResult, run_confirm
from mllint.targets import TF_TARGETS

# find_spec, not importorskip: importing the frameworks at collection costs seconds even when deselected
pytestmark = [
    pytest.mark.export,
    pytest.mark.skipif(
        not all(importlib.util.find_spec(m) for m in ("tensorflow", "keras")), reason="needs tensorflow, keras"
    ),
]

ROOT = Path(__file__).resolve().parents[1] / "fixtures" / "confirm"
SOURCE = "confirm_models/keras_models.py"
MODELS = [
    ModelSpec("keras-clean", "confirm_models.keras_models:make_clean"),
    ModelSpec("keras-hazards", "confirm_models.keras_models:make_branchy"),
    ModelSpec("keras-flex", "confirm_models.keras_models:make_flex"),
    ModelSpec("tf-module", "confirm_models.tf_module:make"),
]


def mark_near(target: str, text: str) -> int:
    """The line holding ``text`` and marked ``# confirm: ... target``."""
    lines = (ROOT / SOURCE).read_text().splitlines()
    return next(n for n, line in enumerate(lines, 1) if text in line and "# confirm:" in line and target in line)


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tf-artifacts")


@pytest.fixture(scope="module")
def by(artifacts: Path) -> Dict[str, Dict[str, ExportResult]]:
    results = run_confirm(MODELS, ROOT, TF_TARGETS + ("torch-export",), "cpu", 2, artifacts, False, None)
    out: Dict[str, Dict[str, ExportResult]] = {}
    for r in results:
        out.setdefault(r.model, {})[r.target] = r
    return out


def test_clean_keras_model_round_trips_through_fresh_processes_and_tflite(by, artifacts: Path) -> None:
    clean = by["keras-clean"]
    for target in ("savedmodel", "keras-file", "tflite"):
        assert clean[target].status == "ok", clean[target]
        assert clean[target].details["compared"] == ["example", "other-values", "other-batch", "smaller-batch"]
        assert clean[target].framework == "keras"
    assert clean["tfjs"].status == "skipped"
    assert clean["torch-export"].status == "skipped"
    kept = {p.name for p in (artifacts / "keras-clean").iterdir()}
    assert {"savedmodel", "keras-file.keras", "tflite.tflite"} <= kept


def test_tensor_branch_in_keras_call_fails_savedmodel_and_tflite_at_the_line(by) -> None:
    h = by["keras-hazards"]
    line = mark_near("savedmodel", "tf.reduce_sum(y) > 0")
    for target in ("savedmodel", "tflite"):
        assert h[target].status == "failed"
        assert "OperatorNotAllowedInGraphError" in h[target].message
        assert h[target].location == (SOURCE, line)


def test_unregistered_custom_class_fails_the_fresh_keras_load_at_its_definition(by) -> None:
    r = by["keras-hazards"]["keras-file"]
    assert r.status == "failed" and "Could not locate class 'Branchy'" in r.message
    assert r.location == (SOURCE, mark_near("keras-file", "class Branchy"))


def test_flex_only_op_is_named_and_located_with_converter_debug_info(by) -> None:
    f = by["keras-flex"]
    assert f["savedmodel"].status == "ok" and f["keras-file"].status == "ok"
    assert f["tflite"].status == "failed"
    assert f["tflite"].details["flex_ops"] == ["FlexErf"]
    assert "tf.Erf" in f["tflite"].message and "FlexErf" in f["tflite"].message
    assert f["tflite"].location == (SOURCE, mark_near("tflite", "tf.math.erf"))


def test_tf_module_from_an_input_signature_goes_through_its_serving_signature(by) -> None:
    m = by["tf-module"]
    assert m["savedmodel"].status == "ok" and m["savedmodel"].framework == "tensorflow"
    assert m["savedmodel"].details["compared"] == ["example", "other-values", "other-batch", "smaller-batch"]
    assert m["tflite"].status == "ok"
    assert m["keras-file"].status == "skipped" and "not a Keras model" in m["keras-file"].message
