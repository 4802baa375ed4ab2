"""Engine behaviour that needs in-process control: crashing rules, positions, summaries."""

from __future__ import annotations

import pytest

import textwrap
from pathlib import Path

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from mllint.catalogue import load_catalogue
from mllint.checks.base import Check
from mllint.checks.control_flow.torch_control_flow import TensorBranch
from mllint.config import load_settings
from mllint.project import build_project
from mllint.session import Session
from mllint.positions import Positions

CODE = textwrap.dedent(
    """\
    import torch
    from torch import nn


    class Net(nn.Module):
        def forward(self, x):
            y = x.relu()
            if x.sum() > 0:
                return x * 2
            return y
    """
)


class Exploding(Check):
    codes = ("PT101",)

    def visit_Call(self, ctx, node) -> None:  # type: ignore[no-untyped-def]
        raise ValueError("boom")


def test_crashing_rule_becomes_ML004_and_other_findings_survive(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(CODE)
    (tmp_path / "b.py").write_text(CODE)
    catalogue = load_catalogue()
    settings = load_settings(tmp_path, catalogue)
    project = build_project([str(tmp_path)], settings, None, None, False)
    session = Session(project, catalogue, settings, checks=[Exploding(), TensorBranch()])
    session.process(project.order)
    findings = session.findings(report_unused_ignores=False)
    got = sorted((f.path, f.code, f.line) for f in findings)
    assert ("a.py", "PT101", 8) in got and ("b.py", "PT101", 8) in got
    errors = [f for f in findings if f.code == "ML004"]
    assert {f.path for f in errors} == {"a.py", "b.py"}
    assert all("Exploding" in f.message and "ValueError: boom" in f.message for f in errors)


TRICKY = """\
# header comment

import torch ; import math  # two statements on one line


@decorator  # comment
# a comment between decorators
@other(
    1,
)
class A(nn.Module):  # class comment
    \"\"\"Docstring.\"\"\"

    # leading comment of a method
    @property
    def p(self): return (
        1)

    x = (
        2
    ); y = 3

    def forward(self, x):
        if x.sum() > 0:  # tricky
            return x  # comment
        # footer-like comment
    # dedented comment

\f
async def f():
    pass
class B: pass
"""


@pytest.mark.parametrize("with_text", [True, False])
def test_lazy_positions_match_libcst_position_provider(with_text: bool) -> None:
    source = Path(__file__).read_text() + "\n# trailing comment\n" + CODE + TRICKY
    module = cst.parse_module(source)
    reference = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    positions = Positions(module, source if with_text else None)
    checked = 0
    for top in module.body:
        nodes = []

        class Collect(cst.CSTVisitor):
            def on_visit(self, node: cst.CSTNode) -> bool:
                nodes.append(node)  # noqa: B023 - used within this iteration only
                return True

        top.visit(Collect())
        for node in nodes:
            span = positions.span(node, top)
            ref = reference[node]
            assert (span.line, span.col, span.end_line, span.end_col) == (
                ref.start.line, ref.start.column, ref.end.line, ref.end.column)
            checked += 1
    assert checked > 500
    if with_text:  # placed by ast line numbers, class members codegen'd alone, never falling back
        assert positions.text is not None
        assert any(member >= 0 for _, member in positions._ranges)
