"""Peak memory of ``mllint check`` per file (issue 16, item 12): each file in a fresh process.

    python benchmarks/memory.py FILE_OR_FOLDER...            # every .py under them, largest first
    python benchmarks/memory.py --largest 20 torch transformers   # the 20 largest of installed packages
    python benchmarks/memory.py --generated                  # token-dense generated files, 0.1-4 MB

Each file is checked alone (``--no-cache --target all``),
from the file's own folder, so nothing is copied; the cache is off, so nothing is written. The peak is
``ru_maxrss`` of that child (``os.wait4``), in MiB; the row also gives the file size, peak / size, the
wall time and whether the file was analysed or reported as over the memory limit (ML009).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterable, List, Optional, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import package_dir  # noqa: E402


def token_dense(size: int) -> str:
    """A generated module of about ``size`` bytes made of short tokens (a large literal table), the
    worst case per byte for a concrete syntax tree."""
    rows = []
    total = 0
    i = 0
    while total < size:
        row = "    (" + ", ".join(str((i * 7 + j) % 97) for j in range(16)) + "),\n"
        rows.append(row)
        total += len(row)
        i += 1
    return "import torch\n\nTABLE = [\n" + "".join(rows) + "]\n"


def peak_of(path: Path, *options: str) -> Tuple[float, float, List[str]]:
    """Peak RSS (MiB) and wall time of ``mllint check`` on one file, and the tool codes it reported."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-P",  # the file's folder is the working directory: its ``types.py`` must not shadow the stdlib
                "-m",
                "mllint",
                "check",
                path.name,
                "--no-cache",
                "--target",
                "all",
                "--format",
                "json",
                "--exit-zero",
                *options,
            ],
            cwd=str(path.parent),
            stdout=out,
            stderr=subprocess.DEVNULL,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        data = out.read()
    wall = time.perf_counter() - start
    try:
        codes = sorted({f["code"] for f in json.loads(data)["findings"] if f["code"].startswith("ML")})
    except (ValueError, KeyError):
        codes = [f"exit {proc.returncode}"]
    return usage.ru_maxrss / 1024, wall, codes  # ru_maxrss is KiB on Linux


def files_under(paths: Iterable[Path]) -> List[Path]:
    out: List[Path] = []
    for p in paths:
        out.extend(sorted(p.rglob("*.py")) if p.is_dir() else [p])
    return sorted(out, key=lambda f: f.stat().st_size, reverse=True)


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("paths", nargs="*", help="files or folders; with --largest: installed package names")
    ap.add_argument("--largest", type=int, default=0, help="only the N largest files of each package or folder")
    ap.add_argument("--generated", action="store_true", help="token-dense generated files of growing size")
    ap.add_argument("--memory-limit", default=None, help="passed to mllint check (MiB)")
    args = ap.parse_args(argv)
    options = ["--memory-limit", args.memory_limit] if args.memory_limit else []
    rows: List[Tuple[str, int, float, float, List[str]]] = []
    print(f"{'file':<70} {'size KB':>8} {'peak MiB':>9} {'x size':>7} {'wall s':>7}  tool findings", flush=True)

    def measure(path: Path, label: str) -> None:
        size = path.stat().st_size
        peak, wall, codes = peak_of(path, *options)
        rows.append((label, size, peak, wall, codes))
        print(
            f"{label[-70:]:<70} {size / 1000:>8.0f} {peak:>9.0f} {peak * 2**20 / max(size, 1):>7.0f} {wall:>7.1f}  "
            f"{' '.join(codes)}",
            flush=True,
        )

    if args.generated:
        with tempfile.TemporaryDirectory() as tmp:
            for size in (100_000, 300_000, 1_000_000, 2_000_000, 4_000_000):
                path = Path(tmp) / f"dense_{size // 1000}k.py"
                path.write_text(token_dense(size))
                measure(path, path.name)
    groups: List[List[Path]] = []
    for name in args.paths:
        p = Path(name)
        if not p.exists() and args.largest:
            p = package_dir(name, "", Path(tempfile.gettempdir()) / "mllint-bench-wheels", note=True)
        groups.append(files_under([p]))
    for files in groups:
        for path in files[: args.largest] if args.largest else files:
            measure(path, str(path))
    if rows:
        worst = max(rows, key=lambda r: r[2])
        print(f"max peak: {worst[2]:.0f} MiB ({worst[0]}, {worst[1] / 1000:.0f} KB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
