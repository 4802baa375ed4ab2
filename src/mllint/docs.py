"""Rule documentation rendered from the catalogue (``mllint explain``, README rule table)."""

from __future__ import annotations

from typing import Iterable

from mllint.catalogue import RuleSpec
from mllint.targets import target, target_names


def explain_text(rule: RuleSpec) -> str:
    lines = [f"# {rule.code} {rule.name}", "", rule.summary + ".", ""]
    if rule.impacts:
        lines += ["| target | severity | what happens |", "|---|---|---|"]
        for t in target_names():
            impact = rule.impacts.get(t)
            if impact:
                lines.append(f"| {t} | {impact.severity.value} | {impact.effect} |")
        others = [t for t in target_names() if t not in rule.impacts and (
            rule.framework == "any" or target(t).framework == rule.framework)]
        if others:
            lines.append("")
            lines.append("Not a hazard for: " + ", ".join(others) + ".")
        lines.append("")
    if rule.fix_safety:
        flag = "--fix" if rule.fix_safety == "safe" else "--fix --unsafe-fixes"
        lines += [f"Autofix: {rule.fix_safety} (`mllint check {flag}`).", ""]
    lines.append(rule.doc.rstrip())
    return "\n".join(lines) + "\n"


def rule_table(rules: Iterable[RuleSpec]) -> str:
    rows = ["| code | name | family | targets (effect) | summary |", "|---|---|---|---|---|"]
    for r in rules:
        targets = ", ".join(f"{t} ({i.effect})" for t, i in r.impacts.items()) or "-"
        rows.append(f"| {r.code} | [{r.name}](rules/{r.family}/{r.code}-{r.name}.md) | {r.family} | {targets} | {r.summary} |")
    return "\n".join(rows) + "\n"
