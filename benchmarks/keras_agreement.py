"""Agreement of mllint's TensorFlow / Keras verdicts with real exports, per model and per target.

    python benchmarks/keras_agreement.py                  # export everything, lint, print the figures
    python benchmarks/keras_agreement.py --cache out.json # reuse (or write) the export outcomes
    python benchmarks/keras_agreement.py --only replicas  # or: applications

Models: ``keras.applications`` built with ``weights=None`` at 32x32 (their source is the Keras module
that defines them), and replicas written here of patterns seen in Keras model code (registration
through a project decorator, composite models, Lambda layers, loops over sizes, Flex ops, eager-only
branches...), each a module of its own. Every model is exported for real in a subprocess:
``savedmodel`` = ``model.export`` then ``tf.saved_model.load`` + ``serve`` in a fresh process,
``keras-file`` = ``model.save("m.keras")`` then ``keras.saving.load_model`` in a fresh process, ``tflite``
= ``TFLiteConverter.from_saved_model`` on the export (``from_keras_model`` when export failed) with
TFLITE_BUILTINS only. tfjs is not measured: the tensorflowjs converter is not installable next to
TensorFlow 2.21 (it downgrades TensorFlow).

A model is *predicted* to fail on a target when mllint reports, on its source, an unsuppressed finding
whose effect on that target is ``fails``. Per target: precision, recall and the confusion counts.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Dict, List, Tuple

TARGETS = ("savedmodel", "keras-file", "tflite")

#: (name, keras.applications constructor, defining module under keras/src/applications)
APPLICATIONS = [
    ("MobileNet", "MobileNet(alpha=0.25, weights=None, input_shape=(32, 32, 3), classes=10)", "mobilenet.py"),
    ("MobileNetV2", "MobileNetV2(alpha=0.35, weights=None, input_shape=(32, 32, 3), classes=10)", "mobilenet_v2.py"),
    ("MobileNetV3Small", "MobileNetV3Small(weights=None, input_shape=(32, 32, 3), classes=10)", "mobilenet_v3.py"),
    ("EfficientNetB0", "EfficientNetB0(weights=None, input_shape=(32, 32, 3), classes=10)", "efficientnet.py"),
    ("EfficientNetV2B0", "EfficientNetV2B0(weights=None, input_shape=(32, 32, 3), classes=10)", "efficientnet_v2.py"),
    ("ResNet50", "ResNet50(weights=None, input_shape=(32, 32, 3), classes=10)", "resnet.py"),
    ("DenseNet121", "DenseNet121(weights=None, input_shape=(32, 32, 3), classes=10)", "densenet.py"),
    ("ConvNeXtTiny", "ConvNeXtTiny(weights=None, input_shape=(32, 32, 3), classes=10)", "convnext.py"),
    ("ResNet50V2", "ResNet50V2(weights=None, input_shape=(32, 32, 3), classes=10)", "resnet_v2.py"),
    ("VGG16", "VGG16(weights=None, input_shape=(32, 32, 3), classes=10)", "vgg16.py"),
]

_HEAD = "import keras\nimport tensorflow as tf\nfrom keras import ops\n\n\n"
_FUNCTIONAL = "\n\ndef build():\n    inputs = keras.Input({shape})\n    return keras.Model(inputs, {body})\n"

#: name -> (module source, input shape); each module defines ``build()``
REPLICAS: Dict[str, Tuple[str, Tuple[int, ...]]] = {
    "unregistered_layer": (
        _HEAD
        + textwrap.dedent("""\
        class Scale(keras.layers.Layer):
            def __init__(self, factor=2.0, **kwargs):
                super().__init__(**kwargs)
                self.factor = factor

            def call(self, x):
                return x * self.factor
        """)
        + _FUNCTIONAL.format(shape="(4,)", body="Scale()(inputs)"),
        (2, 4),
    ),
    "project_decorator": (
        _HEAD
        + textwrap.dedent("""\
        def mylib_export(path):
            def deco(cls):
                keras.saving.register_keras_serializable(package=path)(cls)
                return cls
            return deco


        @mylib_export("mylib")
        class Scale(keras.layers.Layer):
            def call(self, x):
                return x * 2.0
        """)
        + _FUNCTIONAL.format(shape="(4,)", body="Scale()(inputs)"),
        (2, 4),
    ),
    "composite_inner_layers": (
        _HEAD
        + textwrap.dedent("""\
        class Block(keras.layers.Layer):
            def __init__(self, units=4, **kwargs):
                super().__init__(**kwargs)
                self.units = units
                self.dense = keras.layers.Dense(units)

            def call(self, x):
                return self.dense(x)

            def get_config(self):
                return {**super().get_config(), "n_units": self.units}


        @keras.saving.register_keras_serializable(package="bench")
        class Net(keras.Model):
            def __init__(self, units=4, **kwargs):
                super().__init__(**kwargs)
                self.units = units
                self.block = Block(units)

            def call(self, x):
                return self.block(x)

            def get_config(self):
                return {**super().get_config(), "units": self.units}


        def build():
            return Net(4)
        """),
        (2, 4),
    ),
    "renamed_config_key": (
        _HEAD
        + textwrap.dedent("""\
        @keras.saving.register_keras_serializable(package="bench")
        class Head(keras.layers.Layer):
            def __init__(self, units=4, **kwargs):
                super().__init__(**kwargs)
                self.units = units
                self.dense = keras.layers.Dense(units)

            def call(self, x):
                return self.dense(x)

            def get_config(self):
                config = super().get_config()
                config.update({"n_units": self.units})
                return config
        """)
        + _FUNCTIONAL.format(shape="(4,)", body="Head(4)(inputs)"),
        (2, 4),
    ),
    "lambda_python": (
        _HEAD + _FUNCTIONAL.format(shape="(4,)", body="keras.layers.Lambda(lambda t: t * 2.0)(inputs)")[2:],
        (2, 4),
    ),
    "lambda_erf": (
        _HEAD + _FUNCTIONAL.format(shape="(4,)", body="keras.layers.Lambda(lambda t: tf.math.erf(t))(inputs)")[2:],
        (2, 4),
    ),
    "keras_ops_erf_layer": (
        _HEAD
        + textwrap.dedent("""\
        @keras.saving.register_keras_serializable(package="bench")
        class Gelu(keras.layers.Layer):
            def call(self, x):
                return 0.5 * x * (1.0 + ops.erf(x / 1.4142))
        """)
        + _FUNCTIONAL.format(shape="(4,)", body="Gelu()(inputs)"),
        (2, 4),
    ),
    "loop_over_batch": (
        _HEAD
        + textwrap.dedent("""\
        @keras.saving.register_keras_serializable(package="bench")
        class PerExample(keras.Model):
            def call(self, x):
                outs = []
                for b in range(ops.shape(x)[0]):
                    outs.append(x[b] * 2.0)
                return ops.stack(outs, 0)


        def build():
            return PerExample()
        """),
        (2, 4),
    ),
    "loop_over_features": (
        _HEAD
        + textwrap.dedent("""\
        @keras.saving.register_keras_serializable(package="bench")
        class PerFeature(keras.Model):
            def call(self, x):
                return ops.stack([x[:, i] * 2.0 for i in range(ops.shape(x)[-1])], 1)


        def build():
            return PerFeature()
        """),
        (2, 4),
    ),
    "tensor_if_in_call": (
        _HEAD
        + textwrap.dedent("""\
        @keras.saving.register_keras_serializable(package="bench")
        class Gate(keras.Model):
            def call(self, x):
                if ops.sum(x) > 0:
                    return x * 2.0
                return -x


        def build():
            return Gate()
        """),
        (2, 4),
    ),
    "keras_cond_in_call": (
        _HEAD
        + textwrap.dedent("""\
        @keras.saving.register_keras_serializable(package="bench")
        class Gate(keras.Model):
            def call(self, x):
                return ops.cond(ops.sum(x) > 0, lambda: x * 2.0, lambda: -x)


        def build():
            return Gate()
        """),
        (2, 4),
    ),
    "tf_extract_patches": (
        _HEAD
        + textwrap.dedent("""\
        @keras.saving.register_keras_serializable(package="bench")
        class Patches(keras.layers.Layer):
            def call(self, x):
                return tf.image.extract_patches(x, [1, 2, 2, 1], [1, 2, 2, 1], [1, 1, 1, 1], "VALID")
        """)
        + _FUNCTIONAL.format(shape="(8, 8, 3)", body="Patches()(inputs)"),
        (2, 8, 8, 3),
    ),
    "keras_extract_patches": (
        _HEAD
        + textwrap.dedent("""\
        @keras.saving.register_keras_serializable(package="bench")
        class Patches(keras.layers.Layer):
            def call(self, x):
                return ops.image.extract_patches(x, 2)
        """)
        + _FUNCTIONAL.format(shape="(8, 8, 3)", body="Patches()(inputs)"),
        (2, 8, 8, 3),
    ),
    "fft2_mixer": (
        _HEAD
        + textwrap.dedent("""\
        @keras.saving.register_keras_serializable(package="bench")
        class FNet(keras.layers.Layer):
            def call(self, x):
                real, _ = ops.fft2((x, ops.zeros_like(x)))
                return real
        """)
        + _FUNCTIONAL.format(shape="(8, 8)", body="FNet()(inputs)"),
        (2, 8, 8),
    ),
    "eager_only_branch": (
        _HEAD
        + textwrap.dedent("""\
        @keras.saving.register_keras_serializable(package="bench")
        class Norm(keras.Model):
            def call(self, x):
                if tf.executing_eagerly():
                    return x / float(ops.max(x))
                return x / ops.max(x)


        def build():
            return Norm()
        """),
        (2, 4),
    ),
    "python_float_of_tensor": (
        _HEAD
        + textwrap.dedent("""\
        @keras.saving.register_keras_serializable(package="bench")
        class Norm(keras.Model):
            def call(self, x):
                return x / float(ops.max(x))


        def build():
            return Norm()
        """),
        (2, 4),
    ),
    "static_rank_and_width": (
        _HEAD
        + textwrap.dedent("""\
        @keras.saving.register_keras_serializable(package="bench")
        class Proj(keras.layers.Layer):
            def build(self, input_shape):
                self.w = self.add_weight(shape=(int(input_shape[-1]), 4))

            def call(self, x):
                rank = len(x.shape)
                return ops.matmul(x, self.w) * float(rank)
        """)
        + _FUNCTIONAL.format(shape="(4,)", body="Proj()(inputs)"),
        (2, 4),
    ),
    "numpy_in_call": (
        _HEAD
        + "import numpy as np\n\n\n"
        + textwrap.dedent("""\
        @keras.saving.register_keras_serializable(package="bench")
        class Clip(keras.Model):
            def call(self, x):
                return ops.convert_to_tensor(np.clip(x, 0.0, 1.0))


        def build():
            return Clip()
        """),
        (2, 4),
    ),
}

EXPORT = r"""
import json, os, sys, importlib
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
SRC, OUT, SPEC = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
sys.path.insert(0, SRC)
import numpy as np
import tensorflow as tf
import keras

