"""The safety valve on distinct calls followed (``MAX_TASKS``) is never silent: reaching it is reported
(ML010) on the file whose calls were not followed, and below it nothing is said."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import List, Tuple

MODEL = textwrap.dedent(
    """\
    import torch
    from torch import nn


    def helper_{n}(x):
        if x.sum() > 0:
            return x
        return -x


    class Net{n}(nn.Module):
        def forward(self, x):
            return helper_{n}(x)
    """
)


def _findings(mllint_cli, root: Path, max_tasks: str) -> List[Tuple[str, int, str, str]]:  # type: ignore[no-untyped-def]
    proc = mllint_cli(
        ["check", "--no-cache", "--format", "json", "--target", "torch-export", "."],
        root,
        env_extra={"MLLINT_MAX_TASKS": max_tasks},
    )
    assert proc.returncode in (0, 1), proc.stderr
    return [(f["path"], f["line"], f["code"], f["message"]) for f in json.loads(proc.stdout)["findings"]]


def _project(root: Path, files: int) -> Path:
    root.mkdir()
    (root / "pyproject.toml").write_text("[tool.mllint]\n")
    for i in range(files):
        (root / f"m{i}.py").write_text(MODEL.format(n=i))
    return root


def test_calls_cut_by_the_task_limit_are_reported(tmp_path: Path, mllint_cli) -> None:
    root = _project(tmp_path / "p", 3)
    full = _findings(mllint_cli, root, "200000")
    assert sorted((p, c) for p, _, c, _ in full) == [("m0.py", "PT101"), ("m1.py", "PT101"), ("m2.py", "PT101")]
    # room for the first file's two tasks only: the others' calls are cut, and each cut file says so
    cut = _findings(mllint_cli, root, "2")
    assert ("m0.py", 6, "PT101") in [(p, line, c) for p, line, c, _ in cut]
    reported = {p: m for p, _, c, m in cut if c == "ML010"}
    assert set(reported) == {"m1.py", "m2.py"}
    assert "`Net1.forward`" in reported["m1.py"] and "limit of 2 distinct calls" in reported["m1.py"]
    # nothing lost silently: every file has its finding or the statement that it was not judged
    assert {p for p, _, c, _ in cut if c in ("PT101", "ML010")} == {"m0.py", "m1.py", "m2.py"}
