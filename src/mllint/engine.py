"""The pipeline: discover -> parse -> project index -> rules -> findings -> config and suppressions.

Each stage is a function here; the CLI calls ``run_check``. Work per file happens in
``parse_file`` (one LibCST parse, one summary) and ``analyse`` (the worklist over reachable
functions, one walk each, all rules batched).
"""

from __future__ import annotations

import fnmatch
import traceback
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Deque, Dict, Iterable, List, Optional, Sequence, Set, Tuple

import libcst as cst

from mllint import __version__
from mllint.analysis.index import ProjectIndex, module_name_for
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
from mllint.source import ParseFailure, SourceText, decode, parse, read
from mllint.suppressions import Suppressions
from mllint.targets import ALL_TARGETS, Severity

MAX_TASKS = 50_000


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
    try:
        pf.summary = summarize(pf.module, name, is_package, source.text)
    except Exception as exc:  # never lose a file to a bug in the summary pass
        pf.diagnostics.append(_diagnostic(catalogue, "ML004", display, Span(1, 0, 1, 0),
                                          rule="index", detail=_short(exc)))
    return pf


def _short(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


class Analysis:
    """The worklist over reachable functions for a set of parsed files."""

    def __init__(self, files: Sequence[ParsedFile], catalogue: Catalogue, settings: Settings,
                 checks: Optional[Sequence[Check]] = None,
                 find_module: Optional[Callable[[str], Optional[ParsedFile]]] = None) -> None:
        self.catalogue = catalogue
        self.settings = settings
        self.files = [f for f in files if f.summary is not None and f.module is not None]
        summaries: Dict[str, ModuleSummary] = {}
        self.by_module: Dict[str, ParsedFile] = {}
        for f in self.files:
            assert f.summary is not None
            name = f.summary.module
            if name in summaries:  # two top-level scripts with the same name: keep both apart
                name = "<" + f.display + ">"
                f.summary.module = name
            summaries[name] = f.summary
            self.by_module[name] = f
        self._find_module = find_module
        self.context_files: List[ParsedFile] = []
        self.index = ProjectIndex(summaries, self._load_module if find_module else None)
        enabled = set(settings.enabled_codes)
        all_checks = list(checks) if checks is not None else [cls() for cls in ALL_CHECKS]
        self.checks = [c for c in all_checks if enabled.intersection(c.codes)]
        self.dispatch = build_dispatch(self.checks)
        self.contexts: Dict[str, FileContext] = {}
        self.internal_errors: List[Finding] = []
        self._failed: Set[Tuple[str, str]] = set()
        self._returns: Dict[Tuple[object, ...], Optional[Value]] = {}

    def _load_module(self, name: str) -> Optional[ModuleSummary]:
        """Parse a project module that was not checked, the first time a name resolves into it."""
        assert self._find_module is not None
        pf = self._find_module(name)
        if pf is None or pf.summary is None or pf.module is None:
            return None
        pf.summary.module = name
        self.by_module[name] = pf
        self.context_files.append(pf)
        return pf.summary

    def context(self, module: str) -> Optional[FileContext]:
        ctx = self.contexts.get(module)
        if ctx is None:
            pf = self.by_module.get(module)
            if pf is None or pf.module is None or pf.summary is None:
                return None
            ctx = self.contexts[module] = FileContext(pf.display, pf.module, pf.summary, self.index)
        return ctx

    def _on_error(self, display: str, handler: object, exc: BaseException) -> None:
        rule = owner_of(handler)
        key = (display, rule)
        if key in self._failed:
            return
        self._failed.add(key)
        self.internal_errors.append(_diagnostic(self.catalogue, "ML004", display, Span(1, 0, 1, 0),
                                                rule=rule, detail=_short(exc)))

    def return_value(self, task: Task) -> Optional[Value]:
        """What a project function returns under ``task``'s context (memoised; rules do not run)."""
        key = task.key
        if key in self._returns:
            return self._returns[key]
        self._returns[key] = None  # recursion guard
        fctx = self.context(task.func.module)
        value: Optional[Value] = None
        if fctx is not None:
            walker = Walker(fctx, {}, lambda h, e: None, returns=self.return_value)
            try:
                walker.run(task)
                value = walker.returned
            except RecursionError:
                value = None
        self._returns[key] = value
        return value

    def run(self) -> Dict[str, List[RawFinding]]:
        queue: Deque[Task] = deque()
        for entry in sorted(self.index.entry_points(), key=lambda e: (e.func.qualname, e.self_class or "")):
            task = entry_task(self.index, entry)
            if task is not None:
                queue.append(task)
        seen: Set[Tuple[object, ...]] = set()
        done = 0
        while queue and done < MAX_TASKS:
            task = queue.popleft()
            if task.key in seen:
                continue
            seen.add(task.key)
            done += 1
            fctx = self.context(task.func.module)
            if fctx is None:
                continue
            dispatch = self.dispatch.get(task.framework, {})
            if not dispatch:
                continue
            walker = Walker(fctx, dispatch, lambda h, e, d=fctx.display: self._on_error(d, h, e),
                            returns=self.return_value)
            try:
                walker.run(task)
            except RecursionError as exc:
                self._on_error(fctx.display, "walker", exc)
            queue.extend(walker.new_tasks)
        for f in self.files:
            assert f.summary is not None
            if not (f.summary.uses_torch or f.summary.uses_tf):
                continue
            fctx = self.context(f.summary.module)
            for check in self.checks:
                if type(check).check_file is Check.check_file or fctx is None:
                    continue
                try:
                    check.check_file(fctx)
                except Exception as exc:
                    self._on_error(fctx.display, check.check_file, exc)
        return {m: c.findings for m, c in self.contexts.items()}


def resolve_finding(raw: RawFinding, display: str, positions: Positions, spec: RuleSpec,
                    settings: Settings) -> Optional[Finding]:
    """Turn a raw report into a Finding for the user's targets, or None if it breaks none of them."""
    if spec.impacts:
        targets = tuple(t for t in spec.targets if t in settings.targets and t not in raw.exempt)
        if not targets:
            return None
        severity = max((spec.impacts[t].severity for t in targets), key=lambda s: s.rank)
    else:
        targets = ()
        severity = spec.default_severity
    severity = settings.severity.get(spec.code, severity)
    span = positions.span(raw.node, raw.top)
    stmt_line = positions.span(raw.stmt, raw.top).line if raw.stmt is not None else None
    edits = tuple(Edit(positions.span(n, raw.top), text) for n, text in raw.edits)
    return Finding(
        path=display, span=span, code=spec.code, name=spec.name,
        message=spec.message.format_map(_Defaults(raw.fmt)), severity=severity, targets=targets,
        effects=tuple((t, spec.impacts[t].effect) for t in targets), fix=spec.choose_fix(targets),
        edits=edits, stmt_line=stmt_line,
    )


def _per_file_ignored(display: str, code: str, settings: Settings, catalogue: Catalogue) -> bool:
    for pattern, selectors in settings.per_file_ignores.items():
        if fnmatch.fnmatchcase(display, pattern) or fnmatch.fnmatchcase(display, pattern.rstrip("/") + "/*"):
            for sel in selectors:
                if code in catalogue.codes_matching(sel):
                    return True
    return False


def finalize(files: Sequence[ParsedFile], raw: Dict[str, List[RawFinding]], extra: Iterable[Finding],
             catalogue: Catalogue, settings: Settings, report_unused_ignores: bool) -> List[Finding]:
    """Resolve, filter by configuration, apply suppressions, dedupe and sort."""
    enabled = set(settings.enabled_codes)
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
        positions = Positions(pf.module)
        seen: Set[Tuple[int, int, str]] = set()
        for r in sorted(raws, key=lambda r: (r.entry or "")):
            spec = catalogue.by_code.get(r.code)
            if spec is None:
                raise KeyError(f"rule code {r.code} reported but missing from the catalogue")
            finding = resolve_finding(r, pf.display, positions, spec, settings)
            if finding is None:
                continue
            key = (finding.line, finding.col, finding.code)
            if key in seen:
                continue
            seen.add(key)
            by_display.setdefault(pf.display, []).append(finding)
    out: List[Finding] = []
    texts = {f.display: f.text for f in files}
    for display, findings in by_display.items():
        findings = [f for f in findings if f.code in enabled or f.code in ("ML004",)]
        findings = [f for f in findings if not _per_file_ignored(display, f.code, settings, catalogue)]
        text = texts.get(display)
        sup = Suppressions.parse(text, catalogue) if text else Suppressions([])
        for finding in findings:
            how = sup.match(finding) if not finding.code.startswith("ML00") else None
            out.append(finding.with_(suppressed=how) if how else finding)
        if report_unused_ignores and "ML005" in enabled:
            for directive, stale in sup.unused():
                detail = "" if stale == ("*",) else f" of {', '.join(stale)}"
                diag = _diagnostic(catalogue, "ML005", display, Span(directive.line, directive.col, directive.line, directive.col + 1), detail=detail)
                out.append(diag)
    return sorted(out, key=Finding.sort_key)


def run_check(paths: Sequence[str], settings: Settings, catalogue: Catalogue, *, stdin_data: Optional[bytes] = None,
              stdin_filename: Optional[str] = None, force_exclude: bool = False,
              report_unused_ignores: bool = False) -> RunResult:
    root = settings.root
    exclude = tuple(settings.exclude) + tuple(settings.extend_exclude)
    files = discover(paths, root, exclude, force_exclude=force_exclude)
    parsed: List[ParsedFile] = []
    for path in files:
        if str(path) == STDIN:
            display = display_path(Path(stdin_filename), root) if stdin_filename else STDIN
            module_name = module_name_for(Path(stdin_filename)) if stdin_filename else ("__stdin__", False)
            parsed.append(parse_file(Path(stdin_filename) if stdin_filename else None, display, catalogue,
                                     data=stdin_data or b"", module_name=module_name))
        else:
            parsed.append(parse_file(path, display_path(path, root), catalogue))
    # Files named on the command line are reported; other project files may be parsed only to
    # know base classes and helpers (the pre-commit case passes just the staged files).
    reported = {p.display for p in parsed}
    known = {p.path.resolve() for p in parsed if p.path is not None and p.path.exists()}
    near = next((p.path for p in parsed if p.path is not None and str(p.path) != STDIN), None)

    def find_module(name: str) -> Optional[ParsedFile]:
        path = _find_module_file(name, root, near)
        if path is None or path.resolve() in known or not _inside_project(path, root, exclude):
            return None
        known.add(path.resolve())
        return parse_file(path, display_path(path, root), catalogue, module_name=(name, path.name == "__init__.py"))

    analysis = Analysis(parsed, catalogue, settings, find_module=find_module)
    raw = analysis.run()
    findings = finalize(list(parsed) + analysis.context_files, raw, analysis.internal_errors, catalogue, settings,
                        report_unused_ignores)
    findings = [f for f in findings if f.path in reported]
    return RunResult(findings=findings, files_checked=len(parsed), root=str(root))


def _inside_project(path: Path, root: Path, exclude: Sequence[str]) -> bool:
    """Context files come from the project itself, never from installed packages or excluded folders."""
    from mllint.discovery import _matches
    from pathlib import PurePosixPath

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
