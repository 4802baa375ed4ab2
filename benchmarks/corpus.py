"""Where the benchmarks' corpora come from: an installed package's sources, located without importing
them, or its wheel fetched with ``pip download --no-deps`` and unpacked (never installed)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import zipfile
from pathlib import Path


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
