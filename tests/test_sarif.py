"""SARIF output validated with the official 2.1.0 schema on real runs, plus what GitHub and IDEs rely on.

Locations are checked the way a consumer reads them: join the URI onto ``originalUriBaseIds``,
open the file, cut the region out of the line in UTF-16 code units, and compare with the source.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import textwrap
from pathlib import Path
from typing import Any, Dict, List
from urllib.parse import unquote, urljoin, urlparse

import jsonschema
import pytest

from mllint import __version__
from mllint.catalogue import load_catalogue
from mllint.findings import Edit, Finding, RunResult, Span
from mllint.fingerprints import line_hashes
from mllint.reporters import ReportContext, render
from mllint.targets import ALL_TARGETS, Severity

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data" / "sarif"
SCHEMA = json.loads((DATA / "sarif-schema-2.1.0.json").read_text())
VALIDATOR = jsonschema.Draft4Validator(SCHEMA)
GOLDEN = Path(__file__).parent / "data" / "golden" / "fixtures.sarif"
# RFC 3986 URI-reference characters; the schema's "format": "uri" is not checked by jsonschema
# without optional packages, so the tests check the characters themselves.
URI_CHARS = re.compile(r"^(?:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]|%[0-9A-F]{2})*$")

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


def _artifact_uris(node: Any) -> List[str]:
    if isinstance(node, dict):
        found = [node["uri"]] if "uri" in node and isinstance(node["uri"], str) else []
        return found + [u for value in node.values() for u in _artifact_uris(value)]
    if isinstance(node, list):
        return [u for value in node for u in _artifact_uris(value)]
    return []


def validate(log: dict) -> None:
    """The official schema, plus what the schema leaves to consumers (GitHub's results array, URIs)."""
    errors = sorted(VALIDATOR.iter_errors(log), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:5])
    for run in log["runs"]:
        assert isinstance(run.get("results"), list), "GitHub rejects a run without a results array"
        assert len({"suppressions" in r for r in run["results"]}) <= 1, "SARIF: all results have suppressions, or none"
        for uri in _artifact_uris(run):
            assert URI_CHARS.match(uri) and "\\" not in uri, f"not a URI reference: {uri!r}"


def resolve(run: dict, artifact: dict) -> Path:
    """The file an artifactLocation names, resolved as SARIF viewers do (independent of the cwd)."""
    uri = artifact["uri"]
    if "uriBaseId" in artifact:
        base = run["originalUriBaseIds"][artifact["uriBaseId"]]["uri"]
        assert base.startswith("file:///") and base.endswith("/")
        uri = urljoin(base, uri)
    parsed = urlparse(uri)
    assert parsed.scheme == "file", uri
    return Path(unquote(parsed.path))


def region_text(run: dict, location: dict) -> str:
    """The source text a region covers, cut in UTF-16 code units (``columnKind``)."""
    assert run["columnKind"] == "utf16CodeUnits"
    physical = location["physicalLocation"]
    text = resolve(run, physical["artifactLocation"]).read_text(encoding="utf-8-sig")
    lines = [line.encode("utf-16-le") for line in re.split(r"\r\n|\r|\n", text)]
    r = physical["region"]
    first, last = r["startLine"] - 1, r["endLine"] - 1
    start, end = 2 * (r["startColumn"] - 1), 2 * (r["endColumn"] - 1)
    if first == last:
        return lines[first][start:end].decode("utf-16-le")
    middle = [lines[first][start:], *lines[first + 1 : last], lines[last][:end]]
    return "\n".join(part.decode("utf-16-le") for part in middle)


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
    assert checked == len(expected) == 12


