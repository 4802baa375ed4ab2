"""Agreement of mllint's TensorFlow / Keras verdicts with real exports of models from pip packages.

    /work/keras-venv/bin/python benchmarks/keras_packages.py            # export what the cache lacks, lint, figures
    /work/keras-venv/bin/python benchmarks/keras_packages.py --verbose  # also each disagreement
    /work/keras-venv/bin/python benchmarks/keras_packages.py --refresh  # export everything again
    /work/keras-venv/bin/python benchmarks/keras_packages.py --src /other/checkout/src  # another mllint

The sibling of ``keras_agreement.py`` (whose replicas were written here): every model below comes from a
package nobody here wrote, built at a tiny size with random weights (``weights=None`` / ``pretrained=None``,
nothing downloaded). Packages (pins in ``keras_requirements.txt``, installed next to TensorFlow 2.21 without
changing it): ``keras.applications`` (Keras 3.15), ``keras_hub``, ``tcn`` (keras-tcn) and, as Keras 2 code
under ``tf_keras`` (``TF_USE_LEGACY_KERAS=1``), ``keras_cv_attention_models``.

Each model is built and exported in a process of its own: ``savedmodel`` = ``model.export`` then
``tf.saved_model.load`` + ``serve`` in a fresh process, ``keras-file`` = ``model.save("m.keras")`` then
``load_model`` + a call in a fresh process, ``tflite`` = ``TFLiteConverter.from_saved_model`` on the export
(``from_keras_model`` when the export failed) with TFLITE_BUILTINS only. The export process also records
which package sources the model uses: the files that define the classes of every layer in it (and their
bases) and the function that built it, inside the model's package. Those files are copied into a scratch
project (the whole package, so imports resolve; only the model's files are named to mllint) and checked.

Ground truth is cached as data in ``keras_packages_truth.json``: one entry per model, keyed by the factory
text and the package versions, so a re-run only lints. A model is *predicted* to fail on a target when
mllint reports an unsuppressed finding with effect ``fails`` on that target in one of its files.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, NamedTuple

TARGETS = ("savedmodel", "keras-file", "tflite")
HERE = Path(__file__).resolve().parent
TRUTH = HERE / "keras_packages_truth.json"
SRC = HERE.parent / "src"

#: distribution name of each importable package (for the cache key)
DISTRIBUTIONS = {
    "keras": "keras",
    "keras_hub": "keras-hub",
    "tcn": "keras-tcn",
    "keras_cv_attention_models": "keras-cv-attention-models",
}


class Model(NamedTuple):
    """One benchmark model: the package it comes from, how it is built and called."""

    name: str
    package: str  # importable package; the model's sources are taken inside it
    ctor: str  # expression evaluated after ``import <package>``; builds the model
    inputs: str  # expression evaluated with ``np`` in scope; the model's call input
    legacy: bool = False  # Keras 2 code: run under tf_keras (TF_USE_LEGACY_KERAS=1)
    prefix: str = ""  # module prefix of the model's own sources (default: the package)


_IMG = 'np.random.RandomState(0).rand(2, 32, 32, 3).astype("float32")'
_IMG64 = 'np.random.RandomState(0).rand(2, 64, 64, 3).astype("float32")'
_TOK = '{"token_ids": np.ones((2, 8), "int32"), "padding_mask": np.ones((2, 8), "int32")}'
_TOK_SEG = '{"token_ids": np.ones((2, 8), "int32"), "segment_ids": np.zeros((2, 8), "int32"), "padding_mask": np.ones((2, 8), "int32")}'
_SEQ2SEQ = (
    '{"encoder_token_ids": np.ones((2, 8), "int32"), "encoder_padding_mask": np.ones((2, 8), "int32"), '
    '"decoder_token_ids": np.ones((2, 8), "int32"), "decoder_padding_mask": np.ones((2, 8), "int32")}'
)
_APP = "keras.src.applications"
_LM = "vocabulary_size=64, num_layers=2, hidden_dim=16, intermediate_dim=32"

MODELS: List[Model] = [
    # keras.applications (Keras 3.15), built by functions in keras/src/applications
    *(
        Model(name, "keras", f"keras.applications.{ctor}", _IMG, prefix=_APP)
        for name, ctor in [
            ("app_MobileNet", "MobileNet(alpha=0.25, weights=None, input_shape=(32, 32, 3), classes=10)"),
            ("app_MobileNetV2", "MobileNetV2(alpha=0.35, weights=None, input_shape=(32, 32, 3), classes=10)"),
            ("app_MobileNetV3Small", "MobileNetV3Small(weights=None, input_shape=(32, 32, 3), classes=10)"),
            ("app_MobileNetV3Large", "MobileNetV3Large(alpha=0.75, weights=None, input_shape=(32, 32, 3), classes=10)"),
            ("app_EfficientNetB0", "EfficientNetB0(weights=None, input_shape=(32, 32, 3), classes=10)"),
            ("app_EfficientNetV2B0", "EfficientNetV2B0(weights=None, input_shape=(32, 32, 3), classes=10)"),
            ("app_ResNet50", "ResNet50(weights=None, input_shape=(32, 32, 3), classes=10)"),
            ("app_ResNet50V2", "ResNet50V2(weights=None, input_shape=(32, 32, 3), classes=10)"),
            ("app_DenseNet121", "DenseNet121(weights=None, input_shape=(32, 32, 3), classes=10)"),
            ("app_ConvNeXtTiny", "ConvNeXtTiny(weights=None, input_shape=(32, 32, 3), classes=10)"),
            ("app_VGG16", "VGG16(weights=None, input_shape=(32, 32, 3), classes=10)"),
            ("app_VGG19", "VGG19(weights=None, input_shape=(32, 32, 3), classes=10)"),
            ("app_NASNetMobile", "NASNetMobile(weights=None, input_shape=(32, 32, 3), classes=10)"),
        ]
    ),
    Model(
        "app_Xception",
        "keras",
        "keras.applications.Xception(weights=None, input_shape=(71, 71, 3), classes=10)",
        'np.random.RandomState(0).rand(2, 71, 71, 3).astype("float32")',
        prefix=_APP,
    ),
    Model(
        "app_InceptionV3",
        "keras",
        "keras.applications.InceptionV3(weights=None, input_shape=(75, 75, 3), classes=10)",
        'np.random.RandomState(0).rand(2, 75, 75, 3).astype("float32")',
        prefix=_APP,
    ),
    # keras_hub backbones: functional models over the library's own layers
    Model(
        "hub_Bert", "keras_hub", f"keras_hub.models.BertBackbone({_LM}, num_heads=2, max_sequence_length=16)", _TOK_SEG
    ),
    Model(
        "hub_DistilBert",
        "keras_hub",
        f"keras_hub.models.DistilBertBackbone({_LM}, num_heads=2, max_sequence_length=16)",
        _TOK,
    ),
    Model(
        "hub_Roberta",
        "keras_hub",
        f"keras_hub.models.RobertaBackbone({_LM}, num_heads=2, max_sequence_length=16)",
        _TOK,
    ),
    Model(
        "hub_Albert",
        "keras_hub",
        "keras_hub.models.AlbertBackbone(vocabulary_size=64, num_layers=2, num_heads=2, embedding_dim=8, hidden_dim=16, "
        "intermediate_dim=32, max_sequence_length=16)",
        _TOK_SEG,
    ),
    Model(
        "hub_Electra",
        "keras_hub",
        "keras_hub.models.ElectraBackbone(vocab_size=64, num_layers=2, num_heads=2, hidden_dim=16, embedding_dim=16, "
        "intermediate_dim=32, max_sequence_length=16)",
        _TOK_SEG,
    ),
    Model(
        "hub_DebertaV3",
        "keras_hub",
        f"keras_hub.models.DebertaV3Backbone({_LM}, num_heads=2, max_sequence_length=16)",
        _TOK,
    ),
    Model(
        "hub_FNet",
        "keras_hub",
        f"keras_hub.models.FNetBackbone({_LM}, max_sequence_length=16)",
        '{"token_ids": np.ones((2, 8), "int32"), "segment_ids": np.zeros((2, 8), "int32")}',
    ),
    Model("hub_GPT2", "keras_hub", f"keras_hub.models.GPT2Backbone({_LM}, num_heads=2, max_sequence_length=16)", _TOK),
    Model("hub_OPT", "keras_hub", f"keras_hub.models.OPTBackbone({_LM}, num_heads=2, max_sequence_length=16)", _TOK),
    Model(
        "hub_GPTNeoX",
        "keras_hub",
        f"keras_hub.models.GPTNeoXBackbone({_LM}, num_heads=2, max_sequence_length=16)",
        _TOK,
    ),
    Model("hub_Bloom", "keras_hub", f"keras_hub.models.BloomBackbone({_LM}, num_heads=2)", _TOK),
    Model(
        "hub_Llama",
        "keras_hub",
        f"keras_hub.models.LlamaBackbone({_LM}, num_query_heads=2, num_key_value_heads=1)",
        _TOK,
    ),
    Model(
        "hub_Mistral",
        "keras_hub",
        f"keras_hub.models.MistralBackbone({_LM}, num_query_heads=2, num_key_value_heads=1)",
        _TOK,
    ),
    Model(
        "hub_Gemma",
        "keras_hub",
        f"keras_hub.models.GemmaBackbone({_LM}, num_query_heads=2, num_key_value_heads=1, head_dim=8)",
        _TOK,
    ),
    Model(
        "hub_Qwen", "keras_hub", f"keras_hub.models.QwenBackbone({_LM}, num_query_heads=2, num_key_value_heads=1)", _TOK
    ),
    Model(
        "hub_Phi3", "keras_hub", f"keras_hub.models.Phi3Backbone({_LM}, num_query_heads=2, num_key_value_heads=1)", _TOK
    ),
    Model("hub_Falcon", "keras_hub", f"keras_hub.models.FalconBackbone({_LM}, num_attention_heads=2)", _TOK),
    Model(
        "hub_Bart", "keras_hub", f"keras_hub.models.BartBackbone({_LM}, num_heads=2, max_sequence_length=16)", _SEQ2SEQ
    ),
    Model(
        "hub_ViT",
        "keras_hub",
        "keras_hub.models.ViTBackbone(image_shape=(32, 32, 3), patch_size=8, num_layers=2, num_heads=2, hidden_dim=16, "
        "mlp_dim=32)",
        _IMG,
    ),
    Model(
        "hub_ResNet",
        "keras_hub",
        "keras_hub.models.ResNetBackbone(input_conv_filters=[64], input_conv_kernel_sizes=[3], "
        "stackwise_num_filters=[64, 64], stackwise_num_blocks=[1, 1], stackwise_num_strides=[1, 2], "
        "block_type='basic_block', image_shape=(32, 32, 3))",
        _IMG,
    ),
    Model(
        "hub_VGG",
        "keras_hub",
        "keras_hub.models.VGGBackbone(stackwise_num_repeats=[1, 1], stackwise_num_filters=[8, 16], "
        "image_shape=(32, 32, 3))",
        _IMG,
    ),
    Model(
        "hub_DenseNet",
        "keras_hub",
        "keras_hub.models.DenseNetBackbone(stackwise_num_repeats=[1, 1], image_shape=(32, 32, 3))",
        _IMG,
    ),
    # keras-tcn: a temporal convolution layer over a dynamic sequence length
    Model(
        "tcn_TCN",
        "tcn",
        "keras.Sequential([keras.Input((None, 3)), tcn.TCN(nb_filters=4, kernel_size=2, dilations=(1, 2))])",
        'np.random.RandomState(0).rand(2, 12, 3).astype("float32")',
    ),
    Model(
        "tcn_TCN_seq",
        "tcn",
        "keras.Sequential([keras.Input((None, 3)), tcn.TCN(nb_filters=4, kernel_size=2, dilations=(1, 2, 4), "
        "return_sequences=True, use_skip_connections=False)])",
        'np.random.RandomState(0).rand(2, 12, 3).astype("float32")',
    ),
    Model(
        "tcn_TCN_norm",
        "tcn",
        "keras.Sequential([keras.Input((16, 3)), tcn.TCN(nb_filters=4, kernel_size=3, dilations=(1, 2), "
        "use_layer_norm=True)])",
        'np.random.RandomState(0).rand(2, 16, 3).astype("float32")',
    ),
]

#: Keras 2 (tf_keras) model zoo: keras_cv_attention_models, whose models need tf_keras under TF 2.21
KECAM = [
    ("mobilevit", "MobileViT_XXS"),
    ("efficientvit", "EfficientViT_M0"),
    ("ghostnet", "GhostNet"),
    ("fasternet", "FasterNetT0"),
    ("repvit", "RepViT_M09"),
    ("edgenext", "EdgeNeXt_XX_Small"),
    ("levit", "LeViT128"),
    ("tinyvit", "TinyViT_5M"),
    ("efficientformer", "EfficientFormerL1"),
    ("mobilevit", "MobileViT_V2_050"),
    ("pvt", "PVT_V2B0"),
    ("fastvit", "FastViT_T8"),
    ("mobilenetv3_family", "MobileNetV3Small050"),
    ("cmt", "CMTTiny"),
]
MODELS += [
    Model(
        f"kecam_{fn}",
        "keras_cv_attention_models",
        f"keras_cv_attention_models.{mod}.{fn}(input_shape=(64, 64, 3), num_classes=10, pretrained=None)",
        _IMG64,
        legacy=True,
    )
    for mod, fn in KECAM
]

EXPORT = r"""
import inspect, json, os, pickle, sys, importlib
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
OUT, SPEC = sys.argv[1], json.loads(sys.argv[2])
import numpy as np
import tensorflow as tf
if SPEC["legacy"]:
    import tf_keras as keras
