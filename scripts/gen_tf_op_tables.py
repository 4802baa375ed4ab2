#!/usr/bin/env python
"""Generate ``rules/data/tf_ops.json``: which TensorFlow ops TFLite and TF.js can take.

Run with the project's dev environment (TensorFlow and Keras installed)::

    python scripts/gen_tf_op_tables.py [--tfjs-wheel PATH] [--out rules/data/tf_ops.json]

What it measures, from the installed packages only:

* **Names.** ``keras.ops`` and its ``image`` / ``linalg`` / ``nn`` namespaces are lowered the same way as
  ``tf.*`` (Keras on the TensorFlow backend, so each function's real TF ops are traced and converted,
  never matched by name); functions that need a structured argument (the FFTs' ``(real, imag)`` pairs,
  ``extract_patches``' sizes) have hand-written probes.
* **TFLite.** TensorFlow does not ship the Flex allowlist as data (it is compiled into the converter),
  so the script *measures* it. Every public function of ``tf``, ``tf.math``, ``tf.linalg``,
  ``tf.signal``, ``tf.image``, ``tf.nn``, ``tf.strings``, ``tf.io.decode_*`` and ``keras.ops`` (Keras on
  the TensorFlow backend) is traced in a ``tf.function`` with the first argument pattern of each dtype family that traces
  (a float 4x4 matrix, two of them, a float vector, an image, an int vector, a string vector, ...),
  plus a few hand-written probes for functions that need a callable or a complex input. The traced
  probes are converted with ``tf.lite.TFLiteConverter`` and ``supported_ops=[TFLITE_BUILTINS]``, in
  chunks, each probe under its own name scope; the converter's structured errors
  (``ConverterError.errors``) name the failing node and say ``ERROR_NEEDS_FLEX_OPS`` or
  ``ERROR_NEEDS_CUSTOM_OPS``. Probes that failed are removed and the chunk re-converted until it
  converts: every op left in it is proven *builtin*. Each failed probe is then converted alone with
  ``[TFLITE_BUILTINS, SELECT_TF_OPS]``: ``flex`` when that works, ``unsupported`` when the same ops
  are rejected again. Op-level ``flex`` / ``unsupported`` need a probe holding only that op; an op
  seen both failing and converting (dtype- or attribute-dependent) is ``conditional``, one that
  failed only inside multi-op probes is ``context``. A function is probed once per dtype family
  (float, int, string, bool) it accepts; its verdict is ``flex`` / ``unsupported`` only when no
  variant converts.
* **TF.js.** ``tensorflowjs`` is not installed; its wheel is downloaded (``pip download --no-deps``)
  and the converter's ``op_list/*.json`` is read from the zip. The converter rejects a frozen graph
  holding any op type not in those lists (``validate()`` in ``tf_saved_model_conversion_v2.py``).
* **Python names.** Each probed public name maps to the op types its trace created (placeholders,
  constants, identities and call ops left out), with the probe's own TFLite outcome and TF.js
  verdict.

The output is sorted and carries the tensorflow / keras / tensorflowjs versions; it takes a few
minutes (mostly tracing).
"""

from __future__ import annotations

import argparse
import glob
import inspect
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Set, Tuple

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["KERAS_BACKEND"] = "tensorflow"

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "rules" / "data" / "tf_ops.json"

#: Op types that say nothing about convertibility (inputs, constants, plumbing).
PLUMBING = frozenset({"Placeholder", "Const", "Identity", "IdentityN", "NoOp", "PartitionedCall",
                      "StatefulPartitionedCall", "_Arg", "_Retval"})
