"""merge(): confirmation states on static findings and new ML101-ML105 findings, from given results."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

from mllint.catalogue import load_catalogue
from mllint.confirm import ExportResult, merge
from mllint.findings import Finding, Span
from mllint.targets import Severity

SOURCE = textwrap.dedent("""\
    import torch


    class Net(torch.nn.Module):
        def forward(self, x):
            y = self.helper(x)
            if y.sum() > 0:
                return y * 2
            return y - 1

        def helper(self, x):
            return x.relu()


    def unused(x):
        if x.sum() > 0:
            return x
        return -x
    """)

FORWARD = ("pkg/net.py", 5, 9)
HELPER = ("pkg/net.py", 11, 12)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "net.py").write_text(SOURCE)
    return tmp_path


def finding(line: int, targets: Tuple[str, ...] = ("torch-export", "torchscript-trace"),
            effects: Tuple[Tuple[str, str], ...] = (("torchscript-trace", "silent"), ("torch-export", "fails")),
            code: str = "PT101") -> Finding:
    return Finding(path="pkg/net.py", span=Span(line, 11, line, 22), code=code, name="tensor-dependent-branch",
                   message="`if` tests tensor data", severity=Severity.ERROR, targets=targets, effects=effects)


def result(target: str, status: str, location=None, locations=(), reached=(FORWARD, HELPER), **details) -> ExportResult:
    details.setdefault("compared", ["example", "other-values"] if status == "ok" else [])
    details.setdefault("entry", ["pkg/net.py", 5])
    return ExportResult("net", target, status, seconds=1.0, message=f"{status} message", location=location,
                        locations=locations, reached=reached, details=details)


def states(findings: List[Finding]) -> Dict[Tuple[str, int], Dict[str, str]]:
    return {(f.code, f.line): dict(f.confirmation) for f in findings}


def test_failure_at_the_finding_confirms_it_and_a_clean_export_does_not(root: Path) -> None:
    out = merge([finding(7)], [result("torch-export", "failed", ("pkg/net.py", 7)),
                               result("torchscript-trace", "ok")], root, load_catalogue())
    assert states(out) == {("PT101", 7): {"torch-export": "confirmed", "torchscript-trace": "not-reproduced"}}


def test_failure_elsewhere_in_the_same_function_confirms_when_nothing_is_exactly_there(root: Path) -> None:
    out = merge([finding(7)], [result("torch-export", "failed", ("pkg/net.py", 8))], root, load_catalogue())
    assert states(out)[("PT101", 7)]["torch-export"] == "confirmed"
    assert [f.code for f in out] == ["PT101"]  # explained, so no ML101


def test_a_finding_on_the_call_that_reaches_the_failure_is_confirmed(root: Path) -> None:
    out = merge([finding(6)], [result("torch-export", "failed", ("pkg/net.py", 12),
                                      locations=(("pkg/net.py", 6), ("pkg/net.py", 12)))], root, load_catalogue())
    assert states(out)[("PT101", 6)]["torch-export"] == "confirmed"


def test_tracer_warning_at_the_finding_confirms_the_silent_trace_hazard(root: Path) -> None:
    trace = result("torchscript-trace", "mismatch", ("pkg/net.py", 7),
                   warnings=[("pkg/net.py", 7, "Converting a tensor to a Python boolean")])
    out = merge([finding(7)], [trace], root, load_catalogue())
    assert states(out)[("PT101", 7)]["torchscript-trace"] == "confirmed"
    assert [f.code for f in out] == ["PT101"]


def test_unreached_code_and_unattempted_targets(root: Path) -> None:
    unused = finding(16)
    out = merge([unused], [result("torch-export", "ok"), result("torchscript-trace", "skipped")], root,
                load_catalogue())
    assert states(out)[("PT101", 16)] == {"torch-export": "not-run"}  # trace was never attempted


def test_silent_hazards_need_compared_outputs_to_be_ruled_out(root: Path) -> None:
    uncompared = result("torchscript-trace", "ok", compared=[])
    out = merge([finding(7)], [uncompared, result("torch-export", "ok", compared=[])], root, load_catalogue())
    assert states(out)[("PT101", 7)] == {"torch-export": "not-reproduced", "torchscript-trace": "not-run"}


def test_unpredicted_failure_becomes_ml101_at_its_line(root: Path) -> None:
    out = merge([], [result("onnx-dynamo", "failed", ("pkg/net.py", 12)),
                     result("onnx-legacy", "failed", ("pkg/net.py", 12))], root, load_catalogue())
    assert len(out) == 1
    f = out[0]
    assert (f.code, f.name, f.path, f.line, f.col) == ("ML101", "export-failed", "pkg/net.py", 12, 8)
    assert f.targets == ("onnx-dynamo", "onnx-legacy")
    assert f.message == "onnx-dynamo, onnx-legacy export of model `net` fails: failed message"
    assert f.severity == Severity.ERROR
    assert dict(f.confirmation) == {"onnx-dynamo": "confirmed", "onnx-legacy": "confirmed"}
    assert dict(f.effects) == {"onnx-dynamo": "fails", "onnx-legacy": "fails"}


def test_a_finding_for_another_target_does_not_explain_a_failure(root: Path) -> None:
    only_trace = finding(7, targets=("torchscript-trace",), effects=(("torchscript-trace", "silent"),))
    out = merge([only_trace], [result("torch-export", "failed", ("pkg/net.py", 7))], root, load_catalogue())
    assert sorted(f.code for f in out) == ["ML101", "PT101"]


def test_unlocated_crash_timeout_mismatch_and_factory_error(root: Path) -> None:
    results = [
        result("torchscript-trace", "crashed"),
        result("onnx-legacy", "crashed"),
        result("torch-export", "timeout", ("pkg/net.py", 12)),
        result("onnx-dynamo", "mismatch"),
    ]
    broken = [ExportResult("other", t, "error", message="factory 'pkg.net:make' raised ValueError: no",
                           details={"factory": "pkg.net:make"}) for t in ("torch-export", "onnx-dynamo")]
    out = merge([], results + broken, root, load_catalogue())
    got = sorted((f.code, f.path, f.line, f.targets) for f in out)
    assert got == [
        ("ML102", "pkg/net.py", 5, ("onnx-dynamo",)),
        ("ML103", "pkg/net.py", 5, ("torchscript-trace", "onnx-legacy")),  # one finding at forward's def
        ("ML104", "pkg/net.py", 12, ("torch-export",)),
        ("ML105", "pkg/net.py", 1, ()),  # no `def make` in the factory's module: its first line
    ]
    ml104 = next(f for f in out if f.code == "ML104")
    assert ml104.severity == Severity.WARNING
    ml105 = next(f for f in out if f.code == "ML105")
    assert "model `other` could not be built" in ml105.message


def test_factory_error_points_at_the_config_line_naming_it(root: Path) -> None:
    (root / "pyproject.toml").write_text('[tool.mllint]\n\n[[tool.mllint.models]]\nfactory = "pkg.gone:make"\n')
    broken = ExportResult("m", "torch-export", "error", message="no module", details={"factory": "pkg.gone:make"})
    out = merge([], [broken], root, load_catalogue())
    assert [(f.code, f.path, f.line) for f in out] == [("ML105", "pyproject.toml", 4)]


def test_tool_diagnostics_and_findings_without_attempted_targets_pass_through(root: Path) -> None:
    tool = Finding(path="pkg/net.py", span=Span(1, 0, 1, 1), code="ML001", name="parse-error", message="x",
                   severity=Severity.ERROR)
    out = merge([tool, finding(7)], [], root, load_catalogue())
    assert [f.confirmation for f in out] == [(), ()]


def evidence(findings: List[Finding]) -> Dict[Tuple[str, int], Dict[str, str]]:
    return {(f.code, f.line): dict(f.evidence) for f in findings}


def test_a_finding_not_reproduced_on_every_target_it_names_is_disproved(root: Path) -> None:
    out = merge([finding(7)], [result("torch-export", "ok"), result("torchscript-trace", "ok")], root,
                load_catalogue())
    assert out[0].disproved
    assert evidence(out)[("PT101", 7)] == {
        "torch-export": "net: exported and ran this code; outputs matched eager on 2 input sets",
        "torchscript-trace": "net: exported and ran this code; outputs matched eager on 2 input sets",
    }


def test_keeping_static_verdicts_never_disproves(root: Path) -> None:
    out = merge([finding(7)], [result("torch-export", "ok"), result("torchscript-trace", "ok")], root,
                load_catalogue(), keep_static=True)
    assert not out[0].disproved
    assert states(out)[("PT101", 7)] == {"torch-export": "not-reproduced", "torchscript-trace": "not-reproduced"}


def test_not_disproved_while_a_named_target_was_confirmed_or_not_attempted(root: Path) -> None:
    confirmed = merge([finding(7)], [result("torch-export", "failed", ("pkg/net.py", 7)),
                                     result("torchscript-trace", "ok")], root, load_catalogue())
    assert not confirmed[0].disproved
    assert evidence(confirmed)[("PT101", 7)]["torch-export"] == "net: failed at pkg/net.py:7: failed message"
    one_target = merge([finding(7)], [result("torch-export", "ok")], root, load_catalogue())
    assert states(one_target)[("PT101", 7)] == {"torch-export": "not-reproduced"}
    assert not one_target[0].disproved  # torchscript-trace, which it also names, was never run


def test_not_run_says_why(root: Path) -> None:
    helper_finding = finding(12, targets=("torchscript-script",), effects=(("torchscript-script", "fails"),))
    stopped = merge([helper_finding], [result("torchscript-script", "failed", ("pkg/net.py", 5), reached=())],
                    root, load_catalogue())
    # the failure at forward's def line is outside helper(): the helper finding is undecided, and says why
    pt = next(f for f in stopped if f.code == "PT101")
    assert dict(pt.confirmation) == {"torchscript-script": "not-run"}
    assert dict(pt.evidence) == {"torchscript-script": "net: torchscript-script stopped earlier, at pkg/net.py:5"}
    unreached = merge([finding(16)], [result("torch-export", "ok"), result("torchscript-trace", "ok")], root,
                      load_catalogue())
    assert dict(unreached[0].evidence)["torch-export"] == "no configured model reaches this code"
    assert not unreached[0].disproved


def test_a_failure_at_the_def_line_confirms_the_findings_of_that_function(root: Path) -> None:
    # TorchScript often points at the `def` line: every finding of that function for that target is confirmed
    out = merge([finding(7, targets=("torchscript-script",), effects=(("torchscript-script", "fails"),))],
                [result("torchscript-script", "failed", ("pkg/net.py", 5))], root, load_catalogue())
    assert [(f.code, dict(f.confirmation)) for f in out] == [("PT101", {"torchscript-script": "confirmed"})]


def test_confirm_summary_counts_per_target_and_in_all(root: Path) -> None:
    from mllint.confirm import confirm_summary

    results = [result("torch-export", "ok"), result("torchscript-trace", "ok"),
               result("onnx-dynamo", "failed", ("pkg/net.py", 12))]
    out = merge([finding(7), finding(16)], results, root, load_catalogue())
    summary = confirm_summary(out, results)
    assert summary["findings"] == {"confirmed": 0, "disproved": 1, "undecided": 1, "new-failures": 1}
    assert summary["targets"] == {
        "onnx-dynamo": {"confirmed": 0, "not-reproduced": 0, "not-run": 0, "new-failures": 1},
        "torch-export": {"confirmed": 0, "not-reproduced": 1, "not-run": 1, "new-failures": 0},
        "torchscript-trace": {"confirmed": 0, "not-reproduced": 1, "not-run": 1, "new-failures": 0},
    }


def test_a_clean_export_does_not_rule_out_side_effects_or_portability_costs(root: Path) -> None:
    mutation = Finding(path="pkg/net.py", span=Span(7, 11, 7, 22), code="PT212", name="input-mutation-dropped",
                       message="x", severity=Severity.WARNING, targets=("onnx-dynamo",),
                       effects=(("onnx-dynamo", "silent"),))
    degraded = finding(7, code="PT202", targets=("onnx-dynamo",), effects=(("onnx-dynamo", "degrades"),))
    out = merge([mutation, degraded], [result("onnx-dynamo", "ok")], root, load_catalogue())
    assert {f.code: dict(f.confirmation) for f in out} == {"PT212": {"onnx-dynamo": "not-run"},
                                                          "PT202": {"onnx-dynamo": "not-run"}}
    assert not any(f.disproved for f in out)
    assert "side effect" in dict(next(f for f in out if f.code == "PT212").evidence)["onnx-dynamo"]
