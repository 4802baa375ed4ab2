"""``--format github``: workflow commands in the format GitHub documents, with its escaping."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

from mllint.catalogue import load_catalogue
from mllint.findings import Finding, RunResult, Span
from mllint.reporters import ReportContext, render
from mllint.reporters.github_report import escape_data, escape_property
from mllint.targets import Severity

LINE = re.compile(r"^::(error|warning|notice) file=([^,:]+),line=(\d+),col=(\d+),endLine=(\d+),endColumn=(\d+),title=([^,:]+)::(.+)$")


def test_escaping_rules() -> None:
    assert escape_data("100% a\r\nb") == "100%25 a%0D%0Ab"
    assert escape_property("a:b,c%") == "a%3Ab%2Cc%25"


def test_lines_parse_and_map_severity(tmp_path: Path) -> None:
    findings = [
        Finding("dir,x/m:1.py", Span(3, 4, 3, 9), "PT101", "tensor-dependent-branch", "multi\nline 50%", Severity.ERROR,
                ("torch-export",), (("torch-export", "fails"),)),
        Finding("m.py", Span(5, 0, 6, 2), "ML005", "unused-suppression", "unused", Severity.WARNING),
        Finding("m.py", Span(7, 0, 7, 2), "PT101", "tensor-dependent-branch", "note", Severity.INFO),
        Finding("m.py", Span(8, 0, 8, 2), "PT101", "tensor-dependent-branch", "hidden", Severity.ERROR, suppressed="inline"),
    ]
    ctx = ReportContext(RunResult(findings, 2, str(tmp_path)), load_catalogue(), tmp_path, "0")
    lines = render("github", ctx).splitlines()
    assert len(lines) == 3
    parsed = [LINE.match(line) for line in lines]
    assert all(parsed), lines
    first = parsed[0]
    assert first.group(1) == "error" and first.group(2) == "dir%2Cx/m%3A1.py"
    assert first.groups()[2:6] == ("3", "5", "3", "10")
    assert first.group(7) == "PT101 tensor-dependent-branch"
    assert "%0A" in first.group(8) and "50%25" in first.group(8) and "\n" not in first.group(8)
    assert [p.group(1) for p in parsed] == ["error", "warning", "notice"]


def test_cli_github_format(run_mllint, tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text(textwrap.dedent("""\
        from torch import nn
        class N(nn.Module):
            def forward(self, x):
                return x if x.any() else -x
        """))
    proc = run_mllint(["check", ".", "--format", "github"], cwd=tmp_path)
    assert proc.returncode == 1
    m = LINE.match(proc.stdout.strip())
    assert m and m.group(2) == "m.py" and m.group(3) == "4" and m.group(4) == "21"
