"""Lint the model code of real packages and print findings per rule, per 1,000 lines, and a sample.

    python benchmarks/false_positives.py                       # timm/models and transformers/models
    python benchmarks/false_positives.py --sample 30 --seed 1  # a reproducible sample to read
    python benchmarks/false_positives.py --path some/tree

Packages are located without importing them (importlib.util.find_spec); when one is not installed,
its wheel is fetched with ``pip download --no-deps`` into a temporary folder (torchvision, which
timm would import, is never needed). The sample is for a person to read: the share of real hazards
in it is what the issue note reports.
"""

from __future__ import annotations

import argparse
import random
import tempfile
from collections import Counter
from pathlib import Path
from typing import List

from common import lint, package_dir

CORPORA = (("timm", "models"), ("transformers", "models"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--path", action="append", type=Path, help="lint this tree instead of the default corpora")
    parser.add_argument("--sample", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        trees: List[Path] = args.path or [package_dir(p, s, Path(tmp)) for p, s in CORPORA]
        all_findings = []
        for tree in trees:
            lines = sum(p.read_bytes().count(b"\n") for p in tree.rglob("*.py"))
            doc, seconds = lint(tree)
            findings = [f for f in doc["findings"] if not f["suppressed"]]
            internal = [f for f in findings if f["code"] == "ML004"]
            per_rule = Counter(f["code"] for f in findings)
            print(f"\n{tree}  ({doc['files_checked']} files, {lines} lines, {seconds:.1f} s)")
            print(f"  findings: {len(findings)}  per 1,000 lines: {1000 * len(findings) / max(lines, 1):.2f}"
                  f"  internal errors: {len(internal)}")
            for code, n in sorted(per_rule.items()):
                print(f"    {code}  {n:5d}  {1000 * n / max(lines, 1):.2f} per 1,000 lines")
            all_findings.extend((tree, f) for f in findings)
        rng = random.Random(args.seed)
        sample = rng.sample(all_findings, min(args.sample, len(all_findings)))
        print(f"\nSample of {len(sample)} findings (seed {args.seed}) to read:")
        for tree, f in sample:
            print(f"  {tree.name}/{f['path']}:{f['line']}:{f['column']} {f['code']} {f['message'][:140]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
