"""Keras verdicts on real Keras code (issue 18): the facts TF405-TF408 rely on, measured by saving
the fixtures/keras_project models as ``.keras`` and loading them in a fresh process that imports the
defining modules (as serving code would), and the static rules' look-alikes.

Two subprocesses: one builds and saves, the second loads what the first wrote.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

from mllint.testing import lint_files, lint_source

REPO = Path(__file__).resolve().parents[1]
PROJECT = REPO / "fixtures" / "keras_project"

BUILD = r"""
import json, os, sys
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT, OUT = sys.argv[1], sys.argv[2]
sys.path.insert(0, ROOT)
import numpy as np
import keras
import composite, models, mylib, mylib.layers
import keras_cv.layers, keras_hub.layers, keras_nlp.layers, notkeras.layers

R = {}
X = np.ones((2, 3), "float32")


def save(name, make):
    try:
        m = make()
        m(X)
        m.save(os.path.join(OUT, name + ".keras"))
        R[name] = {"ok": True}
    except Exception as exc:
        R[name] = {"ok": False, "error": type(exc).__name__, "message": str(exc)[:800]}


lam = lambda layer: (lambda: models.functional(layer))  # noqa: E731
save("project_decorator", lambda: models.functional(mylib.Scale(2.0)))
save("project_decorator_class", lambda: models.functional(mylib.Shift(1.0)))
save("project_builder", mylib.layers.scaled_model)
save("unregistered_project", lambda: models.functional(mylib.Plain(2.0)))
for pkg in (keras_cv, keras_nlp, keras_hub, notkeras):
    save("package_" + pkg.__name__, lambda pkg=pkg: models.functional(pkg.layers.Scale(2.0)))
save("composite_inner_layers", lambda: composite.Composite(3))
save("backbone_inner_layers", lambda: composite.Backbone(3))
save("bad_config_saved_alone", lambda: models.functional(composite.BadConfig(3)))
save("renamed_keys_saved_alone", composite.renamed_keys_model)
save("lambda_python_lambda", lambda: models.functional(keras.layers.Lambda(lambda t: t * 2.0)))
save("lambda_unregistered_function", lambda: models.functional(keras.layers.Lambda(composite.double)))
save("lambda_registered_function", lambda: models.functional(keras.layers.Lambda(models.halve)))
save("lambda_keras_function", lambda: models.functional(keras.layers.Lambda(keras.activations.relu)))
save("lambda_inside_subclassed_model", lambda: models.LambdaInside())


import loops  # noqa: E402


def export(name, cls):
    try:
        m = cls()
        m(X)
        m.export(os.path.join(OUT, "sm_" + name), verbose=False)
        E[name] = {"ok": True}
    except Exception as exc:
        E[name] = {"ok": False, "error": type(exc).__name__, "message": str(exc)[:1500]}


E = {}
for name in ("PerExample", "PerExampleNamed", "PerFeature", "PerFeatureStatic", "PerExampleComprehension",
             "PerFeatureComprehension"):
    export(name, getattr(loops, name))
import eager_paths  # noqa: E402

for name in ("HelperGuarded", "DirectlyGuarded", "Unguarded"):
    export(name, getattr(eager_paths, name))
import sequences  # noqa: E402

for name in ("dynamic_steps", "dynamic_static_steps", "fixed_steps", "dynamic_features", "sequential_steps"):
    try:
        m = getattr(sequences, name)()
        m(np.ones((2, 6, 4), "float32"))
        m.export(os.path.join(OUT, "sm_" + name), verbose=False)
        E[name] = {"ok": True}
    except Exception as exc:
        E[name] = {"ok": False, "error": type(exc).__name__, "message": str(exc)[:1500]}
R["export"] = E
print("RESULT" + json.dumps(R))
"""

LOAD = r"""
import json, os, sys
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT, OUT = sys.argv[1], sys.argv[2]
sys.path.insert(0, ROOT)
import keras
import composite, models, mylib  # serving code imports the defining modules
import keras_cv.layers, keras_hub.layers, keras_nlp.layers, notkeras.layers
R = {}
for f in sorted(os.listdir(OUT)):
    if f.endswith(".keras"):
        try:
            keras.saving.load_model(os.path.join(OUT, f))
            R[f[:-6]] = {"ok": True}
        except Exception as exc:
            R[f[:-6]] = {"ok": False, "error": type(exc).__name__, "message": str(exc)[:4000]}
