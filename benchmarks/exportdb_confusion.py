"""Predicted vs real export failures on the examples that ship with torch (torch/_export/db/examples).

    python benchmarks/exportdb_confusion.py [--timeout 120]

For each example module (which defines ``model`` and ``example_args``), every PyTorch target is
really attempted in a child process (script, trace, torch.export, ONNX dynamo, ONNX legacy); an
attempt fails if it raises, or if the artifact's output differs from eager on the example input.
mllint checks the same files statically. Printed per target: failing (example, target) pairs that
mllint predicted, those it missed, and findings on pairs that export fine (false alarms).
The examples are located without importing torch in this process.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Dict, Set, Tuple

TARGETS = ("torchscript-script", "torchscript-trace", "torch-export", "onnx-dynamo", "onnx-legacy")

CHILD = r'''
import importlib.util, io, json, sys, warnings
warnings.simplefilter("ignore")
import torch
path, target = sys.argv[1], sys.argv[2]
spec = importlib.util.spec_from_file_location("example", path)
mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
model, args = mod.model, tuple(mod.example_args)
kwargs = getattr(mod, "example_kwargs", {}) or {}
def same(a, b):
    try:
        return bool(torch.allclose(torch.as_tensor(a).float(), torch.as_tensor(b).float(), atol=1e-4))
    except Exception:
        return True
try:
    eager = model(*args, **kwargs)
    if target == "torchscript-script":
        out = torch.jit.script(model)(*args, **kwargs)
    elif target == "torchscript-trace":
        out = torch.jit.trace(model, args, check_trace=False)(*args)
    elif target == "torch-export":
        out = torch.export.export(model, args, kwargs).module()(*args, **kwargs)
    else:
        import onnxruntime as ort
        buf = io.BytesIO()
        if target == "onnx-dynamo":
            prog = torch.onnx.export(model, args, kwargs=kwargs, dynamo=True, verbose=False)
            data = prog.model_proto.SerializeToString()
        else:
            torch.onnx.export(model, args, buf, dynamo=False); data = buf.getvalue()
        sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
        flat = [a for a in args if isinstance(a, torch.Tensor)]
        feeds = {i.name: t.detach().numpy() for i, t in zip(sess.get_inputs(), flat)}
        out = sess.run(None, feeds)[0]
        eager = eager[0] if isinstance(eager, (tuple, list)) else eager
    if isinstance(eager, (tuple, list)) or isinstance(out, (tuple, list)):
        ok = True
    else:
        ok = same(out, eager)
    print("OUTCOME " + ("ok" if ok else "mismatch"))
except Exception as exc:
    print("OUTCOME fail " + type(exc).__name__)
'''


def examples_dir() -> Path:
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("torch is not installed")
    return Path(list(spec.submodule_search_locations)[0]) / "_export" / "db" / "examples"


def real_outcomes(folder: Path, timeout: float) -> Dict[Tuple[str, str], str]:
    out = {}
    for path in sorted(folder.glob("*.py")):
        if path.name == "__init__.py":
            continue
        for target in TARGETS:
            try:
                proc = subprocess.run([sys.executable, "-c", CHILD, str(path), target], capture_output=True,
                                      text=True, timeout=timeout)
                line = next((l for l in proc.stdout.splitlines() if l.startswith("OUTCOME ")), None)
                out[(path.name, target)] = line[8:] if line else f"fail crashed({proc.returncode})"
            except subprocess.TimeoutExpired:
                out[(path.name, target)] = "fail timeout"
    return out


def predicted(folder: Path) -> Dict[Tuple[str, str], Set[str]]:
    proc = subprocess.run([sys.executable, "-m", "mllint", "check", str(folder), "--format", "json", "--exit-zero"],
                          capture_output=True, text=True, cwd=str(folder))
    doc = json.loads(proc.stdout)
    out: Dict[Tuple[str, str], Set[str]] = {}
    for f in doc["findings"]:
        for target in f["targets"]:
            out.setdefault((Path(f["path"]).name, target), set()).add(f["code"])
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()
    folder = examples_dir()
    real = real_outcomes(folder, args.timeout)
    pred = predicted(folder)
    print(f"{'target':20} {'failing':>8} {'predicted':>10} {'missed':>7} {'false alarms':>13}")
    for target in TARGETS:
        failing = {e for (e, t), o in real.items() if t == target and o != "ok"}
        flagged = {e for (e, t) in pred if t == target}
        print(f"{target:20} {len(failing):8d} {len(failing & flagged):10d} {len(failing - flagged):7d} "
              f"{len(flagged - failing):13d}")
    print("\nfalse alarms:")
    for (e, t), codes in sorted(pred.items()):
        if real.get((e, t)) == "ok":
            print(f"  {e} {t}: {', '.join(sorted(codes))}")
    print("\nmissed failures:")
    for (e, t), o in sorted(real.items()):
        if o != "ok" and (e, t) not in pred:
            print(f"  {e} {t}: {o}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
