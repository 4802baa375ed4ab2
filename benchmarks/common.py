"""What the benchmarks share: where a corpus comes from (an installed package's sources, located without
importing them, or its wheel fetched with ``pip download --no-deps`` and unpacked, never installed), and
how mllint is run on it."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Tuple


def package_dir(package: str, sub: str, scratch: Path, note: bool = False) -> Path:
    """``<package>/<sub>`` of the installed package, else of its unpacked wheel under ``scratch``."""
    spec = importlib.util.find_spec(package)  # finds, does not import
    if spec is not None and spec.submodule_search_locations:
        return Path(list(spec.submodule_search_locations)[0]) / sub
    if note:
        print(f"{package} is not installed: pip download --no-deps {package} (not installed, only unpacked)", flush=True)
    return unpacked_wheel(package, scratch) / package.replace("-", "_") / sub


def unpacked_wheel(requirement: str, scratch: Path) -> Path:
    """Fetch one wheel without its dependencies and unpack it; the folder that holds its packages."""
    scratch.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", requirement, "-d", str(scratch)],
                   check=True)
    name = requirement.split("=")[0].split("<")[0].split(">")[0].replace("-", "_")
    wheel = next(p for p in scratch.glob("*.whl") if p.name.lower().startswith(name.lower() + "-"))
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(scratch / "site")
    return scratch / "site"


def lint(path: Path, *options: str) -> Tuple[dict, float]:
    """``mllint check --format json`` on ``path`` from its parent folder (the project root: base classes
    resolve inside it); the JSON report and the wall time."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-P", "-m", "mllint", "check", str(path), "--format", "json", "--exit-zero",
                           *options], capture_output=True, text=True, cwd=str(path.parent))
    if proc.returncode not in (0, 3):
        raise SystemExit(f"mllint failed on {path}: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout), time.perf_counter() - start
