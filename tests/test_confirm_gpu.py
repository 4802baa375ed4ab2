"""The CUDA path of --confirm: model and inputs move to the GPU before export and comparison.

Skipped where no GPU is usable (the CPU-only fallback of ``auto`` and the ``cuda`` error are tested in
test_confirm_units.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mllint.config import ModelSpec
from mllint.confirm import gpu_available, run_confirm

pytestmark = [pytest.mark.export, pytest.mark.gpu,
              pytest.mark.skipif(not gpu_available(), reason="needs a CUDA device")]

ROOT = Path(__file__).resolve().parents[1] / "fixtures" / "confirm"


def test_clean_model_exports_and_matches_on_cuda() -> None:
    targets = ("torchscript-script", "torchscript-trace", "torch-export", "onnx-dynamo")
    results = run_confirm([ModelSpec("clean", "confirm_models.clean:make")], ROOT, targets, "cuda", 1, None, False, None)
    assert [(r.target, r.status) for r in results] == [(t, "ok") for t in targets]


def test_auto_uses_the_gpu_when_there_is_one() -> None:
    results = run_confirm([ModelSpec("branch", "confirm_models.branch:make")], ROOT, ("torch-export",), "auto", 1,
                          None, False, None)
    assert results[0].status == "failed" and results[0].location == ("confirm_models/branch.py", 19)
