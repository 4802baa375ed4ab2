"""Configuration discovery, merging and validation (in-process)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mllint.catalogue import load_catalogue
from mllint.config import ConfigError, find_config, load_settings
from mllint.targets import ALL_TARGETS, MODERN_TARGETS

CAT = load_catalogue()


def test_nearest_pyproject_with_mllint_table_wins(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.mllint]\ntargets = ['tflite']\n")
    sub = tmp_path / "pkg" / "inner"
    sub.mkdir(parents=True)
    path, root = find_config(sub)
    assert path == tmp_path / "pyproject.toml" and root == tmp_path
    assert load_settings(sub, CAT).targets == ("tflite",)


def test_the_search_stops_at_the_projects_own_pyproject_or_repository_root(tmp_path: Path) -> None:
    """An ancestor's [tool.mllint] (outside the project) is never read: it could silence the project, break
    it, or name model factories that --confirm would import."""
    (tmp_path / "pyproject.toml").write_text("[tool.mllint]\nignore = ['ALL']\n")
    project = tmp_path / "pkg"
    (project / "inner").mkdir(parents=True)
    (project / "pyproject.toml").write_text("[project]\nname = 'x'\n")  # the project: no [tool.mllint]
    assert find_config(project / "inner") == (None, project)
    assert "PT101" in load_settings(project / "inner", CAT).enabled_codes
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "src").mkdir()
    assert find_config(repo / "src") == (None, repo)  # the repository root, not the ancestor's config


def test_command_line_overrides_file(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.mllint]\ntargets = ['tflite']\nignore = ['PT101']\n")
    settings = load_settings(tmp_path, CAT, overrides={"targets": ["torch-export"], "ignore": None})
    assert settings.targets == ("torch-export",)
    assert "PT101" not in settings.enabled_codes


def test_defaults_select_all_default_enabled_rules(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, CAT)
    # no target named: auto (the run picks the targets of the project's export calls, else the modern set)
    assert settings.targets_auto and settings.targets == MODERN_TARGETS
    assert "PT101" in settings.enabled_codes and "ML001" in settings.enabled_codes
    assert "ML005" not in settings.enabled_codes  # opt-in (--report-unused-ignores)


def test_prefix_and_name_selectors(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, CAT, overrides={"select": ["tensor-dependent-branch", "ML00"]})
    assert "PT101" in settings.enabled_codes and "ML001" in settings.enabled_codes


@pytest.mark.parametrize("table,needle", [
    ("[[tool.mllint.models]]\nname = 'm'\n", "'factory' must be a string"),
    ("[[tool.mllint.models]]\nfactory = 'a:b'\ndevice = 'tpu'\n", "'device' must be one of"),
    ("[[tool.mllint.models]]\nfactory = 'a:b'\nwat = 1\n", "unknown key 'wat'"),
    ("per-file-ignores = ['x']\n", "'per-file-ignores' must be a table"),
    ("targets = []\n", "must name at least one target"),
])
def test_invalid_tables(tmp_path: Path, table: str, needle: str) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.mllint]\n" + table)
    with pytest.raises(ConfigError) as err:
        load_settings(tmp_path, CAT)
    assert needle in str(err.value) and "pyproject.toml" in str(err.value)


def test_models_parsed(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[tool.mllint]\n[[tool.mllint.models]]\nname = 'clf'\nfactory = 'pkg.m:build'\ntargets = ['torch-export']\ntimeout = 30\n")
    settings = load_settings(tmp_path, CAT)
    (model,) = settings.models
    assert (model.name, model.factory, model.targets, model.timeout) == ("clf", "pkg.m:build", ("torch-export",), 30)


@pytest.mark.parametrize("value", ["'all'", "['all']", "['ALL', 'tflite']"])
def test_targets_all_restores_every_target(tmp_path: Path, value: str) -> None:
    (tmp_path / "pyproject.toml").write_text(f"[tool.mllint]\ntargets = {value}\n")
    assert load_settings(tmp_path, CAT).targets == ALL_TARGETS


def test_command_line_target_all_overrides_file(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.mllint]\ntargets = ['tflite']\n")
    settings = load_settings(tmp_path, CAT, overrides={"targets": ["all"]})
    assert settings.targets == ALL_TARGETS
