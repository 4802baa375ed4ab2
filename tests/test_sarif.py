"""SARIF output validated with the official 2.1.0 schema on real runs, plus what GitHub relies on."""

from __future__ import annotations

import json
import os
import re
import shutil
import textwrap
from pathlib import Path

import jsonschema
import pytest

from mllint import __version__
from mllint.catalogue import load_catalogue
from mllint.findings import Edit, Finding, RunResult, Span
from mllint.reporters import ReportContext, render
from mllint.targets import ALL_TARGETS, Severity

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data" / "sarif"
SCHEMA = json.loads((DATA / "sarif-schema-2.1.0.json").read_text())
VALIDATOR = jsonschema.Draft4Validator(SCHEMA)
GOLDEN = Path(__file__).parent / "data" / "golden" / "fixtures.sarif"

HAZARD = textwrap.dedent(
    """\
    import torch
    from torch import nn


    class Net(nn.Module):
        def forward(self, x):
            if x.sum() > 0:
                return x * 2
            if x.mean() > 1:  # mllint: ignore[PT101]
                return x
            return x - 1
    """
)


def validate(log: dict) -> None:
    errors = sorted(VALIDATOR.iter_errors(log), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:5])
    for run in log["runs"]:
        assert isinstance(run.get("results"), list), "GitHub rejects a run without a results array"


def test_schema_itself_is_valid() -> None:
    jsonschema.Draft4Validator.check_schema(SCHEMA)


def test_official_examples_validate_and_broken_ones_are_rejected() -> None:
    for path in sorted((DATA / "examples" / "valid").glob("*.sarif")):
        validate(json.loads(path.read_text()))
    expected = json.loads((DATA / "examples" / "invalid" / "expected-errors.json").read_text())
    checked = 0
    for path in sorted((DATA / "examples" / "invalid").glob("*.sarif")):
        messages = [e.message for e in VALIDATOR.iter_errors(json.loads(path.read_text()))]
        assert messages, f"{path.name} should be rejected"
        assert any(expected[path.name] in m for m in messages), (path.name, messages)
        checked += 1
    assert checked >= 10


def _run(run_mllint, cwd: Path, *args: str) -> dict:
    proc = run_mllint(["check", *args, "--format", "sarif"], cwd=cwd)
    assert proc.returncode in (0, 1, 3), proc.stderr
    return json.loads(proc.stdout)


