"""The pipeline: discover -> read -> summaries -> walks -> findings -> configuration and suppressions.

``run_check`` is what the CLI calls. Each file is parsed once with LibCST and summarised (plain,
picklable data); the project index is built lazily from summaries, so only modules a name actually
resolves into are read. Analysis is a graph of ``Task``\\ s (one function under one calling
context); each task is walked once with all rules batched, and its output (follow-up tasks, findings
with positions resolved, the names of what it read elsewhere) is plain data.

The result does not depend on the order tasks are walked in: a task's walk depends only on its key
and on whether it is at the depth limit; which entry point a task is credited to and its depth are
the shortest path from any entry point (ties: the entry point's name); duplicate findings at one
location are chosen by a fixed order. That makes ``--jobs N`` equal to ``--jobs 1``, lets files be
processed one at a time (trees are dropped after use: memory stays bounded on large projects), and
lets the cache replay any walk whose inputs did not change.
"""

from __future__ import annotations

import fnmatch
import gc
import hashlib
import os
import pickle
import re
import traceback
from collections import OrderedDict, deque
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Deque, Dict, Iterable, Iterator, List, Optional, Sequence, Set, Tuple

import libcst as cst

from mllint.analysis.index import EntryPoint, ProjectIndex, module_name_for
from mllint.analysis.summary import ModuleSummary, summarize
from mllint.analysis.values import Value
from mllint.analysis.walker import FileContext, RawFinding, Task, Walker, entry_task
from mllint.catalogue import Catalogue, RuleSpec
from mllint.checks import ALL_CHECKS
from mllint.checks.base import Check, build_dispatch, owner_of
from mllint.config import Settings
from mllint.discovery import STDIN, discover, display_path
from mllint.findings import Edit, Finding, RunResult, Span
from mllint.positions import Positions
from mllint.source import ParseFailure, SourceText, _python_syntax_error, decode, escapes_project, parse, read
from mllint.suppressions import Suppressions

#: Upper bound on distinct tasks per process (a safety valve: reaching it truncates the analysis).
MAX_TASKS = 200_000
#: Tasks this deep make no further calls (the walker's ``max_depth``).
DEEP = 8
#: How many calls deep the value a project function returns is followed.
RV_BUDGET = 7
#: Source bytes of parsed trees kept in memory per process (a tree takes roughly 20-30 times its text).
#: Measured with benchmarks/speed.py on transformers/models: 2 MB instead of 6 MB cut the peak by about
#: 100 MiB; the re-parses it costs were within the noise on timm and transformers.
TREE_BUDGET = int(os.environ.get("MLLINT_TREE_BUDGET", 2_000_000))
#: A file can hold model code (classes, decorated functions, framework use) only if this matches.
MODEL_HINT = re.compile(r"^[ \t]*(?:class\b|@)|torch|tensorflow|keras", re.M)
#: Below this much source to parse, a process pool costs more than it saves (measured: benchmarks/speed.py).
POOL_MIN_BYTES = 400_000


@dataclass
class ParsedFile:
    """One file after reading and parsing (the tree stays in the process that parsed it)."""

    display: str
    path: Optional[Path]
    text: Optional[str]
    digest: str
    module: Optional[cst.Module] = None
    summary: Optional[ModuleSummary] = None
    diagnostics: List[Finding] = field(default_factory=list)


def _diagnostic(catalogue: Catalogue, code: str, display: str, span: Span, **fmt: object) -> Finding:
    spec = catalogue.by_code[code]
    return Finding(
        path=display, span=span, code=code, name=spec.name,
        message=spec.message.format_map(_Defaults(fmt)), severity=spec.default_severity,
    )


class _Defaults(dict):
    """``str.format_map`` helper: a missing placeholder renders as ``?`` instead of raising."""

    def __missing__(self, key: str) -> str:
        return "?"


def parse_file(path: Optional[Path], display: str, catalogue: Catalogue, data: Optional[bytes] = None,
               module_name: Optional[Tuple[str, bool]] = None) -> ParsedFile:
    source: SourceText = decode(display, data) if data is not None else read(path, display)  # type: ignore[arg-type]
    pf = ParsedFile(display, path, source.text, source.digest)
    if source.error is not None:
        code, span, detail = source.error
        pf.diagnostics.append(_diagnostic(catalogue, code, display, span, detail=detail))
        return pf
    assert source.text is not None
    try:
        pf.module = parse(source.text)
    except ParseFailure as exc:
        pf.diagnostics.append(_diagnostic(catalogue, "ML001", display, exc.span, detail=exc.detail))
        return pf
    name, is_package = module_name or (module_name_for(path) if path is not None else ("", False))
    pf.summary, error = _summarize(pf.module, name, is_package, source.text)
    if error is not None:
        pf.diagnostics.append(_diagnostic(catalogue, "ML004", display, Span(1, 0, 1, 0), rule="index", detail=error))
    return pf


def _summarize(module: cst.Module, name: str, is_package: bool, text: str) -> Tuple[Optional[ModuleSummary], Optional[str]]:
    try:
        return summarize(module, name, is_package, text), None
    except Exception as exc:  # never lose a file to a bug in the summary pass
        return None, _short(exc)