else:
    import keras
pkg = importlib.import_module(SPEC["package"])
globals()[SPEC["package"]] = pkg
R = {}
try:
    model = eval(SPEC["ctor"])
    x = eval(SPEC["inputs"])
    model(x)
except Exception as exc:
    print("RESULT" + json.dumps({"build": f"{type(exc).__name__}: {str(exc)[:300]}"}))
    raise SystemExit(0)
prefix = SPEC["prefix"] or SPEC["package"]
files = set()
def _note(obj):
    mod = getattr(obj, "__module__", "") or ""
    if mod == prefix or mod.startswith(prefix + "."):
        try:
            files.add(inspect.getsourcefile(obj))
        except TypeError:
            pass
for layer in model._flatten_layers(include_self=True, recursive=True):
    for cls in type(layer).__mro__:
        _note(cls)
head = SPEC["ctor"].split("(")[0]
try:
    _note(eval(head))
except Exception:
    pass
root = os.path.dirname(os.path.dirname(pkg.__file__))
R["sources"] = sorted(os.path.relpath(f, root) for f in files if f)
sm = os.path.join(OUT, "sm")
try:
    model.export(sm, verbose=False) if not SPEC["legacy"] else model.export(sm)
    R["export"] = "ok"
except Exception as exc:
    R["export"] = f"{type(exc).__name__}: {str(exc)[:300]}"
