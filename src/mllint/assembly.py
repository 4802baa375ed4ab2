"""Findings assembly: a rule's raw report -> plain located data -> a ``Finding`` for the user's
targets, deduplicated in a fixed order, filtered by configuration and suppressions.

Located reports carry no syntax tree, so they cross processes and are cached. The entry point a
message names is the engine's (the entry its task is credited to), filled in here.
"""

from __future__ import annotations

import fnmatch
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple

from mllint.analysis.walker import RawFinding
from mllint.catalogue import Catalogue, RuleSpec
from mllint.config import Settings
from mllint.findings import Edit, Finding, Span
from mllint.positions import Positions
from mllint.source import deepest_line
from mllint.suppressions import Suppressions


def diagnostic(catalogue: Catalogue, code: str, display: str, span: Span, **fmt: object) -> Finding:
    spec = catalogue.by_code[code]
    return Finding(
        path=display,
        span=span,
        code=code,
        name=spec.name,
        message=spec.message.format_map(_Defaults(fmt)),
        severity=spec.default_severity,
    )


class _Defaults(dict):
    """``str.format_map`` helper: a missing placeholder renders as ``?`` instead of raising."""

    def __missing__(self, key: str) -> str:
        return "?"


def recursion_in(exc: BaseException) -> bool:
    """The error is, or was raised while handling, a ``RecursionError`` (the input nests too deeply)."""
    seen = 0
    current: Optional[BaseException] = exc
    while current is not None and seen < 10_000:
        if isinstance(current, RecursionError):
            return True
        current = current.__cause__ or current.__context__
        seen += 1
    return False


def short_error(exc: BaseException) -> str:
    """``Type: message at file:line``, short and safe: a message that cannot be printed (a ``KeyError``
    holding a syntax-tree node whose repr recurses) or a long one never becomes the report."""
    try:
        frames = traceback.extract_tb(exc.__traceback__)
        where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
    except Exception:  # noqa: BLE001 - describing an error must not raise another
        where = ""
    if recursion_in(exc):
        return "RecursionError: maximum recursion depth exceeded" + where
    if isinstance(exc, KeyError):
        message = "a key is missing"  # its str() is the key's repr: for a tree node, huge or recursive
    else:
        try:
            message = str(exc)
        except Exception:  # noqa: BLE001
            message = "(message cannot be printed)"
    if len(message) > 200:
        message = message[:197] + "..."
    return f"{type(exc).__name__}: {message}{where}"


# -- findings as plain data ------------------------------------------------------------------
@dataclass(frozen=True)
class LocatedRaw:
    """A rule's report with positions resolved: no syntax tree, so it crosses processes and is cached.

    ``entry``: an entry point the rule named itself; None (the usual case) means the entry point
    the engine credits the walk's task with (the shortest path from any entry point), which is
    what a message's ``{entry}`` names.
    """

    code: str
    span: Span
    stmt_line: Optional[int]
    fmt: Tuple[Tuple[str, object], ...]
    exempt: Tuple[str, ...]
    entry: Optional[str]
    edits: Tuple[Tuple[Span, str], ...] = ()


def _plain(value: object) -> object:
    return value if value is None or isinstance(value, (str, int, float, bool)) else str(value)


def locate(raw: RawFinding, positions: Positions) -> LocatedRaw:
    """Resolve a raw report's positions."""
    span = positions.span(raw.node, raw.top)
    stmt_line = positions.span(raw.stmt, raw.top).line if raw.stmt is not None else None
    edits = tuple((positions.span(n, raw.top), text) for n, text in raw.edits)
    fmt = tuple(sorted((k, _plain(v)) for k, v in raw.fmt.items()))
    return LocatedRaw(raw.code, span, stmt_line, fmt, tuple(sorted(raw.exempt)), raw.entry, edits)


def resolve_located(
    raw: LocatedRaw, entry: Optional[str], display: str, spec: RuleSpec, settings: Settings
) -> Optional[Finding]:
    """A Finding for the user's targets, or None if the report breaks none of them."""
    if spec.impacts:
        targets = tuple(t for t in spec.targets if t in settings.targets and t not in raw.exempt)
        if not targets:
            return None
        severity = max((spec.impacts[t].severity for t in targets), key=lambda s: s.rank)
    else:
        targets = ()
        severity = spec.default_severity
    severity = settings.severity.get(spec.code, severity)
    fmt = dict(raw.fmt)
    if entry is not None:
        fmt.setdefault("entry", entry)
    return Finding(
        path=display,
        span=raw.span,
        code=spec.code,
        name=spec.name,
        message=spec.message.format_map(_Defaults(fmt)),
        severity=severity,
        targets=targets,
        effects=tuple((t, spec.impacts[t].effect) for t in targets),
        fix=spec.choose_fix(targets),
        edits=tuple(Edit(s, text) for s, text in raw.edits),
        stmt_line=raw.stmt_line,
    )


