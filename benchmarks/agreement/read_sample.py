"""Draw the read sample of the agreement benchmark: findings on code the tests do not contain, to judge by hand.

    python benchmarks/agreement/read_sample.py [--size 50] [--seed 13]

Takes mllint's claims (error/warning findings) on the functions the benchmark's models ran, spreads the sample
over targets and rules (every claim on a target other than scripting, at most ``--per-code`` per
rule code of the rest, then more at random), and prints each with its source line
and the real export outcomes of the models that ran it. The judgments (real / debatable / false, one line
each) are kept in ``read_sample.csv``; ``--check`` prints the tally of that file.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Dict, List

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import agreement  # noqa: E402

SAMPLE = HERE / "read_sample.csv"


def draw(size: int, seed: int, per_code: int) -> List[dict]:
    truth = agreement.load_ground_truth()
    paths = sorted({p for e in truth.values() for p, _, _ in e["reached"]})
    findings, _, _ = agreement.static_findings(paths, [])
    claims = [
        f
        for f in findings
        if f["severity"] in ("error", "warning")
        and not f["code"].startswith("ML")
        and any(agreement._in(e["reached"], f["path"], f["line"]) for e in truth.values())
    ]
    rng = random.Random(seed)
    by_code: Dict[str, List[dict]] = defaultdict(list)
    for f in sorted(claims, key=lambda f: (f["path"], f["line"], f["code"])):
        by_code[f["code"]].append(f)
    # Claims on the other targets are few and matter most: all of them first (each one finding, once).
    picked: List[dict] = [f for f in claims if set(f["targets"]) - {"torchscript-script"}]
    for code in sorted(by_code):
        by_code[code] = [f for f in by_code[code] if f not in picked]
    for code in sorted(by_code):
        picked += rng.sample(by_code[code], min(per_code, len(by_code[code])))
    rest = [f for f in claims if f not in picked]
    picked += rng.sample(rest, max(0, min(size - len(picked), len(rest))))
    for f in picked:
        f["models"] = {
            m: {t: c["status"] for t, c in e["targets"].items() if t in f["targets"]}
            for m, e in truth.items()
            if agreement._in(e["reached"], f["path"], f["line"])
        }
    return sorted(picked[:size], key=lambda f: (f["code"], f["path"], f["line"]))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=50)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--per-code", type=int, default=4)
    parser.add_argument("--check", action="store_true", help="tally the judgments in read_sample.csv")
    args = parser.parse_args()
    if args.check:
        with SAMPLE.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        tally = Counter(r["judgment"] for r in rows)
        print(f"{len(rows)} findings: " + ", ".join(f"{k} {v}" for k, v in sorted(tally.items())))
        print(f"real: {tally['real'] / max(1, len(rows)):.0%}")
        return 0
    agreement.prepare_project([])
    for f in draw(args.size, args.seed, args.per_code):
        line = (agreement.PROJECT / f["path"]).read_text(encoding="utf-8").splitlines()[f["line"] - 1].strip()
        models = ", ".join(
            f"{m}:" + "/".join(f"{t.split('-')[-1]}={s}" for t, s in ts.items())
            for m, ts in sorted(f["models"].items())[:3]
        )
        print(f"{f['path']}:{f['line']}:{f['column']}: {f['code']} [{','.join(f['targets'])}] {f['message'][:150]}")
        print(f"    | {line[:140]}")
        print(f"    models: {models} (+{max(0, len(f['models']) - 3)} more)")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(agreement.REPO / "src"))
    sys.exit(main())