try:
    model.save(os.path.join(OUT, "m.keras"))
    R["save"] = "ok"
except Exception as exc:
    R["save"] = f"{type(exc).__name__}: {str(exc)[:300]}"
try:
    conv = (tf.lite.TFLiteConverter.from_saved_model(sm) if R["export"] == "ok"
            else tf.lite.TFLiteConverter.from_keras_model(model))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    conv.convert()
    R["tflite"] = "ok"
except Exception as exc:
    R["tflite"] = f"{type(exc).__name__}: {str(exc)[:300]}"
with open(os.path.join(OUT, "x.pkl"), "wb") as fh:
    pickle.dump(x, fh)
print("RESULT" + json.dumps(R))
"""

LOAD = r"""
import json, os, pickle, sys, importlib
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
OUT, SPEC = sys.argv[1], json.loads(sys.argv[2])
import numpy as np
import tensorflow as tf
if SPEC["legacy"]:
    import tf_keras as keras
else:
    import keras
importlib.import_module(SPEC["package"])  # serving code imports the library that defines the model
with open(os.path.join(OUT, "x.pkl"), "rb") as fh:
    x = pickle.load(fh)
R = {}
if os.path.isdir(os.path.join(OUT, "sm")):
    try:
        loaded = tf.saved_model.load(os.path.join(OUT, "sm"))  # keep it: serve needs its variables
        loaded.serve(x)
        R["savedmodel"] = "ok"
    except Exception as exc:
        R["savedmodel"] = f"{type(exc).__name__}: {str(exc)[:300]}"
