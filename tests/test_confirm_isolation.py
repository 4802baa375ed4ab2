"""Isolation of --confirm children, with factories that need no framework (so these run in seconds):
a segfault, os._exit, a hang, an out-of-memory, a raising factory and a wrong return form each become a
result for that model only; the other models in the same run are unaffected."""

from __future__ import annotations

import textwrap
import time
from typing import Dict, List

import pytest

from mllint.config import ModelSpec
from mllint.confirm import ExportResult, run_confirm

FACTORIES = textwrap.dedent("""\
    import ctypes
    import os
    import time


    def segfault():
        ctypes.string_at(0)  # line 7


    def exits():
        os._exit(3)


    def hangs():
        while True:
            time.sleep(0.05)  # line 16


    def hungry():
        return bytearray(8 * 1024 ** 3)  # line 20


    def raises():
        raise ValueError("no weights in this folder")  # line 24


    def not_a_model():
        return 42
    """)

TARGETS = ("torchscript-script", "torch-export")
#: One module fixture runs every model in real child processes (a segfault, a hang up to its 3 s timeout, ...).
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("proj")
    (root / "src" / "crashy").mkdir(parents=True)
    (root / "src" / "crashy" / "__init__.py").write_text("")
    (root / "src" / "crashy" / "factories.py").write_text(FACTORIES)
    models = [ModelSpec(name, f"crashy.factories:{name}") for name in
              ("segfault", "exits", "hungry", "raises", "not_a_model")]
    models.append(ModelSpec("hangs", "crashy.factories:hangs", timeout=3))
    models.append(ModelSpec("missing", "crashy.nowhere:make"))
    seen: List[ExportResult] = []
    start = time.monotonic()
    results = run_confirm(models, root, TARGETS, "cpu", 3, None, False, seen.append, memory_limit_mb=2048)
    by: Dict[str, Dict[str, ExportResult]] = {}
    for r in results:
        by.setdefault(r.model, {})[r.target] = r
    return results, by, seen, time.monotonic() - start


def test_one_result_per_model_and_target_in_model_order(outcome) -> None:
    results, by, seen, _ = outcome
    assert [(r.model, r.target) for r in results] == [
        (m, t) for m in ("segfault", "exits", "hungry", "raises", "not_a_model", "hangs", "missing") for t in TARGETS
    ]
    assert sorted((r.model, r.target) for r in seen) == sorted((r.model, r.target) for r in results)


def test_segfault_is_a_crash_located_by_faulthandler(outcome) -> None:
    r = outcome[1]["segfault"]["torch-export"]
    assert r.status == "crashed" and "SIGSEGV" in r.message
    assert r.location == ("src/crashy/factories.py", 7)


def test_os_exit_is_a_crash(outcome) -> None:
    r = outcome[1]["exits"]["torchscript-script"]
    assert r.status == "crashed" and "exited with code 3" in r.message


def test_out_of_memory_under_the_limit_is_a_crash(outcome) -> None:
    r = outcome[1]["hungry"]["torch-export"]
    assert r.status == "crashed" and "out of memory" in r.message and "2048 MB" in r.message


def test_hang_is_a_timeout_located_at_the_stuck_line(outcome) -> None:
    r = outcome[1]["hangs"]["torch-export"]
    assert r.status == "timeout" and "within 3s" in r.message
    assert r.location == ("src/crashy/factories.py", 16)
    assert outcome[3] < 60  # the hang is cut short; nothing waits for it


def test_factory_errors_are_per_model_errors_with_a_location(outcome) -> None:
    by = outcome[1]
    raised = by["raises"]["torch-export"]
    assert raised.status == "error" and "no weights in this folder" in raised.message
    assert raised.location == ("src/crashy/factories.py", 24)
    assert by["not_a_model"]["torch-export"].status == "error"
    assert "returned int" in by["not_a_model"]["torch-export"].message
    assert by["missing"]["torch-export"].status == "error"
    assert "no module 'crashy.nowhere'" in by["missing"]["torch-export"].message
