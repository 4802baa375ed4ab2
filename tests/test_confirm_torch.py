"""Real PyTorch exports of the fixtures/confirm models, all in one run_confirm call (one child per model).

Fixture lines where a problem must be located carry ``# confirm: <target>, ...``; every located result
must land exactly there.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Dict, List, Set, Tuple

import pytest

from mllint.catalogue import load_catalogue
from mllint.config import ModelSpec, load_settings
from mllint.confirm import ExportResult, merge, run_confirm
from mllint.engine import run_check
from mllint.targets import TORCH_TARGETS

# find_spec, not importorskip: importing the frameworks at collection costs seconds even when deselected
pytestmark = [pytest.mark.export, pytest.mark.skipif(not all(importlib.util.find_spec(m) for m in ('torch', 'onnxruntime')), reason="needs torch, onnxruntime")]

ROOT = Path(__file__).resolve().parents[1] / "fixtures" / "confirm"
MARK = re.compile(r"#\s*confirm:\s*(.+)$")
TARGETS = TORCH_TARGETS + ("savedmodel",)
MODELS = [
    ModelSpec("clean", "confirm_models.clean:make"),
    ModelSpec("branch", "confirm_models.branch:make"),
    ModelSpec("baked-shape", "confirm_models.baked_shape:make"),
    ModelSpec("unsupported-op", "confirm_models.unsupported_op:make"),
    ModelSpec("dynamic-batch", "confirm_models.dynamic_batch:make"),
    ModelSpec("unpredicted", "confirm_models.unpredicted:make"),
    ModelSpec("segfault", "confirm_models.segfault:make"),
    ModelSpec("hang", "confirm_models.hang:make", targets=("torchscript-script", "torchscript-trace", "torch-export"),
              timeout=8),
    ModelSpec("wrong-form", "confirm_models.broken:wrong_form"),
]


def marked_lines() -> Dict[Tuple[str, str], Set[int]]:
    """(file, target) -> lines marked ``# confirm: target``."""
    out: Dict[Tuple[str, str], Set[int]] = {}
    for path in sorted((ROOT / "confirm_models").glob("*.py")):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            m = MARK.search(line)
            if m:
                for target in m.group(1).split(","):
                    out.setdefault((path.relative_to(ROOT).as_posix(), target.strip()), set()).add(n)
    return out


def mark(file: str, target: str) -> int:
    (line,) = marked_lines()[(f"confirm_models/{file}", target)]
    return line


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory):
    artifacts = tmp_path_factory.mktemp("artifacts")
    seen: List[ExportResult] = []
    results = run_confirm(MODELS, ROOT, TARGETS, "cpu", 2, artifacts, False, seen.append)
    by: Dict[str, Dict[str, ExportResult]] = {}
    for r in results:
        by.setdefault(r.model, {})[r.target] = r
    return results, by, artifacts, seen


def test_every_model_and_target_has_one_result_in_order(run) -> None:
    results, by, _, seen = run
    expected = [(m.name, t) for m in MODELS for t in TARGETS if not m.targets or t in m.targets]
    assert [(r.model, r.target) for r in results] == expected
    assert len(seen) == len(results)
    assert by["clean"]["savedmodel"].status == "skipped"


def test_located_results_land_on_the_marked_lines(run) -> None:
    marks = marked_lines()
    for r in run[0]:
        if r.location is not None and r.model != "wrong-form":
            assert r.target in {t for (f, t), lines in marks.items() if f == r.location[0] and r.location[1] in lines}, r


def test_clean_model_exports_everywhere_and_keeps_artifacts(run) -> None:
    _, by, artifacts, _ = run
    for target in TORCH_TARGETS:
        r = by["clean"][target]
        assert r.status == "ok", r
        assert "other-values" in r.details["compared"]
        assert r.export_seconds is not None and r.export_seconds <= r.seconds
    assert "other-batch" in by["clean"]["torchscript-trace"].details["compared"]
    assert "other-batch" not in by["clean"]["torch-export"].details["compared"]  # static graph: same shapes only
    kept = {p.name for p in (artifacts / "clean").iterdir()}
    assert {"torchscript-script.pt", "torchscript-trace.pt", "torch-export.pt2", "onnx-dynamo.onnx",
            "onnx-legacy.onnx"} <= kept


def test_tensor_branch_fails_export_and_is_caught_silent_in_tracing(run) -> None:
    b = run[1]["branch"]
    assert b["torchscript-script"].status == "ok"
    for target in ("torch-export", "onnx-dynamo"):
        assert b[target].status == "failed"
        assert b[target].location == ("confirm_models/branch.py", mark("branch.py", target))
        assert "GuardOnDataDependentSymNode" in b[target].message
    for target in ("torchscript-trace", "onnx-legacy"):
        assert b[target].status == "mismatch" and "other-values" in b[target].message
        assert b[target].location == ("confirm_models/branch.py", mark("branch.py", target))
        assert b[target].details["warnings"][0][2].startswith("Converting a tensor to a Python boolean")


def test_traced_output_silently_differs_on_another_batch_size(run) -> None:
    b = run[1]["baked-shape"]
    assert b["torchscript-trace"].status == "mismatch" and "other-batch" in b["torchscript-trace"].message
    assert b["torchscript-trace"].location == ("confirm_models/baked_shape.py", mark("baked_shape.py", "torchscript-trace"))
    assert b["torch-export"].status == b["torchscript-script"].status == "ok"


