"""What the ``--confirm`` reach recorder counts as run: functions called, not the files or classes imported."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from mllint.confirm.locate import UserFiles
from mllint.confirm.reach import ReachRecorder

SOURCE = '''\
def used(x):
    return x + 1


class Net:
    def forward(self, x):
        return used(x)

    def never_called(self, x):
        return x.item()


def run():
    return Net().forward(1)
'''


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
            module.run()
        finally:
            sys.modules.pop("netmod_reach", None)
    ranges = recorder.ranges()
    firsts = sorted(first for _, first, _ in ranges)
    assert firsts == [1, 6, 13]  # used, Net.forward, run: not the module, the class body, never_called
    assert not any(first <= 10 <= last for _, first, last in ranges)  # never_called's line is not reached
