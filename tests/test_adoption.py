"""Gradual adoption: baselines across edits, --statistics, --add-ignore, and the CLI details users hit first."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import List, Tuple

import pytest

from mllint.cli import build_parser, main
from mllint.targets import ALL_TARGETS

CONFIG = "[tool.mllint]\ntargets = ['torch-export', 'torchscript-trace']\n"
MODEL = textwrap.dedent(
    """\
    import torch
    from torch import nn


    class Net(nn.Module):
        def forward(self, x):
            if x.sum() > 0:
                return x
            y = torch.cat(
                [x, x],
                dim=int(x.sum().item()),
            )
            return y
    """
)
NEW_HAZARD = textwrap.dedent(
    """\


    class Other(nn.Module):
        def forward(self, x):
            return x * x.mean().item()
    """
)


def _project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model: str = MODEL) -> Path:
    (tmp_path / "pyproject.toml").write_text(CONFIG)
    (tmp_path / "model.py").write_text(model)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _run(capsys: pytest.CaptureFixture, *args: str) -> Tuple[int, str, str]:
    code = main(["check", *args, "--no-cache", "-j", "1"])
    out = capsys.readouterr()
    return code, out.out, out.err


def _quiet_lines(out: str) -> List[str]:
    return [line for line in out.splitlines() if line]


def test_baseline_round_trip_survives_line_shift_and_reports_new_and_stale(tmp_path, monkeypatch, capsys) -> None:
    root = _project(tmp_path, monkeypatch)
    code, _, err = _run(capsys, ".", "--baseline", "mllint-baseline.json", "--update-baseline")
    assert code == 0 and "wrote 2 entries" in err
    first = (root / "mllint-baseline.json").read_text()
    doc = json.loads(first)
    assert [(e["path"], e["code"]) for e in doc["findings"]] == [("model.py", "PT101"), ("model.py", "PT102")]
    # Writing again gives byte-identical text (a stable file, a clean diff).
    _run(capsys, ".", "--baseline", "mllint-baseline.json", "--update-baseline")
    assert (root / "mllint-baseline.json").read_text() == first

    # An unrelated edit above shifts every line; a new hazard goes at the end.
    shifted = MODEL.replace("from torch import nn\n", "from torch import nn\n\n\ndef helper():\n    return 1\n")
    (root / "model.py").write_text(shifted + NEW_HAZARD)
    code, out, err = _run(capsys, ".", "-q", "--baseline", "mllint-baseline.json")
    assert code == 1
    assert _quiet_lines(out) == [
        "model.py:22:20: PT102 `x.mean().item()` takes a Python number out of a tensor (reached from `Other.forward`)"
    ]
    assert "stale" not in err
    # Without the baseline all three are there, at their new lines.
    code, out, _ = _run(capsys, ".", "-q")
    assert [line.split(" ")[0] for line in _quiet_lines(out)] == [
        "model.py:11:12:",
        "model.py:15:21:",
        "model.py:22:20:",
    ]

    # Fixing the branch makes its entry stale; the run still passes the other baselined finding.
    fixed = shifted.replace("        if x.sum() > 0:\n            return x\n", "")
    (root / "model.py").write_text(fixed)
    code, out, err = _run(capsys, ".", "-q", "--baseline", "mllint-baseline.json")
    assert code == 0 and out == ""
    assert "1 stale baseline entry" in err and "model.py: PT101" in err
    # Checking another file leaves model.py's entries alone (neither matched nor stale).
    (root / "other.py").write_text("x = 1\n")
    code, _, err = _run(capsys, "other.py", "--baseline", "mllint-baseline.json")
    assert code == 0 and "stale" not in err


def test_baseline_json_and_sarif_mark_baselined_findings(tmp_path, monkeypatch, capsys) -> None:
    _project(tmp_path, monkeypatch)
    _run(capsys, ".", "--baseline", "b.json", "--update-baseline")
    code, out, _ = _run(capsys, ".", "--baseline", "b.json", "--format", "sarif")
    assert code == 0
    from test_sarif import validate

    log = json.loads(out)
    validate(log)
    results = log["runs"][0]["results"]
    assert len(results) == 2 and all(r["suppressions"][0]["kind"] == "external" for r in results)
    assert results[0]["suppressions"][0]["justification"] == "listed in the mllint baseline (--baseline)"


def test_bad_baseline_is_usage_error(tmp_path, monkeypatch, capsys) -> None:
    root = _project(tmp_path, monkeypatch)
    code, _, err = _run(capsys, ".", "--baseline", "missing.json")
    assert code == 2 and "missing.json: no such file or directory" in err
    (root / "bad.json").write_text("{not json")
    code, _, err = _run(capsys, ".", "--baseline", "bad.json")
    assert code == 2 and "bad.json:1:2: not valid JSON" in err
    (root / "list.json").write_text("[]")
    code, _, err = _run(capsys, ".", "--baseline", "list.json")
    assert code == 2 and "not an mllint baseline" in err
    code, _, err = _run(capsys, ".", "--update-baseline")
    assert code == 2 and "--update-baseline needs --baseline FILE" in err


def test_statistics_per_rule_and_target(tmp_path, monkeypatch, capsys) -> None:
    _project(tmp_path, monkeypatch, MODEL + NEW_HAZARD)
    code, out, _ = _run(capsys, ".", "--statistics")
    assert code == 1
    assert out == (
        "2  PT102  tensor-item\n1  PT101  tensor-dependent-branch\n\n"
        "By target:\n3  torchscript-trace\n1  torch-export\n"
    )
    code, out, _ = _run(capsys, ".", "--statistics", "--format", "json")
    assert json.loads(out) == {
        "rules": [
            {"code": "PT102", "name": "tensor-item", "count": 2},
            {"code": "PT101", "name": "tensor-dependent-branch", "count": 1},
        ],
        "targets": [{"target": "torchscript-trace", "count": 3}, {"target": "torch-export", "count": 1}],
    }
    code, _, err = _run(capsys, ".", "--statistics", "--format", "sarif")
    assert code == 2 and "--statistics" in err


ADD_IGNORE = (
    "import torch\r\n"
    "from torch import nn\r\n"
    "\r\n"
    "\r\n"
    "class Net(nn.Module):\r\n"
    "    def forward(self, x):\r\n"
    "        if (x.sum()\r\n"
    "                > 0):  # keep me\r\n"
    "            return x\r\n"
    "        if x.mean() > 0:  # mllint: ignore[PT999]\r\n"
    "            x = -x\r\n"
    "        s = f'''{x.sum().item()}\r\n"
    "'''\r\n"
    "        y = torch.cat([x, x],\r\n"
    "                      dim=int(x.max().item()))\r\n"
    "        return y\r\n"
)


def test_add_ignore_preserves_formatting_is_idempotent_and_relints_clean(tmp_path, monkeypatch, capsys) -> None:
    root = _project(tmp_path, monkeypatch, "")
    (root / "model.py").write_bytes(ADD_IGNORE.encode())
    (root / "model.py").chmod(0o640)
    code, _, err = _run(capsys, ".", "--add-ignore")
    after = (root / "model.py").read_bytes().decode()
    # The one finding inside a multi-line string's first line cannot take a comment: reported, exit 1.
    assert code == 1
    assert "model.py:12:18: PT102 not ignored: no line of the statement can end with a comment" in err
    assert "added 3 ignore comments in 1 file" in err
    expected = (
        ADD_IGNORE.replace("        if (x.sum()\r\n", "        if (x.sum()  # mllint: ignore[PT101]\r\n")
        .replace("# mllint: ignore[PT999]", "# mllint: ignore[PT999,PT101]")
        .replace("dim=int(x.max().item()))\r\n", "dim=int(x.max().item()))  # mllint: ignore[PT102]\r\n")
    )
    assert after == expected
    assert (root / "model.py").stat().st_mode & 0o777 == 0o640
    # Re-lint: only the unplaceable finding is left; a second run changes nothing.
    code, out, _ = _run(capsys, ".", "-q")
    assert _quiet_lines(out) == [
        "model.py:12:18: PT102 `x.sum().item()` takes a Python number out of a tensor (reached from `Net.forward`)"
    ]
    code, _, err = _run(capsys, ".", "--add-ignore")
    assert "added 0 ignore comments" in err
    assert (root / "model.py").read_bytes().decode() == expected


def test_add_ignore_never_writes_through_a_symlink(tmp_path, monkeypatch, capsys) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "real.py").write_text(MODEL)
    root = tmp_path / "project"
    root.mkdir()
    _project(root, monkeypatch)
    (root / "model.py").unlink()
    (root / "link.py").symlink_to(outside / "real.py")
    # a link out of the project is never read (ML003), so it gets no findings and no comment
    _run(capsys, "link.py", "--add-ignore")
    assert (outside / "real.py").read_text() == MODEL
    (root / "sub").symlink_to(outside, target_is_directory=True)
    _run(capsys, "sub/real.py", "--add-ignore")
    assert (outside / "real.py").read_text() == MODEL


def test_mistyped_codes_suggest_by_edit_distance(tmp_path, monkeypatch, capsys) -> None:
    _project(tmp_path, monkeypatch)
    code, _, err = _run(capsys, ".", "--select", "PT1O1")
    assert code == 2 and "did you mean 'PT101'?" in err
    assert main(["explain", "PT1O1"]) == 2
    assert "did you mean 'PT101'?" in capsys.readouterr().err
    assert main(["explain", "tensor-dependant-branch"]) == 2
    assert "did you mean 'tensor-dependent-branch'?" in capsys.readouterr().err


def test_every_option_has_help_and_target_help_lists_the_names() -> None:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for name, sub in subparsers.choices.items():  # type: ignore[attr-defined]
        for action in sub._actions:
            if action.dest == "help":
                continue
            assert action.help, f"mllint {name} {action.option_strings or action.dest} has no help text"
    check = subparsers.choices["check"]  # type: ignore[attr-defined]
    target_help = next(a.help for a in check._actions if a.dest == "targets")
    assert all(t in target_help for t in ALL_TARGETS)


def test_suite_never_uses_the_home_cache() -> None:
    from mllint.cache import cache_dir_for, user_cache_home

    home_cache = Path.home() / ".cache"
    assert home_cache not in user_cache_home().parents and user_cache_home() != home_cache
    assert home_cache not in cache_dir_for(Path(".")).parents


REPO = Path(__file__).resolve().parents[1]


def test_readme_problem_matcher_matches_each_finding_head_and_nothing_else(tmp_path, monkeypatch, capsys) -> None:
    import re

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = readme.split("GitHub problem matcher", 1)[1].split("```json\n", 1)[1].split("```", 1)[0]
    pattern = json.loads(block)["problemMatcher"][0]["pattern"][0]
    regexp = re.compile(pattern["regexp"])
    _project(tmp_path, monkeypatch, MODEL + NEW_HAZARD)
    code, out, _ = _run(capsys, ".", "--color", "never")
    assert code == 1
    matches = [m for m in map(regexp.match, out.splitlines()) if m]
    got = [
        (m.group(pattern["file"]), m.group(pattern["line"]), m.group(pattern["column"]), m.group(pattern["code"]))
        for m in matches
    ]
    assert got == [
        ("model.py", "7", "12", "PT101"),
        ("model.py", "11", "21", "PT102"),
        ("model.py", "18", "20", "PT102"),
    ]
    assert matches[0].group(pattern["message"]).startswith("tensor-dependent-branch `if` tests tensor data")


def test_confirm_constraints_pin_the_measured_versions() -> None:
    def pins(name: str) -> dict:
        lines = (REPO / name).read_text().splitlines()
        return dict(line.split("==", 1) for line in lines if line and not line.startswith("#"))

    confirm, measured = pins("constraints-confirm.txt"), pins("constraints-test.txt")
    for package in ("torch", "onnx", "onnxruntime", "onnxscript", "keras", "numpy", "tensorflow-cpu"):
        assert confirm[package] == measured[package], package
    assert confirm["tensorflow"] == measured["tensorflow-cpu"]


def test_add_ignore_uses_the_statement_line_when_the_finding_line_ends_in_a_string(
    tmp_path, monkeypatch, capsys
) -> None:
    source = textwrap.dedent(
        '''\
        import torch
        from torch import nn


        class Net(nn.Module):
            def forward(self, x):
                z = torch.cat([x,
                               x * x.mean().item(), """
        """])
                if x.sum() > \\
                        0:
                    return z
                return x
        '''
    )
    root = _project(tmp_path, monkeypatch, source)
    code, _, err = _run(capsys, ".", "--add-ignore")
    assert code == 1 and "model.py:10:12: PT101 not ignored: no line of the statement can end with a comment" in err
    expected = source.replace("z = torch.cat([x,\n", "z = torch.cat([x,  # mllint: ignore[PT102]\n")
    assert (root / "model.py").read_text() == expected
    code, out, _ = _run(capsys, ".", "-q")
    assert [line.split(" ")[1] for line in _quiet_lines(out)] == ["PT101"]


@pytest.mark.slow  # lints every fixture twice
def test_add_ignore_on_a_copy_of_the_fixtures_relints_clean_and_only_adds_comments(
    tmp_path, monkeypatch, capsys
) -> None:
    import re
    import shutil

    copy = tmp_path / "fixtures"
    shutil.copytree(REPO / "fixtures", copy)
    monkeypatch.chdir(copy)
    code, before, _ = _run(capsys, ".", "-q", "--exit-zero")
    assert len(_quiet_lines(before)) > 50
    code, _, err = _run(capsys, ".", "--add-ignore")
    assert code == 0 and "not ignored" not in err, err
    code, after, _ = _run(capsys, ".", "-q")
    assert code == 0 and after == ""
    mark = re.compile(r"(  # mllint: ignore\[[A-Z0-9,]+\]$|,[A-Z0-9,]+(?=\]))")
    changed = 0
    for path in sorted((REPO / "fixtures").rglob("*.py")):
        old = path.read_text(encoding="utf-8").splitlines()
        new = (copy / path.relative_to(REPO / "fixtures")).read_text(encoding="utf-8").splitlines()
        assert len(old) == len(new), path
        for a, b in zip(old, new):
            if a != b:
                changed += 1
                assert mark.sub("", b) == a.rstrip(), (a, b)
    assert changed > 20


def test_stdin_buffer_sees_the_modules_beside_its_file_like_the_path_does(tmp_path, mllint_cli) -> None:
    """Editors (and the language server) lint a buffer on stdin: imports resolve as for the file on disk."""
    (tmp_path / "pyproject.toml").write_text(CONFIG)
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "base.py").write_text("from torch import nn\n\n\nclass Backbone(nn.Module):\n    pass\n")
    # Net is a module only through its base class in base.py: without that file, no finding.
    model = textwrap.dedent(
        """\
        from base import Backbone


        class Net(Backbone):
            def forward(self, x):
                return x * x.mean().item()
        """
    )
    (scripts / "model.py").write_text(model)

    def run(*args: str, stdin: str = "") -> str:
        proc = mllint_cli(["check", *args, "-q", "--no-cache", "--exit-zero"], tmp_path, stdin=stdin)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    on_disk = run("scripts/model.py")
    buffer = run("-", "--stdin-filename", "scripts/model.py", stdin=model)
    assert on_disk.startswith("scripts/model.py:6:20: PT102")
    assert buffer == on_disk


def test_baseline_of_a_stdin_buffer_fingerprints_the_buffer_not_the_file_on_disk(tmp_path, monkeypatch, capsys) -> None:
    import io
    import sys

    root = _project(tmp_path, monkeypatch, "x = 1\n")  # the saved file differs from the editor's buffer

    def run_stdin(text: str, *args: str) -> Tuple[int, str, str]:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode())))
        return _run(capsys, "-", "--stdin-filename", "model.py", "-q", *args)

    code, _, err = run_stdin(MODEL, "--baseline", "b.json", "--update-baseline")
    assert code == 0 and "wrote 2 entries" in err and "without a line fingerprint" not in err
    code, out, err = run_stdin("# a new first line\n" + MODEL + NEW_HAZARD, "--baseline", "b.json")
    assert code == 1 and [line.split(" ")[1] for line in _quiet_lines(out)] == ["PT102"]
    assert "x.mean().item()" in out and "stale" not in err
    assert (root / "model.py").read_text() == "x = 1\n"
