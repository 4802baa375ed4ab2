"""Inline suppressions: ``# mllint: ignore[CODE,...]``, bare ``# mllint: ignore``, and
``# mllint: ignore-file[...]``.

A line comment applies to findings on that line, and to findings inside a multi-line statement
when it sits on the statement's first line. Only real comments count (the file is tokenized when
it mentions ``mllint:`` at all), so a string containing the marker suppresses nothing.
"""

from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass, field
from typing import List, Optional, Set, Tuple

from mllint.catalogue import Catalogue
from mllint.findings import Finding

_MARK = re.compile(r"#\s*mllint:\s*(ignore-file|ignore)\b(?:\[([^\]]*)\])?", re.I)
ALL = "*"


@dataclass
class Directive:
    line: int
    col: int
    codes: Tuple[str, ...]  # ("*",) for all
    file_level: bool
    used: Set[str] = field(default_factory=set)


@dataclass
class Suppressions:
    directives: List[Directive]

    @classmethod
    def parse(cls, text: str, catalogue: Catalogue) -> "Suppressions":
        if "mllint:" not in text:
            return cls([])
        found: List[Directive] = []
        try:
            tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
        except (tokenize.TokenError, IndentationError, SyntaxError):
            return cls([])
        for tok in tokens:
            if tok.type != tokenize.COMMENT:
                continue
            m = _MARK.search(tok.string)
            if not m:
                continue
            if m.group(2) is None:
                codes: Tuple[str, ...] = (ALL,)
            else:
                codes = tuple(
                    _canonical(catalogue, c.strip())
                    for c in m.group(2).split(",") if c.strip()
                )
            found.append(Directive(tok.start[0], tok.start[1] + m.start(), codes, m.group(1).lower() == "ignore-file"))
        return cls(found)

    def match(self, finding: Finding) -> Optional[str]:
        """How ``finding`` is suppressed ("inline" or "file"), recording the use; else None."""
        lines = {finding.line}
        if finding.stmt_line is not None:
            lines.add(finding.stmt_line)
        for d in self.directives:
            if d.file_level:
                hit = _hit(d, finding.code)
                if hit:
                    d.used.add(hit)
                    return "file"
        for d in self.directives:
            if not d.file_level and d.line in lines:
                hit = _hit(d, finding.code)
                if hit:
                    d.used.add(hit)
                    return "inline"
        return None

    def unused(self) -> List[Tuple[Directive, Tuple[str, ...]]]:
        out = []
        for d in self.directives:
            stale = tuple(c for c in d.codes if c not in d.used)
            if stale:
                out.append((d, stale))
        return out


def _hit(d: Directive, code: str) -> Optional[str]:
    if ALL in d.codes:
        return ALL
    return code if code in d.codes else None


def _canonical(catalogue: Catalogue, selector: str) -> str:
    """A directive's code as the catalogue spells it (a rule name becomes its code)."""
    rule = catalogue.get(selector)
    return rule.code if rule is not None else selector.upper()