def test_results_array_and_uri_checks_can_fail() -> None:
    log = json.loads((DATA / "examples" / "valid" / "minimal.sarif").read_text())
    del log["runs"][0]["results"]
    with pytest.raises(AssertionError, match="results array"):
        validate(log)
    log["runs"][0]["results"] = [{"message": {"text": "m"}, "locations": [{"physicalLocation": {
        "artifactLocation": {"uri": "src\\my model.py"}}}]}]
    with pytest.raises(AssertionError, match="not a URI reference"):
        validate(log)


def _run(run_mllint, cwd: Path, *args: str) -> dict:
    # every target: these tests are about the SARIF form of findings, whichever targets a project ships to
    proc = run_mllint(["check", *args, "--format", "sarif", "--target", "all"], cwd=cwd)
    assert proc.returncode in (0, 1, 3), proc.stderr
    return json.loads(proc.stdout)


def test_real_run_with_findings_suppressions_and_parse_error(mllint_cli, tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.mllint]\n")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "my model.py").write_text(HAZARD)
    (tmp_path / "pkg" / "broken.py").write_text("x = 1\ndef f(:\n")
    log = _run(mllint_cli, tmp_path, ".", "--sarif-category", "mllint/ci")
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
    assert pt101["name"] == "tensor-dependent-branch"
    assert pt101["shortDescription"]["text"] == load_catalogue().get("PT101").summary
    assert pt101["fullDescription"]["text"].startswith("Flags `if`") and "\n" not in pt101["fullDescription"]["text"]
    assert pt101["defaultConfiguration"]["level"] == "error"
    assert {"torch-export", "control-flow"} <= set(pt101["properties"]["tags"])
    assert pt101["properties"]["precision"] in ("very-high", "high", "medium", "low")
    assert pt101["help"]["markdown"].startswith("## What it does") and pt101["help"]["text"]
    assert pt101["helpUri"].startswith("https://")
    assert by_rule["ML005"]["defaultConfiguration"]["level"] == "warning"

    results = run["results"]
    active = [r for r in results if r["ruleId"] == "PT101" and not r["suppressions"]]
    suppressed = [r for r in results if r["suppressions"]]
    assert len(active) == 1 and len(suppressed) == 1
    loc = active[0]["locations"][0]
    assert loc["physicalLocation"]["artifactLocation"] == {"uri": "pkg/my%20model.py", "uriBaseId": "%SRCROOT%"}
    assert loc["physicalLocation"]["region"] == {"startLine": 7, "startColumn": 12, "endLine": 7, "endColumn": 23}
    assert region_text(run, loc) == "x.sum() > 0"
    assert region_text(run, suppressed[0]["locations"][0]) == "x.mean() > 1"
    assert driver["rules"][active[0]["ruleIndex"]]["id"] == "PT101"
    assert active[0]["level"] == "error" and active[0]["message"]["text"]
    assert active[0]["properties"]["targets"] == ["torchscript-trace", "torch-export", "onnx-dynamo", "onnx-legacy"]
    assert set(active[0]["properties"]["targets"]) <= set(ALL_TARGETS)
    assert "confirmation" not in active[0]["properties"]
    assert active[0]["partialFingerprints"]["primaryLocationLineHash"] == line_hashes(HAZARD)[7]
    assert suppressed[0]["suppressions"][0]["kind"] == "inSource"

    # A parse error is a result (GitHub shows it on the file) and a tool execution notification.
    (parse_result,) = [r for r in results if r["ruleId"] == "ML001"]
    assert parse_result["locations"][0]["physicalLocation"]["region"]["startLine"] == 2
    notes = run["invocations"][0]["toolExecutionNotifications"]
    assert [n["descriptor"]["id"] for n in notes] == ["ML001"]
    assert driver["notifications"][notes[0]["descriptor"]["index"]]["id"] == "ML001"
    assert notes[0]["level"] == "error" and "pkg/broken.py" in notes[0]["message"]["text"]
    assert resolve(run, notes[0]["locations"][0]["physicalLocation"]["artifactLocation"]).name == "broken.py"
    assert run["invocations"][0]["executionSuccessful"] is True  # mllint ran; the file could not be parsed


