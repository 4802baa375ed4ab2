"""``--statistics``: how many unsuppressed findings each rule and each target has (like ruff's ``--statistics``).

Adopting teams use it to size the work and to pick which rule to burn down first, so the rows are
ordered by count, largest first, then by code or target name for a stable order.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Dict, List, Sequence, Tuple

from mllint.findings import Finding


def counts(findings: Sequence[Finding]) -> Tuple[List[Tuple[str, str, int]], List[Tuple[str, int]]]:
    """``([(code, name, n)], [(target, n)])`` for the unsuppressed findings, largest first."""
    active = [f for f in findings if f.suppressed is None]
    names: Dict[str, str] = {f.code: f.name for f in active}
    per_rule = Counter(f.code for f in active)
    per_target = Counter(t for f in active for t in f.targets)
    rules = sorted(((c, names[c], n) for c, n in per_rule.items()), key=lambda r: (-r[2], r[0]))
    targets = sorted(per_target.items(), key=lambda t: (-t[1], t[0]))
    return rules, targets


def render_text(findings: Sequence[Finding]) -> str:
    rules, targets = counts(findings)
    if not rules:
        return "No findings.\n"
    width = len(str(max(n for _, _, n in rules)))
    out = [f"{n:>{width}}  {code:<6} {name}" for code, name, n in rules]
    if targets:
        out.append("")
        out.append("By target:")
        twidth = len(str(max(n for _, n in targets)))
        out.extend(f"{n:>{twidth}}  {target}" for target, n in targets)
    return "\n".join(out) + "\n"


def render_json(findings: Sequence[Finding]) -> str:
    rules, targets = counts(findings)
    doc = {
        "rules": [{"code": c, "name": name, "count": n} for c, name, n in rules],
        "targets": [{"target": t, "count": n} for t, n in targets],
    }
    return json.dumps(doc, indent=2) + "\n"
