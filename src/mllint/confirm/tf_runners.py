"""TensorFlow / Keras targets: SavedModel, ``.keras`` files and TFLite (TF.js stays static-only).

Measured facts this relies on (tensorflow-hazards §1, §7, §8, §13): Keras 3 models go through
``model.export()`` (never ``tf.saved_model.save``, whose TFLite conversion silently returns garbage);
SavedModels and ``.keras`` files must be reloaded in a fresh process (host callbacks and custom classes only
fail there); the pip TFLite interpreter cannot run Flex ops, so builtins-only conversion is the check and
the Flex ops a model would need are named from a SELECT_TF_OPS conversion; converter errors carry user
lines only with debug info, which ``from_concrete_functions`` keeps.
"""

from __future__ import annotations

import inspect
import json
import re
import select
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from mllint.confirm import contract_check
from mllint.confirm.compare import DEFAULT_TOLERANCE, array_leaves, derive_probes, describe_difference
from mllint.confirm.locate import Located, UserFiles, locate_text
from mllint.confirm.results import first_lines
from mllint.confirm.session import Job, Outcome, Session
from mllint.confirm.spec import ExportSpec
from mllint.targets import TF_TARGETS, runner_of

Probe = Tuple[str, Tuple[Any, ...], Dict[str, Any]]


def _natural(key: str) -> Tuple[Any, ...]:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", str(key)))


def _spec_from_array(arr: np.ndarray) -> "tf.TensorSpec":
    shape = [None] + list(arr.shape[1:]) if arr.ndim >= 1 else []
    return tf.TensorSpec(shape, tf.as_dtype(arr.dtype))


def _example_from_spec(spec: Any, rng: np.random.Generator) -> np.ndarray:
    shape = [2 if d is None else int(d) for d in (spec.shape if spec.shape is not None else [])]
    dtype = np.dtype(tf.as_dtype(spec.dtype).as_numpy_dtype)
    if dtype.kind == "f":
        return rng.standard_normal(shape).astype(dtype)
    if dtype.kind in "iu":
        return rng.integers(0, 2, size=shape).astype(dtype)
    if dtype.kind == "b":
        return np.zeros(shape, dtype=bool)
    raise ValueError(f"cannot generate example inputs of dtype {dtype} from the input signature; give 'args'")


def _is_functional(model: Any) -> bool:
    """Functional and Sequential Keras models carry their input signature; subclassed ones do not."""
    try:
        from keras.src.models.functional import Functional
    except ImportError:  # pragma: no cover - private path moved
        return type(model).__name__ in ("Functional", "Sequential")
    import keras

    return isinstance(model, (Functional, keras.Sequential))