#: Python modules probed, as (public prefix, attribute path from ``tensorflow`` or ``keras``).
MODULES = [
    ("tensorflow", "tf", ""),
    ("tensorflow.math", "tf", "math"),
    ("tensorflow.linalg", "tf", "linalg"),
    ("tensorflow.signal", "tf", "signal"),
    ("tensorflow.image", "tf", "image"),
    ("tensorflow.nn", "tf", "nn"),
    ("tensorflow.strings", "tf", "strings"),
    ("tensorflow.io", "tf", "io"),
    ("keras.ops", "keras", "ops"),
    ("keras.ops.image", "keras", "ops.image"),
    ("keras.ops.linalg", "keras", "ops.linalg"),
    ("keras.ops.nn", "keras", "ops.nn"),
]
#: Functions never called by the generic prober (side effects, callables, Python-only helpers).
SKIP = frozenset({
    "tensorflow.function", "tensorflow.py_function", "tensorflow.numpy_function", "tensorflow.print",
    "tensorflow.map_fn", "tensorflow.vectorized_map", "tensorflow.while_loop", "tensorflow.cond",
    "tensorflow.case", "tensorflow.switch_case", "tensorflow.scan", "tensorflow.foldl", "tensorflow.foldr",
    "tensorflow.custom_gradient", "tensorflow.recompute_grad", "tensorflow.autograph", "tensorflow.init_scope",
    "tensorflow.device", "tensorflow.name_scope", "tensorflow.control_dependencies", "tensorflow.executing_eagerly",
    "tensorflow.ensure_shape", "tensorflow.no_gradient", "tensorflow.get_logger", "tensorflow.get_static_value",
    "tensorflow.gradients", "tensorflow.hessians", "tensorflow.group", "tensorflow.tuple",
    "tensorflow.register_tensor_conversion_function", "tensorflow.make_tensor_proto", "tensorflow.make_ndarray",
    "tensorflow.load_op_library", "tensorflow.load_library",
})
#: Dtypes TFLite cannot take as a function output.
BAD_OUTPUT = ("resource", "variant")


def versions() -> Dict[str, str]:
    import keras
    import tensorflow as tf
    return {"keras": keras.__version__, "tensorflow": tf.__version__}


# -- TF.js -----------------------------------------------------------------------------------
def tfjs_ops(wheel: Optional[str]) -> Tuple[Optional[str], Optional[List[str]], str]:
    """(version, supported op types, note) from a tensorflowjs wheel (downloaded unless given)."""
    if wheel is None:
        tmp = tempfile.mkdtemp(prefix="tfjs-wheel-")
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
               "-q", "-d", tmp, "tensorflowjs"]
        try:
            subprocess.run(cmd, check=True, timeout=300, capture_output=True)
        except (subprocess.SubprocessError, OSError) as exc:
            return None, None, f"tensorflowjs wheel unavailable ({exc}); TF.js table skipped"
        wheels = sorted(glob.glob(os.path.join(tmp, "tensorflowjs-*.whl")))
        if not wheels:
            return None, None, "pip download gave no tensorflowjs wheel; TF.js table skipped"
        wheel = wheels[-1]
    version = os.path.basename(wheel).split("-")[1]
    names: Set[str] = set()
    with zipfile.ZipFile(wheel) as z:
        for name in z.namelist():
            if name.startswith("tensorflowjs/op_list/") and name.endswith(".json"):
                names.update(op["tfOpName"] for op in json.loads(z.read(name)))
    return version, sorted(names), "tensorflowjs/op_list/*.json from the wheel (not installed)"


# -- probing ---------------------------------------------------------------------------------
def _specs(tf: Any) -> Dict[str, Any]:
    return {
        "f": tf.TensorSpec([4, 4], tf.float32),
        "g": tf.TensorSpec([4, 4], tf.float32),
        "v": tf.TensorSpec([8], tf.float32),
        "img": tf.TensorSpec([1, 8, 8, 3], tf.float32),
        "i": tf.TensorSpec([8], tf.int32),
        "j": tf.TensorSpec([8], tf.int32),
        "s": tf.TensorSpec([4], tf.string),
        "b": tf.TensorSpec([8], tf.bool),
        "c": tf.TensorSpec([4, 4], tf.complex64),
    }


#: Argument patterns by dtype family; each function is probed with the first pattern of every family
#: that traces, and a Python name gets a TFLite / TF.js verdict only when all its variants agree.
PATTERN_GROUPS: List[List[Tuple[str, ...]]] = [
    [("f",), ("f", "g"), ("v",), ("img",)],
    [("i",), ("i", "j")],
    [("s",)],
    [("b",)],
]