def test_real_run_with_findings_suppressions_and_parse_error(run_mllint, tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.mllint]\n")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "my model.py").write_text(HAZARD)
    (tmp_path / "pkg" / "broken.py").write_text("def f(:\n")
    log = _run(run_mllint, tmp_path, ".", "--sarif-category", "mllint/ci")
    validate(log)
    run = log["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "mllint" and driver["version"] == __version__ and driver["informationUri"]
    assert [r["id"] for r in driver["rules"]] == [r.code for r in load_catalogue()]
    assert run["columnKind"] == "utf16CodeUnits"
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == tmp_path.resolve().as_uri() + "/"
    assert run["automationDetails"]["id"] == "mllint/ci/"
    by_rule = {r["id"]: r for r in driver["rules"]}
    pt101 = by_rule["PT101"]
    assert pt101["defaultConfiguration"]["level"] == "error"
    assert {"torch-export", "control-flow"} <= set(pt101["properties"]["tags"])
    assert pt101["properties"]["precision"] in ("very-high", "high", "medium", "low")
    assert pt101["help"]["markdown"].startswith("## What it does") and pt101["helpUri"].startswith("https://")
    results = run["results"]
    active = [r for r in results if r["ruleId"] == "PT101" and "suppressions" not in r]
    suppressed = [r for r in results if "suppressions" in r]
    assert len(active) == 1 and len(suppressed) == 1
    loc = active[0]["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"] == {"uri": "pkg/my%20model.py", "uriBaseId": "%SRCROOT%"}
    assert loc["region"] == {"startLine": 7, "startColumn": 12, "endLine": 7, "endColumn": 23}
    assert driver["rules"][active[0]["ruleIndex"]]["id"] == "PT101"
    assert active[0]["properties"]["targets"] == ["torchscript-trace", "torch-export", "onnx-dynamo", "onnx-legacy"]
    assert set(active[0]["properties"]["targets"]) <= set(ALL_TARGETS)
    assert "confirmation" not in active[0]["properties"]
    assert re.fullmatch(r"[0-9a-f]+:1", active[0]["partialFingerprints"]["primaryLocationLineHash"])
    assert suppressed[0]["suppressions"][0]["kind"] == "inSource"
    notes = run["invocations"][0]["toolExecutionNotifications"]
    assert [n["descriptor"]["id"] for n in notes] == ["ML001"]
    assert notes[0]["locations"][0]["physicalLocation"]["region"]["startLine"] == 1
    assert run["invocations"][0]["executionSuccessful"] is True


def test_empty_run_is_valid_and_has_results(run_mllint, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    log = _run(run_mllint, tmp_path, "empty")
    validate(log)
    assert log["runs"][0]["results"] == []


def test_uris_resolve_from_project_root_whatever_the_cwd(run_mllint, tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.mllint]\n")
    (tmp_path / "src" / "pkg").mkdir(parents=True)
    (tmp_path / "src" / "pkg" / "m.py").write_text(HAZARD)
    from_root = _run(run_mllint, tmp_path, "src")
    from_sub = _run(run_mllint, tmp_path / "src" / "pkg", ".")
    for log in (from_root, from_sub):
        run = log["runs"][0]
        base = run["originalUriBaseIds"]["%SRCROOT%"]["uri"]
        uri = run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        assert uri == "src/pkg/m.py"
        assert Path((base + uri).replace("file://", "")).read_text() == HAZARD


def _ctx(tmp_path: Path, findings, confirm=()) -> ReportContext:  # type: ignore[no-untyped-def]
    return ReportContext(RunResult(list(findings), 1, str(tmp_path), list(confirm)), load_catalogue(), tmp_path, __version__)


def test_utf16_columns_after_cjk_and_emoji(tmp_path: Path) -> None:
    src = DATA / "examples" / "src" / "mlproj" / "train.py"
    (tmp_path / "train.py").write_bytes(src.read_bytes())
    line = src.read_text(encoding="utf-8").splitlines()[14]
    col = line.index("eval")
    assert col == 21
    finding = Finding("train.py", Span(15, col, 15, col + 4), "PT101", "tensor-dependent-branch", "m", Severity.ERROR,
                      ("torch-export",), (("torch-export", "fails"),))
    log = json.loads(render("sarif", _ctx(tmp_path, [finding])))
    validate(log)
    region = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]
    assert (region["startColumn"], region["endColumn"]) == (23, 27)


def test_confirmation_and_fixes(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("x = 1\n")
    finding = Finding("m.py", Span(1, 4, 1, 5), "PT101", "tensor-dependent-branch", "m", Severity.ERROR,
                      ("torch-export", "onnx-dynamo"), (("torch-export", "fails"), ("onnx-dynamo", "fails")),
                      fix="use torch.where", edits=(Edit(Span(1, 4, 1, 5), "2"),),
                      confirmation=(("torch-export", "confirmed"),))
    log = json.loads(render("sarif", _ctx(tmp_path, [finding], [{"model": "m", "target": "torch-export", "status": "failed"}])))
    validate(log)
    result = log["runs"][0]["results"][0]
    assert result["properties"]["confirmation"] == {"torch-export": "confirmed", "onnx-dynamo": "not-run"}
    replacement = result["fixes"][0]["artifactChanges"][0]["replacements"][0]
    assert replacement["deletedRegion"] == {"startLine": 1, "startColumn": 5, "endLine": 1, "endColumn": 6}
    assert replacement["insertedContent"]["text"] == "2"


def test_internal_error_marks_execution_unsuccessful(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("x = 1\n")
    finding = Finding("m.py", Span(1, 0, 1, 0), "ML004", "internal-error", "internal error in X: boom", Severity.ERROR)
    log = json.loads(render("sarif", _ctx(tmp_path, [finding])))
    validate(log)
    assert log["runs"][0]["invocations"][0]["executionSuccessful"] is False


def _normalise(log: dict) -> dict:
    run = log["runs"][0]
    run["tool"]["driver"]["version"] = run["tool"]["driver"]["semanticVersion"] = "VERSION"
    run["originalUriBaseIds"]["%SRCROOT%"]["uri"] = "file:///ROOT/"
    for rule in run["tool"]["driver"]["rules"]:  # rule prose lives in rules/ and is checked elsewhere
        for key in ("shortDescription", "fullDescription", "help"):
            rule.pop(key, None)
    return log


def test_golden_sarif_for_fixtures(run_mllint) -> None:
    proc = run_mllint(["check", "fixtures", "--format", "sarif"], cwd=REPO)
    log = json.loads(proc.stdout)
    validate(log)
    log = _normalise(log)
    text = json.dumps(log, indent=2, ensure_ascii=False) + "\n"
    if os.environ.get("MLLINT_UPDATE_GOLDEN") == "1" or not GOLDEN.exists():
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(text, encoding="utf-8")
        if os.environ.get("CI"):
            pytest.fail("golden SARIF was missing; it has been written, commit it")
    assert text == GOLDEN.read_text(encoding="utf-8"), "regenerate with MLLINT_UPDATE_GOLDEN=1 pytest tests/test_sarif.py"


def test_mechanical_fix_becomes_sarif_fix(run_mllint, tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text(textwrap.dedent("""\
        from torch import nn

        class Scale(nn.Module):
            def forward(self, x):
                return x * x.mean().item()
        """))
    log = _run(run_mllint, tmp_path, ".", "--select", "PT102")
    validate(log)
    (result,) = log["runs"][0]["results"]
    (change,) = result["fixes"][0]["artifactChanges"]
    (replacement,) = change["replacements"]
    assert replacement["deletedRegion"] == {"startLine": 5, "startColumn": 20, "endLine": 5, "endColumn": 35}
    assert replacement["insertedContent"]["text"] == "x.mean()"


@pytest.mark.export
@pytest.mark.slow
def test_confirm_run_sarif_carries_confirmation(run_mllint) -> None:
    folder = REPO / "fixtures" / "confirm"
    proc = run_mllint(["check", "confirm_models/branch.py", "--confirm", "--model", "confirm_models.branch:make",
                       "--format", "sarif", "--timeout", "120"], cwd=folder)
    log = json.loads(proc.stdout)
    validate(log)
    pt101 = [r for r in log["runs"][0]["results"] if r["ruleId"] == "PT101"]
    assert pt101, proc.stderr
    confirmation = pt101[0]["properties"]["confirmation"]
    assert set(confirmation) == set(pt101[0]["properties"]["targets"])
    assert confirmation["torch-export"] == "confirmed"
    assert set(confirmation.values()) <= {"confirmed", "not-reproduced", "not-run"}
    assert log["runs"][0]["properties"]["exports"]
