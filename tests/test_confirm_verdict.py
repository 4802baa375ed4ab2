"""The confirmed verdict decides: real exports of a small project through the ``mllint`` command.

The model unrolls a Python loop over a tensor's rows (PT106, ``run-fails`` on torch-export and onnx-dynamo).
Exported without dynamic dimensions, both artifacts accept only the example's sizes, and there the unrolled
loop is exact: the real exports succeed and match eager, so --confirm disproves the finding on every target
it names, and it no longer fails the run, unless static verdicts are kept.
"""

from __future__ import annotations

import importlib.util
import json
import textwrap
from pathlib import Path

import pytest

# find_spec, not importorskip: importing the frameworks at collection costs seconds even when deselected
pytestmark = [
    pytest.mark.export,
    pytest.mark.skipif(
        not all(importlib.util.find_spec(m) for m in ("torch", "onnxruntime")), reason="needs torch, onnxruntime"
    ),
]

MODEL = textwrap.dedent("""\
    import torch


    class RowSums(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = torch.nn.Linear(4, 4)

        def forward(self, x):
            h = self.lin(x)
            rows = []
            for row in h:
                rows.append(row.sum())
            return torch.stack(rows)


    def make():
        return RowSums().eval(), (torch.randn(3, 4),)
    """)


def project(tmp_path: Path, keep: bool = False) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "rows.py").write_text(MODEL)
    (tmp_path / "pyproject.toml").write_text(
        '[tool.mllint]\ntargets = ["torch-export", "onnx-dynamo"]\n'
        + ("keep-static-verdicts = true\n" if keep else "")
        + '\n[[tool.mllint.models]]\nname = "rows"\nfactory = "pkg.rows:make"\n'
    )
    return tmp_path


def test_a_finding_disproved_on_every_target_it_names_no_longer_fails_the_run(tmp_path: Path, run_mllint) -> None:
    root = project(tmp_path)
    static = run_mllint(["check", ".", "--no-cache", "--format", "json"], root)
    assert static.returncode == 1, static.stderr
    (finding,) = json.loads(static.stdout)["findings"]
    assert (finding["code"], finding["line"], finding["targets"]) == ("PT106", 12, ["torch-export", "onnx-dynamo"])

    proc = run_mllint(["check", ".", "--no-cache", "--confirm", "--format", "json"], root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)
    (finding,) = doc["findings"]
    assert finding["disproved"] is True
    assert finding["confirmation"] == {"torch-export": "not-reproduced", "onnx-dynamo": "not-reproduced"}
    assert finding["evidence"]["torch-export"].startswith("rows: exported and ran this code; outputs matched eager")
    assert doc["summary"]["failing"] == 0
    assert doc["summary"]["confirm"]["findings"] == {"confirmed": 0, "disproved": 1, "undecided": 0, "new-failures": 0}
    assert doc["summary"]["confirm"]["targets"]["onnx-dynamo"]["not-reproduced"] == 1

    text = run_mllint(["check", ".", "--no-cache", "--confirm", "--color", "never"], root)
    assert text.returncode == 0
    assert "[disproved by --confirm: not failing the run]" in text.stdout
    assert "Found 1 finding (1 disproved by --confirm)" in text.stdout
    assert "Confirmed by real exports: 0 confirmed, 1 disproved (not failing the run), 0 undecided" in text.stdout

    sarif = json.loads(run_mllint(["check", ".", "--no-cache", "--confirm", "--format", "sarif"], root).stdout)
    (result,) = sarif["runs"][0]["results"]
    assert result["level"] == "note" and result["properties"]["disproved"] is True
    assert sarif["runs"][0]["properties"]["confirm"]["findings"]["disproved"] == 1


@pytest.mark.parametrize("how", ["flag", "config"])
def test_keeping_static_verdicts_fails_the_run_as_before(tmp_path: Path, run_mllint, how: str) -> None:
    root = project(tmp_path, keep=how == "config")
    args = ["check", ".", "--no-cache", "--confirm", "--format", "json"]
    proc = run_mllint(args + (["--keep-static-verdicts"] if how == "flag" else []), root)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    (finding,) = json.loads(proc.stdout)["findings"]
    assert finding["disproved"] is False
    assert finding["confirmation"] == {"torch-export": "not-reproduced", "onnx-dynamo": "not-reproduced"}


def test_every_result_says_which_device_it_ran_on(tmp_path: Path, run_mllint) -> None:
    root = project(tmp_path)
    doc = json.loads(
        run_mllint(["check", ".", "--no-cache", "--confirm", "--format", "json", "--device", "auto"], root).stdout
    )
    from mllint.confirm import gpu_available

    want = "cuda" if gpu_available() else "cpu"  # auto: the GPU where there is one
    assert [e["device"] for e in doc["exports"]] == [want, want]
