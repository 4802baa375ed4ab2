"""``--format github``: workflow commands as GitHub's runner parses them.

``parse_command`` follows the runner's documented reading of ``::command k=v,k=v::data``: the data
starts after the first ``::`` that follows the command, properties are split at ``,`` and at the
first ``=``, then ``%0D`` ``%0A`` (and in properties ``%3A`` ``%2C``) are unescaped, ``%25`` last.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Dict, Tuple

import pytest

from mllint.catalogue import load_catalogue
from mllint.findings import Finding, RunResult, Span
from mllint.reporters import ReportContext, render
from mllint.reporters.github_report import escape_data, escape_property
from mllint.targets import Severity

PEERS = Path(__file__).parent / "data" / "sarif" / "examples" / "peers"
KEYS = ["file", "line", "col", "endLine", "endColumn", "title"]


def _unescape(text: str, property_value: bool) -> str:
    pairs = [("%0D", "\r"), ("%0A", "\n")] + ([("%3A", ":"), ("%2C", ",")] if property_value else [])
    for escaped, plain in pairs + [("%25", "%")]:
        text = text.replace(escaped, plain)
    return text


def parse_command(line: str) -> Tuple[str, Dict[str, str], str]:
    assert line.startswith("::"), line
    head, separator, data = line[2:].partition("::")
    assert separator, line
    command, _, raw_properties = head.partition(" ")
    properties = {}
    for pair in raw_properties.split(","):
        key, equals, value = pair.partition("=")
        assert equals and key not in properties, line
        properties[key] = _unescape(value, property_value=True)
    return command, properties, _unescape(data, property_value=False)


def _render(tmp_path: Path, *findings: Finding) -> str:
    ctx = ReportContext(RunResult(list(findings), 1, str(tmp_path)), load_catalogue(), tmp_path, "0")
    return render("github", ctx)


def test_escaping_rules() -> None:
    assert escape_data("100% a\r\nb: c, d") == "100%25 a%0D%0Ab: c, d"
    assert escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"
    assert escape_property("%3A") == "%253A"  # an escape-looking value survives the round trip


def test_parser_reads_a_real_peer_tool_output() -> None:
    lines = (PEERS / "ruff-0.17.6-output-format-github.txt").read_text().splitlines()
    parsed = [parse_command(line) for line in lines if line]
    assert parsed and all(cmd == "error" and props["line"].isdigit() for cmd, props, _ in parsed)
    assert "\n  help: Split imports" in parsed[0][2]


def test_round_trip_of_hostile_paths_titles_and_messages(tmp_path: Path) -> None:
    path, message = "dir,x/m:1%20.py", "multi\nline 50%; a::b, c\r\nend %0A"
    finding = Finding(path, Span(3, 4, 3, 9), "PT101", "tensor-dependent-branch", message, Severity.ERROR,
                      ("torch-export",), (("torch-export", "fails"),), fix="use `torch.where`")
    (line,) = _render(tmp_path, finding).splitlines()
    command, props, data = parse_command(line)
    assert command == "error" and list(props) == KEYS
    assert props == {"file": path, "line": "3", "col": "5", "endLine": "3", "endColumn": "10",
                     "title": "PT101 tensor-dependent-branch"}
    assert data == message + " Fix: use `torch.where` [targets: torch-export fails]"
    assert "\n" not in line and "\r" not in line


def test_severity_mapping_and_suppressed_findings(tmp_path: Path) -> None:
    findings = [
        Finding("m.py", Span(1, 0, 1, 2), "PT101", "tensor-dependent-branch", "e", Severity.ERROR),
        Finding("m.py", Span(5, 0, 6, 2), "ML005", "unused-suppression", "w", Severity.WARNING),
        Finding("m.py", Span(7, 0, 7, 2), "PT101", "tensor-dependent-branch", "i", Severity.INFO),
        Finding("m.py", Span(8, 0, 8, 2), "PT101", "tensor-dependent-branch", "s", Severity.ERROR, suppressed="inline"),
    ]
    parsed = [parse_command(line) for line in _render(tmp_path, *findings).splitlines()]
    assert [(cmd, data) for cmd, _, data in parsed] == [("error", "e"), ("warning", "w"), ("notice", "i")]
    assert (parsed[1][1]["endLine"], parsed[1][1]["endColumn"]) == ("6", "3")
    assert _render(tmp_path) == ""


def test_cli_github_format(mllint_cli, tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text(textwrap.dedent("""\
        from torch import nn
        class N(nn.Module):
            def forward(self, x):
                return x if x.any() else -x
        """))
    proc = mllint_cli(["check", ".", "--format", "github"], cwd=tmp_path)
    assert proc.returncode == 1
    (line,) = proc.stdout.splitlines()
    command, props, data = parse_command(line)
    assert command == "error"
    assert props == {"file": "m.py", "line": "4", "col": "21", "endLine": "4", "endColumn": "28",
                     "title": "PT101 tensor-dependent-branch"}
    assert "x.any()" in data and "torch-export fails" in data


@pytest.mark.parametrize("cwd", ["project", "repo"])
def test_cli_paths_are_relative_to_the_repository_root(mllint_cli, tmp_path: Path, cwd: str) -> None:
    """The runner reads ``file`` from the repository root, even when the project is a subfolder."""
    (tmp_path / ".git").mkdir()
    project = tmp_path / "ml" / "vision"
    project.mkdir(parents=True)
    (project / "pyproject.toml").write_text("[tool.mllint]\n")
    (project / "m.py").write_text("from torch import nn\nclass N(nn.Module):\n    def forward(self, x):\n"
                                  "        return x if x.any() else -x\n")
    where, target = (project, ".") if cwd == "project" else (tmp_path, "ml/vision")
    proc = mllint_cli(["check", target, "--format", "github"], cwd=where)
    (line,) = proc.stdout.splitlines()
    assert parse_command(line)[1]["file"] == "ml/vision/m.py"
