"""Every rule's bad examples report it on exactly the lines marked ``# expect: CODE``; its good
examples report nothing (pylint's functional tests, Fixit's valid/invalid cases)."""

from __future__ import annotations

import re
from typing import List, Tuple

import pytest

from mllint.catalogue import load_catalogue
from mllint.testing import lint_source

CATALOGUE = load_catalogue()
EXPECT = re.compile(r"#\s*expect:\s*([A-Z]{2,3}[0-9]{3}(?:\s*,\s*[A-Z]{2,3}[0-9]{3})*)")


def expected_lines(code: str, rule_code: str) -> List[int]:
    """Lines of an example marked ``# expect: CODE`` for ``rule_code``."""
    out = []
    for lineno, line in enumerate(code.splitlines(), 1):
        m = EXPECT.search(line)
        if m and rule_code in [c.strip() for c in m.group(1).split(",")]:
            out.append(lineno)
    return out


CASES = [
    pytest.param(rule, i, ex, id=f"{rule.code}-{ex.kind}{i}")
    for rule in CATALOGUE
    for i, ex in enumerate(rule.examples)
]


def test_every_target_rule_has_bad_and_good_examples() -> None:
    missing = [r.code for r in CATALOGUE if r.impacts and not ({"bad", "good"} <= {e.kind for e in r.examples})]
    assert not missing, f"rules without both bad and good examples: {missing}"


@pytest.mark.parametrize("rule,i,example", CASES)
def test_catalogue_example(rule, i, example) -> None:  # type: ignore[no-untyped-def]
    config = dict(example.config)
    config.setdefault("targets", "all")  # the cards' examples judge every target, whatever the project's exports
    findings = lint_source(example.code, select=[rule.code], config=config)
    own = [f for f in findings if f.code == rule.code and f.suppressed is None]
    tool = [f for f in findings if f.code.startswith("ML0")]
    assert not tool, f"tool diagnostics on example: {tool}"
    got: List[Tuple[int, str]] = sorted((f.line, f.code) for f in own)
    if example.kind == "bad":
        want = [(line, rule.code) for line in expected_lines(example.code, rule.code)]
        assert want, f"{rule.code} bad example #{i} has no `# expect: {rule.code}` marker:\n{example.code}"
        assert sorted(set(got)) == want, f"{rule.code} bad example #{i}: reported {got}, marked {want}\n{example.code}"
    else:
        assert "# expect:" not in example.code, f"{rule.code} good example #{i} carries an expect marker"
        assert not own, (
            f"{rule.code} good example #{i} was reported: {[(f.line, f.message) for f in own]}\n{example.code}"
        )