R = {}
for name, (kind, ctor, shape) in SPEC.items():
    r = R[name] = {}
    try:
        model = eval("keras.applications." + ctor) if kind == "app" else importlib.import_module(name).build()
        x = np.random.RandomState(0).rand(*shape).astype("float32")
        model(x)
    except Exception as exc:
        r["build"] = f"{type(exc).__name__}: {str(exc)[:300]}"
        continue
    sm = os.path.join(OUT, name + "_sm")
    try:
        model.export(sm, verbose=False)
        r["export"] = "ok"
    except Exception as exc:
        r["export"] = f"{type(exc).__name__}: {str(exc)[:300]}"
    try:
        model.save(os.path.join(OUT, name + ".keras"))
        r["save"] = "ok"
    except Exception as exc:
        r["save"] = f"{type(exc).__name__}: {str(exc)[:300]}"
    try:
        conv = (tf.lite.TFLiteConverter.from_saved_model(sm) if r["export"] == "ok"
                else tf.lite.TFLiteConverter.from_keras_model(model))
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        conv.convert()
        r["tflite"] = "ok"
    except Exception as exc:
        r["tflite"] = f"{type(exc).__name__}: {str(exc)[:300]}"
    np.save(os.path.join(OUT, name + "_x.npy"), x)
print("RESULT" + json.dumps(R))
"""

LOAD = r"""
import json, os, sys, importlib
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
SRC, OUT, NAMES = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
sys.path.insert(0, SRC)
import numpy as np
import tensorflow as tf
import keras