def test_empty_run_is_valid_and_has_results(mllint_cli, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    log = _run(mllint_cli, tmp_path, "empty")
    validate(log)
    run = log["runs"][0]
    assert run["results"] == [] and run["invocations"][0]["toolExecutionNotifications"] == []
    assert run["invocations"][0]["executionSuccessful"] is True
    assert run["tool"]["driver"]["rules"]


def test_uris_resolve_from_project_root_whatever_the_cwd(mllint_cli, tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.mllint]\n")
    (tmp_path / "src" / "pkg").mkdir(parents=True)
    (tmp_path / "src" / "pkg" / "m.py").write_text(HAZARD)
    elsewhere = tmp_path.parent
    logs = [_run(mllint_cli, tmp_path, "src"), _run(mllint_cli, tmp_path / "src" / "pkg", "."),
            _run(mllint_cli, elsewhere, str(tmp_path / "src" / "pkg" / "m.py"))]
    for log in logs:
        validate(log)
        run = log["runs"][0]
        (result,) = [r for r in run["results"] if not r["suppressions"]]
        location = result["locations"][0]
        assert location["physicalLocation"]["artifactLocation"]["uri"] == "src/pkg/m.py"
        assert resolve(run, location["physicalLocation"]["artifactLocation"]) == tmp_path.resolve() / "src/pkg/m.py"
        assert region_text(run, location) == "x.sum() > 0"


def test_project_inside_a_repository_gets_repository_relative_uris(mllint_cli, tmp_path: Path) -> None:
    """GitHub ignores uriBaseId and reads URIs from the repository root, not the project's."""
    (tmp_path / ".git").mkdir()
    project = tmp_path / "services" / "vision"
    (project / "pkg").mkdir(parents=True)
    (project / "pyproject.toml").write_text("[tool.mllint]\n")
    (project / "pkg" / "m.py").write_text(HAZARD)
    log = _run(mllint_cli, project, ".")
    validate(log)
    run = log["runs"][0]
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == tmp_path.resolve().as_uri() + "/"
    (result,) = [r for r in run["results"] if not r["suppressions"]]
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "services/vision/pkg/m.py"
    assert region_text(run, result["locations"][0]) == "x.sum() > 0"


def test_stdin_run_is_valid_without_fingerprints(mllint_cli, tmp_path: Path) -> None:
    proc = mllint_cli(["check", "-", "--format", "sarif"], cwd=tmp_path, stdin=HAZARD)
    log = json.loads(proc.stdout)
    validate(log)
    results = [r for r in log["runs"][0]["results"] if not r["suppressions"]]
    assert results and all("partialFingerprints" not in r for r in results)
    region = results[0]["locations"][0]["physicalLocation"]["region"]
    assert (region["startLine"], region["startColumn"], region["endColumn"]) == (7, 12, 23)


def _ctx(tmp_path: Path, findings, confirm=(), category=None) -> ReportContext:  # type: ignore[no-untyped-def]
    return ReportContext(RunResult(list(findings), 1, str(tmp_path), list(confirm)), load_catalogue(), tmp_path,
                         __version__, sarif_category=category)


def _finding(path: str, span: Span, **extra: Any) -> Finding:
    return Finding(path, span, "PT101", "tensor-dependent-branch", "m", Severity.ERROR,
                   ("torch-export",), (("torch-export", "fails"),), **extra)


def _log(tmp_path: Path, *findings: Finding, **ctx: Any) -> Dict[str, Any]:
    log = json.loads(render("sarif", _ctx(tmp_path, findings, **ctx)))
    validate(log)
    return log


def test_utf16_columns_after_cjk_and_emoji(tmp_path: Path) -> None:
    src = DATA / "examples" / "src" / "mlproj" / "train.py"
    (tmp_path / "train.py").write_bytes(src.read_bytes())
    line = src.read_text(encoding="utf-8").splitlines()[14]
    col = line.index("eval")
    assert col == 21 and "模型😀" in line
    log = _log(tmp_path, _finding("train.py", Span(15, col, 15, col + 4)))
    run = log["runs"][0]
    result = run["results"][0]
    region = result["locations"][0]["physicalLocation"]["region"]
    assert (region["startColumn"], region["endColumn"]) == (23, 27)
    assert region_text(run, result["locations"][0]) == "eval"
    expected = json.loads((DATA / "examples" / "fingerprints" / "expected.json").read_text())["train.txt"]
    assert result["partialFingerprints"]["primaryLocationLineHash"] == expected["15"]


def test_line_numbers_follow_python_not_str_splitlines(tmp_path: Path) -> None:
    """Form feed and U+2028 do not end lines in Python; the UTF-16 conversion must not think so."""
    text = "# page\x0cbreak\ns = 'a\u2028b'\nlabel = '😀'; y = x.sum()\n"
    (tmp_path / "m.py").write_text(text, encoding="utf-8")
    col = text.splitlines()[-1].index("x.sum()")  # the same line by str.splitlines counts as line 5
    run = _log(tmp_path, _finding("m.py", Span(3, col, 3, col + 7)))["runs"][0]
    location = run["results"][0]["locations"][0]
    assert location["physicalLocation"]["region"]["startColumn"] == col + 2
    assert region_text(run, location) == "x.sum()"


def test_bom_and_coding_cookie(tmp_path: Path) -> None:
    """Columns count what LibCST saw (no BOM, cookie-decoded); fingerprints hash what GitHub reads."""
    bom_text = "t = '😀'; y = x.sum()\n"
    (tmp_path / "bom.py").write_bytes(b"\xef\xbb\xbf" + bom_text.encode("utf-8"))
    latin = "# -*- coding: latin-1 -*-\nt = 'é'; y = x.sum()\n"
    (tmp_path / "latin.py").write_bytes(latin.encode("latin-1"))
    bom_col, latin_col = bom_text.index("x.sum()"), latin.splitlines()[1].index("x.sum()")
    run = _log(tmp_path, _finding("bom.py", Span(1, bom_col, 1, bom_col + 7)),
               _finding("latin.py", Span(2, latin_col, 2, latin_col + 7)))["runs"][0]
    bom, latin_result = run["results"]
    assert region_text(run, bom["locations"][0]) == "x.sum()"
    assert bom["partialFingerprints"]["primaryLocationLineHash"] == line_hashes("\ufeff" + bom_text)[1]
    region = latin_result["locations"][0]["physicalLocation"]["region"]
    assert (region["startColumn"], region["endColumn"]) == (latin_col + 1, latin_col + 8)
    assert "partialFingerprints" not in latin_result  # not UTF-8: left to GitHub's action


def test_multi_line_region_and_unreadable_file(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("a = f('😀',\n      '😀')\n", encoding="utf-8")
    run = _log(tmp_path, _finding("m.py", Span(1, 4, 2, 11)), _finding("gone.py", Span(3, 2, 3, 5)))["runs"][0]
    multi, gone = run["results"]
    assert multi["locations"][0]["physicalLocation"]["region"] == {
        "startLine": 1, "startColumn": 5, "endLine": 2, "endColumn": 13}
    assert region_text(run, multi["locations"][0]) == "f('😀',\n      '😀')"
    assert gone["locations"][0]["physicalLocation"]["region"] == {
        "startLine": 3, "startColumn": 3, "endLine": 3, "endColumn": 6}
    assert "partialFingerprints" not in gone


def test_files_outside_the_root_get_absolute_uris_whatever_the_cwd(tmp_path: Path, monkeypatch) -> None:
    root, other, elsewhere = tmp_path / "proj", tmp_path / "other dir", tmp_path / "a" / "b"
    for folder in (root, other, elsewhere):
        folder.mkdir(parents=True)
    (other / "x.py").write_text("y = x.sum()\n")
    monkeypatch.chdir(elsewhere)  # "../other dir" is relative to the project root, not the cwd
    log = json.loads(render("sarif", _ctx(root, [_finding("../other dir/x.py", Span(1, 4, 1, 11))])))
    monkeypatch.chdir(tmp_path)
    validate(log)
    run = log["runs"][0]
    artifact = run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert artifact == {"uri": (other / "x.py").as_uri()} and "%20" in artifact["uri"]
    assert region_text(run, run["results"][0]["locations"][0]) == "x.sum()"


def test_confirmation_and_fixes(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("s = '😀'; x = 1\n", encoding="utf-8")
    finding = Finding("m.py", Span(1, 13, 1, 14), "PT101", "tensor-dependent-branch", "m", Severity.ERROR,
                      ("torch-export", "onnx-dynamo"), (("torch-export", "fails"), ("onnx-dynamo", "fails")),
                      fix="use torch.where", edits=(Edit(Span(1, 13, 1, 14), "2"),),
                      confirmation=(("torch-export", "confirmed"),))
    plain = _finding("m.py", Span(1, 0, 1, 1))
    confirm = [{"model": "m", "target": "torch-export", "status": "failed"}]
    run = _log(tmp_path, finding, plain, confirm=confirm, category="exports")["runs"][0]
    result, plain_result = run["results"]
    assert result["properties"]["confirmation"] == {"torch-export": "confirmed", "onnx-dynamo": "not-run"}
    assert result["properties"]["targets"] == ["torch-export", "onnx-dynamo"]
    assert "confirmation" not in plain_result["properties"] and plain_result["properties"]["targets"]
    assert "fixes" not in plain_result
    (change,) = result["fixes"][0]["artifactChanges"]
    assert change["artifactLocation"] == {"uri": "m.py", "uriBaseId": "%SRCROOT%"}
    replacement = change["replacements"][0]
    assert replacement["deletedRegion"] == {"startLine": 1, "startColumn": 15, "endLine": 1, "endColumn": 16}
    assert replacement["insertedContent"]["text"] == "2"
    assert result["fixes"][0]["description"]["text"] == "use torch.where"
    assert run["properties"]["exports"] == confirm
    assert run["automationDetails"]["id"] == "exports/"


def test_tool_errors_are_results_and_notifications(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("x = 1\n")
    diagnostics = [Finding("m.py", Span(1, 0, 1, 1), code, name, f"{name}: detail", Severity.ERROR)
                   for code, name in (("ML002", "decode-error"), ("ML003", "read-error"))]
    run = _log(tmp_path, *diagnostics)["runs"][0]
    invocation = run["invocations"][0]
    assert invocation["executionSuccessful"] is True
    assert [n["descriptor"]["id"] for n in invocation["toolExecutionNotifications"]] == ["ML002", "ML003"]
    notifications = run["tool"]["driver"]["notifications"]
    for note in invocation["toolExecutionNotifications"]:
        assert notifications[note["descriptor"]["index"]]["id"] == note["descriptor"]["id"]
    assert [r["ruleId"] for r in run["results"]] == ["ML002", "ML003"]

    internal = Finding("m.py", Span(1, 0, 1, 0), "ML004", "internal-error", "internal error in X: boom", Severity.ERROR)
    run = _log(tmp_path, internal)["runs"][0]
    assert run["invocations"][0]["executionSuccessful"] is False
    assert run["invocations"][0]["toolExecutionNotifications"][0]["descriptor"]["id"] == "ML004"


@pytest.mark.skipif(shutil.which("jq") is None, reason="jq is not installed")
def test_documented_filter_keeps_only_active_findings(tmp_path: Path) -> None:
    doc = (REPO / "docs" / "output-formats.md").read_text()
    (command,) = re.findall(r"^jq .*$", doc, re.M)
    (tmp_path / "m.py").write_text("a = 1\nb = 2\n")
    log = _log(tmp_path, _finding("m.py", Span(1, 0, 1, 1)), _finding("m.py", Span(2, 0, 2, 1), suppressed="inline"))
    (tmp_path / "mllint.sarif").write_text(json.dumps(log))
    subprocess.run(command, shell=True, cwd=tmp_path, check=True)
    (active_name,) = re.findall(r"> (\S+)$", command)
    filtered = json.loads((tmp_path / active_name).read_text())
    validate(filtered)
    assert [r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in filtered["runs"][0]["results"]] == [1]


def _normalise(log: dict) -> dict:
    run = log["runs"][0]
    run["tool"]["driver"]["version"] = run["tool"]["driver"]["semanticVersion"] = "VERSION"
    run["originalUriBaseIds"]["%SRCROOT%"]["uri"] = "file:///ROOT/"
    for descriptor in run["tool"]["driver"]["rules"] + run["tool"]["driver"]["notifications"]:
        for key in ("shortDescription", "fullDescription", "help"):  # rule prose lives in rules/, checked elsewhere
            descriptor.pop(key, None)
    return log


@pytest.mark.slow  # every fixture on every target, each fix computed (seconds); run it after regenerating
def test_golden_sarif_for_fixtures(mllint_cli) -> None:
    """``mllint check fixtures --format sarif``; regenerate with MLLINT_UPDATE_GOLDEN=1."""
    proc = mllint_cli(["check", "fixtures", "--format", "sarif", "--target", "all"], cwd=REPO)
    log = json.loads(proc.stdout)
    validate(log)
    run = log["runs"][0]
    assert run["results"], proc.stderr
    rules = run["tool"]["driver"]["rules"]
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        location = result["locations"][0]
        path = resolve(run, location["physicalLocation"]["artifactLocation"])
        assert path.is_file() and REPO in path.parents
        if not result["ruleId"].startswith("ML"):
            assert region_text(run, location).strip(), result
        line = location["physicalLocation"]["region"]["startLine"]
        if "partialFingerprints" in result:
            hashes = line_hashes(path.read_bytes().decode("utf-8"))
            assert result["partialFingerprints"]["primaryLocationLineHash"] == hashes[line]
    text = json.dumps(_normalise(log), indent=2, ensure_ascii=False) + "\n"
    if os.environ.get("MLLINT_UPDATE_GOLDEN") == "1":
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(text, encoding="utf-8")
    if not GOLDEN.exists():  # never written silently: a missing golden file is a failure
        pytest.fail(f"{GOLDEN} is missing: generate it with MLLINT_UPDATE_GOLDEN=1 pytest tests/test_sarif.py")
    assert text == GOLDEN.read_text(encoding="utf-8"), "regenerate with MLLINT_UPDATE_GOLDEN=1 pytest tests/test_sarif.py"


def test_mechanical_fix_becomes_sarif_fix(mllint_cli, tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text(textwrap.dedent("""\
        from torch import nn

        class Scale(nn.Module):
            def forward(self, x):
                return x * x.mean().item()
        """))
    log = _run(mllint_cli, tmp_path, ".", "--select", "PT102")
    validate(log)
    run = log["runs"][0]
    (result,) = run["results"]
    (change,) = result["fixes"][0]["artifactChanges"]
    (replacement,) = change["replacements"]
    # the codemod's fix (the use is arithmetic with the tensor): ``.item()`` -> ``.detach()``
    assert replacement["deletedRegion"] == {"startLine": 5, "startColumn": 29, "endLine": 5, "endColumn": 33}
    assert region_text(run, {"physicalLocation": {"artifactLocation": change["artifactLocation"],
                                                  "region": replacement["deletedRegion"]}}) == "item"
    assert replacement["insertedContent"]["text"] == "detach"


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
