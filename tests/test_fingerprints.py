"""primaryLocationLineHash must equal what GitHub's upload action computes (its own test vectors)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mllint.fingerprints import line_hashes

DATA = Path(__file__).parent / "data" / "sarif" / "examples" / "fingerprints"
EXPECTED = json.loads((DATA / "expected.json").read_text())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_matches_github_vectors(name: str) -> None:
    text = (DATA / "inputs" / name).read_bytes().decode("utf-8")
    got = line_hashes(text)
    want = {int(k): v for k, v in EXPECTED[name].items()}
    assert {k: got.get(k) for k in want} == want


def test_stable_when_unrelated_lines_move() -> None:
    body = "import torch\n\nclass Net:\n    def forward(self, x):\n        if x.sum() > 0:\n            return x\n        return -x\n"
    before = line_hashes(body)[5]
    after = line_hashes("# a new comment\n\n\n" + body)[8]
    assert before == after
    changed = line_hashes(body.replace("x.sum() > 0", "x.mean() > 0"))[5]
    assert changed != before
