"""Shared test fixtures."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import List, Sequence

import pytest

REPO = Path(__file__).resolve().parents[1]


def _mllint_cmd() -> List[str]:
    exe = shutil.which("mllint", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "mllint"]


@pytest.fixture
def run_mllint():
    """Run the installed ``mllint`` command in a subprocess (as a user would)."""

    def run(args: Sequence[str], cwd: Path, stdin: str | None = None, env_extra: dict | None = None) -> subprocess.CompletedProcess:
        env = dict(os.environ)
        env.pop("NO_COLOR", None)
        env.update(env_extra or {})
        return subprocess.run([*_mllint_cmd(), *args], cwd=str(cwd), input=stdin, capture_output=True,
                              text=True, env=env, timeout=300)

    return run