R = {}
for name in NAMES:
    r = R[name] = {}
    try:
        importlib.import_module(name)  # serving code imports the defining module
    except Exception:
        pass
    x = os.path.join(OUT, name + "_x.npy")
    if os.path.isdir(os.path.join(OUT, name + "_sm")):
        try:
            loaded = tf.saved_model.load(os.path.join(OUT, name + "_sm"))  # keep it: serve needs its variables
            loaded.serve(np.load(x))
            r["savedmodel"] = "ok"
        except Exception as exc:
            r["savedmodel"] = f"{type(exc).__name__}: {str(exc)[:300]}"
    if os.path.isfile(os.path.join(OUT, name + ".keras")):
        try:
            keras.saving.load_model(os.path.join(OUT, name + ".keras"))(np.load(x))
            r["keras-file"] = "ok"
        except Exception as exc:
            r["keras-file"] = f"{type(exc).__name__}: {str(exc)[:300]}"
print("RESULT" + json.dumps(R))
"""


def _run(script: str, *args: str) -> Dict[str, Dict[str, str]]:
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, env=env, timeout=3600)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT")]
    if not lines:
        raise SystemExit(f"export subprocess failed:\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT") :])  # type: ignore[no-any-return]


def real_outcomes(src: Path, spec: Dict[str, Tuple[str, str, Tuple[int, ...]]]) -> Dict[str, Dict[str, bool]]:
    """model -> target -> True when the real export of the model works on that target."""
    with tempfile.TemporaryDirectory(prefix="keras-agreement-") as out:
        built = _run(EXPORT, str(src), out, json.dumps(spec))
        loaded = _run(LOAD, str(src), out, json.dumps(sorted(built)))
    outcomes: Dict[str, Dict[str, bool]] = {}
    for name, r in built.items():
        if "build" in r:
            print(f"  {name}: does not build ({r['build']}), left out", flush=True)
            continue
        back = loaded.get(name, {})
        outcomes[name] = {
            "savedmodel": r["export"] == "ok" and back.get("savedmodel") == "ok",
            "keras-file": r["save"] == "ok" and back.get("keras-file") == "ok",
            "tflite": r["tflite"] == "ok",
        }
        outcomes[name]["_detail"] = {**r, **{f"load-{k}": v for k, v in back.items()}}  # type: ignore[assignment]
    return outcomes


def predictions(files: Dict[str, Path]) -> Dict[str, Dict[str, List[str]]]:
    """model -> target -> codes mllint reports with effect ``fails`` on that target."""
    out: Dict[str, Dict[str, List[str]]] = {}
    for name, path in files.items():
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "mllint",
                "check",
                str(path),
                "--format",
                "json",
                "--exit-zero",
                "--select",
                "TF",
                "--target",
                ",".join(TARGETS),
            ],
            capture_output=True,
            text=True,
            cwd=str(path.parent),
        )
        if proc.returncode not in (0, 3):
            raise SystemExit(f"mllint failed on {path}: {proc.stderr[-2000:]}")
        report = json.loads(proc.stdout)
        per: Dict[str, List[str]] = {t: [] for t in TARGETS}
        for f in report["findings"]:
            if f.get("suppressed"):
                continue
            for t in TARGETS:
                if t in f["targets"] and f.get("effects", {}).get(t) == "fails":
                    per[t].append(f"{f['code']}@{f['line']}")
        out[name] = per
    return out


def keras_sources() -> Path:
    spec = importlib.util.find_spec("keras")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("keras is not installed")
    return Path(list(spec.submodule_search_locations)[0]) / "src" / "applications"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, help="read the real outcomes from this JSON if it exists, else write it")
    parser.add_argument("--only", choices=("applications", "replicas"))
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="keras-agreement-src-") as tmp:
        src = Path(tmp)
        spec: Dict[str, Tuple[str, str, Tuple[int, ...]]] = {}
        files: Dict[str, Path] = {}
        if args.only != "replicas":
            apps = keras_sources()
            for name, ctor, module in APPLICATIONS:
                spec[name] = ("app", ctor, (2, 32, 32, 3))
                files[name] = apps / module
        if args.only != "applications":
            for name, (code, shape) in REPLICAS.items():
                (src / f"{name}.py").write_text(code, encoding="utf-8")
                spec[name] = ("replica", "", shape)
                files[name] = src / f"{name}.py"
        cached: Dict[str, Dict[str, bool]] = {}
        if args.cache and args.cache.is_file():
            cached = json.loads(args.cache.read_text(encoding="utf-8"))
        missing = {k: v for k, v in spec.items() if k not in cached}
        if missing:
            print(f"exporting {len(missing)} models (savedmodel, keras-file, tflite) ...", flush=True)
            cached.update(real_outcomes(src, missing))
            if args.cache:
                args.cache.write_text(json.dumps(cached, indent=1, sort_keys=True), encoding="utf-8")
        real = {k: v for k, v in cached.items() if k in spec}
        predicted = predictions({k: v for k, v in files.items() if k in real})
    print(
        f"\n{len(real)} models ({sum(1 for s in spec.values() if s[0] == 'app' and True)} keras.applications "
        f"requested, {sum(1 for s in spec.values() if s[0] == 'replica')} replicas)\n"
    )
    print(f"{'target':<12} {'precision':>9} {'recall':>7} {'tp':>4} {'fp':>4} {'fn':>4} {'tn':>4}")
    for t in TARGETS:
        tp = fp = fn = tn = 0
        for name, outcome in real.items():
            fails, said = not outcome[t], bool(predicted[name][t])
            tp += fails and said
            fp += said and not fails
            fn += fails and not said
            tn += not fails and not said
            if args.verbose and (fails != said):
                kind = "missed" if fails else "false alarm"
                detail = {k: v for k, v in outcome["_detail"].items() if v != "ok"}  # type: ignore[union-attr]
                print(f"  {t}: {kind}: {name} {predicted[name][t]} {detail}")
        precision = tp / (tp + fp) if tp + fp else float("nan")
        recall = tp / (tp + fn) if tp + fn else float("nan")
        print(f"{t:<12} {precision:>9.2f} {recall:>7.2f} {tp:>4} {fp:>4} {fn:>4} {tn:>4}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