def _choice_key(item: Tuple[LocatedRaw, Optional[str], int]) -> Tuple[object, ...]:
    """Which of several reports at one location is kept: a fixed order, whatever order they came in
    (the shortest path from an entry point first, then the entry point's name)."""
    raw, entry, depth = item
    edits = tuple((s.line, s.col, s.end_line, s.end_col, text) for s, text in raw.edits)
    return (depth, entry or "", len(raw.exempt), raw.exempt, repr(raw.fmt), edits, raw.stmt_line or 0)


def assemble(
    display: str,
    items: Iterable[Tuple[LocatedRaw, Optional[str], int]],
    errors: Iterable[Tuple[str, str]],
    catalogue: Catalogue,
    settings: Settings,
    text: Optional[str] = None,
) -> List[Finding]:
    """One file's findings from its located reports (each with the entry point its task is credited
    to and the task's depth); ``text`` (the source) places ML006 at the most deeply nested line."""
    out: List[Finding] = []
    seen: Set[Tuple[int, int, str]] = set()
    credited = [(raw, entry if raw.entry is None else raw.entry, depth) for raw, entry, depth in items]
    for raw, entry, _depth in sorted(credited, key=_choice_key):
        spec = catalogue.by_code.get(raw.code)
        if spec is None:
            raise KeyError(f"rule code {raw.code} reported but missing from the catalogue")
        finding = resolve_located(raw, entry, display, spec, settings)
        if finding is None:
            continue
        key = (finding.line, finding.col, finding.code)
        if key in seen:
            continue
        seen.add(key)
        out.append(finding)
    first: Dict[str, str] = {}
    for rule, detail in sorted(errors):
        first.setdefault(rule, detail)
    for rule, detail in sorted(first.items()):
        out.append(error_diagnostic(catalogue, display, rule, detail, text))
    return out


#: What ML006 calls the stage that ran out of depth (the engine's names mean nothing to a user).
_STAGES = {"index": "file summary", "walker": "code walk", "positions": "finding locations"}


def error_diagnostic(catalogue: Catalogue, display: str, stage: str, detail: str, text: Optional[str]) -> Finding:
    """ML004 for a crash; ML006 when the crash is the analysis running out of recursion depth (the
    input's fault, not a bug), at the file's most deeply nested line."""
    if detail.startswith("RecursionError") and text is not None:
        line = deepest_line(text)
        what = _STAGES.get(stage, "analysis")
        return diagnostic(catalogue, "ML006", display, Span(line, 0, line, 0), detail=f"line {line}", stage=what)
    return diagnostic(catalogue, "ML004", display, Span(1, 0, 1, 0), rule=stage, detail=detail)


def _per_file_ignored(display: str, code: str, settings: Settings, catalogue: Catalogue) -> bool:
    for pattern, selectors in settings.per_file_ignores.items():
        if fnmatch.fnmatchcase(display, pattern) or fnmatch.fnmatchcase(display, pattern.rstrip("/") + "/*"):
            for sel in selectors:
                if code in catalogue.codes_matching(sel):
                    return True
    return False


def finish_file(
    display: str,
    text: Optional[str],
    findings: Sequence[Finding],
    catalogue: Catalogue,
    settings: Settings,
    report_unused_ignores: bool,
) -> List[Finding]:
    """Configuration filters and suppressions for one file's findings."""
    enabled = set(settings.enabled_codes)
    findings = [f for f in findings if f.code in enabled or f.code == "ML004"]
    findings = [f for f in findings if not _per_file_ignored(display, f.code, settings, catalogue)]
    sup = Suppressions.parse(text, catalogue) if text else Suppressions([])
    out: List[Finding] = []
    for finding in findings:
        how = sup.match(finding) if not finding.code.startswith("ML00") else None
        out.append(finding.with_(suppressed=how) if how else finding)
    if report_unused_ignores and "ML005" in enabled:
        for directive, stale in sup.unused():
            detail = "" if stale == ("*",) else f" of {', '.join(stale)}"
            out.append(
                diagnostic(
                    catalogue,
                    "ML005",
                    display,
                    Span(directive.line, directive.col, directive.line, directive.col + 1),
                    detail=detail,
                )
            )
    return out
