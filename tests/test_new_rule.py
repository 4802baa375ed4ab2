"""``scripts/new_rule.py`` scaffolds a rule the suite picks up: in a temporary copy of the checkout,
the new card's examples, the fixture, the one-owner meta-test and the README table test all run and
pass with the scaffold's stub, and ``mllint explain`` shows the new rule."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _copy(dest: Path) -> Path:
    ignore = shutil.ignore_patterns(
        ".git", ".venv", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache", ".mllint_cache", "*.egg-info"
    )
    for item in ("src", "rules", "tests", "scripts", "fixtures", ".ci"):
        shutil.copytree(REPO / item, dest / item, ignore=ignore)
    for item in ("README.md", "pyproject.toml", "constraints-test.txt"):
        shutil.copy2(REPO / item, dest / item)
    return dest


@pytest.mark.slow  # scaffolds a rule and runs pytest on it in subprocesses (seconds)
@pytest.mark.parametrize(
    "code,name,family",
    [("PT299", "placeholder-hazard", "unsupported"), ("TF299", "placeholder-hazard", "control-flow")],
)
def test_scaffolded_rule_is_picked_up_by_the_suite(tmp_path: Path, code: str, name: str, family: str) -> None:
    root = _copy(tmp_path / "checkout")
    env = dict(os.environ, PYTHONPATH=str(root / "src"), XDG_CACHE_HOME=str(tmp_path / "cache"))
    made = subprocess.run(
        [sys.executable, "scripts/new_rule.py", code, name, family],
        cwd=str(root),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 0, made.stderr
    assert (root / "rules" / family / f"{code}-{name}.md").is_file()

    explain = subprocess.run(
        [sys.executable, "-m", "mllint", "explain", code],
        cwd=str(root),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert explain.returncode == 0 and f"# {code} {name}" in explain.stdout, explain.stderr

    folder = "torch" if code.startswith("PT") else "tensorflow"
    tests = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-rA",
            "tests/test_catalogue_examples.py",
            "tests/test_rule_owners.py",
            "tests/test_readme.py",
            "tests/test_fixtures.py",
            "-k",
            f"{code} or owner or readme or {folder}",
        ],
        cwd=str(root),
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert tests.returncode == 0, tests.stdout[-3000:] + tests.stderr[-2000:]
    passed = [line for line in tests.stdout.splitlines() if line.startswith("PASSED")]
    assert any(f"{code}-bad0" in line for line in passed) and any(f"{code}-good1" in line for line in passed)
    assert any(f"test_fixture_findings_match_expectations[{folder}]" in line for line in passed)