print("RESULT" + json.dumps(R))
"""


def _run(script: str, out: Path) -> Dict[str, Dict[str, object]]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run(
        [sys.executable, "-c", script, str(PROJECT), str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=str(out),
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT")]
    assert lines, proc.stderr[-3000:]
    return json.loads(lines[-1][len("RESULT") :])  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def round_trips(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Dict[str, object]]:
    pytest.importorskip("keras")
    out = tmp_path_factory.mktemp("keras_verdicts")
    saved = _run(BUILD, out)
    exports = saved.pop("export")
    assert all(r["ok"] for r in saved.values()), saved  # every model saves: .keras fails only at load
    return {**_run(LOAD, out), "export": exports}


def _loads(facts: Dict[str, Dict[str, object]], name: str) -> bool:
    return bool(facts[name]["ok"])


def _fails(facts: Dict[str, Dict[str, object]], name: str, text: str) -> bool:
    return not facts[name]["ok"] and text in str(facts[name]["message"])


@pytest.mark.export
def test_registration_through_project_decorators_TF405(round_trips) -> None:  # type: ignore[no-untyped-def]
    for name in ("project_decorator", "project_decorator_class", "project_builder"):
        assert _loads(round_trips, name), round_trips[name]
    assert _fails(round_trips, "unregistered_project", "Could not locate class 'Plain'")


@pytest.mark.export
def test_classes_found_by_module_path_TF405(round_trips) -> None:  # type: ignore[no-untyped-def]
    """Keras 3.15 imports the saved module path only for keras, keras_hub, keras_cv and keras_nlp."""
    for pkg in ("keras_cv", "keras_nlp", "keras_hub"):
        assert _loads(round_trips, f"package_{pkg}"), round_trips[f"package_{pkg}"]
    assert _fails(round_trips, "package_notkeras", "Could not locate class 'Scale'")
    from mllint.checks.signature.tf_serialization import _RESOLVED_BY_MODULE

    assert _RESOLVED_BY_MODULE == {"keras", "keras_cv", "keras_nlp", "keras_hub"}


@pytest.mark.export
def test_inner_layers_are_rebuilt_by_their_model_TF405_TF406_TF407(round_trips) -> None:  # type: ignore[no-untyped-def]
    """An unregistered layer with a wrong get_config (and one with a layer argument and no get_config)
    loads fine inside a model whose own config rebuilds it, and fails when saved on its own."""
    assert _loads(round_trips, "composite_inner_layers"), round_trips["composite_inner_layers"]
    assert _loads(round_trips, "backbone_inner_layers"), round_trips["backbone_inner_layers"]
    assert _fails(round_trips, "bad_config_saved_alone", "Could not locate class 'BadConfig'")
    assert _fails(round_trips, "renamed_keys_saved_alone", "Unrecognized keyword arguments")


@pytest.mark.export
def test_lambda_layers_TF408(round_trips) -> None:  # type: ignore[no-untyped-def]
    assert _fails(round_trips, "lambda_python_lambda", "is a Python lambda")
    assert _fails(round_trips, "lambda_unregistered_function", "Could not locate function 'double'")
    for name in ("lambda_registered_function", "lambda_keras_function", "lambda_inside_subclassed_model"):
        assert _loads(round_trips, name), round_trips[name]


@pytest.mark.export
def test_range_over_a_dynamic_size_in_keras_call_TF109(round_trips) -> None:  # type: ignore[no-untyped-def]
    """``range(keras.ops.shape(x)[0])`` in a Keras 3 ``call()`` fails at ``model.export`` (the batch is
    dynamic there, so the size is a scalar tensor); over static sizes the loop unrolls fine."""
    exports = round_trips["export"]
    for name in ("PerExample", "PerExampleNamed", "PerExampleComprehension"):
        assert not exports[name]["ok"] and "cannot be interpreted as an integer" in exports[name]["message"], exports[
            name
        ]
    for name in ("PerFeature", "PerFeatureStatic", "PerFeatureComprehension"):
        assert exports[name]["ok"], exports[name]


@pytest.mark.export
def test_range_over_a_sequence_dim_of_a_functional_input_TF109_TF301(round_trips) -> None:  # type: ignore[no-untyped-def]
    """A layer applied to ``keras.Input((None, 4))``: ``model.export`` keeps dim 1 ``None``, so
    ``range(keras.ops.shape(x)[1])`` (a scalar tensor) and ``range(x.shape[1])`` (None) fail; over
    ``keras.Input((6, 4))``, or over the static feature dim, the loop unrolls."""
    exports = round_trips["export"]
    for name in ("dynamic_steps", "dynamic_static_steps", "sequential_steps"):
        assert not exports[name]["ok"] and "cannot be interpreted as an integer" in exports[name]["message"], exports[
            name
        ]
    for name in ("fixed_steps", "dynamic_features"):
        assert exports[name]["ok"], exports[name]


@pytest.mark.export
def test_eager_only_branches_do_not_run_at_export(round_trips) -> None:  # type: ignore[no-untyped-def]
    """``tf.executing_eagerly()`` is False while ``model.export`` traces a Keras 3 ``call()``: the
    eager-only branch (a Python ``float`` of a tensor) never runs; unguarded, the same code fails."""
    exports = round_trips["export"]
    assert exports["HelperGuarded"]["ok"] and exports["DirectlyGuarded"]["ok"], exports
    assert not exports["Unguarded"]["ok"] and exports["Unguarded"]["error"] == "TypeError", exports["Unguarded"]


# -- static look-alikes ---------------------------------------------------------------------------
def found(files: Dict[str, str], select: str = "TF4") -> List[Tuple[str, int, str]]:
    findings = lint_files({k: textwrap.dedent(v) for k, v in files.items()}, select=[select])
    return sorted((f.path, f.line, f.code) for f in findings if f.suppressed is None)


def test_decorator_chain_through_a_reexport_and_two_functions() -> None:
    files = {
        "lib/__init__.py": "from lib._export import lib_export\n",
        "lib/_export.py": """\
            from lib._impl import do_register


            def lib_export(path):
                def deco(cls):
                    do_register(path, cls)
                    return cls
                return deco
            """,
        "lib/_impl.py": """\
            import keras


            def do_register(path, cls):
                keras.saving.register_keras_serializable(package=path)(cls)
            """,
        "lib/layers.py": """\
            import keras
            from lib import lib_export


            @lib_export("lib")
            class A(keras.layers.Layer):
                def call(self, x):
                    return x


            class B(keras.layers.Layer):
                def call(self, x):
                    return x


            def model():
                inputs = keras.Input((3,))
                return keras.Model(inputs, B()(A()(inputs)))
            """,
    }
    assert found(files) == [("lib/layers.py", 11, "TF405")]


def test_a_decorator_that_does_not_register_is_not_registration() -> None:
    files = {
        "lib/__init__.py": "",
        "lib/deco.py": "def tag(name):\n    def deco(cls):\n        cls.tag = name\n        return cls\n    return deco\n",
        "lib/layers.py": """\
            import keras
            from lib.deco import tag


            @tag("x")
            class A(keras.layers.Layer):
                def call(self, x):
                    return x


            model = keras.Sequential([A()])
            """,
    }
    assert found(files) == [("lib/layers.py", 6, "TF405")]


def test_module_level_registration_calls() -> None:
    code = """\
        import keras


        class A(keras.layers.Layer):
            def call(self, x):
                return x


        class B(keras.layers.Layer):
            def call(self, x):
                return x


        keras.saving.get_custom_objects()["A"] = A
        keras.saving.register_keras_serializable("pkg")(B)
        model = keras.Sequential([A(), B()])
        """
    assert found({"m.py": code}) == []


def test_models_are_judged_and_model_parts_are_not() -> None:
    code = """\
        import keras


        class Part(keras.Model):
            def call(self, x):
                return x


        class Net(keras.Model):  # the saved top object
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                self.part = Part()

            def call(self, x):
                return self.part(x)


        class Lonely(keras.layers.Layer):  # never used here: unknown, not judged
            def call(self, x):
                return x
        """
    assert found({"m.py": code}) == [("m.py", 9, "TF405")]


def test_helper_called_only_from_a_constructor_builds_parts() -> None:
    code = """\
        import keras


        class Block(keras.layers.Layer):
            def call(self, x):
                return x


        def stem(x):
            return Block()(x)


        def head(x):
            return Block()(x)


        @keras.saving.register_keras_serializable("pkg")
        class Backbone(keras.Model):
            def __init__(self, **kwargs):
                inputs = keras.Input((3,))
                super().__init__(inputs, stem(inputs), **kwargs)


        def classifier():
            inputs = keras.Input((3,))
            return keras.Model(inputs, head(inputs))
        """
    # stem() only runs inside Backbone.__init__; head() builds a functional model of its own
    assert found({"m.py": code}) == [("m.py", 4, "TF405")]
    assert found({"m.py": code.replace("return keras.Model(inputs, head(inputs))", "return None")}) == []


def test_tf_keras_lambda_is_not_judged() -> None:
    code = """\
        import tf_keras as keras


        def model():
            inputs = keras.Input((3,))
            return keras.Model(inputs, keras.layers.Lambda(lambda t: t)(inputs))
        """
    assert found({"m.py": code}) == []


def test_functional_input_dims_reach_the_layer_across_files() -> None:
    """The layer is defined in one file and applied to ``keras.Input((None, 4))`` in another; an Input whose
    shape is not a literal, a name bound to two Inputs, and a layer applied to another layer's output say
    nothing about dim 1."""
    layer = """\
        import keras
        from keras import ops


        class Steps(keras.layers.Layer):
            def call(self, x):
                return ops.stack([x[:, t] for t in range(ops.shape(x)[1])], 1)

            def compute_output_shape(self, input_shape):
                return input_shape
        """
    uses = {
        "dynamic": "inputs = keras.Input((None, 4))\n    return keras.Model(inputs, Steps()(inputs))",
        "shape_variable": "inputs = keras.Input(shape)\n    return keras.Model(inputs, Steps()(inputs))",
        "rebound": (
            "inputs = keras.Input((None, 4))\n    inputs = keras.Input((6, 4))\n"
            "    return keras.Model(inputs, Steps()(inputs))"
        ),
        "after_dense": (
            "inputs = keras.Input((None, 4))\n    h = keras.layers.Dense(4)(inputs)\n"
            "    return keras.Model(inputs, Steps()(h))"
        ),
    }
    for name, body in uses.items():
        model = f"import keras\nfrom layers import Steps\n\n\ndef build(shape=(6, 4)):\n    {body}\n"
        found = [
            (f.code, f.line)
            for f in lint_files({"layers.py": textwrap.dedent(layer), "model.py": model}, select=["TF109"])
            if f.suppressed is None
        ]
        assert found == ([("TF109", 7)] if name == "dynamic" else []), (name, found)


def test_functions_defined_in_call_are_walked_where_called() -> None:
    """A nested function is walked at its call with the call's values (TF208 inside it), a recursive one
    stops, and its ``return`` is not the enclosing ``call()``'s."""
    code = """\
        import keras
        from keras import ops


        class A(keras.layers.Layer):
            def call(self, x):
                def spectrum(t, scale=1.0):
                    real, _ = ops.fft2((t, ops.zeros_like(t)))
                    return real * scale

                def again(t):
                    return again(t) if t is None else ops.fft2((t, t))[0]

                return spectrum(x) + again(x)
        """
    found = [(f.code, f.line) for f in lint_source(textwrap.dedent(code), targets=["tflite"]) if f.suppressed is None]
    assert sorted(found) == [("TF208", 8), ("TF208", 12)], found


