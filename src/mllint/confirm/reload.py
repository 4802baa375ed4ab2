"""The fresh process that loads artifacts: ``python -m mllint.confirm.reload --serve``.

A SavedModel or ``.keras`` file is only proven usable when a process that did not build it can load and
call it (host callbacks and unregistered custom classes fail only there; tensorflow-hazards §1). Requests
arrive as JSON lines on stdin; each answer is a line on the original stdout, while everything TensorFlow
prints goes to stderr (the child's log).
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any, Dict

import numpy as np
import tensorflow as tf

from mllint.confirm.compare import array_leaves


def _natural(key: str) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", str(key)))


def serve_one(request: Dict[str, Any]) -> None:
    """Load one artifact and run it on the saved inputs; outputs to ``out`` (.npz) and ``out``.json."""
    status: Dict[str, Any] = {"load_error": None, "errors": []}
    outputs: Dict[str, np.ndarray] = {}
    data = np.load(request["inputs"])
    try:
        from mllint.confirm.factory import add_import_roots, split_ref

        root = Path(request["root"])
        add_import_roots(root)
        module_name, _ = split_ref(request["factory"])
        __import__(module_name)  # as serving code would: custom classes get registered
        if request["kind"] == "keras-file":
            import keras

            loaded = keras.saving.load_model(request["path"])
            call = lambda *a: loaded(*a)  # noqa: E731
        else:
            loaded = tf.saved_model.load(request["path"])
            if hasattr(loaded, "serve"):
                call = loaded.serve
            elif "serving_default" in loaded.signatures:
                sig = loaded.signatures["serving_default"]
                keys = list(sig.structured_input_signature[1])
                names = [n for n in request["arg_names"] if n in keys] if len(keys) > 1 else keys
                if len(names) != len(keys):
                    names = sorted(keys)
                call = lambda *a: sig(**{n: tf.constant(v) for n, v in zip(names, a)})  # noqa: E731
            else:
                raise ValueError("the SavedModel has no 'serving_default' signature (nothing a server could call)")
    except Exception as exc:  # noqa: BLE001
        import traceback

        status["load_error"] = f"{type(exc).__name__}: {exc}\n" + "".join(traceback.format_tb(exc.__traceback__))
    else:
        for i in range(request["count"]):
            args = [data[f"i{i}_{j}"] for j in range(request["arity"])]
            try:
                with tf.device(request.get("device", "/CPU:0")):
                    result = call(*args)
                for j, arr in enumerate(array_leaves(result, sort_dicts=True)
                                        if not isinstance(result, dict)
                                        else [np.asarray(result[k]) for k in sorted(result, key=_natural)]):
                    outputs[f"o{i}_{j}"] = arr
                status["errors"].append(None)
            except Exception as exc:  # noqa: BLE001
                first = str(exc).strip().splitlines()
                status["errors"].append(f"{type(exc).__name__}: {first[0][:300] if first else ''}")
    np.savez(request["out"], **outputs)
    Path(request["out"] + ".json").write_text(json.dumps(status), encoding="utf-8")


def main() -> int:
    answers = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # TensorFlow's own prints must not corrupt the answers
    for line in sys.stdin:
        if line.strip():
            serve_one(json.loads(line))
            answers.write("done\n")
            answers.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
