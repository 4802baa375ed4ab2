"""Every rule's bad examples must report it; its good examples must not (pylint/Fixit style)."""

from __future__ import annotations

import pytest

from mllint.catalogue import load_catalogue
from mllint.testing import lint_source

CATALOGUE = load_catalogue()
CASES = [
    pytest.param(rule, i, ex, id=f"{rule.code}-{ex.kind}{i}")
    for rule in CATALOGUE
    for i, ex in enumerate(rule.examples)
]


def test_every_target_rule_has_bad_and_good_examples() -> None:
    missing = [
        r.code for r in CATALOGUE
        if r.impacts and not ({"bad", "good"} <= {e.kind for e in r.examples})
    ]
    assert not missing, f"rules without both bad and good examples: {missing}"


@pytest.mark.parametrize("rule,i,example", CASES)
def test_catalogue_example(rule, i, example) -> None:  # type: ignore[no-untyped-def]
    config = dict(example.config)
    findings = lint_source(example.code, select=[rule.code], config=config)
    own = [f for f in findings if f.code == rule.code and f.suppressed is None]
    tool = [f for f in findings if f.code.startswith("ML0")]
    assert not tool, f"tool diagnostics on example: {tool}"
    if example.kind == "bad":
        assert own, f"{rule.code} bad example #{i} was not reported:\n{example.code}"
    else:
        assert not own, f"{rule.code} good example #{i} was reported: {[(f.line, f.message) for f in own]}\n{example.code}"
