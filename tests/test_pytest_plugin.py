"""The pytest plugin: `pytest --mllint-confirm` collects model x target items and fails like mllint prints."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from confirm_project import MODELS


CONFIG = textwrap.dedent("""\
    [tool.mllint]
    targets = ["torchscript-script", "torch-export"]

    [[tool.mllint.models]]
    name = "clean"
    factory = "pkg.models:clean"

    [[tool.mllint.models]]
    name = "branchy"
    factory = "pkg.models:branchy"
    """)


def _project(root: Path) -> Path:
    (root / "pkg").mkdir()
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "models.py").write_text(MODELS)
    (root / "pyproject.toml").write_text(CONFIG)
    (root / "tests").mkdir()
    (root / "tests" / "test_unit.py").write_text("def test_unit():\n    assert 1 + 1 == 2\n")
    return root


def _pytest(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("PYTEST_ADDOPTS", None)
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # load the plugin from this checkout, whatever is installed
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "mllint.pytest_plugin", "-p", "no:cacheprovider", "-rA", *args],
        cwd=root,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


def test_off_unless_asked(tmp_path: Path) -> None:
    proc = _pytest(_project(tmp_path), "--collect-only", "-q")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "mllint::" not in proc.stdout and "test_unit" in proc.stdout


def test_collects_every_model_and_target(tmp_path: Path) -> None:
    proc = _pytest(_project(tmp_path), "--mllint-confirm", "--collect-only", "-q")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name in (
        "clean::torchscript-script",
        "clean::torch-export",
        "branchy::torchscript-script",
        "branchy::torch-export",
    ):
        assert f"pyproject.toml::mllint::{name}" in proc.stdout, proc.stdout


@pytest.mark.export
def test_a_failing_export_fails_its_item_with_mllints_line(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    proc = _pytest(_project(tmp_path), "--mllint-confirm")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "1 failed, 4 passed" in proc.stdout, proc.stdout
    assert "FAILED pyproject.toml::mllint::branchy::torch-export" in proc.stdout
    # the same line `mllint check --confirm` prints for the confirmed finding
    assert "pkg/models.py:12:12: PT101 tensor-dependent-branch `if` tests tensor data `x.sum() > 0`" in proc.stdout


def test_no_models_is_a_usage_error(tmp_path: Path) -> None:
    root = _project(tmp_path)
    (root / "pyproject.toml").write_text("[tool.mllint]\n")
    proc = _pytest(root, "--mllint-confirm")
    assert proc.returncode == 4 and "no [[tool.mllint.models]]" in proc.stderr, proc.stdout + proc.stderr


def test_the_package_registers_the_plugin_for_pytest() -> None:
    """Declared as a ``pytest11`` entry point (an installed wheel loads it; it stays off unless asked)."""
    from importlib.metadata import entry_points

    text = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    assert '[project.entry-points.pytest11]\nmllint = "mllint.pytest_plugin"' in text
    installed = {
        e.name: e.value
        for e in entry_points(group="pytest11")
        if e.dist is not None and e.dist.metadata["Name"] == "mllint-export"
    }
    if not installed:
        pytest.skip("the installed mllint-export was built before the plugin existed (reinstall to check it)")
    assert installed == {"mllint": "mllint.pytest_plugin"}
