"""``--device cpu|cuda|auto``, decided in the parent before any child starts.

``cuda`` without a usable GPU is a usage error (raised as ``ValueError``, which the CLI reports);
``auto`` falls back to the CPU. The check is cheap when there is no NVIDIA driver at all (no framework
import); otherwise it asks torch (or TensorFlow) in a short subprocess, so the parent stays framework-free.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import subprocess
import sys

DEVICES = ("cpu", "cuda", "auto")

_PROBE = (
    "import importlib.util, sys\n"
    "if importlib.util.find_spec('torch'):\n"
    "    import torch\n"
    "    sys.exit(0 if torch.cuda.is_available() else 1)\n"
    "import tensorflow as tf\n"
    "sys.exit(0 if tf.config.list_physical_devices('GPU') else 1)\n"
)


@functools.lru_cache(maxsize=None)
def gpu_available() -> bool:
    """True when a CUDA device is usable by the installed framework."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return False
    if not os.path.exists("/proc/driver/nvidia") and shutil.which("nvidia-smi") is None:
        return False
    if importlib.util.find_spec("torch") is None and importlib.util.find_spec("tensorflow") is None:
        return False
    try:
        return subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, timeout=120).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def resolve_device(requested: str) -> str:
    """``"cpu"`` or ``"cuda"``; a ``ValueError`` for ``cuda`` without a GPU or an unknown name."""
    if requested not in DEVICES:
        raise ValueError(f"--device must be one of {', '.join(DEVICES)}, got '{requested}'")
    if requested == "cpu":
        return "cpu"
    if gpu_available():
        return "cuda"
    if requested == "cuda":
        raise ValueError("--device cuda: no CUDA device is available here (use --device cpu, or auto to fall back)")
    return "cpu"


def child_environment(device: str, jobs: int = 1) -> dict:
    """Environment additions for a child on ``device``: hide GPUs from CPU runs, quieten TensorFlow, and
    share the cores between parallel children (unless the user already chose thread counts)."""
    env = {"TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONFAULTHANDLER": "1", "PYTHONUNBUFFERED": "1"}
    if device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""
    if jobs > 1 and "OMP_NUM_THREADS" not in os.environ:
        env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // jobs))
    return env
