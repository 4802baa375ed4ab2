"""One rule, one home: every catalogue code names what implements it (``implemented-by`` in its card),
exactly one check claims each check-implemented code, and every code a check claims has a card."""

from __future__ import annotations

import importlib
import inspect
from typing import Dict, List

from mllint.catalogue import load_catalogue
from mllint.checks import ALL_CHECKS


def _claims() -> Dict[str, List[str]]:
    out: Dict[str, List[str]] = {}
    for cls in ALL_CHECKS:
        for code in cls.codes:
            out.setdefault(code, []).append(cls.__name__)
    return out


def test_every_card_names_its_one_implementation() -> None:
    claims = _claims()
    problems = []
    for rule in load_catalogue():
        owner = rule.implemented_by
        if not owner:
            problems.append(f"{rule.code}: no implemented-by in {rule.path.name}")
        elif "." in owner:  # a module of the engine or of --confirm reports it
            module = importlib.import_module(owner)
            if f'"{rule.code}"' not in inspect.getsource(module):
                problems.append(f"{rule.code}: {owner} never reports it")
            if rule.code in claims:
                problems.append(f"{rule.code}: claimed by checks {claims[rule.code]} too")
        elif claims.get(rule.code) != [owner]:
            problems.append(f"{rule.code}: card names {owner}, checks claiming it: {claims.get(rule.code, [])}")
    assert problems == []


def test_every_claimed_code_has_a_card() -> None:
    known = {rule.code for rule in load_catalogue()}
    assert sorted(code for code in _claims() if code not in known) == []


def test_check_classes_are_unique_by_name() -> None:
    names = [cls.__name__ for cls in ALL_CHECKS]
    assert len(names) == len(set(names))
