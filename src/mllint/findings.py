"""Findings: what every rule produces and every reporter consumes."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Dict, List, Optional, Tuple

from mllint.targets import Severity


@dataclass(frozen=True)
class Span:
    """A source range: 1-based lines, 0-based code-point columns, exclusive end (LibCST's convention)."""

    line: int
    col: int
    end_line: int
    end_col: int


@dataclass(frozen=True)
class Edit:
    """A mechanical replacement of ``span`` by ``text`` (feeds SARIF ``fixes``)."""

    span: Span
    text: str


@dataclass(frozen=True)
class Finding:
    """One reported hazard (or tool diagnostic) at one source location.

    ``path`` is the display path: relative to the project root where the file lies under it,
    with forward slashes. ``targets`` lists the user's selected targets this finding breaks.
    """

    path: str
    span: Span
    code: str
    name: str
    message: str
    severity: Severity
    targets: Tuple[str, ...] = ()
    effects: Tuple[Tuple[str, str], ...] = ()  # (target, effect) pairs, in target order
    fix: Optional[str] = None
    edits: Tuple[Edit, ...] = ()
    suppressed: Optional[str] = None  # how it was suppressed ("inline", "file"), or None
    confirmation: Tuple[Tuple[str, str], ...] = ()  # (target, state) pairs after --confirm
    stmt_line: Optional[int] = None  # first line of the enclosing statement (for suppressions)
    #: (target, one line of evidence) after --confirm: why the state is what it is.
    evidence: Tuple[Tuple[str, str], ...] = ()
    #: --confirm ran every target this finding names and reproduced it on none: shown, never failing the run.
    disproved: bool = False

    @property
    def line(self) -> int:
        return self.span.line

    @property
    def col(self) -> int:
        return self.span.col

    def sort_key(self) -> Tuple[str, int, int, str, str]:
        return (self.path, self.span.line, self.span.col, self.code, self.message)

    def with_(self, **changes: object) -> "Finding":
        return replace(self, **changes)  # type: ignore[arg-type]


@dataclass
class RunResult:
    """Everything one ``mllint check`` produced, in deterministic order."""

    findings: List[Finding] = field(default_factory=list)
    files_checked: int = 0
    root: str = "."
    #: Per-target export outcomes from --confirm: list of dicts (model, target, status, seconds, message).
    confirm_results: List[Dict[str, object]] = field(default_factory=list)

    #: Counts after --confirm (see ``mllint.confirm.merge.confirm_summary``); empty without --confirm.
    confirm_summary: Dict[str, object] = field(default_factory=dict)
    #: ``--shard I/N``: what ``mllint merge`` needs (see ``mllint.confirm.shard``); empty otherwise.
    shard: Dict[str, object] = field(default_factory=dict)
    #: which model classes were judged and why, and the targets (see ``engine._entry_report``)
    entry_points: Dict[str, object] = field(default_factory=dict)

    @property
    def active(self) -> List[Finding]:
        return [f for f in self.findings if f.suppressed is None]

    def failing(self, threshold: Severity) -> List[Finding]:
        """Active findings that fail the run at ``threshold``: a finding --confirm disproved never does."""
        return [f for f in self.active if f.severity.rank >= threshold.rank and not f.disproved]