def _short(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


# -- findings as plain data ------------------------------------------------------------------
@dataclass(frozen=True)
class LocatedRaw:
    """A rule's report with positions resolved: no syntax tree, so it crosses processes and is cached.

    ``entry_from_task``: the report names the entry point of the task that walked it; the task's
    final entry point is filled in when findings are assembled (``entry_fields``: the message
    fields that held it).
    """

    code: str
    span: Span
    stmt_line: Optional[int]
    fmt: Tuple[Tuple[str, object], ...]
    exempt: Tuple[str, ...]
    entry: Optional[str]
    entry_from_task: bool
    entry_fields: Tuple[str, ...] = ()
    edits: Tuple[Tuple[Span, str], ...] = ()


def _plain(value: object) -> object:
    return value if value is None or isinstance(value, (str, int, float, bool)) else str(value)


def locate(raw: RawFinding, positions: Positions, task_entry: Optional[str] = None) -> LocatedRaw:
    """Resolve a raw report's positions (and detach it from the task's entry point name)."""
    span = positions.span(raw.node, raw.top)
    stmt_line = positions.span(raw.stmt, raw.top).line if raw.stmt is not None else None
    edits = tuple((positions.span(n, raw.top), text) for n, text in raw.edits)
    from_task = task_entry is not None and raw.entry == task_entry
    fields = tuple(sorted(k for k, v in raw.fmt.items() if task_entry is not None and v == task_entry))
    fmt = tuple(sorted((k, _plain(v)) for k, v in raw.fmt.items() if k not in fields))
    return LocatedRaw(raw.code, span, stmt_line, fmt, tuple(sorted(raw.exempt)),
                      None if from_task else raw.entry, from_task, fields, edits)


def resolve_located(raw: LocatedRaw, entry: Optional[str], display: str, spec: RuleSpec,
                    settings: Settings) -> Optional[Finding]:
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
    for name in raw.entry_fields:
        fmt[name] = entry
    return Finding(
        path=display, span=raw.span, code=spec.code, name=spec.name,
        message=spec.message.format_map(_Defaults(fmt)), severity=severity, targets=targets,
        effects=tuple((t, spec.impacts[t].effect) for t in targets), fix=spec.choose_fix(targets),
        edits=tuple(Edit(s, text) for s, text in raw.edits), stmt_line=raw.stmt_line,
    )


def resolve_finding(raw: RawFinding, display: str, positions: Positions, spec: RuleSpec,
                    settings: Settings) -> Optional[Finding]:
    """Turn a raw report into a Finding for the user's targets, or None if it breaks none of them."""
    return resolve_located(locate(raw, positions), raw.entry, display, spec, settings)


def _choice_key(item: Tuple[LocatedRaw, Optional[str]]) -> Tuple[object, ...]:
    """Which of several reports at one location is kept: a fixed order, whatever order they came in."""
    raw, entry = item
    edits = tuple((s.line, s.col, s.end_line, s.end_col, text) for s, text in raw.edits)
    return (entry or "", len(raw.exempt), raw.exempt, repr(raw.fmt), edits, raw.stmt_line or 0)


def assemble(display: str, items: Iterable[Tuple[LocatedRaw, Optional[str]]], errors: Iterable[Tuple[str, str]],
             catalogue: Catalogue, settings: Settings) -> List[Finding]:
    """One file's findings from its located reports (each with the entry point its task is credited to)."""
    out: List[Finding] = []
    seen: Set[Tuple[int, int, str]] = set()
    credited = [(raw, entry if raw.entry_from_task else raw.entry) for raw, entry in items]
    for raw, entry in sorted(credited, key=_choice_key):
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
        out.append(_diagnostic(catalogue, "ML004", display, Span(1, 0, 1, 0), rule=rule, detail=detail))
    return out


def _per_file_ignored(display: str, code: str, settings: Settings, catalogue: Catalogue) -> bool:
    for pattern, selectors in settings.per_file_ignores.items():
        if fnmatch.fnmatchcase(display, pattern) or fnmatch.fnmatchcase(display, pattern.rstrip("/") + "/*"):
            for sel in selectors:
                if code in catalogue.codes_matching(sel):
                    return True
    return False


def finish_file(display: str, text: Optional[str], findings: Sequence[Finding], catalogue: Catalogue,
                settings: Settings, report_unused_ignores: bool) -> List[Finding]:
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
            out.append(_diagnostic(catalogue, "ML005", display,
                                   Span(directive.line, directive.col, directive.line, directive.col + 1), detail=detail))
    return out


def finalize(files: Sequence[ParsedFile], raw: Dict[str, List[RawFinding]], extra: Iterable[Finding],
             catalogue: Catalogue, settings: Settings, report_unused_ignores: bool) -> List[Finding]:
    """Resolve, filter by configuration, apply suppressions, dedupe and sort."""
    by_display: Dict[str, List[Finding]] = {}
    for f in files:
        by_display.setdefault(f.display, []).extend(f.diagnostics)
    for f in extra:
        by_display.setdefault(f.path, []).append(f)
    modules = {f.summary.module: f for f in files if f.summary is not None}
    for module, raws in raw.items():
        pf = modules.get(module)
        if pf is None or pf.module is None:
            continue
        positions = Positions(pf.module, pf.text)
        items = [(locate(r, positions), r.entry) for r in raws]
        by_display.setdefault(pf.display, []).extend(assemble(pf.display, items, (), catalogue, settings))
    texts = {f.display: f.text for f in files}
    out: List[Finding] = []
    for display, findings in by_display.items():
        out.extend(finish_file(display, texts.get(display), findings, catalogue, settings, report_unused_ignores))
    return sorted(out, key=Finding.sort_key)


# -- what a walk reads outside its own file ---------------------------------------------------
class Recorder:
    """Names of what the running walk reads: module names (their summaries), ``#module`` (bodies)."""

    __slots__ = ("stack",)

    def __init__(self) -> None:
        self.stack: List[Set[str]] = []

    def add(self, name: str) -> None:
        if self.stack:
            self.stack[-1].add(name)

    def extend(self, names: Iterable[str]) -> None:
        if self.stack:
            self.stack[-1].update(names)

    def push(self) -> Set[str]:
        scope: Set[str] = set()
        self.stack.append(scope)
        return scope

    def pop(self) -> Set[str]:
        scope = self.stack.pop()
        if self.stack:
            self.stack[-1].update(scope)
        return scope


class _RecordingDict(dict):
    """The index's summaries by module name; every lookup is recorded (found or not)."""

    def __init__(self, recorder: Recorder) -> None:
        super().__init__()
        self.recorder = recorder

    def get(self, key, default=None):  # type: ignore[no-untyped-def, override]
        self.recorder.add(key)
        return dict.get(self, key, default)

    def __getitem__(self, key):  # type: ignore[no-untyped-def]
        self.recorder.add(key)
        return dict.__getitem__(self, key)

    def __contains__(self, key) -> bool:  # type: ignore[no-untyped-def, override]
        self.recorder.add(key)
        return dict.__contains__(self, key)


class TrackingIndex(ProjectIndex):
    """The project index, recording which modules each answer read (memoised answers included)."""

    #: Instance attributes of ProjectIndex this class knows to be memo tables (see the tests).
    KNOWN_MEMOS = frozenset({"_framework_cache", "_mro_cache", "_missing"})

    def __init__(self, recorder: Recorder, load_module: Callable[[str], Optional[ModuleSummary]]) -> None:
        super().__init__(_RecordingDict(recorder), load_module)
        self.recorder = recorder
        self._read_by: Dict[Tuple[str, str], Tuple[object, Set[str]]] = {}

    def _tracked(self, what: str, cls, compute):  # type: ignore[no-untyped-def]
        known = self._read_by.get((what, cls.qualname))
        if known is not None and known[0] is cls:
            self.recorder.extend(known[1])
            return compute(cls)
        self.recorder.push()
        try:
            out = compute(cls)
        finally:
            names = self.recorder.pop()
        self._read_by[(what, cls.qualname)] = (cls, names)
        return out

    def mro(self, cls):  # type: ignore[no-untyped-def, override]
        return self._tracked("mro", cls, super().mro)

    def framework_of(self, cls):  # type: ignore[no-untyped-def, override]
        return self._tracked("framework", cls, super().framework_of)


def entries_for(index: ProjectIndex, modname: str, summary: ModuleSummary) -> List[EntryPoint]:
    """Where export starts in one module (``ProjectIndex.entry_points`` restricted to it)."""
    return index.module_entry_points(modname, summary)


# -- the project: which file a module name means -----------------------------------------------
@dataclass
class SourceFile:
    """A file the analysis may read: one named on the command line, or a project module it imports."""

    name: str  # module name in the index ("<display>" for a second top-level script of the same name)
    summary_name: str  # the name its summary is built with
    is_package: bool
    path: Optional[Path]
    display: str
    named: bool
    data: Optional[bytes] = None  # stdin


class Project:
    """Named files, and lazy lookup of the project modules they import (never installed packages)."""

    def __init__(self, root: Path, exclude: Sequence[str], named: Sequence[SourceFile], near: Optional[Path]) -> None:
        self.root = root
        self.exclude = tuple(exclude)
        self.near = near
        self.order = [f.name for f in named]
        self.named: Dict[str, SourceFile] = {f.name: f for f in named}
        self._named_paths = {f.path.resolve() for f in named if f.path is not None and f.path.exists()}
        self._context: Dict[str, Optional[SourceFile]] = {}
        #: (display, why) of paths that are reported but never read: links out of the project, symlink loops,
        #: folders that cannot be listed
        self.rejected: List[Tuple[str, str]] = []

    def lookup(self, name: str) -> Optional[SourceFile]:
        found = self.named.get(name)
        if found is not None:
            return found
        if name in self._context:
            return self._context[name]
        result = None
        if name and all(name.split(".")) and not name.startswith("<"):
            path = _find_module_file(name, self.root, self.near)
            if path is not None and path.resolve() not in self._named_paths and _inside_project(path, self.root, self.exclude):
                result = SourceFile(name, name, path.name == "__init__.py", path, display_path(path, self.root), False)
        self._context[name] = result
        return result


def build_project(paths: Sequence[str], settings: Settings, stdin_data: Optional[bytes], stdin_filename: Optional[str],
                  force_exclude: bool) -> Project:
    root = settings.root
    exclude = tuple(settings.exclude) + tuple(settings.extend_exclude)
    named: List[SourceFile] = []
    taken: Set[str] = set()
    rejected: List[Tuple[str, str]] = []  # (display, why): reported as ML003, never read
    unreadable: List[OSError] = []
    for path in discover(paths, root, exclude, force_exclude=force_exclude, unreadable=unreadable):
        if str(path) != STDIN and os.path.islink(path) and not os.path.exists(path):
            rejected.append((display_path(path, root, lexical=True), "a symlink loop or a dangling symlink: not read"))
            continue
        if str(path) != STDIN and escapes_project(path, root):
            rejected.append((display_path(path, root, lexical=True), "a symlink to a file outside the project: not read"))
            continue
        if str(path) == STDIN:
            real = Path(stdin_filename) if stdin_filename else None
            display = display_path(real, root) if real else STDIN
            name, is_package = module_name_for(real) if real else ("__stdin__", False)
            source = SourceFile(name, name, is_package, real, display, True, stdin_data or b"")
        else:
            name, is_package = module_name_for(path)
            source = SourceFile(name, name, is_package, path, display_path(path, root), True)
        if source.name in taken:  # two top-level scripts with the same name: keep both apart
            source.name = "<" + source.display + ">"
        taken.add(source.name)
        named.append(source)
    near = next((f.path for f in named if f.path is not None and f.data is None), None)
    project = Project(root, exclude, named, near)
    project.rejected = rejected + [(display_path(Path(e.filename), root) if e.filename else ".",
                                    f"folder not read: {e.strerror or e}") for e in unreadable]
    return project


# -- per-process analysis state -------------------------------------------------------------------
@dataclass
class RunStats:
    """What a run did (for tests and the benchmark; see ``last_stats()``)."""

    files: int = 0
    parsed: int = 0  # LibCST parses
    prefiltered: int = 0  # named files that cannot hold model code: syntax-checked only
    summaries_cached: int = 0
    tasks: int = 0
    walked: int = 0  # task walks run
    replayed: int = 0  # task walks taken from the cache
    walked_modules: Set[str] = field(default_factory=set)
    cache_reads: int = 0
    cache_writes: int = 0
    jobs: int = 1
    truncated: int = 0

    def add(self, other: "RunStats") -> None:
        for name in ("parsed", "prefiltered", "summaries_cached", "tasks", "walked", "replayed", "cache_reads",
                     "cache_writes", "truncated"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.walked_modules |= other.walked_modules


_LAST_STATS = RunStats()


def last_stats() -> RunStats:
    """Counters of the most recent ``run_check`` in this process."""
    return _LAST_STATS


class _Mod:
    """One source file as the session knows it."""

    def __init__(self, source: SourceFile) -> None:
        self.source = source
        self.name = source.name
        self.display = source.display
        self.digest = ""
        self.text: Optional[str] = None
        self.error: Optional[Tuple[str, Span, str]] = None  # reading/decoding failure
        self.has_directives = False
        self.prefiltered = False
        self.parsed = False  # a LibCST parse (and summary) was attempted
        self.summary: Optional[ModuleSummary] = None
        self.shash = ""
        self.pristine_aliases: Dict[str, str] = {}
        self.parse_diags: List[Finding] = []
        self.ast_diags: Optional[List[Finding]] = None
        self.tree: Optional[cst.Module] = None
        self.fctx: Optional[FileContext] = None
        self.positions: Optional[Positions] = None
        self.pins = 0
        self.size = 0
        self.analyses = None  # cache.Analyses for this run's analysis key (records to replay, new ones)
        self.other_analyses: Dict[str, object] = {}
        self.dirty = False
        self.keys: Set[Tuple[object, ...]] = set()  # keys of the tasks walked in this file
        self.file_check: Optional[Tuple[Tuple[LocatedRaw, ...], Tuple[Tuple[str, str], ...]]] = None
        self.file_check_raw: List[RawFinding] = []  # only for the in-process API


@dataclass
class _Node:
    task: Task  # with the best depth and entry point so far
    module: str
    walked: Optional[bool] = None  # depth class of the output held (True: at the depth limit)
    children: Tuple[Task, ...] = ()
    raws: Tuple[LocatedRaw, ...] = ()
    errors: Tuple[Tuple[str, str], ...] = ()
    keep: List[RawFinding] = field(default_factory=list)  # raw reports, only for the in-process API


class _Frame:
    __slots__ = ("need", "cut")

    def __init__(self) -> None:
        self.need = 0
        self.cut = False


def _better(a: Task, b: Task) -> bool:
    return (a.depth, a.entry) < (b.depth, b.entry)


class Session:
    """Analysis state of one process: the files it reads, the task graph, the tree pool, the cache.

    ``owned``: named modules whose findings this session reports (all of them in-process; a share
    with ``--jobs N``). Tasks on other named modules are walked too (their follow-up tasks matter)
    and handed to their owner through ``exports``.
    """

    def __init__(self, project: Project, catalogue: Catalogue, settings: Settings, *,
                 owned: Optional[Set[str]] = None, store=None, akey: str = "",  # type: ignore[no-untyped-def]
                 checks: Optional[Sequence[Check]] = None, keep_raw: bool = False,
                 tree_budget: int = TREE_BUDGET, preloaded: Optional[Dict[str, object]] = None) -> None:
        self.project = project
        self.catalogue = catalogue
        self.settings = settings
        self.owned = set(project.order) if owned is None else set(owned)
        self.store = store
        self.akey = akey
        self.keep_raw = keep_raw
        self.tree_budget = tree_budget
        self.preloaded = preloaded or {}
        enabled = set(settings.enabled_codes)
        all_checks = list(checks) if checks is not None else [cls.from_settings(settings) for cls in ALL_CHECKS]
        self.checks = [c for c in all_checks if enabled.intersection(c.codes)]
        self.file_checks = [c for c in self.checks if type(c).check_file is not Check.check_file]
        self.dispatch = build_dispatch(self.checks)
        self.recorder = Recorder()
        self.index = TrackingIndex(self.recorder, self._index_load)
        self.mods: Dict[str, _Mod] = {}
        self.nodes: Dict[Tuple[object, ...], _Node] = {}
        self.queue: Deque[Tuple[object, ...]] = deque()
        self.pool: "OrderedDict[str, int]" = OrderedDict()
        self._turning: Optional[str] = None  # the file whose entry points are being walked
        self.pool_bytes = 0
        self.stats = RunStats()
        self.outbox: Dict[Tuple[object, ...], Task] = {}
        self._values: Dict[str, str] = {}
        self._rv_uncut: Dict[Tuple[object, ...], Tuple[Optional[Value], int, Set[str]]] = {}
        self._rv_cut: Dict[Tuple[Tuple[object, ...], int], Tuple[Optional[Value], Set[str]]] = {}
        self._frames: List[_Frame] = []

    # -- files ---------------------------------------------------------------------------
    def module(self, name: str, want_summary: bool = True) -> Optional[_Mod]:
        st = self.mods.get(name)
        if st is None:
            source = self.project.lookup(name)
            if source is None:
                return None
            st = self._open(source)
        if want_summary and not st.parsed and st.error is None:
            self._summarize(st)
        return st

    def _read(self, source: SourceFile) -> SourceText:
        if source.data is not None:
            return decode(source.display, source.data)
        if source.path is None:
            return decode(source.display, b"")
        return read(source.path, source.display)

    def _open(self, source: SourceFile) -> _Mod:
        st = self.mods[source.name] = _Mod(source)
        text = self._read(source)
        st.digest, st.text, st.error = text.digest, text.text, text.error
        st.size = len(st.text or "")
        if st.text is not None:
            st.has_directives = "mllint:" in st.text
            st.prefiltered = MODEL_HINT.search(st.text) is None
        record = self._record(source)
        if record is not None and record.digest == st.digest and st.error is None:
            from mllint.cache import summary_key

            if record.summary_key == summary_key() and record.summary_name == source.summary_name and \
                    record.is_package == source.is_package:
                st.prefiltered = record.prefiltered
                st.ast_diags = record.ast_diags
                if record.parsed:
                    st.parsed = True
                    st.summary = record.summary  # type: ignore[assignment]
                    st.shash = record.shash
                    st.parse_diags = list(record.parse_diags)
                    if st.summary is not None:
                        st.summary.module = st.name
                        st.pristine_aliases = dict(st.summary.aliases)
                    self.stats.summaries_cached += 1
                st.analyses = record.analyses.get(self.akey)
                st.other_analyses = {k: v for k, v in record.analyses.items() if k != self.akey}
                if source.data is None:
                    st.text = None  # read again only if a walk needs the tree
        return st

    def _record(self, source: SourceFile):  # type: ignore[no-untyped-def]
        if self.store is None:
            return None
        if source.name in self.preloaded:
            return self.preloaded.pop(source.name)
        return self.store.load(source.display, source.name)

    def _text(self, st: _Mod) -> Optional[str]:
        if st.text is None and st.error is None:
            st.text = self._read(st.source).text
        return st.text

    def _summarize(self, st: _Mod) -> None:
        st.parsed = True
        st.dirty = True
        tree = self.tree(st)
        if tree is None:
            return
        text = self._text(st) or ""
        st.summary, error = _summarize(tree, st.source.summary_name, st.source.is_package, text)
        if error is not None:
            st.parse_diags.append(_diagnostic(self.catalogue, "ML004", st.display, Span(1, 0, 1, 0),
                                              rule="index", detail=error))
        if st.summary is not None:
            st.shash = hashlib.blake2b(pickle.dumps(st.summary, protocol=4), digest_size=16).hexdigest()
            st.summary.module = st.name
            st.pristine_aliases = dict(st.summary.aliases)

    def tree(self, st: _Mod) -> Optional[cst.Module]:
        """The file's syntax tree (parsed on demand; the least recently used trees are dropped)."""
        if st.tree is not None:
            if st.name in self.pool:
                self.pool.move_to_end(st.name)
            return st.tree
        if st.error is not None:
            return None
        text = self._text(st)
        if text is None:
            return None
        self.stats.parsed += 1
        try:
            st.tree = parse(text)
        except ParseFailure as exc:
            if not st.parse_diags:
                st.parse_diags = [_diagnostic(self.catalogue, "ML001", st.display, exc.span, detail=exc.detail)]
            return None
        self.pool[st.name] = st.size
        self.pool_bytes += st.size
        self._evict()
        return st.tree

    def _evict(self) -> None:
        if self.pool_bytes <= self.tree_budget:
            return
        for name in list(self.pool):
            if self.pool_bytes <= self.tree_budget:
                break
            st = self.mods[name]
            if not st.pins:
                self.drop_tree(st)

    def drop_tree(self, st: _Mod) -> None:
        if st.name in self.pool:
            self.pool_bytes -= self.pool.pop(st.name)
        st.tree = st.fctx = st.positions = None
        if st.source.data is None:
            st.text = None

    def _fctx(self, st: _Mod) -> Optional[FileContext]:
        if st.fctx is None:
            tree = self.tree(st)
            if tree is None or st.summary is None:
                return None
            st.fctx = FileContext(st.display, tree, st.summary, self.index)
        elif st.name in self.pool:
            self.pool.move_to_end(st.name)
        return st.fctx

    def _index_load(self, name: str) -> Optional[ModuleSummary]:
        st = self.module(name)
        return st.summary if st is not None else None

    def diagnostics(self, st: _Mod) -> List[Finding]:
        """Reading and syntax diagnostics of a named file."""
        if st.error is not None:
            code, span, detail = st.error
            return [_diagnostic(self.catalogue, code, st.display, span, detail=detail)]
        if st.prefiltered:
            if st.ast_diags is None:
                failure = _python_syntax_error(self._text(st) or "")
                st.ast_diags = [] if failure is None else [
                    _diagnostic(self.catalogue, "ML001", st.display, failure.span, detail=failure.detail)]
                st.dirty = True
            return st.ast_diags
        return st.parse_diags

    # -- the values cached walks are checked against -----------------------------------------------
    def value_of(self, name: str) -> str:
        """A module's summary digest (``name``) or content digest (``#name``); "absent" if none."""
        value = self._values.get(name)
        if value is None:
            if name.startswith("#"):
                st = self.module(name[1:], want_summary=False)
                value = st.digest if st is not None else "absent"
            else:
                st = self.module(name)
                value = "absent" if st is None else (st.shash if st.summary is not None else f"none:{st.digest}")
            self._values[name] = value
        return value

    # -- the task graph ---------------------------------------------------------------------
    def process(self, names: Sequence[str]) -> None:
        """Each named file in turn: its entry points, then every task they reach."""
        for name in names:
            self.turn(name)

    def turn(self, name: str) -> None:
        self._turning = name
        st = self.module(name, want_summary=False)
        if st is None or st.error is not None:
            return
        if st.prefiltered:
            self.stats.prefiltered += 1
            self.diagnostics(st)
            return
        st = self.module(name)
        assert st is not None
        if st.summary is None:
            return
        dict.__setitem__(self.index.summaries, name, st.summary)
        for entry in entries_for(self.index, name, st.summary):
            task = entry_task(self.index, entry)
            if task is not None:
                self.arrive(task)
        self.drain()
        if name in self.owned and (st.summary.uses_torch or st.summary.uses_tf) and self.file_checks:
            self._check_file(st)
        st.positions = None  # the file's findings are located; later walks recompute what they need

    def arrive(self, task: Task) -> None:
        """A task reached (again): queue it if new; if reached by a shorter path, pass that on."""
        stack = [task]
        while stack:
            task = stack.pop()
            key = task.key
            node = self.nodes.get(key)
            if node is None:
                if len(self.nodes) >= MAX_TASKS:
                    self.stats.truncated += 1
                    continue
                node = self.nodes[key] = _Node(task, task.func.module)
                self.queue.append(key)
                self._note_foreign(node)
                continue
            if not _better(task, node.task):
                continue
            was_deep = node.task.depth >= DEEP
            node.task = replace(node.task, depth=task.depth, entry=task.entry)
            self._note_foreign(node)
            if node.walked is None:
                continue  # still queued: it is walked with the best context
            if was_deep and task.depth < DEEP:
                self.queue.append(key)  # now it may call further: walk it again
                continue
            for child in node.children:
                stack.append(replace(child, depth=task.depth + 1, entry=task.entry))

    def _note_foreign(self, node: _Node) -> None:
        if node.module not in self.owned and node.module in self.project.named:
            self.outbox[node.task.key] = node.task

    def drain(self) -> None:
        while self.queue:
            key = self.queue.popleft()
            node = self.nodes[key]
            deep = node.task.depth >= DEEP
            if node.walked is deep:
                continue
            self._walk(node, deep)

    def _walk(self, node: _Node, deep: bool) -> None:
        task = node.task
        node.walked = deep
        st = self.module(node.module)
        if st is None or st.summary is None or not self.dispatch.get(task.framework):
            node.children, node.raws, node.errors = (), (), ()
            return
        wkey = (task.key, deep)
        record = self._replay(st, wkey)
        if record is not None:
            children, raws, errors = record.children, record.raws, record.errors
            self.stats.replayed += 1
        else:
            children, raws, errors, names, node.keep = self._live(st, task)
            self._remember(st, wkey, children, raws, errors, names)
        st.keys.add(task.key)
        node.children, node.raws, node.errors = children, raws, errors
        for child in children:
            self.arrive(replace(child, depth=task.depth + 1, entry=task.entry))

    def _live(self, st: _Mod, task: Task):  # type: ignore[no-untyped-def]
        self.stats.walked += 1
        self.stats.walked_modules.add(st.name)
        fctx = self._fctx(st)
        if fctx is None:
            return (), (), (), set(), []
        errors: List[Tuple[str, str]] = []

        def on_error(handler: object, exc: BaseException) -> None:
            rule = owner_of(handler)
            if all(r != rule for r, _ in errors):
                errors.append((rule, _short(exc)))

        st.pins += 1
        start = len(fctx.findings)
        saved = fctx.summary.aliases
        fctx.summary.aliases = dict(st.pristine_aliases)  # a walk's local imports stay in that walk
        self.recorder.push()
        try:
            walker = Walker(fctx, self.dispatch[task.framework], on_error, returns=self._value_of_call)
            try:
                walker.run(task)
            except RecursionError as exc:
                errors.append(("walker", _short(exc)))
        finally:
            names = self.recorder.pop()
            fctx.summary.aliases = saved
        raws = fctx.findings[start:]
        del fctx.findings[start:]
        located = self._locate_all(st, raws, task.entry, errors)
        st.pins -= 1
        return tuple(walker.new_tasks), located, tuple(errors), names, (list(raws) if self.keep_raw else [])

    def _locate_all(self, st: _Mod, raws: Sequence[RawFinding], entry: Optional[str],
                    errors: List[Tuple[str, str]]) -> Tuple[LocatedRaw, ...]:
        if not raws:
            return ()
        if st.positions is None:
            assert st.tree is not None
            st.positions = Positions(st.tree, self._text(st))
        out = []
        for raw in raws:
            try:
                out.append(locate(raw, st.positions, entry))
            except Exception as exc:  # a report on a node outside its statement: a rule bug
                errors.append(("positions", _short(exc)))
        if st.name != self._turning:
            st.positions = None  # another file's positions: recomputed if needed rather than kept
        return tuple(out)

    # -- values returned by project functions ---------------------------------------------------
    def _value_of_call(self, task: Task) -> Optional[Value]:
        return self.return_value(task, RV_BUDGET)

    def return_value(self, task: Task, budget: int) -> Optional[Value]:
        """What a project function returns under ``task``'s context, following calls ``budget`` deep.

        A pure function of (task key, budget), memoised: it does not depend on who asks first. A
        value computed without reaching the budget holds for every larger budget too.
        """
        parent = self._frames[-1] if self._frames else None
        if budget <= 0:
            if parent is not None:
                parent.cut = True
            return None
        key = task.key
        uncut = self._rv_uncut.get(key)
        if uncut is not None and budget >= uncut[1]:
            self.recorder.extend(uncut[2])
            if parent is not None:
                parent.need = max(parent.need, uncut[1])
            return uncut[0]
        cut = self._rv_cut.get((key, budget))
        if cut is not None:
            self.recorder.extend(cut[1])
            if parent is not None:
                parent.need = max(parent.need, budget)
                parent.cut = True
            return cut[0]
        frame = _Frame()
        self._frames.append(frame)
        self.recorder.push()
        self.recorder.add("#" + task.func.module)
        value: Optional[Value] = None
        st = self.module(task.func.module)
        fctx = self._fctx(st) if st is not None and st.summary is not None else None
        if fctx is not None:
            assert st is not None
            st.pins += 1
            saved = fctx.summary.aliases
            fctx.summary.aliases = dict(st.pristine_aliases)
            try:
                walker = Walker(fctx, {}, lambda h, e: None, returns=lambda t: self.return_value(t, budget - 1))
                walker.run(replace(task, depth=0))
                value = walker.returned
            except RecursionError:
                value, frame.cut = None, True
            finally:
                fctx.summary.aliases = saved
                st.pins -= 1
        names = self.recorder.pop()
        self._frames.pop()
        need = 1 + frame.need
        if frame.cut:
            self._rv_cut[(key, budget)] = (value, names)
        else:
            self._rv_uncut[key] = (value, need, names)
        if parent is not None:
            parent.need = max(parent.need, budget if frame.cut else need)
            parent.cut = parent.cut or frame.cut
        return value

    # -- per-file rules -------------------------------------------------------------------------
    def _check_file(self, st: _Mod) -> None:
        wkey = ("<file>",)
        record = self._replay(st, wkey)
        if record is not None:
            st.file_check = (record.raws, record.errors)
            return
        fctx = self._fctx(st)
        if fctx is None:
            return
        errors: List[Tuple[str, str]] = []
        st.pins += 1
        start = len(fctx.findings)
        self.recorder.push()
        try:
            for check in self.file_checks:
                try:
                    check.check_file(fctx)
                except Exception as exc:
                    errors.append((owner_of(check.check_file), _short(exc)))
        finally:
            names = self.recorder.pop()
        raws = fctx.findings[start:]
        del fctx.findings[start:]
        located = self._locate_all(st, raws, None, errors)
        st.pins -= 1
        st.file_check = (located, tuple(errors))
        if self.keep_raw:
            st.file_check_raw = list(raws)
        self._remember(st, wkey, (), located, tuple(errors), names)

    # -- cache ------------------------------------------------------------------------------
    def _replay(self, st: _Mod, wkey: Tuple[object, ...]):  # type: ignore[no-untyped-def]
        analyses = st.analyses
        if analyses is None:
            return None
        record = analyses.file_check if wkey == ("<file>",) else analyses.walks.get(wkey)
        if record is None:
            return None
        for i in record.deps:
            name, value = analyses.deps[i]
            if self.value_of(name) != value:
                return None
        return record

    def _remember(self, st: _Mod, wkey, children, raws, errors, names: Set[str]) -> None:  # type: ignore[no-untyped-def]
        if self.store is None:
            return
        from mllint.cache import Analyses, WalkRecord

        if st.analyses is None:
            st.analyses = Analyses()
        names = {n for n in names if n != st.name and n != "#" + st.name}
        deps = tuple(sorted(st.analyses.dep_index(n, self.value_of(n)) for n in names))
        record = WalkRecord(children, raws, errors, deps)
        if wkey == ("<file>",):
            st.analyses.file_check = record
        else:
            st.analyses.walks[wkey] = record
        st.dirty = True

    def source_record(self, st: _Mod):  # type: ignore[no-untyped-def]
        from mllint.cache import KEEP_ANALYSES, SourceRecord, summary_key

        analyses = dict(list(st.other_analyses.items())[-(KEEP_ANALYSES - 1):]) if KEEP_ANALYSES > 1 else {}
        if st.analyses is not None:
            analyses[self.akey] = st.analyses
        return SourceRecord(
            display=st.display, module=st.name, digest=st.digest, summary_key=summary_key(),
            summary_name=st.source.summary_name, is_package=st.source.is_package, prefiltered=st.prefiltered,
            parsed=st.parsed, summary=st.summary, shash=st.shash, parse_diags=list(st.parse_diags),
            ast_diags=st.ast_diags, analyses=analyses,
        )

    def dirty_records(self, modules: Optional[Iterable[str]] = None) -> Iterator[object]:
        for name in list(self.mods if modules is None else modules):
            st = self.mods.get(name)
            if st is not None and st.dirty and st.error is None:
                yield self.source_record(st)

    def write_cache(self, modules: Optional[Iterable[str]] = None) -> None:
        if self.store is None:
            return
        for record in self.dirty_records(modules):
            self.store.save(record)  # type: ignore[arg-type]
        self.stats.cache_writes = self.store.writes
        self.stats.cache_reads = self.store.reads

    # -- results ----------------------------------------------------------------------------
    def exports(self) -> List[Task]:
        """Tasks on other processes' files reached (or reached by a shorter path) since the last call."""
        out = list(self.outbox.values())
        self.outbox.clear()
        return out

    def receive(self, tasks: Iterable[Task]) -> None:
        for task in tasks:
            self.arrive(task)
        self.drain()

    def findings(self, report_unused_ignores: bool) -> List[Finding]:
        """Findings of the owned named files (unsorted)."""
        out: List[Finding] = []
        for name in self.project.order:
            if name not in self.owned:
                continue
            st = self.mods.get(name)
            if st is None:
                continue
            found = list(self.diagnostics(st))
            if st.error is None:
                items: List[Tuple[LocatedRaw, Optional[str]]] = []
                errors: List[Tuple[str, str]] = []
                for key in st.keys:
                    node = self.nodes[key]
                    items.extend((raw, node.task.entry) for raw in node.raws)
                    errors.extend(node.errors)
                if st.file_check is not None:
                    items.extend((raw, None) for raw in st.file_check[0])
                    errors.extend(st.file_check[1])
                found.extend(assemble(st.display, items, errors, self.catalogue, self.settings))
            text = self._text(st) if st.has_directives else None
            out.extend(finish_file(st.display, text, found, self.catalogue, self.settings, report_unused_ignores))
        self.stats.tasks = len(self.nodes)
        return out


# -- the in-process API the tests use ----------------------------------------------------------
class Analysis:
    """Analysis of already parsed files, in-process (their trees are kept): raw reports by module."""

    def __init__(self, files: Sequence[ParsedFile], catalogue: Catalogue, settings: Settings,
                 checks: Optional[Sequence[Check]] = None,
                 find_module: Optional[Callable[[str], Optional[ParsedFile]]] = None) -> None:
        self.catalogue = catalogue
        self.settings = settings
        self.files = [f for f in files if f.summary is not None and f.module is not None]
        named: List[SourceFile] = []
        self._parsed: Dict[str, ParsedFile] = {}
        for f in self.files:
            assert f.summary is not None
            name = f.summary.module
            if name in self._parsed:
                name = "<" + f.display + ">"
            named.append(SourceFile(name, f.summary.module, False, f.path, f.display, True))
            self._parsed[name] = f
        self._find_module = find_module
        self.context_files: List[ParsedFile] = []
        self.session = Session(_ParsedProject(named, self), catalogue, settings, checks=checks, keep_raw=True,
                               tree_budget=1 << 62)
        self.index = self.session.index
        for name, pf in self._parsed.items():
            self._adopt(name, pf, named=True)
        self.internal_errors: List[Finding] = []

    def _adopt(self, name: str, pf: ParsedFile, named: bool) -> None:
        source = SourceFile(name, pf.summary.module if pf.summary else name, False, pf.path, pf.display, named)
        st = _Mod(source)
        st.digest, st.text, st.parsed, st.tree = pf.digest, pf.text, True, pf.module
        st.summary = pf.summary
        if pf.summary is not None:
            pf.summary.module = name
            st.pristine_aliases = dict(pf.summary.aliases)
        self.session.mods[name] = st

    def _context(self, name: str) -> Optional[SourceFile]:
        if self._find_module is None:
            return None
        pf = self._find_module(name)
        if pf is None or pf.summary is None or pf.module is None:
            return None
        self.context_files.append(pf)
        self._adopt(name, pf, named=False)
        return self.session.mods[name].source

    def run(self) -> Dict[str, List[RawFinding]]:
        session = self.session
        session.process(list(self._parsed))
        out: Dict[str, List[RawFinding]] = {}
        seen: Set[Tuple[str, str]] = set()

        def error(st: _Mod, rule: str, detail: str) -> None:
            if (st.display, rule) not in seen:
                seen.add((st.display, rule))
                self.internal_errors.append(_diagnostic(self.catalogue, "ML004", st.display, Span(1, 0, 1, 0),
                                                        rule=rule, detail=detail))

        for node in session.nodes.values():
            for raw in node.keep:
                fixed = replace(raw, fmt=dict(raw.fmt))
                if raw.entry is not None and raw.entry != node.task.entry:
                    for k, v in raw.fmt.items():
                        if v == raw.entry:
                            fixed.fmt[k] = node.task.entry
                    fixed.entry = node.task.entry
                out.setdefault(node.module, []).append(fixed)
            for rule, detail in sorted(node.errors):
                error(session.mods[node.module], rule, detail)
        for name in self._parsed:
            st = session.mods[name]
            if st.file_check is not None:
                out.setdefault(name, []).extend(st.file_check_raw)
                for rule, detail in sorted(st.file_check[1]):
                    error(st, rule, detail)
        return out


class _ParsedProject(Project):
    def __init__(self, named: Sequence[SourceFile], owner: Analysis) -> None:
        super().__init__(Path("."), (), named, None)
        self._owner = owner

    def lookup(self, name: str) -> Optional[SourceFile]:
        if name in self.named:
            return self.named[name]
        if name not in self._context:
            self._context[name] = self._owner._context(name)
        return self._context[name]


# -- the run ----------------------------------------------------------------------------------
def default_jobs() -> int:
    """The cores this process may run on (``--jobs`` default)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def run_check(paths: Sequence[str], settings: Settings, catalogue: Catalogue, *, stdin_data: Optional[bytes] = None,
              stdin_filename: Optional[str] = None, force_exclude: bool = False,
              report_unused_ignores: bool = False, jobs: int = 1, cache: bool = False,
              cache_dir: Optional[Path] = None) -> RunResult:
    """Check ``paths``. ``jobs``: worker processes (1: in-process); ``cache``: read and write the
    persistent cache (in ``cache_dir``; default: the project's ``.mllint_cache/`` or the user cache)."""
    global _LAST_STATS
    thresholds = gc.get_threshold()
    # Trees are millions of long-lived objects without cycles: full collections would rescan them
    # over and over (about 40% of the run time); young collections still reclaim the walks' garbage.
    gc.set_threshold(thresholds[0], thresholds[1], 1_000_000_000)
    try:
        project = build_project(paths, settings, stdin_data, stdin_filename, force_exclude)
        store = None
        akey = ""
        if cache:
            from mllint.cache import FileStore, analysis_key, cache_dir_for

            store = FileStore(cache_dir or cache_dir_for(settings.root))
            akey = analysis_key(settings.fingerprint())
        workers, preloaded = _plan(project, store, jobs)
        if workers <= 1:
            session = Session(project, catalogue, settings, store=store, akey=akey, preloaded=preloaded)
            session.process(order_for(project, project.order))
            findings = session.findings(report_unused_ignores)
            session.write_cache()
            stats = session.stats
        else:
            from mllint.parallel import run_parallel

            findings, stats = run_parallel(project, catalogue, settings, store, akey, workers, preloaded,
                                           report_unused_ignores)
        stats.files = len(project.order)
        stats.jobs = workers
        _LAST_STATS = stats
        findings = list(findings) + [
            _diagnostic(catalogue, "ML003", display, Span(1, 0, 1, 0), detail=why)
            for display, why in project.rejected if "ML003" in settings.enabled_codes]
        return RunResult(findings=sorted(findings, key=Finding.sort_key), files_checked=len(project.order),
                         root=str(settings.root))
    finally:
        gc.set_threshold(*thresholds)


def _plan(project: Project, store, jobs: int) -> Tuple[int, Dict[str, object]]:  # type: ignore[no-untyped-def]
    """How many processes: one, unless there is enough source to parse (cache misses) to pay for a pool."""
    if jobs <= 1 or len(project.order) < 2:
        return 1, {}
    preloaded: Dict[str, object] = {}
    work = 0
    for name in project.order:
        source = project.named[name]
        try:
            size = len(source.data) if source.data is not None else (source.path.stat().st_size if source.path else 0)
        except OSError:
            size = 0
        if store is not None:
            record = store.load(source.display, name)
            preloaded[name] = record
            if record is not None and _unchanged(record, source):
                continue
        work += size
    threshold = int(os.environ.get("MLLINT_POOL_MIN_BYTES", POOL_MIN_BYTES))
    return (min(jobs, len(project.order)) if work >= threshold else 1), preloaded


def _unchanged(record, source: SourceFile) -> bool:  # type: ignore[no-untyped-def]
    """The file still has the content its record was made from (its walks will likely replay)."""
    if source.path is None or source.data is not None:
        return False
    try:
        data = source.path.read_bytes()
    except OSError:
        return False
    return hashlib.blake2b(data, digest_size=16).hexdigest() == record.digest


_IMPORT = re.compile(r"^[ \t]*(?:from[ \t]+(\.*[\w.]*)[ \t]+import|import[ \t]+([\w.]+))", re.M)


def imported_named(project: Project, name: str, text: str) -> List[str]:
    """Named modules a file imports (a cheap textual guess, only used to order the work)."""
    source = project.named[name]
    base = source.summary_name.split(".") if source.is_package else source.summary_name.split(".")[:-1]
    out: List[str] = []
    for absolute, plain in _IMPORT.findall(text):
        target = absolute or plain
        if target.startswith("."):
            level = len(target) - len(target.lstrip("."))
            rest = target.lstrip(".")
            prefix = base[:len(base) - (level - 1)] if level > 1 else base
            target = ".".join(prefix + ([rest] if rest else []))
        parts = target.split(".")
        for cut in range(len(parts), 0, -1):
            cand = ".".join(parts[:cut])
            if cand in project.named and cand != name:
                if cand not in out:
                    out.append(cand)
                break
    return out


def order_for(project: Project, names: Sequence[str]) -> List[str]:
    """An order for the files (results do not depend on it; memory and re-parses do): each file next
    to the most imported file it imports, so that a tree is still in memory when another file needs it."""
    if len(names) < 3:
        return list(names)
    imports: Dict[str, List[str]] = {}
    for name in names:
        source = project.named[name]
        try:
            if source.data is not None:
                text = source.data.decode("utf-8", "replace")
            elif source.path is not None:
                text = source.path.read_text(encoding="utf-8", errors="replace")
            else:
                text = ""
        except OSError:
            text = ""
        imports[name] = imported_named(project, name, text)
    indegree: Dict[str, int] = {}
    for targets in imports.values():
        for t in targets:
            indegree[t] = indegree.get(t, 0) + 1

    def key(name: str) -> Tuple[str, ...]:
        folder = name.rsplit(".", 1)[0]
        outside = [t for t in imports[name] if t.rsplit(".", 1)[0] != folder and not project.named[t].is_package]
        if not outside:
            return (name,)
        top = max(outside, key=lambda t: (indegree.get(t, 0), t))
        return (top, "~", name)

    return sorted(names, key=key)


def _inside_project(path: Path, root: Path, exclude: Sequence[str]) -> bool:
    """Context files come from the project itself, never from installed packages or excluded folders."""
    from pathlib import PurePosixPath

    from mllint.discovery import _matches

    try:
        rel = path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return not _matches(PurePosixPath(rel.as_posix()), exclude)


def _find_module_file(modname: str, root: Path, near: Optional[Path]) -> Optional[Path]:
    rel = Path(*modname.split("."))
    bases = [root, root / "src"]
    if near is not None:
        # the folder above the file's top-level package (where its imports resolve from)
        folder = near.resolve().parent
        while (folder / "__init__.py").is_file() and folder.parent != folder:
            folder = folder.parent
        bases.insert(0, folder)
    for base in bases:
        for cand in (base / rel.with_suffix(".py"), base / rel / "__init__.py"):
            if cand.is_file():
                return cand
    return None
