"""Time `--confirm` per model and target, and mllint's overhead around the frameworks' own export calls.

    python benchmarks/confirm_overhead.py                       # fixtures/confirm clean torch + Keras models
    python benchmarks/confirm_overhead.py --model my.pkg.models:build --root path/to/project --jobs 2

Per target: wall seconds inside the child, the framework's export/convert call alone, and the rest (running
the artifact and eager comparisons, saving artifacts, the fresh-process reloads of SavedModel / .keras).
Per model: the setup (framework import, factory, eager reference) and when its last result arrived.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Dict, List

from mllint.config import ModelSpec
from mllint.confirm import ExportResult, run_confirm
from mllint.targets import ALL_TARGETS

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MODELS = ["confirm_models.clean:make", "confirm_models.keras_models:make_clean"]


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", help="factory 'package.module:function' (repeatable)")
    parser.add_argument("--root", type=Path, default=REPO / "fixtures" / "confirm")
    parser.add_argument("--targets", default=",".join(ALL_TARGETS))
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    factories = args.model or DEFAULT_MODELS
    models = [ModelSpec(f, f) for f in factories]
    targets = tuple(t for t in args.targets.split(",") if t)

    finished: Dict[str, float] = {}
    start = time.perf_counter()

    def progress(result: ExportResult) -> None:
        finished[result.model] = time.perf_counter() - start

    results = run_confirm(models, args.root, targets, args.device, args.jobs, None, False, progress)
    wall = time.perf_counter() - start

    print(f"{'model':40} {'target':20} {'status':9} {'total s':>8} {'export s':>9} {'mllint s':>9}")
    for r in results:
        if r.status == "skipped":
            continue
        export = r.export_seconds if r.export_seconds is not None else 0.0
        print(f"{r.model[:40]:40} {r.target:20} {r.status:9} {r.seconds:8.2f} {export:9.2f} {r.seconds - export:9.2f}")
    print()
    print(f"{'model':40} {'setup s':>8} {'targets s':>10} {'export s':>9} {'done at':>8}  (setup: framework import, "
          "factory, eager reference; done at: seconds since the run started)")
    total_export = 0.0
    for m in models:
        mine = [r for r in results if r.model == m.name and r.status != "skipped"]
        setup = next((float(r.details.get("setup_seconds", 0.0)) for r in mine if "setup_seconds" in r.details), 0.0)
        in_targets = sum(r.seconds for r in mine)
        export = sum(r.export_seconds or 0.0 for r in mine)
        total_export += export
        print(f"{m.name[:40]:40} {setup:8.2f} {in_targets:10.2f} {export:9.2f} {finished.get(m.name, 0.0):8.2f}")
    print()
    print(f"run_confirm wall time {wall:.2f}s (jobs={args.jobs}); frameworks' own export calls {total_export:.2f}s; "
          f"everything else {wall - total_export:.2f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
