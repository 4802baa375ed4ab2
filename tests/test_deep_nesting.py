"""Pathological nesting in a checkout (issue 16, item 8): never a crash, never a node repr, never a stall.

Python rejects nesting deeper than its parser allows (``RecursionError`` / "too many nested ..."): mllint
reports ML001 without handing the file to LibCST, whose parse time grows faster than linearly on such
input (a 20,000-term ``x + x + ...`` took minutes). Nesting Python accepts but mllint's analysis cannot
follow is ML006 at the most deeply nested line; the file's other findings and every other file stay.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest

from mllint.assembly import recursion_in, short_error
from mllint.source import ParseFailure, deepest_line, parse

GOOD = "import torch\nclass M(torch.nn.Module):\n    def forward(self, x):\n        if x.sum() > 0:\n            return x\n        return -x\n"


def _elifs(n: int) -> str:
    src = "import torch\nclass E(torch.nn.Module):\n    def forward(self, x):\n        if x.sum() > 0:\n            y = 0\n"
    for i in range(n):
        src += f"        elif x.sum() > {i}:\n            y = {i}\n"
    return src + "        return y\n"


def _chain(n: int) -> str:
    return (
        "import torch\nclass M(torch.nn.Module):\n    def forward(self, x):\n        y = "
        + " + ".join(["x"] * n)
        + "\n        return y\n"
    )


def _run(root: Path) -> "subprocess.CompletedProcess[str]":
    return subprocess.run(
        [sys.executable, "-m", "mllint", "check", ".", "--no-cache", "--target", "all", "--format", "json"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _findings(proc: "subprocess.CompletedProcess[str]") -> List[dict]:
    assert proc.returncode in (0, 1), proc.stderr[-2000:]  # never 3 (internal error), never a traceback
    return json.loads(proc.stdout)["findings"]


def test_nesting_python_refuses_is_a_parse_error_without_libcst(tmp_path: Path) -> None:
    (tmp_path / "chain.py").write_text(_chain(20000))
    (tmp_path / "elifs.py").write_text(_elifs(3000))
    (tmp_path / "ok.py").write_text(GOOD)
    found = {(f["path"], f["code"]): f for f in _findings(_run(tmp_path))}
    for name in ("chain.py", "elifs.py"):
        f = found[(name, "ML001")]
        assert "nested deeper than Python's parser allows" in f["message"], f["message"]
    assert ("ok.py", "PT101") in found  # the other file is analysed


def test_parse_refuses_fast_what_python_refuses() -> None:
    with pytest.raises(ParseFailure, match="nested deeper than Python's parser allows"):
        parse(_chain(20000))  # without the pre-check this LibCST parse alone runs for minutes


def test_nesting_the_analysis_cannot_follow_is_ML006_at_a_line(tmp_path: Path) -> None:
    (tmp_path / "elifs900.py").write_text(_elifs(900))  # Python compiles it
    (tmp_path / "chain1500.py").write_text(_chain(1500))
    (tmp_path / "ok.py").write_text(GOOD)
    compile(_elifs(900), "elifs900.py", "exec")
    compile(_chain(1500), "chain1500.py", "exec")
    proc = _run(tmp_path)
    findings = _findings(proc)
    deep = {f["path"]: f for f in findings if f["code"] == "ML006"}
    assert set(deep) == {"elifs900.py", "chain1500.py"}, [(f["path"], f["code"]) for f in findings]
    assert deep["chain1500.py"]["line"] == 4  # the line with the chain
    for f in deep.values():
        assert f["message"].startswith("cannot be analysed: line ") and "Node(" not in f["message"]
    assert not any(f["code"] == "ML004" for f in findings)
    assert any(f["path"] == "ok.py" and f["code"] == "PT101" for f in findings)
    assert "Traceback" not in proc.stderr


def test_error_text_never_holds_a_node_repr() -> None:
    import libcst as cst

    node = cst.parse_expression("a + b")
    try:
        {}[node]
    except KeyError as exc:
        text = short_error(exc)
    assert "BinaryOperation" not in text and text.startswith("KeyError: a key is missing")
    try:
        try:
            raise RecursionError("deep")
        except RecursionError:
            {}[node]
    except KeyError as exc:
        assert recursion_in(exc) and short_error(exc).startswith("RecursionError")


def test_deepest_line() -> None:
    assert deepest_line("a = 1\nif x:\n    y = ((((1))))\nz = 2\n") == 3
    assert deepest_line("a = 1\nb = " + " + ".join(["x"] * 3000) + "\nc = (1)\n") == 2


def test_valid_python_libcst_cannot_parse_is_a_parser_limit_not_a_syntax_error(tmp_path: Path) -> None:
    """A form feed before nested indentation: CPython accepts it, LibCST's tokenizer does not."""
    limit = "import torch\n\n\ndef f():\n    if 1:\n\x0c        pass\n"
    compile(limit, "limit.py", "exec")
    (tmp_path / "limit.py").write_text(limit)
    (tmp_path / "broken.py").write_text("import torch\ndef f(:\n    pass\n")
    (tmp_path / "ok.py").write_text(GOOD)
    found = {(f["path"], f["code"]): f["message"] for f in _findings(_run(tmp_path))}
    assert found[("limit.py", "ML001")].startswith("cannot parse: parser limit: Python accepts this file")
    assert "parser limit" not in found[("broken.py", "ML001")]
    assert ("ok.py", "PT101") in found


@pytest.mark.slow  # a fresh process's stack depth, 4 deep files (seconds)
def test_deep_expressions_in_forward_are_ML006_for_every_stage(tmp_path: Path) -> None:
    """900 nested lambdas, 900 chained calls, 3,000 adjacent strings, a 3,000-operand ``and``: Python
    compiles each; the summary, the walker or the locator runs out of depth: ML006, never a crash."""
    head = "import torch\nclass M(torch.nn.Module):\n    def forward(self, x):\n        y = "
    bodies = {
        "lam.py": "lambda: " * 900 + "x",
        "calls.py": "x" + ".abs()" * 900,
        "strs.py": " ".join(['"a"'] * 3000),
        "ands.py": " and ".join(["x"] * 3000),
    }
    for name, body in bodies.items():
        source = head + body + "\n        return x\n"
        compile(source, name, "exec")
        (tmp_path / name).write_text(source)
    (tmp_path / "ok.py").write_text(GOOD)
    proc = _run(tmp_path)
    found = {(f["path"], f["code"], f["line"]) for f in _findings(proc)}
    assert {(name, "ML006", 4) for name in bodies} <= found, found
    assert ("ok.py", "PT101", 4) in found and "Traceback" not in proc.stderr