def test_static_python_values_are_not_tf102() -> None:
    code = """\
        import keras
        import tensorflow as tf
        from keras import ops


        class A(keras.layers.Layer):
            def build(self, input_shape):
                self.rank = len(input_shape)
                self.last = int(input_shape[-1])

            def call(self, x):
                rank = len(x.shape)
                dims = len(ops.shape(x))
                width = int(x.shape[-1])
                n = int(ops.ndim(x))
                shape = tf.TensorShape(x.shape)
                k = len(shape)
                return x * rank * dims * width * n * k
        """
    assert [f for f in lint_source(textwrap.dedent(code), select=["TF102"]) if f.suppressed is None] == []


def test_flex_ops_from_lowered_keras_ops_are_reported_per_target() -> None:
    code = """\
        import keras
        import tensorflow as tf
        from keras import ops


        class A(keras.layers.Layer):
            def call(self, x):
                p = tf.image.extract_patches(x, [1, 2, 2, 1], [1, 2, 2, 1], [1, 1, 1, 1], "VALID")
                q = ops.image.extract_patches(x, 2)
                r, _ = ops.fft2((x, x))
                return p, q, r
        """
    tflite = lint_source(textwrap.dedent(code), select=["TF208"], targets=["tflite"])
    assert sorted(f.line for f in tflite if f.suppressed is None) == [8, 10]
    tfjs = lint_source(textwrap.dedent(code), select=["TF208"], targets=["tfjs"])
    assert sorted(f.line for f in tfjs if f.suppressed is None) == [8, 9, 10]


