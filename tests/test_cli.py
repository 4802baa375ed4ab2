"""End-to-end tests of the ``mllint`` command: ``main`` in-process (``mllint_cli``), and ``python -m mllint``."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

HAZARD = textwrap.dedent(
    """\
    import torch
    from torch import nn


    class Net(nn.Module):
        def forward(self, x):
            if x.sum() > 0:
                return x * 2
            return x - 1
    """
)
CLEAN = textwrap.dedent(
    """\
    import torch
    from torch import nn


    class Net(nn.Module):
        def forward(self, x):
            return torch.where(x.sum() > 0, x * 2, x - 1)
    """
)


def write(root: Path, files: dict) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")


def test_fixtures_report_findings_and_exit_1(mllint_cli) -> None:
    proc = mllint_cli(["check", "fixtures/example"], cwd=REPO)
    assert proc.returncode == 1, proc.stderr
    assert "fixtures/example/model.py:20:30: PT101 tensor-dependent-branch" in proc.stdout
    assert "Found 3 findings" in proc.stdout


def test_python_dash_m_works(tmp_path: Path) -> None:
    write(tmp_path, {"m.py": HAZARD})
    proc = subprocess.run([sys.executable, "-m", "mllint", "check", "m.py", "-q"], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stdout.strip() == "m.py:7:12: PT101 `if` tests tensor data `x.sum() > 0` (reached from `Net.forward`)"


def test_empty_directory_exits_0_with_message(mllint_cli, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    proc = mllint_cli(["check", "empty"], cwd=tmp_path)
    assert proc.returncode == 0
    assert "No Python files found" in proc.stdout


def test_clean_code_exits_0(mllint_cli, tmp_path: Path) -> None:
    write(tmp_path, {"m.py": CLEAN})
    proc = mllint_cli(["check", "."], cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout
    assert "no export hazards found in 1 file" in proc.stdout


@pytest.mark.parametrize(
    "table,needle",
    [
        ("selct = ['PT101']", "unknown key 'selct' (did you mean 'select'?)"),
        ("targets = 'torch-export'\nfoo = 1", "unknown key 'foo'"),
        ("select = 3", "'select' must be a list of strings"),
        ("select = ['PT999']", "'select' names unknown rule 'PT999'"),
        ("targets = ['torch-exprot']", "unknown target 'torch-exprot' (did you mean 'torch-export'?)"),
        ("severity = { PT101 = 'fatal' }", "unknown severity 'fatal'"),
        ("onnx-opset = 'x'", "'onnx-opset' must be an integer"),
    ],
)
def test_bad_configuration_is_exit_2_naming_key_and_file(mllint_cli, tmp_path: Path, table: str, needle: str) -> None:
    write(tmp_path, {"pyproject.toml": f"[tool.mllint]\n{table}\n", "m.py": HAZARD})
    proc = mllint_cli(["check", "."], cwd=tmp_path)
    assert proc.returncode == 2
    assert needle in proc.stderr
    assert str(tmp_path / "pyproject.toml") in proc.stderr


def test_invalid_toml_is_exit_2(mllint_cli, tmp_path: Path) -> None:
    write(tmp_path, {"pyproject.toml": "[tool.mllint\nselect = [", "m.py": HAZARD})
    proc = mllint_cli(["check", "."], cwd=tmp_path)
    assert proc.returncode == 2
    assert "invalid TOML" in proc.stderr


def test_unparseable_and_non_utf8_files_are_reported_and_run_goes_on(mllint_cli, tmp_path: Path) -> None:
    write(tmp_path, {
        "a_broken.py": "def f(:\n    pass\n",
        "b_latin1.py": b"x = 1\ny = '\xe9t\xe9'\n",
        "c_model.py": HAZARD,
        "d_declared_latin1.py": b"# -*- coding: latin-1 -*-\nname = '\xe9t\xe9'\n",
    })
    proc = mllint_cli(["check", ".", "--format", "json"], cwd=tmp_path)
    assert proc.returncode == 1
    doc = json.loads(proc.stdout)
    got = {(f["path"], f["code"], f["line"]) for f in doc["findings"]}
    assert ("a_broken.py", "ML001", 1) in got
    assert ("b_latin1.py", "ML002", 2) in got
    assert ("c_model.py", "PT101", 7) in got
    assert not any(f["path"] == "d_declared_latin1.py" for f in doc["findings"])
    broken = next(f for f in doc["findings"] if f["code"] == "ML001")
    assert broken["column"] == 7 and "cannot parse" in broken["message"]


def test_unreadable_named_file(mllint_cli, tmp_path: Path) -> None:
    (tmp_path / "missing.py").symlink_to(tmp_path / "nowhere.py")
    proc = mllint_cli(["check", "missing.py", "-q"], cwd=tmp_path)
    assert "ML003" in proc.stdout
    assert proc.returncode == 1


def test_nonexistent_path_is_usage_error(mllint_cli, tmp_path: Path) -> None:
    proc = mllint_cli(["check", "nope/"], cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "mllint: nope/: no such file or directory"


SUPPRESS = textwrap.dedent(
    """\
    import torch
    from torch import nn


    class Net(nn.Module):
        def forward(self, x, y):
            if x.sum() > 0:  # mllint: ignore[PT101]
                x = x * 2
            if (  # mllint: ignore[tensor-dependent-branch]
                y.mean()
                > 0
            ):
                y = y + 1
            while y.max() > 3:  # mllint: ignore
                y = y - 1
            if x.min() < 0:  # mllint: ignore[PT999]
                x = -x
            s = "# mllint: ignore"
            if y.any():
                return x
            return y
    """
)


def test_suppressions_single_and_multi_line(mllint_cli, tmp_path: Path) -> None:
    write(tmp_path, {"m.py": SUPPRESS})
    proc = mllint_cli(["check", "m.py", "--format", "json", "--report-unused-ignores"], cwd=tmp_path)
    doc = json.loads(proc.stdout)
    active = {(f["line"], f["code"]) for f in doc["findings"] if not f["suppressed"]}
    suppressed = {(f["line"], f["code"]) for f in doc["findings"] if f["suppressed"]}
    assert suppressed == {(7, "PT101"), (10, "PT101"), (14, "PT101")}
    assert active == {(16, "PT101"), (16, "ML005"), (19, "PT101")}
    unused = next(f for f in doc["findings"] if f["code"] == "ML005")
    assert "PT999" in unused["message"]


def test_file_level_suppression(mllint_cli, tmp_path: Path) -> None:
    write(tmp_path, {"m.py": "# mllint: ignore-file[PT101]\n" + HAZARD})
    proc = mllint_cli(["check", "m.py"], cwd=tmp_path)
    assert proc.returncode == 0
    assert "1 suppressed" in proc.stdout


def test_json_output_written_atomically(mllint_cli, tmp_path: Path) -> None:
    write(tmp_path, {"m.py": HAZARD})
    proc = mllint_cli(["check", ".", "--format", "json", "--output", "out/report.json", "--target", "all"], cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stdout == ""
    doc = json.loads((tmp_path / "out" / "report.json").read_text())
    assert doc["schema"] == "mllint-json" and doc["version"] == 1
    f = doc["findings"][0]
    assert (f["path"], f["line"], f["column"], f["code"], f["severity"]) == ("m.py", 7, 12, "PT101", "error")
    assert f["targets"] == ["torchscript-trace", "torch-export", "onnx-dynamo", "onnx-legacy"]
    assert f["effects"]["torchscript-trace"] == "silent"
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["report.json"]


def test_targets_change_findings_and_fix(mllint_cli, tmp_path: Path) -> None:
    write(tmp_path, {"m.py": HAZARD})
    only_script = mllint_cli(["check", ".", "--target", "torchscript-script"], cwd=tmp_path)
    assert only_script.returncode == 0
    export_only = mllint_cli(["check", ".", "--target", "torch-export,onnx-dynamo", "--format", "json"], cwd=tmp_path)
    f = json.loads(export_only.stdout)["findings"][0]
    assert f["targets"] == ["torch-export", "onnx-dynamo"]
    assert f["fix"] == json.loads(export_only.stdout)["findings"][0]["fix"]
    all_targets = json.loads(mllint_cli(["check", ".", "--format", "json"], cwd=tmp_path).stdout)["findings"][0]
    assert "torch.where" in all_targets["fix"]


def test_fail_on_exit_zero_and_severity_override(mllint_cli, tmp_path: Path) -> None:
    write(tmp_path, {"m.py": HAZARD})
    assert mllint_cli(["check", ".", "--exit-zero"], cwd=tmp_path).returncode == 0
    assert mllint_cli(["check", ".", "--severity", "PT101=info"], cwd=tmp_path).returncode == 0
    assert mllint_cli(["check", ".", "--severity", "PT101=info", "--fail-on", "info"], cwd=tmp_path).returncode == 1
    assert mllint_cli(["check", ".", "--target", "torchscript-trace", "--fail-on", "error"], cwd=tmp_path).returncode == 0


def test_config_select_ignore_and_per_file_ignores(mllint_cli, tmp_path: Path) -> None:
    write(tmp_path, {"a.py": HAZARD, "tests/b.py": HAZARD,
                     "pyproject.toml": "[tool.mllint]\nper-file-ignores = { 'tests/*' = ['PT1'] }\n"})
    proc = mllint_cli(["check", ".", "-q"], cwd=tmp_path)
    assert proc.stdout.splitlines() == ["a.py:7:12: PT101 `if` tests tensor data `x.sum() > 0` (reached from `Net.forward`)"]
    assert mllint_cli(["check", ".", "--ignore", "PT101"], cwd=tmp_path).returncode == 0


def test_stdin_with_filename(mllint_cli, tmp_path: Path) -> None:
    write(tmp_path, {"pyproject.toml": "[tool.mllint]\ntargets = ['torch-export']\n"})
    proc = mllint_cli(["check", "-", "--stdin-filename", "pkg/model.py", "-q"], cwd=tmp_path, stdin=HAZARD)
    assert proc.returncode == 1
    assert proc.stdout.startswith("pkg/model.py:7:12: PT101")


def test_discovery_skips_ignored_but_checks_named_files(mllint_cli, tmp_path: Path) -> None:
    write(tmp_path, {"src/m.py": HAZARD, ".venv/lib/x.py": HAZARD, "build/y.py": HAZARD, "gen/z.py": HAZARD,
                     "node_modules/n.py": HAZARD, ".gitignore": "gen/\n", "pyproject.toml": "[tool.mllint]\nextend-exclude = ['legacy']\n",
                     "legacy/old.py": HAZARD})
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    proc = mllint_cli(["check", ".", "--format", "json"], cwd=tmp_path)
    paths = {f["path"] for f in json.loads(proc.stdout)["findings"]}
    assert paths == {"src/m.py"}
    named = mllint_cli(["check", "gen/z.py", "legacy/old.py", "--format", "json"], cwd=tmp_path)
    assert {f["path"] for f in json.loads(named.stdout)["findings"]} == {"gen/z.py", "legacy/old.py"}
    forced = mllint_cli(["check", "gen/z.py", "legacy/old.py", "--force-exclude"], cwd=tmp_path)
    assert forced.returncode == 0


def test_output_is_deterministic(mllint_cli, tmp_path: Path) -> None:
    write(tmp_path, {f"pkg/m{i}.py": HAZARD for i in range(5)})
    first = mllint_cli(["check", ".", "--format", "json"], cwd=tmp_path).stdout
    second = mllint_cli(["check", "pkg/m4.py", "pkg/m0.py", "pkg", "--format", "json"], cwd=tmp_path).stdout
    assert first == second
    lines = [(f["path"], f["line"]) for f in json.loads(first)["findings"]]
    assert lines == sorted(lines)


def test_rules_and_explain(mllint_cli) -> None:
    proc = mllint_cli(["rules", "--target", "torch-export"], cwd=REPO)
    assert proc.returncode == 0 and "PT101" in proc.stdout and "ML001" not in proc.stdout
    proc = mllint_cli(["explain", "tensor-dependent-branch"], cwd=REPO)
    assert proc.returncode == 0
    assert proc.stdout.startswith("# PT101 tensor-dependent-branch")
    assert "## Why it matters" in proc.stdout and "torch.where" in proc.stdout
    bad = mllint_cli(["explain", "PT000"], cwd=REPO)
    assert bad.returncode == 2 and "unknown rule" in bad.stderr


def test_color_off_when_not_a_tty(mllint_cli, tmp_path: Path) -> None:
    write(tmp_path, {"m.py": HAZARD})
    assert "\x1b[" not in mllint_cli(["check", "."], cwd=tmp_path).stdout
    assert "\x1b[" in mllint_cli(["check", ".", "--color", "always"], cwd=tmp_path).stdout
    assert "\x1b[" not in mllint_cli(["check", ".", "--color", "auto"], cwd=tmp_path, env_extra={"NO_COLOR": "1"}).stdout
