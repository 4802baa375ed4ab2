"""A ``--jobs`` worker that dies (killed, ``os._exit``, the OOM killer) loses nothing (issue 16): the engine
checks the project again in-process and reports exactly what ``--jobs 1`` reports, with a warning."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mllint.parallel import CRASH_WORKER_ENV

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _check(root: Path, jobs: int, crash: str = "") -> "subprocess.CompletedProcess[str]":
    env = dict(os.environ)
    env.pop(CRASH_WORKER_ENV, None)
    env["MLLINT_POOL_MIN_BYTES"] = "0"  # a pool even for a small project
    if crash:
        env[CRASH_WORKER_ENV] = crash
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mllint",
            "check",
            ".",
            "--no-cache",
            "--target",
            "all",
            "--format",
            "json",
            "--jobs",
            str(jobs),
        ],
        cwd=root,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


@pytest.mark.slow  # a real worker crash needs real processes (several seconds)
def test_a_dead_worker_is_retried_in_process_with_identical_results(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    shutil.copytree(FIXTURES / "torch", root)
    (root / "pyproject.toml").write_text("[tool.mllint]\n")
    one = _check(root, 1)
    crashed = _check(root, 2, crash="1")
    assert one.returncode == 1 and crashed.returncode == 1, crashed.stderr[-2000:]
    assert "worker process exited unexpectedly; checking again in-process" in crashed.stderr
    assert json.loads(crashed.stdout)["findings"] == json.loads(one.stdout)["findings"]
    assert json.loads(one.stdout)["findings"], "the fixture must have findings for the comparison to mean much"