# -- ops traced outside entry points: Lambda functions, tf_keras functional builders ----------------
CONVERT = r"""
import json, os, sys
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT, OUT, FLAVOR = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path.insert(0, ROOT)
if os.environ.get("TF_KERAS_PATH"):
    sys.path.insert(0, os.environ["TF_KERAS_PATH"])
import tensorflow as tf


def convert(make, select):
    conv = make()
    ops = [tf.lite.OpsSet.TFLITE_BUILTINS] + ([tf.lite.OpsSet.SELECT_TF_OPS] if select else [])
    conv.target_spec.supported_ops = ops
    try:
        conv.convert()
        return {"ok": True}
    except Exception as exc:
        errors = sorted({e.operator.name for e in getattr(exc, "errors", []) or []})
        return {"ok": False, "error": type(exc).__name__, "ops": errors}


R = {}
if FLAVOR == "keras3":
    import lambda_ops

    for name in ("erf_model", "relu_model"):
        path = os.path.join(OUT, name)
        getattr(lambda_ops, name)().export(path, verbose=False)
        make = lambda: tf.lite.TFLiteConverter.from_saved_model(path)
        R[name] = {"builtins": convert(make, False), "select": convert(make, True)}
    import flex_ops

    for name in ("NestedSpectralMix", "NestedRealSpectrum"):
        path = os.path.join(OUT, name)
        flex_ops.nested_model(getattr(flex_ops, name)()).export(path, verbose=False)
        make = lambda: tf.lite.TFLiteConverter.from_saved_model(path)
        R[name] = {"builtins": convert(make, False), "select": convert(make, True)}
else:
    import legacy_zoo

    for name in ("patch_model", "erf_lambda_model"):
        model = getattr(legacy_zoo, name)()
        make = lambda: tf.lite.TFLiteConverter.from_keras_model(model)
        R[name] = {"builtins": convert(make, False), "select": convert(make, True)}
print("RESULT" + json.dumps(R))
"""