def _extra_probes(tf: Any) -> List[Tuple[str, Tuple[str, ...], Callable[..., Any]]]:
    """Hand-written probes for functions the generic prober cannot call."""
    return [
        ("tensorflow.py_function", ("f",), lambda x: tf.py_function(lambda t: t * 2.0, [x], tf.float32)),
        ("tensorflow.numpy_function", ("f",), lambda x: tf.numpy_function(lambda t: t * 2.0, [x], tf.float32)),
        ("tensorflow.print", ("f",), lambda x: _with_print(tf, x)),
        ("tensorflow.signal.fft", ("c",), lambda z: tf.signal.fft(z)),
        ("tensorflow.signal.ifft", ("c",), lambda z: tf.signal.ifft(z)),
        ("tensorflow.signal.fft2d", ("c",), lambda z: tf.signal.fft2d(z)),
        ("tensorflow.image.resize", ("img",), lambda x: tf.image.resize(x, [4, 4])),
        ("tensorflow.image.crop_and_resize", ("img",),
         lambda x: tf.image.crop_and_resize(x, [[0.0, 0.0, 1.0, 1.0]], [0], [2, 2])),
        ("tensorflow.image.non_max_suppression", ("f", "v"),
         lambda b, s: tf.image.non_max_suppression(b, s[:4], 2)),
        ("tensorflow.einsum", ("f", "g"), lambda a, b: tf.einsum("ij,jk->ik", a, b)),
        ("tensorflow.linalg.solve", ("f", "g"), lambda a, b: tf.linalg.solve(a, b)),
        ("tensorflow.linalg.triangular_solve", ("f", "g"), lambda a, b: tf.linalg.triangular_solve(a, b)),
        ("tensorflow.math.unsorted_segment_sum", ("v", "i"),
         lambda x, ids: tf.math.unsorted_segment_sum(x, tf.math.abs(ids) % 3, 3)),
        ("tensorflow.strings.split", ("s",), lambda s: tf.strings.split(s).to_tensor()),
        ("tensorflow.strings.regex_replace", ("s",), lambda s: tf.strings.regex_replace(s, "o", "0")),
        ("tensorflow.io.decode_png", ("s",), lambda s: tf.io.decode_png(s[0], channels=1)),
        ("tensorflow.io.decode_jpeg", ("s",), lambda s: tf.io.decode_jpeg(s[0], channels=1)),
        ("tensorflow.io.decode_image", ("s",), lambda s: tf.io.decode_image(s[0], channels=1, expand_animations=False)),
        ("tensorflow.math.cumprod", ("v",), lambda x: tf.math.cumprod(x)),
        ("tensorflow.raw_ops.Cumprod", ("v",), lambda x: tf.raw_ops.Cumprod(x=x, axis=0)),
        ("tensorflow.raw_ops.Bucketize", ("v",), lambda x: tf.raw_ops.Bucketize(input=x, boundaries=[0.0, 1.0, 2.5])),
        ("tensorflow.image.extract_patches", ("img",),
         lambda x: tf.image.extract_patches(x, [1, 2, 2, 1], [1, 2, 2, 1], [1, 1, 1, 1], "VALID")),
        # keras.ops FFTs take a (real, imaginary) pair
        ("keras.ops.fft", ("f", "g"), lambda a, b: _keras_ops().fft((a, b))[0]),
        ("keras.ops.ifft", ("f", "g"), lambda a, b: _keras_ops().ifft((a, b))[0]),
        ("keras.ops.fft2", ("f", "g"), lambda a, b: _keras_ops().fft2((a, b))[0]),
        ("keras.ops.ifft2", ("f", "g"), lambda a, b: _keras_ops().ifft2((a, b))[0]),
        ("keras.ops.irfft", ("f", "g"), lambda a, b: _keras_ops().irfft((a, b))),
        ("keras.ops.stft", ("v",), lambda x: _keras_ops().stft(x[None, :], 4, 2, 4)[0]),
        ("keras.ops.image.extract_patches", ("img",), lambda x: _keras_ops().image.extract_patches(x, 2)),
        ("keras.ops.image.resize", ("img",), lambda x: _keras_ops().image.resize(x, (4, 4))),
    ]


def _keras_ops() -> Any:
    import keras
    return keras.ops


def _with_print(tf: Any, x: Any) -> Any:
    tf.print("probe", x)
    return x + 1.0


def public_functions() -> List[Tuple[str, Callable[..., Any]]]:
    import keras
    import tensorflow as tf
    roots = {"tf": tf, "keras": keras}
    out: List[Tuple[str, Callable[..., Any]]] = []
    for prefix, root, path in MODULES:
        mod = roots[root]
        for part in filter(None, path.split(".")):
            mod = getattr(mod, part)
        for name in sorted(dir(mod)):
            if name.startswith("_"):
                continue
            if prefix == "tensorflow.io" and not name.startswith("decode_"):
                continue
            qual = f"{prefix}.{name}"
            if qual in SKIP:
                continue
            try:
                obj = getattr(mod, name)
            except Exception:  # noqa: BLE001 - lazy modules may fail to resolve
                continue
            if inspect.isclass(obj) or inspect.ismodule(obj) or not callable(obj):
                continue
            out.append((qual, obj))
    return out


