"""What the ``--confirm`` reach recorder counts as run: functions called, not the files or classes imported."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from mllint.confirm.locate import UserFiles
from mllint.confirm.reach import ReachRecorder

SOURCE = """\
def used(x):
    return x + 1


class Net:
    def forward(self, x):
        return used(x)

    def never_called(self, x):
        return x.item()


def run():
    return Net().forward(1)
"""


def test_import_does_not_reach_every_function(tmp_path: Path) -> None:
    path = tmp_path / "netmod_reach.py"
    path.write_text(SOURCE)
    with ReachRecorder(UserFiles(tmp_path)) as recorder:
        spec = importlib.util.spec_from_file_location("netmod_reach", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["netmod_reach"] = module
        try:
            spec.loader.exec_module(module)
            recorder.running()
            module.run()
        finally:
            sys.modules.pop("netmod_reach", None)
    ranges = recorder.ranges()
    firsts = sorted(first for _, first, _ in ranges)
    assert firsts == [1, 6, 13]  # used, Net.forward, run: not the module, the class body, never_called
    assert not any(first <= 10 <= last for _, first, last in ranges)  # never_called's line is not reached
    assert [first for _, first, _ in recorder.ran()] == [1, 6, 13]


def test_build_only_code_is_not_ran(tmp_path: Path) -> None:
    path = tmp_path / "buildmod_reach.py"
    path.write_text(
        "def build():\n    return helper()\n\n\ndef helper():\n    return 1\n\n\ndef forward():\n    return 2\n"
    )
    spec = importlib.util.spec_from_file_location("buildmod_reach", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with ReachRecorder(UserFiles(tmp_path)) as recorder:
        module.build()
        recorder.running()
        module.forward()
        module.build()  # called again while running: now it counts as run too
    assert [first for _, first, _ in recorder.ranges()] == [1, 5, 9]
    assert [first for _, first, _ in recorder.ran()] == [1, 5, 9]
    with ReachRecorder(UserFiles(tmp_path)) as again:
        module.build()
        again.running()
        module.forward()
    assert [first for _, first, _ in again.ran()] == [9]