def test_unsupported_op_is_located_from_the_exported_program_and_the_graph_dump(run) -> None:
    u = run[1]["unsupported-op"]
    line = mark("unsupported_op.py", "onnx-dynamo")
    assert u["onnx-dynamo"].status == "failed" and u["onnx-dynamo"].location == ("confirm_models/unsupported_op.py", line)
    assert u["onnx-dynamo"].details["how"] == "onnx dispatch"
    assert "aten.linalg_eig.default" in u["onnx-dynamo"].details["unsupported_ops"]
    assert u["onnx-legacy"].status == "failed" and u["onnx-legacy"].location[1] == line
    assert "linalg_eigvals" in u["onnx-legacy"].message
    assert u["torch-export"].status == "ok"


def test_branch_on_a_dynamic_dimension_fails_export_and_is_silent_elsewhere(run) -> None:
    d = run[1]["dynamic-batch"]
    line = ("confirm_models/dynamic_batch.py", mark("dynamic_batch.py", "torch-export"))
    assert d["torch-export"].status == "failed" and "Constraints violated" in d["torch-export"].message
    assert d["torch-export"].location == line and d["torch-export"].details["how"] == "draft_export"
    # the dynamo exporter narrows the declared dimension silently; only a smaller batch shows it
    assert d["onnx-dynamo"].status == "mismatch" and "smaller-batch" in d["onnx-dynamo"].message
    assert d["onnx-dynamo"].location == line and d["onnx-dynamo"].details["how"] == "draft_export"
    assert d["onnx-legacy"].status == "mismatch" and d["onnx-legacy"].location == line
    assert d["torchscript-script"].status == "ok"


def test_unpredicted_failure_is_reported_at_the_user_line(run) -> None:
    r = run[1]["unpredicted"]["torch-export"]
    assert r.status == "failed" and "data pointer" in r.message
    assert r.location == ("confirm_models/unpredicted.py", mark("unpredicted.py", "torch-export"))


def test_segfault_is_isolated_and_the_other_targets_are_kept(run) -> None:
    s = run[1]["segfault"]
    assert s["torchscript-trace"].status == s["onnx-legacy"].status == "crashed"
    assert "SIGSEGV" in s["torchscript-trace"].message
    assert s["torchscript-script"].status == "failed"  # try blocks are not scriptable, located by message
    assert s["onnx-dynamo"].status in ("ok", "failed", "mismatch")  # ran in a fresh child after the crash
    assert s["torch-export"].status in ("ok", "failed", "mismatch")


def test_hang_times_out_at_the_stuck_line_and_the_rest_runs(run) -> None:
    h = run[1]["hang"]
    assert h["torchscript-trace"].status == "timeout"
    assert h["torchscript-trace"].location == ("confirm_models/hang.py", mark("hang.py", "torchscript-trace"))
    assert h["torch-export"].status == "ok"


def test_wrong_factory_form_is_an_error_for_that_model_only(run) -> None:
    r = run[1]["wrong-form"]["torch-export"]
    assert r.status == "error" and "returned Linear" in r.message


def test_merge_confirms_the_static_finding_and_reports_what_no_rule_predicted(run) -> None:
    catalogue = load_catalogue()
    settings = load_settings(ROOT, catalogue)
    static = run_check([str(ROOT)], settings, catalogue).findings
    pt101 = [f for f in static if f.code == "PT101" and f.path == "confirm_models/branch.py"]
    assert pt101, "the static rule must flag the tensor branch"
    merged = merge(pt101, run[0], ROOT, catalogue)
    branch = next(f for f in merged if f.code == "PT101")
    assert dict(branch.confirmation) == {t: "confirmed" for t in branch.targets}
    new = {(f.code, f.path, f.line) for f in merged if f.code.startswith("ML")}
    assert ("ML101", "confirm_models/unpredicted.py", mark("unpredicted.py", "torch-export")) in new
    assert ("ML102", "confirm_models/baked_shape.py", mark("baked_shape.py", "torchscript-trace")) in new
    assert ("ML104", "confirm_models/hang.py", mark("hang.py", "torchscript-trace")) in new
    assert any(code == "ML103" and path == "confirm_models/segfault.py" for code, path, _ in new)
    assert any(code == "ML105" and path == "confirm_models/broken.py" for code, path, _ in new)
    assert not any(path == "confirm_models/branch.py" for _, path, _ in new)  # explained by PT101
    assert not any(path == "confirm_models/clean.py" for _, path, _ in new)


def test_a_finding_in_code_that_exported_cleanly_is_not_reproduced(run) -> None:
    """A (hypothetical) false positive in the clean model's forward is refuted by the real exports."""
    from mllint.findings import Finding, Span
    from mllint.targets import Severity

    line = next(n for n, text in enumerate((ROOT / "confirm_models" / "clean.py").read_text().splitlines(), 1)
                if "torch.softmax" in text)
    bogus = Finding("confirm_models/clean.py", Span(line, 8, line, 20), "PT101", "tensor-dependent-branch", "x",
                    Severity.ERROR, targets=("torch-export", "onnx-dynamo", "torchscript-trace"),
                    effects=(("torchscript-trace", "silent"), ("torch-export", "fails"), ("onnx-dynamo", "fails")))
    (merged,) = merge([bogus], [r for r in run[0] if r.model == "clean"], ROOT, load_catalogue())
    assert set(dict(merged.confirmation).values()) == {"not-reproduced"}


def test_strict_mode_uses_the_dynamo_front_end_and_still_finds_the_line() -> None:
    (r,) = run_confirm([ModelSpec("branch", "confirm_models.branch:make")], ROOT, ("torch-export",), "cpu", 1,
                       None, True, None)
    assert r.status == "failed" and "Unsupported" in r.message  # dynamo's graph break, not a guard error
    assert r.location == ("confirm_models/branch.py", mark("branch.py", "torch-export"))
    assert r.details["how"] == "message"  # dynamo re-raises: the line is only in "from user code:"