if os.path.isfile(os.path.join(OUT, "m.keras")):
    try:
        keras.saving.load_model(os.path.join(OUT, "m.keras"))(x)
        R["keras-file"] = "ok"
    except Exception as exc:
        R["keras-file"] = f"{type(exc).__name__}: {str(exc)[:300]}"
print("RESULT" + json.dumps(R))
"""


def _run(script: str, model: Model, out: str) -> Dict[str, object]:
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "PYTHONDONTWRITEBYTECODE": "1"}
    if model.legacy:
        env["TF_USE_LEGACY_KERAS"] = "1"
    spec = json.dumps(model._asdict())
    try:
        proc = subprocess.run(
            [sys.executable, "-c", script, out, spec], capture_output=True, text=True, env=env, timeout=1200
        )
    except subprocess.TimeoutExpired:
        return {"crash": "timeout"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT")]
    if not lines:
        return {"crash": f"rc={proc.returncode}: {proc.stderr[-300:]}"}
    return json.loads(lines[-1][len("RESULT") :])  # type: ignore[no-any-return]


def _versions(model: Model) -> Dict[str, str]:
    names = ["tensorflow-cpu", "keras"] + (["tf-keras"] if model.legacy else [])
    names.append(DISTRIBUTIONS[model.package])
    return {n: importlib.metadata.version(n) for n in dict.fromkeys(names)}


def truth_key(model: Model) -> str:
    """What the cached outcome depends on: the factory text and the installed versions."""
    text = json.dumps([model._asdict(), _versions(model)], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def real_outcome(model: Model) -> Dict[str, object]:
    """Build, export, reload in a fresh process; the outcome per target and the model's source files."""
    with tempfile.TemporaryDirectory(prefix="keras-packages-") as out:
        built = _run(EXPORT, model, out)
        if "build" in built or "crash" in built:
            return {"key": truth_key(model), "left_out": built.get("build") or built.get("crash")}
        back = _run(LOAD, model, out)
    ok = {
        "savedmodel": built["export"] == "ok" and back.get("savedmodel") == "ok",
        "keras-file": built["save"] == "ok" and back.get("keras-file") == "ok",
        "tflite": built["tflite"] == "ok",
    }
    detail = {
        k: v for k, v in {**built, **{f"load-{k}": v for k, v in back.items()}}.items() if k != "sources" and v != "ok"
    }
    return {"key": truth_key(model), "works": ok, "sources": built["sources"], "detail": detail}


