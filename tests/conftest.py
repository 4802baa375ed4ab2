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


@pytest.fixture(autouse=True, scope="session")
def _private_cache_home(tmp_path_factory: pytest.TempPathFactory):
    """Every test (and every mllint it starts) caches under a temporary XDG_CACHE_HOME, never the user's."""
    old = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg-cache"))
    yield
    if old is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = old


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
