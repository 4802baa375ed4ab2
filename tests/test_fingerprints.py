"""primaryLocationLineHash must equal what GitHub's upload action computes (vectors from its own code)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mllint.fingerprints import file_line_hashes, line_hashes

DATA = Path(__file__).parent / "data" / "sarif" / "examples" / "fingerprints"
EXPECTED = json.loads((DATA / "expected.json").read_text())


def test_all_vectors_are_used() -> None:
    assert len(EXPECTED) == 11
    assert sorted(EXPECTED) == sorted(p.name for p in (DATA / "inputs").iterdir())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_matches_github_vectors(name: str) -> None:
    """Every line's value (and the extra one past the end), byte-exact input, nothing more or less."""
    got = file_line_hashes(DATA / "inputs" / name)
    assert got == {int(line): value for line, value in EXPECTED[name].items()}


def test_line_ends_and_indentation_do_not_matter_but_content_does() -> None:
    lf = line_hashes("a = 1\nif x.sum() > 0:\n    y = 2\n")
    assert line_hashes("a = 1\r\nif x.sum() > 0:\r\n    y = 2\r\n") == lf
    assert line_hashes("a = 1\rif x.sum() > 0:\r    y = 2\r") == lf
    assert line_hashes("a = 1\nif x.sum() > 0:\n\ty = 2\n") == lf
    assert line_hashes("a = 1\nif x.sum() > 0:\n    y = 3\n")[2] != lf[2]  # the window runs into later lines


def test_stable_when_unrelated_lines_move() -> None:
    body = ("import torch\n\nclass Net:\n    def forward(self, x):\n        if x.sum() > 0:\n"
            "            return x\n        return -x\n")
    before = line_hashes(body)[5]
    after = line_hashes("# a new comment\n\n\n" + body)[8]
    assert before == after
    changed = line_hashes(body.replace("x.sum() > 0", "x.mean() > 0"))[5]
    assert changed != before


def test_repeated_lines_are_numbered() -> None:
    hashes = line_hashes("x\n" * 150)  # far from the end, the 100-unit windows are identical
    assert hashes[1].split(":")[0] == hashes[2].split(":")[0] == hashes[3].split(":")[0]
    assert [hashes[n].split(":")[1] for n in (1, 2, 3)] == ["1", "2", "3"]
    assert hashes[150].split(":")[0] != hashes[1].split(":")[0]  # near the end, the window holds the end


def test_files_github_would_read_differently_get_none(tmp_path: Path) -> None:
    (tmp_path / "latin.py").write_bytes("# -*- coding: latin-1 -*-\ns = 'é'\n".encode("latin-1"))
    assert file_line_hashes(tmp_path / "latin.py") is None
    assert file_line_hashes(tmp_path / "missing.py") is None
    (tmp_path / "bom.py").write_bytes(b"\xef\xbb\xbfx = 1\n")
    assert file_line_hashes(tmp_path / "bom.py") == line_hashes("\ufeffx = 1\n") != line_hashes("x = 1\n")