class Probe:
    def __init__(self, names: List[str], pattern: Tuple[str, ...], fn: Callable[..., Any]) -> None:
        self.names = names
        self.pattern = pattern
        self.fn = fn
        self.ops: Set[str] = set()
        self.errors: Dict[str, int] = {}  # op type -> converter error code (builtins only)
        self.outcome = "untested"
        self.select: Optional[str] = None  # "ok" / "failed" / "error": conversion with SELECT_TF_OPS
        self.select_errors: Set[str] = set()  # ops rejected even with SELECT_TF_OPS


def _graph_ops(graph_def: Any, scope: Optional[str]) -> Set[str]:
    out: Set[str] = set()
    for node in graph_def.node:
        if scope is None or node.name.startswith(scope + "/"):
            out.add(node.op)
    for fn in graph_def.library.function:
        out.update(n.op for n in fn.node_def)
    return out - PLUMBING


def _tensors(tf: Any, result: Any) -> List[Any]:
    flat = tf.nest.flatten(result, expand_composites=True)
    return [t for t in flat if isinstance(t, tf.Tensor) and t.dtype.name not in BAD_OUTPUT]


def trace_probe(tf: Any, specs: Dict[str, Any], fn: Callable[..., Any],
                patterns: Sequence[Tuple[str, ...]]) -> Optional[Tuple[Tuple[str, ...], Set[str]]]:
    """The first pattern ``fn`` traces with (returning tensors that depend on the inputs) and its ops."""
    for pattern in patterns:
        graph = tf.Graph()
        try:
            with graph.as_default():
                args = [tf.compat.v1.placeholder(specs[k].dtype, specs[k].shape, name=k) for k in pattern]
                with tf.name_scope("probe"):
                    result = fn(*args)
                if not _tensors(tf, result):
                    continue
        except Exception:  # noqa: BLE001 - wrong argument pattern
            continue
        ops = _graph_ops(graph.as_graph_def(), "probe")
        if ops:
            return pattern, ops
    return None


def convert_chunk(tf: Any, specs: Dict[str, Any], probes: List[Probe]) -> None:
    """Convert ``probes`` together (builtins only); record per-probe errors; drop failures and retry."""
    live = list(probes)
    for _ in range(len(probes) + 1):
        if not live:
            return
        keys = sorted({k for p in live for k in p.pattern})

        func = tf.function(_chunk_body(tf, live, keys), input_signature=[specs[k] for k in keys], autograph=False)
        try:
            concrete = func.get_concrete_function()
            conv = tf.lite.TFLiteConverter.from_concrete_functions([concrete], func)
            conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
            conv.convert()
        except Exception as exc:  # noqa: BLE001
            failed = _attribute(exc, live)
            if not failed:
                if len(live) == 1:
                    live[0].outcome = "error"
                    return
                half = len(live) // 2  # no structured errors: bisect
                convert_chunk(tf, specs, live[:half])
                convert_chunk(tf, specs, live[half:])
                return
            live = [p for p in live if p not in failed]
            continue
        for p in live:
            p.outcome = "builtin"
        return


def verify_select(tf: Any, specs: Dict[str, Any], probe: Probe) -> None:
    """Convert one failed probe with [TFLITE_BUILTINS, SELECT_TF_OPS]: Flex-only ops convert now."""
    keys = sorted(set(probe.pattern))
    func = tf.function(_chunk_body(tf, [probe], keys), input_signature=[specs[k] for k in keys], autograph=False)
    try:
        concrete = func.get_concrete_function()
        conv = tf.lite.TFLiteConverter.from_concrete_functions([concrete], func)
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
        conv.convert()
    except Exception as exc:  # noqa: BLE001
        ops = set()
        for err in getattr(exc, "errors", []) or []:
            op = err.operator.name
            ops.add(op[3:] if op.startswith("tf.") else op)
        probe.select = "failed" if ops else "error"
        probe.select_errors = ops
        return
    probe.select = "ok"


def _chunk_body(tf: Any, live: List[Probe], keys: List[str]) -> Callable[..., List[Any]]:
    def body(*args: Any) -> List[Any]:
        env = dict(zip(keys, args))
        outs: List[Any] = []
        for n, p in enumerate(live):
            with tf.name_scope(f"p{n}"):
                outs.extend(_tensors(tf, p.fn(*[env[k] for k in p.pattern])))
        return outs
    return body