def _site(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"{package} is not installed (see benchmarks/keras_requirements.txt)")
    return Path(list(spec.submodule_search_locations)[0]).parent


def predictions(entry: Dict[str, object], model: Model, scratch: Path, src: Path = SRC) -> Dict[str, List[str]]:
    """Codes mllint reports with effect ``fails`` per target, on the model's files in a scratch copy of its package."""
    root = scratch / model.package
    if not (root / model.package).is_dir():
        shutil.copytree(
            _site(model.package) / model.package,
            root / model.package,
            ignore=shutil.ignore_patterns("__pycache__", "*.so", "tests", "*_test.py"),
        )
    files = [str(root / s) for s in entry["sources"]]  # type: ignore[union-attr]
    per: Dict[str, List[str]] = {t: [] for t in TARGETS}
    if not files:
        return per
    env = {**os.environ, "PYTHONPATH": str(src)}
    proc = subprocess.run(
        [
            sys.executable,
            "-P",
            "-m",
            "mllint",
            "check",
            *files,
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
        cwd=str(root),
        env=env,
    )
    if proc.returncode not in (0, 3):
        raise SystemExit(f"mllint failed on {model.name}: {proc.stderr[-2000:]}")
    for f in json.loads(proc.stdout)["findings"]:
        if f.get("suppressed"):
            continue
        for t in TARGETS:
            if t in f["targets"] and f.get("effects", {}).get(t) == "fails":
                per[t].append(f"{f['code']}@{Path(f['path']).name}:{f['line']}")
    return per


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--refresh", action="store_true", help="export every model again")
    parser.add_argument("--only", help="comma-separated model names or package names")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--src", type=Path, default=SRC, help="mllint sources to measure (default: this checkout's)")
    args = parser.parse_args()
    order = {"keras_hub": 0, "tcn": 1, "keras_cv_attention_models": 2, "keras": 3}  # the slowest exports last
    models = sorted(MODELS, key=lambda m: order[m.package])
    if args.only:
        wanted = set(args.only.split(","))
        models = [m for m in models if m.name in wanted or m.package in wanted]
    truth: Dict[str, Dict[str, object]] = json.loads(TRUTH.read_text()) if TRUTH.is_file() else {}
    truth = {k: v for k, v in truth.items() if k in {m.name for m in MODELS}}  # models no longer listed go
    for model in models:
        cached = truth.get(model.name)
        if args.refresh or cached is None or cached.get("key") != truth_key(model):
            print(f"exporting {model.name} ...", flush=True)
            truth[model.name] = real_outcome(model)
            TRUTH.write_text(
                "{\n"
                + ",\n".join(f" {json.dumps(k)}: {json.dumps(truth[k], sort_keys=True)}" for k in sorted(truth))
                + "\n}\n"
            )
    real = {m.name: truth[m.name] for m in models if "works" in truth[m.name]}
    left_out = [m.name for m in models if "works" not in truth[m.name]]
    with tempfile.TemporaryDirectory(prefix="keras-packages-src-") as tmp:
        predicted = {m.name: predictions(truth[m.name], m, Path(tmp), args.src) for m in models if m.name in real}
    packages = sorted({m.package for m in models if m.name in real})
    print(
        f"\n{len(real)} models from {len(packages)} packages ({', '.join(packages)})"
        + (f"; left out (do not build here): {', '.join(left_out)}" if left_out else "")
    )
    print(f"{'target':<12} {'precision':>9} {'recall':>7} {'tp':>4} {'fp':>4} {'fn':>4} {'tn':>4}")
    for t in TARGETS:
        tp = fp = fn = tn = 0
        notes: List[str] = []
        for name, entry in real.items():
            fails = not entry["works"][t]  # type: ignore[index]
            said = bool(predicted[name][t])
            tp += fails and said
            fp += said and not fails
            fn += fails and not said
            tn += not fails and not said
            if args.verbose and fails != said:
                kind = "missed" if fails else "false alarm"
                notes.append(f"  {t}: {kind}: {name} {predicted[name][t][:6]} {entry['detail']}")
        precision = tp / (tp + fp) if tp + fp else float("nan")
        recall = tp / (tp + fn) if tp + fn else float("nan")
        print(f"{t:<12} {precision:>9.2f} {recall:>7.2f} {tp:>4} {fp:>4} {fn:>4} {tn:>4}")
        for line in notes:
            print(line[:600])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