def _convert(flavor: str, out: Path) -> Dict[str, Dict[str, Dict[str, object]]]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run(
        [sys.executable, "-c", CONVERT, str(PROJECT), str(out), flavor],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=str(out),
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT")]
    assert lines, proc.stderr[-3000:]
    return json.loads(lines[-1][len("RESULT") :])  # type: ignore[no-any-return]


@pytest.mark.export
def test_lambda_functions_are_traced_with_the_model_TF208(tmp_path: Path) -> None:
    pytest.importorskip("keras")
    got = _convert("keras3", tmp_path)
    erf = got["erf_model"]
    assert not erf["builtins"]["ok"] and "tf.Erf" in erf["builtins"]["ops"] and erf["select"]["ok"], erf
    assert got["relu_model"]["builtins"]["ok"], got["relu_model"]
    # functions defined in call() and called there are traced with it (walked inline, TF208)
    fft = got["NestedSpectralMix"]
    assert not fft["builtins"]["ok"] and any("FFT2D" in op for op in fft["builtins"]["ops"]), fft
    assert fft["select"]["ok"], fft
    assert got["NestedRealSpectrum"]["builtins"]["ok"], got["NestedRealSpectrum"]


def _tf_keras_available() -> bool:
    import importlib.util

    path = os.environ.get("TF_KERAS_PATH")
    return bool(path and (Path(path) / "tf_keras").is_dir()) or importlib.util.find_spec("tf_keras") is not None


@pytest.mark.export
@pytest.mark.skipif(not _tf_keras_available(), reason="tf_keras not installed (set TF_KERAS_PATH to a --target dir)")
def test_tf_keras_builders_put_tf_ops_in_the_graph_TF208(tmp_path: Path) -> None:
    got = _convert("tf_keras", tmp_path)
    patches = got["patch_model"]
    assert not patches["builtins"]["ok"] and "tf.ExtractImagePatches" in patches["builtins"]["ops"], patches
    assert patches["select"]["ok"], patches
    erf = got["erf_lambda_model"]
    assert not erf["builtins"]["ok"] and "tf.Erf" in erf["builtins"]["ops"] and erf["select"]["ok"], erf
