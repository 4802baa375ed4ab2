"""Realistic model files under fixtures/ carry their expected findings as ``# expect: CODE`` comments.

Each top-level folder of fixtures/ is checked as one project with every rule, every target and every model
class as an entry point;
the reported (file, line, code) set must equal the expected set exactly.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Set, Tuple

import pytest

from mllint.catalogue import load_catalogue
from mllint.config import load_settings
from mllint.engine import run_check

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures"
EXPECT = re.compile(r"#\s*expect:\s*([A-Z]{2,3}[0-9]{3}(?:\s*,\s*[A-Z]{2,3}[0-9]{3})*)")
#: --confirm fixtures are models for real exports, entry_points is one project of default entry points:
#: both are checked by their own tests (test_confirm*, test_entry_points)
SKIP = {"confirm", "entry_points"}


def _projects():
    return sorted(p for p in FIXTURES.iterdir() if p.is_dir() and p.name not in SKIP and any(p.rglob("*.py")))


def expected(folder: Path) -> Set[Tuple[str, int, str]]:
    out = set()
    for path in sorted(folder.rglob("*.py")):
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            m = EXPECT.search(line)
            if m:
                for code in m.group(1).split(","):
                    out.add((path.relative_to(REPO).as_posix(), lineno, code.strip()))
    return out


@pytest.mark.parametrize("folder", _projects(), ids=lambda p: p.name)
def test_fixture_findings_match_expectations(folder: Path) -> None:
    catalogue = load_catalogue()
    # A folder is a collection of unrelated examples, its `# expect:` lines written for every target and every
    # model class: the defaults (auto targets; only the classes an export call names) judge a project's own.
    settings = load_settings(REPO, catalogue, overrides={"targets": ["all"], "entry-points": ["*:*"]})
    settings.root = REPO
    result = run_check([str(folder)], settings, catalogue)
    got = {(f.path, f.line, f.code) for f in result.findings if f.suppressed is None}
    want = expected(folder)
    missing = sorted(want - got)
    extra = sorted(got - want)
    assert not missing and not extra, f"missing: {missing}\nunexpected: {extra}"
