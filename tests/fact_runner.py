"""Run one fact script (real exports) in a fresh interpreter and read its ``RESULT {json}`` line.

Fact tests keep their exporting code in a string so that ``torch.jit.script`` can read its source from a
real file; each runs once per module (a module-scoped fixture), so torch is imported once per test file.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Sequence

import pytest


def run_fact_script(
    tmp_path_factory: pytest.TempPathFactory, name: str, script: str, args: Sequence[str] = (), timeout: float = 600
) -> dict:
    path = tmp_path_factory.mktemp(name) / f"{name}.py"
    path.write_text(script, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, str(path), *args], capture_output=True, text=True, timeout=timeout, cwd=str(path.parent)
    )
    line = next((l for l in proc.stdout.splitlines() if l.startswith("RESULT ")), None)
    assert line is not None, proc.stderr[-3000:]
    return json.loads(line[len("RESULT ") :])
