"""The real pre-commit runs this checkout's hook (``try-repo``) on a temporary git repository."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PRE_COMMIT = shutil.which("pre-commit", path=str(Path(sys.executable).parent)) or shutil.which("pre-commit")

BASE = textwrap.dedent(
    """\
    import torch.nn as nn


    class Backbone(nn.Module):
        def stem(self, x):
            return x * 2
    """
)
MODEL = textwrap.dedent(
    """\
    import torch
    from base import Backbone


    class Net(Backbone):
        def forward(self, x):
            y = self.stem(x)
            if x.sum() > 0:
                return y
            return -y
    """
)
OTHER = textwrap.dedent(
    """\
    from torch import nn


    class Other(nn.Module):
        def forward(self, x):
            if x.mean() > 0:
                return x
            return -x
    """
)


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def _hook_repository(dest: Path) -> Path:
    """A git repository holding a plain copy of this checkout's package and hook definitions.

    pre-commit installs hooks from a git repository; copying makes the test work from an sdist or
    any unpacked copy, not only from a git checkout (and tests the files a release ships).
    """
    dest.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE", ".pre-commit-hooks.yaml"):
        if (REPO / name).exists():
            shutil.copy2(REPO / name, dest / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".mllint_cache")
    for folder in ("src", "rules"):
        shutil.copytree(REPO / folder, dest / folder, ignore=ignore)
    _git(dest, "init", "-q")
    _git(dest, "add", ".")
    _git(dest, "-c", "user.email=t@example.com", "-c", "user.name=t", "-c", "commit.gpgsign=false", "commit", "-qm", "hooks")
    return dest


@pytest.mark.slow
@pytest.mark.skipif(PRE_COMMIT is None, reason="pre-commit is a test dependency")
def test_hook_fails_on_hazard_and_passes_when_fixed_or_suppressed(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    _git(project, "init", "-q")
    _git(project, "config", "user.email", "t@example.com")
    _git(project, "config", "user.name", "t")
    (project / "pyproject.toml").write_text("[tool.mllint]\ntargets = ['torch-export']\n")
    (project / "base.py").write_text(BASE)
    (project / "other.py").write_text(OTHER)
    _git(project, "add", ".")
    _git(project, "commit", "-qm", "base")
    (project / "model.py").write_text(MODEL)
    _git(project, "add", "model.py")
    env = dict(os.environ, PRE_COMMIT_HOME=str(tmp_path / "pre-commit-home"), NO_COLOR="1")

    hooks = _hook_repository(tmp_path / "hooks")

    def run_hook() -> subprocess.CompletedProcess:
        return subprocess.run([PRE_COMMIT, "try-repo", str(hooks), "mllint", "--color", "never"], cwd=project,
                              capture_output=True, text=True, env=env, timeout=900)

    failing = run_hook()
    assert failing.returncode == 1, failing.stdout + failing.stderr
    assert "model.py:8:12: PT101 tensor-dependent-branch" in failing.stdout
    assert "other.py" not in failing.stdout.replace("model.py", "")  # the unstaged file is not reported

    (project / "model.py").write_text(MODEL.replace("if x.sum() > 0:", "if x.sum() > 0:  # mllint: ignore[PT101]"))
    _git(project, "add", "model.py")
    suppressed = run_hook()
    assert suppressed.returncode == 0, suppressed.stdout + suppressed.stderr

    fixed = MODEL.replace("        if x.sum() > 0:\n            return y\n        return -y\n",
                          "        return torch.where(x.sum() > 0, y, -y)\n")
    assert fixed != MODEL
    (project / "model.py").write_text(fixed)
    _git(project, "add", "model.py")
    passing = run_hook()
    assert passing.returncode == 0, passing.stdout + passing.stderr
    assert not list(project.glob("*.sarif")) and not list(project.glob("*.json"))