def _attribute(exc: BaseException, live: List[Probe]) -> List[Probe]:
    failed: List[Probe] = []
    for err in getattr(exc, "errors", []) or []:
        name = ""
        for call in err.location.call:
            if call.name:
                name = call.name
                break
        head = name.split("/", 1)[0]
        if not head.startswith("p") or not head[1:].isdigit():
            continue
        idx = int(head[1:])
        if idx >= len(live):
            continue
        op = err.operator.name
        op = op[3:] if op.startswith("tf.") else op
        probe = live[idx]
        code = int(err.error_code)
        prev = probe.errors.get(op)
        probe.errors[op] = code if prev is None else max(prev, code)
        probe.outcome = "failed"
        if probe not in failed:
            failed.append(probe)
    return failed


def measure(chunk_size: int = 64) -> List[Probe]:
    import tensorflow as tf
    specs = _specs(tf)
    probes: List[Probe] = []
    names_of: Dict[int, List[str]] = {}
    for qual, fn in public_functions():
        key = id(fn)
        if key in names_of:
            names_of[key].append(qual)
            continue
        names = names_of[key] = [qual]
        for group in PATTERN_GROUPS:
            found = trace_probe(tf, specs, fn, group)
            if found is None:
                continue
            probe = Probe(names, found[0], fn)
            probe.ops = found[1]
            probes.append(probe)
    for qual, pattern, fn in _extra_probes(tf):
        found = trace_probe(tf, specs, fn, [pattern])
        if found is None:
            print(f"warning: hand probe {qual} does not trace", file=sys.stderr)
            continue
        for names in names_of.values():  # a hand probe replaces the generic ones for the same name
            if qual in names:
                names.remove(qual)
        probe = Probe([qual], pattern, fn)
        probe.ops = found[1]
        probes.append(probe)
    probes = [p for p in probes if p.names]
    for start in range(0, len(probes), chunk_size):
        convert_chunk(tf, specs, probes[start:start + chunk_size])
        print(f"converted {min(start + chunk_size, len(probes))}/{len(probes)}", file=sys.stderr)
    for p in probes:
        if p.outcome == "failed":
            verify_select(tf, specs, p)
    return probes


# -- tables ----------------------------------------------------------------------------------
FLEX, CUSTOM = 1, 2  # converter_error_data_pb2.ConverterErrorData.ErrorCode


def probe_status(p: Probe) -> str:
    """The probe's own TFLite outcome: builtin / flex / unsupported / unknown."""
    if p.outcome == "builtin":
        return "builtin"
    if p.outcome != "failed" or not p.errors:
        return "unknown"
    codes = set(p.errors.values())
    if p.select == "ok" and codes == {FLEX}:
        return "flex"
    if p.select == "failed" and p.select_errors and CUSTOM in codes and \
            all(p.errors.get(op) == CUSTOM for op in p.select_errors):
        return "unsupported"
    return "unknown"


def op_table(probes: List[Probe]) -> Dict[str, str]:
    """Op type -> builtin / flex / unsupported / conditional / context / unknown.

    ``flex`` and ``unsupported`` need a probe whose *only* op is that op (so neither a dtype of a
    helper op nor a composite pattern explains the failure); ``context`` ops failed only inside
    multi-op probes; ``conditional`` ops were also seen converting to builtins.
    """
    ok: Set[str] = set()
    single: Dict[str, Set[str]] = {}
    failed: Set[str] = set()
    for p in probes:
        if p.outcome == "builtin":
            ok.update(p.ops)
            continue
        status = probe_status(p)
        failed.update(p.errors)
        if status in ("flex", "unsupported") and len(p.ops) == 1 and set(p.errors) == p.ops:
            single.setdefault(next(iter(p.ops)), set()).add(status)
    table: Dict[str, str] = {}
    for op in sorted(ok | failed):
        if op in ok:
            table[op] = "conditional" if op in failed else "builtin"
        elif op in single:
            table[op] = next(iter(single[op])) if len(single[op]) == 1 else "conditional"
        else:
            table[op] = "context"
    return table


#: Ops the TF.js converter accepts with ``--strip_debug_ops`` (and TF205 covers them anyway).
TFJS_DEBUG = frozenset({"Assert", "CheckNumerics", "Print"})


