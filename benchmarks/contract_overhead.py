"""The cost of model contracts: `--confirm` on the same models with and without a contract, in one run.

    python benchmarks/contract_overhead.py                 # a small CNN (PyTorch, 4 targets) and a Keras MLP
    python benchmarks/contract_overhead.py --repeat 3 --targets torch-export,onnx-dynamo

Writes a throwaway project (models and contracts), then runs ``run_confirm`` alternately without and with
the contracts (``--repeat`` times each, interleaved, so that machine load hits both alike) and prints, per
model and target, the seconds inside the child with and without the contract checks, and the ratios of the
per-target time and of the whole run's wall time. The contract checks are the artifact's interface read
back (ONNX graph, program specs, ``serving_default`` signature) and two probes per declared dynamic dimension.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Dict, List, Tuple

from mllint.config import ModelSpec
from mllint.confirm import run_confirm
from mllint.confirm.contracts import resolve_contracts

MODELS = textwrap.dedent("""\
    import numpy as np


    def cnn():
        import torch
        from torch import nn

        torch.manual_seed(0)
        model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                              nn.Linear(8, 10)).eval()
        return {"model": model, "args": (torch.randn(2, 3, 32, 32),),
                "dynamic_shapes": ({0: torch.export.Dim("batch")},)}


    def mlp():
        import keras

        inp = keras.Input(shape=(16,), name="features")
        out = keras.layers.Dense(4)(keras.layers.Dense(32, activation="relu")(inp))
        return keras.Model(inp, out), (np.random.default_rng(0).standard_normal((2, 16)).astype("float32"),)
    """)

CONTRACTS = {
    "cnn": {
        "inputs": [{"name": "input", "dtype": "float32", "shape": ["batch", 3, 32, 32]}],
        "outputs": [{"name": "logits", "dtype": "float32", "shape": ["batch", 10]}],
    },
    "mlp": {
        "inputs": [{"name": "features", "dtype": "float32", "shape": ["batch", 16]}],
        "outputs": [{"name": "output_0", "dtype": "float32", "shape": ["batch", 4]}],
    },
}
TARGETS = {"cnn": ("torchscript-trace", "torch-export", "onnx-dynamo", "onnx-legacy"), "mlp": ("savedmodel", "tflite")}


def _models(with_contracts: bool, root: Path, targets: Tuple[str, ...]) -> List[ModelSpec]:
    specs = [
        ModelSpec(
            name,
            f"bench_models:{name}",
            tuple(t for t in TARGETS[name] if t in targets) or None,
            contract=CONTRACTS[name] if with_contracts else None,
        )
        for name in TARGETS
    ]
    specs = [s for s in specs if s.targets]
    return resolve_contracts(specs, root, None) if with_contracts else specs


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2, help="runs of each variant (interleaved)")
    parser.add_argument("--targets", default=",".join(t for ts in TARGETS.values() for t in ts))
    args = parser.parse_args(argv)
    targets = tuple(t for t in args.targets.split(",") if t)
    with tempfile.TemporaryDirectory(prefix="mllint-contract-bench-") as tmp:
        root = Path(tmp)
        (root / "bench_models.py").write_text(MODELS)
        seconds: Dict[Tuple[bool, str, str], List[float]] = {}
        walls: Dict[bool, List[float]] = {False: [], True: []}
        probes: Dict[Tuple[str, str], List[str]] = {}
        findings = 0
        checks: Dict[Tuple[str, str], List[float]] = {}
        for n in range(max(1, args.repeat)):
            for with_contracts in (False, True) if n % 2 == 0 else (True, False):  # alternate who goes first
                start = time.perf_counter()
                results = run_confirm(
                    _models(with_contracts, root, targets), root, targets, "cpu", 1, None, False, None
                )
                walls[with_contracts].append(time.perf_counter() - start)
                for r in results:
                    if r.status == "skipped":
                        continue
                    if r.status != "ok":
                        print(f"warning: {r.model} {r.target} {r.status}: {r.message}", file=sys.stderr)
                    seconds.setdefault((with_contracts, r.model, r.target), []).append(r.seconds)
                    if with_contracts:
                        probes[(r.model, r.target)] = list(r.details.get("contract_probes") or [])
                        checks.setdefault((r.model, r.target), []).append(float(r.details.get("contract_seconds") or 0))
                        findings += len(r.details.get("contract") or [])
    print(
        f"{'model':6} {'target':20} {'without s':>10} {'with s':>8} {'ratio':>6} {'checks s':>9}  probes "
        f"(medians of {args.repeat}; checks: time inside the contract checks, measured in the child)"
    )
    total = {False: 0.0, True: 0.0}
    in_checks = 0.0
    for _, model, target in sorted(k for k in seconds if not k[0]):
        without = statistics.median(seconds[(False, model, target)])
        with_ = statistics.median(seconds.get((True, model, target), [float("nan")]))
        total[False] += without
        total[True] += with_
        check = statistics.median(checks.get((model, target), [0.0]))
        in_checks += check
        print(
            f"{model:6} {target:20} {without:10.2f} {with_:8.2f} {with_ / without:6.2f} {check:9.3f}  "
            f"{', '.join(probes.get((model, target), [])) or '-'}"
        )
    wall_without, wall_with = statistics.median(walls[False]), statistics.median(walls[True])
    print()
    print(
        f"per-target time: {total[False]:.2f}s without contracts, {total[True]:.2f}s with: "
        f"ratio {total[True] / total[False]:.2f}"
    )
    print(
        f"whole --confirm run (wall, incl. framework imports and model setup): {wall_without:.2f}s without, "
        f"{wall_with:.2f}s with: ratio {wall_with / wall_without:.2f}"
    )
    share = in_checks / total[True] if total[True] else 0.0
    print(
        f"inside the contract checks (measured in the same child runs): {in_checks:.2f}s of {total[True]:.2f}s "
        f"per-target time ({share:.1%}): overhead ratio {total[True] / (total[True] - in_checks):.2f} "
        "(the with/without ratios above also carry the noise of separate runs)"
    )
    print(f"contract violations found: {findings} (the benchmark's contracts are met)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
