"""Static checking runs with the test suite (so in CI through ``.ci/run``): ruff lint, ruff's format
check and mypy (strict on ``analysis/`` and ``checks/``, ``check_untyped_defs`` elsewhere), with the
configuration in pyproject.toml and the versions pinned in constraints-test.txt."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest

REPO = Path(__file__).resolve().parents[1]
PATHS = ["src", "tests", "scripts", "benchmarks"]


def _tool(name: str) -> List[str]:
    """The tool from this interpreter's environment (the test extra installs it), else from PATH."""
    if importlib.util.find_spec(name) is not None:
        return [sys.executable, "-m", name]
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed: pip install -c constraints-test.txt -e '.[test]'")
    return [found]


def _run(args: List[str]) -> subprocess.CompletedProcess:
    env = dict(os.environ, NO_COLOR="1")
    return subprocess.run(args, cwd=str(REPO), capture_output=True, text=True, timeout=600, env=env)


def test_ruff_lint_passes() -> None:
    proc = _run([*_tool("ruff"), "check", *PATHS])
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ruff_format_check_passes() -> None:
    proc = _run([*_tool("ruff"), "format", "--check", *PATHS])
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.slow
def test_mypy_passes() -> None:
    proc = _run([*_tool("mypy"), "--python-executable", sys.executable])
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_tools_are_pinned() -> None:
    pins = (REPO / "constraints-test.txt").read_text(encoding="utf-8").splitlines()
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    for name in ("ruff", "mypy"):
        assert any(line.startswith(f"{name}==") for line in pins), name
        assert f'"{name}>=' in pyproject, name
