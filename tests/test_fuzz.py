"""Generated programs never crash the analysis (issue 16): hypothesmith writes syntactically valid Python
from the grammar and from LibCST's node types; mllint must answer each with findings, never an exception,
an internal error (ML004) or a position outside the file.

About 60 s on 2 cores (``slow``). A longer run: ``MLLINT_FUZZ_EXAMPLES=5000 pytest tests/test_fuzz.py``.
"""

from __future__ import annotations

import importlib.util
import os
import warnings

import pytest

# find_spec, not importorskip: importing hypothesmith costs about a second at collection, even when deselected
if importlib.util.find_spec("hypothesmith") is None:
    pytest.skip("needs hypothesmith", allow_module_level=True)  # hypothesis comes with it
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from mllint.testing import lint_source  # noqa: E402

EXAMPLES = int(os.environ.get("MLLINT_FUZZ_EXAMPLES", "800"))
#: Each program is also checked as the body of a model's ``forward`` (so the walker and every rule run on it)
#: and after a torch import (so the torch rules are selected for the file).
MODEL = "import torch\nfrom torch import nn\n\n\nclass Fuzzed(nn.Module):\n    def forward(self, x):\n{body}\n        return x\n"


def _as_forward(program: str) -> str:
    body = "\n".join("        " + line if line.strip() else "" for line in program.splitlines())
    return MODEL.format(body=body or "        pass")


def _check(source: str) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarnings of generated code are not the point
            compile(source, "example.py", "exec")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return  # indenting a program can make it invalid (a multi-line string): not mllint's input to judge
    lines = source.count("\n") + 1
    for f in lint_source(source, targets=["all"]):
        assert f.code != "ML004", f"internal error on:\n{source}\n{f.message}"
        assert 1 <= f.line <= lines and f.col >= 0, f"position {f.line}:{f.col} outside the file:\n{source}"
        assert f.span.end_line >= f.line, f


def _programs() -> "st.SearchStrategy[str]":
    import hypothesmith

    return st.one_of(hypothesmith.from_grammar(), hypothesmith.from_node())


@pytest.mark.slow
@settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
# deferred: building the grammar strategies takes seconds, paid at collection even when the test is deselected
@given(st.deferred(lambda: _programs()))
def test_generated_programs_never_crash_the_analysis(program: str) -> None:
    _check("import torch\n" + program)
    _check(_as_forward(program))