class TFSession(Session):
    """A built Keras model or ``tf.Module`` with example inputs, probes and eager reference outputs."""

    targets = TF_TARGETS

    def __init__(self, job: Job, files: UserFiles, spec: ExportSpec, framework: str, tolerance: Optional[float]) -> None:
        super().__init__(job, files, tolerance if tolerance is not None else DEFAULT_TOLERANCE)
        self.framework = "keras" if framework == "keras" else "tensorflow"
        self.model = spec.model
        self.device = "/GPU:0" if job.device == "cuda" else "/CPU:0"
        rng = np.random.default_rng(0)
        if spec.args:
            self.args = tuple(np.asarray(a.numpy() if hasattr(a, "numpy") else a) for a in spec.args)
        else:
            self.args = tuple(_example_from_spec(s, rng) for s in spec.input_signature or ())
        if spec.kwargs:
            raise ValueError("keyword example inputs are not supported for TensorFlow models; pass them positionally")
        self.signature = list(spec.input_signature) if spec.input_signature is not None else None
        self.setup_notes: List[str] = []
        self.saved_model_dir: Optional[Path] = None
        if spec.probes:
            probes = [(f"probe {i}", tuple(np.asarray(x) for x in (p if isinstance(p, (tuple, list)) else (p,))), {})
                      for i, p in enumerate(spec.probes)]
        else:
            probes = derive_probes(self.args, {}, lambda v: isinstance(v, np.ndarray), np.asarray, lambda a, _: a)
        self.reference, self.probes = self._reference(probes)
        self.reloader = Reloader(Path(job.root))
        if {"savedmodel", "keras-file"} & set(job.targets):
            self.reloader.start()  # imports TensorFlow while this process exports

    def _eager(self, args: Sequence[Any]) -> List[np.ndarray]:
        with tf.device(self.device):
            return array_leaves(self.model(*args), sort_dicts=True)

    def _reference(self, probes: List[Probe]) -> Tuple[Optional[List[List[np.ndarray]]], List[Probe]]:
        first = self._eager(self.args)
        outputs, kept = [first], []
        for name, args, _ in probes:
            try:
                outputs.append(self._eager(args))
                kept.append((name, args, {}))
            except Exception as exc:  # noqa: BLE001
                self.setup_notes.append(f"eager model rejects the {name} input ({type(exc).__name__}); not compared on it")
        if describe_difference(first, self._eager(self.args), self.tolerance) is not None:
            self.setup_notes.append("eager outputs differ between two calls; outputs not compared")
            return None, []
        return outputs, kept

    def applicable(self, target: str) -> bool:
        return target in self.targets

    # -- helpers ------------------------------------------------------------------------------
    def _export_signature(self) -> Optional[List[Any]]:
        """The signature to export with: the factory's, or one with a free batch dimension for subclassed
        models (Keras cannot infer it for them; functional models carry their own)."""
        if self.signature is not None:
            return self.signature
        if self.framework == "keras" and _is_functional(self.model):
            return None
        return [_spec_from_array(a) for a in self.args]

    def _arg_names(self) -> List[str]:
        fn = getattr(self.model, "__call__", None)  # noqa: B004 - the bound method itself, not a test
        target = getattr(fn, "python_function", fn)
        try:
            params = [p.name for p in inspect.signature(target).parameters.values() if p.name != "self"]
        except (TypeError, ValueError):
            params = []
        return params[: len(self.args)]

    def _export_saved_model(self, path: Path) -> None:
        if self.framework == "keras":
            import keras

            sig = self._export_signature()
            if isinstance(self.model, keras.Model):
                self.timed_export(lambda: self.model.export(str(path), format="tf_saved_model", verbose=False,
                                                            input_signature=sig))
                return

            def export_layer() -> None:  # a bare layer: the archive model.export() builds, by hand
                archive = keras.export.ExportArchive()
                archive.track(self.model)
                archive.add_endpoint("serve", self.model.call, input_signature=sig)
                archive.write_out(str(path), verbose=False)

            self.timed_export(export_layer)
            return
        signatures = None
        call = getattr(self.model, "__call__", None)  # noqa: B004 - the bound method itself, not a test
        if self.signature is not None and hasattr(call, "get_concrete_function"):
            signatures = call.get_concrete_function(*self.signature)
        self.timed_export(lambda: tf.saved_model.save(self.model, str(path), signatures=signatures))

    def _inputs(self) -> List[Tuple[str, Tuple[Any, ...]]]:
        return [("example", self.args)] + [(name, args) for name, args, _ in self.probes]

    def _compare_outputs(self, outputs: List[Any], label: str) -> None:
        """``outputs[i]`` is a list of arrays or an error string, per input (example first)."""
        if self.reference is None:
            self.details["compared"] = []
            return
        names = [n for n, _ in self._inputs()]
        compared = []
        for i, (name, got) in enumerate(zip(names, outputs)):
            if isinstance(got, str):
                if i == 0:
                    raise Outcome("failed", f"the {label} fails on the example input: {got}",
                                  locate_text(got, self.files, "message"))
                raise Outcome("mismatch", f"the {label} raises on the {name} input: {got}")
            why = describe_difference(self.reference[i], got, self.tolerance)
            if why:
                raise Outcome("mismatch", f"on the {name} input, {why}")
            compared.append(name)
        self.details["compared"] = compared

    def _reload(self, kind: str, path: Path) -> List[Any]:
        """Load the artifact in a fresh Python process and run it on every input (example first)."""
        work = Path(self.job.workdir)
        inputs = work / f"{kind}-inputs.npz"
        arrays = {f"i{i}_{j}": a for i, (_, args) in enumerate(self._inputs()) for j, a in enumerate(args)}
        np.savez(inputs, **arrays)
        request = {
            "kind": kind, "path": str(path), "inputs": str(inputs), "count": len(self._inputs()),
            "arity": len(self.args), "arg_names": self._arg_names(), "factory": self.job.factory,
            "root": self.job.root, "out": str(work / f"{kind}-outputs.npz"), "device": self.device,
        }
        try:
            self.reloader.request(request, max(10.0, self.job.step_timeout * 0.8))
        except TimeoutError:
            raise Outcome("timeout", f"loading the {kind} artifact in a fresh process did not finish in time")
        except ReloaderDied as exc:
            status = "crashed" if exc.returncode is not None and exc.returncode < 0 else "failed"
            raise Outcome(status, f"loading the {kind} artifact in a fresh process died ({exc})")
        status = json.loads(Path(request["out"] + ".json").read_text(encoding="utf-8"))
        if status.get("load_error"):
            error = status["load_error"]
            located = locate_text(error, self.files, "message") or self._class_location(error)
            raise Outcome("failed", f"reloading the {kind} artifact in a fresh process fails: {first_lines(error, 1)}",
                          located)
        data = np.load(request["out"])
        out: List[Any] = []
        for i, error in enumerate(status["errors"]):
            if error:
                out.append(error)
            else:
                out.append([data[k] for k in sorted((k for k in data.files if k.startswith(f"o{i}_")),
                                                    key=lambda k: int(k.split("_")[1]))])
        return out

    def _class_location(self, error: str) -> Located:
        """Keras load errors name a class (``Could not locate class 'X'``): point at its definition."""
        m = re.search(r"class '([\w.]+)'", error) or re.search(r"passed to (\w+)", error)
        if not m:
            return Located()
        wanted = m.group(1).split(".")[-1]
        layers = [self.model]
        flatten = getattr(self.model, "_flatten_layers", None)
        if callable(flatten):
            layers += list(flatten(include_self=False, recursive=True))
        for layer in layers:
            for cls in type(layer).__mro__:
                if cls.__name__ != wanted:
                    continue
                try:
                    path = inspect.getsourcefile(cls)
                    _, line = inspect.getsourcelines(cls)
                except (TypeError, OSError):
                    continue
                loc = self.files.loc(path or "", line)
                if loc:
                    return Located(loc, [loc], "class definition")
        return Located()

    # -- targets ------------------------------------------------------------------------------
    def run_target(self, target: str) -> Optional[str]:
        if target == "tfjs":
            raise Outcome("skipped", "tfjs is checked statically only: the tensorflowjs converter does not install "
                                     "cleanly next to this TensorFlow")
        if target == "keras-file" and not (self.framework == "keras" and hasattr(self.model, "save")):
            raise Outcome("skipped", "not a Keras model (.keras files hold Keras models only)")
        with tf.device(self.device):
            return getattr(self, runner_of(target))(target)

    def _run_savedmodel(self, target: str) -> Optional[str]:
        path = self.artifact_path(target, "")
        self._export_saved_model(path)
        self.saved_model_dir = path
        if self.job.artifacts:
            self.details["artifact"] = str(path)
        self._compare_outputs(self._reload("savedmodel", path), "reloaded SavedModel")
        contract_check.check_savedmodel(self, target, path)
        return "exported with model.export()" if self.framework == "keras" else None

    def _run_keras_file(self, target: str) -> Optional[str]:
        path = self.artifact_path(target, ".keras")
        self.timed_export(lambda: self.model.save(str(path)))
        if self.job.artifacts:
            self.details["artifact"] = str(path)
        self._compare_outputs(self._reload("keras-file", path), "reloaded .keras model")
        return None

    def _run_tflite(self, target: str) -> Optional[str]:
        saved = self.saved_model_dir
        start = self.export_seconds
        if saved is None:
            saved = Path(self.job.workdir) / "tflite-savedmodel"
            self._export_saved_model(saved)
        self.export_seconds = start
        converter = tf.lite.TFLiteConverter.from_saved_model(str(saved))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        try:
            flatbuffer = self.timed_export(converter.convert)
        except Exception as exc:  # noqa: BLE001
            raise self._converter_failure(saved, exc)
        path = self.artifact_path(target, ".tflite")
        path.write_bytes(flatbuffer)
        if self.job.artifacts:
            self.details["artifact"] = str(path)
        self._compare_outputs([self._interpret(flatbuffer, args) for _, args in self._inputs()], "TFLite model")
        contract_check.check_tflite(self, target, flatbuffer)
        return None

    def _interpret(self, flatbuffer: bytes, args: Tuple[Any, ...]) -> Any:
        try:
            interpreter = tf.lite.Interpreter(model_content=flatbuffer)
            runner = interpreter.get_signature_runner()
            names = list(runner.get_input_details())
            wanted = self._arg_names()
            if len(names) > 1 and sorted(wanted) == sorted(names):
                names = wanted
            result = runner(**{n: a for n, a in zip(names, args)})
            return [np.asarray(result[k]) for k in sorted(result, key=_natural)]
        except Exception as exc:  # noqa: BLE001
            return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"

    def _converter_failure(self, saved: Path, exc: BaseException) -> Outcome:
        ops = sorted({getattr(getattr(e, "operator", None), "name", "") for e in getattr(exc, "errors", []) or []} - {""})
        if not ops:
            ops = sorted(set(re.findall(r"'(tf\.\w+)' op is neither a custom op nor a flex op", str(exc))))
        message = f"TFLite builtins cannot convert {', '.join(ops) or 'the model'}"
        flex = self._flex_ops(saved)
        if flex is None:
            message += "; not convertible even with SELECT_TF_OPS"
        elif flex:
            self.details["flex_ops"] = flex
            message += f"; with SELECT_TF_OPS it converts but needs the Flex delegate for {', '.join(flex)}"
        if not ops:
            message += f": {type(exc).__name__}: {str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ''}"
        located = Located()
        try:
            located = self._converter_location()
        except Exception as loc_exc:  # noqa: BLE001
            self.notes.append(f"location recovery failed: {type(loc_exc).__name__}")
        return Outcome("failed", message, located)

    def _flex_ops(self, saved: Path) -> Optional[List[str]]:
        """The ``Flex*`` custom ops a SELECT_TF_OPS conversion embeds, or None if that fails too."""
        converter = tf.lite.TFLiteConverter.from_saved_model(str(saved))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
        try:
            flatbuffer = converter.convert()
        except Exception:  # noqa: BLE001
            return None
        from tensorflow.lite.tools import flatbuffer_utils

        model = flatbuffer_utils.convert_bytearray_to_object(bytearray(flatbuffer))
        codes = [oc.customCode.decode() if isinstance(oc.customCode, bytes) else oc.customCode
                 for oc in model.operatorCodes]
        return sorted({c for c in codes if c and c.startswith("Flex")})

    def _converter_location(self) -> Located:
        """Convert from a concrete function, which keeps debug info, and read the op's creation line."""
        sig = self._export_signature() or [_spec_from_array(a) for a in self.args]
        if self.framework == "keras":
            fn = tf.function(lambda *a: self.model(*a, training=False))
        else:
            call = self.model.__call__
            fn = call if hasattr(call, "get_concrete_function") else tf.function(call)
        concrete = fn.get_concrete_function(*sig)
        converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], self.model)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        try:
            converter.convert()
        except Exception as exc:  # noqa: BLE001
            found: List[Tuple[str, int]] = []
            for err in getattr(exc, "errors", []) or []:
                loc = _op_creation_line(list(err.location.call), self.files)
                if loc and loc not in found:
                    found.append(loc)
            if found:
                return Located(found[0], found, "converter debug info")
        return Located()