def python_table(probes: List[Probe], ops: Dict[str, str], tfjs: Optional[Set[str]]) -> Dict[str, Dict[str, Any]]:
    """Public name -> traced ops and verdicts; the variants (dtype families) of a name must agree."""
    groups: Dict[int, List[Probe]] = {}
    for p in probes:
        groups.setdefault(id(p.names), []).append(p)
    out: Dict[str, Dict[str, Any]] = {}
    for variants in groups.values():
        lites = []
        for p in variants:
            lite = probe_status(p)
            if lite in ("flex", "unsupported") and any(ops.get(op) == "conditional" for op in p.errors):
                lite = "conditional"  # a failing op also converts elsewhere: depends on dtype / arguments
            lites.append(lite)
        kinds = set(lites)
        if len(kinds) == 1:
            lite = lites[0]
        elif "builtin" in kinds:
            lite = "conditional"  # converts for some dtypes
        elif kinds & {"flex", "unsupported"}:
            # no variant converts; a Flex rescue in any determinate variant makes it "flex"
            lite = "flex" if "flex" in kinds else "unsupported"
        else:
            lite = "conditional" if "conditional" in kinds else "unknown"
        entry: Dict[str, Any] = {"ops": sorted(set().union(*(p.ops for p in variants))), "tflite": lite}
        if len(variants) > 1:
            entry["variants"] = sorted("/".join(p.pattern) + ":" + s for p, s in zip(variants, lites))
        errors = sorted(set().union(*(p.errors for p in variants)))
        if errors:
            entry["tflite_ops"] = errors
        if tfjs is not None:
            missing = [sorted(op for op in p.ops if op not in tfjs and op not in TFJS_DEBUG) for p in variants]
            if all(missing):
                entry["tfjs"] = "unsupported"
                entry["tfjs_ops"] = sorted(set().union(*missing))
            elif any(missing):
                entry["tfjs"] = "conditional"
                entry["tfjs_ops"] = sorted(set().union(*missing))
            else:
                entry["tfjs"] = "supported"
        for name in variants[0].names:
            out[name] = entry
    return dict(sorted(out.items()))


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(DEFAULT_OUT))
    ap.add_argument("--tfjs-wheel", default=None, help="a tensorflowjs wheel (default: pip download it)")
    ap.add_argument("--no-tfjs", action="store_true")
    args = ap.parse_args(argv)

    if args.no_tfjs:
        tfjs_version, tfjs_list, tfjs_note = None, None, "skipped (--no-tfjs)"
    else:
        tfjs_version, tfjs_list, tfjs_note = tfjs_ops(args.tfjs_wheel)
    import tensorflow as tf
    probes = measure()
    ops = op_table(probes)
    tfjs_set = set(tfjs_list) if tfjs_list is not None else None
    vers = versions()
    if tfjs_version:
        vers["tensorflowjs"] = tfjs_version
    data = {
        "format": 1,
        "generated_by": "scripts/gen_tf_op_tables.py",
        "versions": dict(sorted(vers.items())),
        "notes": {
            "tflite": "measured: one-op probes converted with TFLiteConverter, supported_ops=[TFLITE_BUILTINS]; "
                      "flex = ERROR_NEEDS_FLEX_OPS and converts with SELECT_TF_OPS, unsupported = "
                      "ERROR_NEEDS_CUSTOM_OPS and rejected again with SELECT_TF_OPS; flex/unsupported need a "
                      "probe holding only that op, context = failed only inside multi-op probes, conditional "
                      "= seen both converting and failing (dtype/attribute dependent)",
            "tfjs": tfjs_note + "; the converter rejects any op type not listed (Assert, CheckNumerics and "
                    "Print pass with --strip_debug_ops and are not counted)",
        },
        "tflite": {status: sorted(op for op, s in ops.items() if s == status)
                   for status in ("builtin", "conditional", "context", "flex", "unsupported")},
        "raw_ops": sorted(n for n in dir(tf.raw_ops) if not n.startswith("_")),
        "tfjs": None if tfjs_list is None else {"supported": tfjs_list},
        "python": python_table(probes, ops, tfjs_set),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, indent=1, sort_keys=True) + "\n"
    out.write_text(text, encoding="utf-8")
    counts = {k: len(v) for k, v in data["tflite"].items()}
    print(f"wrote {out} ({len(text)} bytes): tflite {counts}, tfjs {len(tfjs_list or [])} ops, "
          f"{len(data['python'])} python names", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
