"""Lint installed Keras model code with the TensorFlow rules and print findings per rule, per 1,000
lines, internal errors, and a sample to read.

    python benchmarks/tf_false_positives.py                       # keras/src/applications, keras/src/layers
    python benchmarks/tf_false_positives.py --sample 40 --seed 1  # a reproducible sample to read
    python benchmarks/tf_false_positives.py --path some/tree
    python benchmarks/tf_false_positives.py --extra               # also keras-hub and kecam model code

Keras is located without importing it (importlib.util.find_spec). ``--extra`` fetches the wheels of
keras-hub and keras-cv-attention-models with ``pip download --no-deps`` into a temporary folder (never
installed or imported): user-style Keras 3 model code. Only TF rules (``--select TF``) run, on every
target. Internal errors (ML004) must be zero; the sample is for a person to read, and
the share of real hazards in it is what the issue note reports.
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import tempfile
from collections import Counter
from pathlib import Path
from typing import List

from common import lint, unpacked_wheel

CORPORA = (("keras", "src/applications"), ("keras", "src/layers"))
#: (requirement, folder inside the unpacked wheel)
EXTRA = (("keras-hub==0.32.0", "keras_hub/src/models"), ("keras-cv-attention-models==1.4.3", "keras_cv_attention_models"))


def locate(package: str, sub: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"{package} is not installed")
    return Path(list(spec.submodule_search_locations)[0]) / sub


def fetch(requirement: str, sub: str, scratch: Path) -> Path:
    return unpacked_wheel(requirement, scratch) / sub


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--path", action="append", type=Path, help="lint this tree instead of the default corpora")
    parser.add_argument("--sample", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--all", action="store_true", help="print every finding instead of a sample")
    parser.add_argument("--extra", action="store_true", help="also lint keras-hub and keras-cv-attention-models")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        trees: List[Path] = args.path or [locate(p, s) for p, s in CORPORA]
        if args.extra:
            trees += [fetch(r, s, Path(tmp)) for r, s in EXTRA]
        return report(trees, args)


def report(trees: List[Path], args: argparse.Namespace) -> int:
    all_findings = []
    internal_total = 0
    for tree in trees:
        lines = sum(p.read_bytes().count(b"\n") for p in tree.rglob("*.py"))
        doc, seconds = lint(tree, "--select", "TF,ML004")
        findings = [f for f in doc["findings"] if not f["suppressed"]]
        internal = [f for f in findings if f["code"] == "ML004"]
        internal_total += len(internal)
        per_rule = Counter(f["code"] for f in findings)
        print(f"\n{tree}  ({doc['files_checked']} files, {lines} lines, {seconds:.1f} s)")
        print(f"  findings: {len(findings)}  per 1,000 lines: {1000 * len(findings) / max(lines, 1):.2f}"
              f"  internal errors: {len(internal)}")
        for code, n in sorted(per_rule.items()):
            print(f"    {code}  {n:5d}  {1000 * n / max(lines, 1):.2f} per 1,000 lines")
        for f in internal:
            print(f"  INTERNAL {f['path']}: {f['message']}")
        all_findings.extend((tree, f) for f in findings)
    rng = random.Random(args.seed)
    chosen = all_findings if args.all else rng.sample(all_findings, min(args.sample, len(all_findings)))
    print(f"\n{'All' if args.all else 'Sample of'} {len(chosen)} findings (seed {args.seed}) to read:")
    for tree, f in chosen:
        print(f"  {tree.name}/{f['path']}:{f['line']}:{f['column']} {f['code']} {f['message'][:160]}")
    print(f"\ninternal errors: {internal_total}")
    return 1 if internal_total else 0


if __name__ == "__main__":
    raise SystemExit(main())