def _op_creation_line(calls: List[Any], files: UserFiles) -> Optional[Tuple[str, int]]:
    """The last user frame after the op's own (named) frame and before the next named one (§8)."""
    best = None
    for i, call in enumerate(calls):
        if i > 0 and call.name:
            break
        loc = files.loc(call.source.filename, int(call.source.line))
        if loc:
            best = loc
    return best


class ReloaderDied(RuntimeError):
    def __init__(self, returncode: Optional[int]) -> None:
        super().__init__(f"exit code {returncode}")
        self.returncode = returncode


class Reloader:
    """A separate Python process that never built the model: it loads artifacts and runs them.

    Started early (it imports TensorFlow while the child exports) and reused for SavedModel and
    ``.keras`` loads; requests and answers are JSON lines on its stdin / stdout.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.proc: Optional[subprocess.Popen] = None

    def start(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            self.proc = subprocess.Popen([sys.executable, "-m", "mllint.confirm.reload", "--serve"],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=str(self.root))

    def request(self, request: Dict[str, Any], timeout: float) -> None:
        self.start()
        assert self.proc is not None and self.proc.stdin is not None and self.proc.stdout is not None
        try:
            self.proc.stdin.write((json.dumps(request) + "\n").encode("utf-8"))
            self.proc.stdin.flush()
        except BrokenPipeError:
            raise ReloaderDied(self.proc.wait())
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
            raise TimeoutError
        if not self.proc.stdout.readline():
            code = self.proc.wait()
            self.proc = None
            raise ReloaderDied(code)
