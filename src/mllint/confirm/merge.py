"""Merge export results into static findings: which predictions came true, which did not, what was missed.

* A static finding for target T at a failing location (or, when none is exactly there, inside the function
  containing it) is ``confirmed`` for T. Locations include the user call chain, so a finding on a call that
  reaches the failing line counts. TracerWarnings of a trace or legacy-ONNX export at a finding's line also
  confirm it (the tracer itself says it baked a value there).
* A static finding in code a model ran, whose export for T succeeded (and matched eager outputs, for
  hazards whose effect is silent), is ``not-reproduced`` for T.
* Otherwise ``not-run`` for each target that was attempted.
* A failure no static finding explains becomes a new finding at its location: ML101 export-failed,
  ML102 export-mismatch, ML103 export-crashed, ML104 export-timeout, ML105 model-factory-error.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple

from mllint.findings import Finding, Span
from mllint.confirm.factory import factory_location
from mllint.confirm.results import ExportResult
from mllint.targets import Severity

Location = Tuple[str, int]

PROBLEM_CODES: Dict[str, str] = {
    "failed": "ML101",
    "mismatch": "ML102",
    "crashed": "ML103",
    "timeout": "ML104",
    "error": "ML105",
}
_EFFECT = {"failed": "fails", "mismatch": "silent", "crashed": "crashes", "timeout": "fails"}
_TRACERS = ("torchscript-trace", "onnx-legacy")
_CONTRACT_CODES = ("ML106", "ML107", "ML108", "ML109")  # contract violations (confirm/contracts.py)


class _Source:
    """Lines and function ranges of the user's files (read once per merge)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @functools.lru_cache(maxsize=None)
    def lines(self, path: str) -> List[str]:
        try:
            return (self.root / path).read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return []

    @functools.lru_cache(maxsize=None)
    def functions(self, path: str) -> List[Tuple[int, int]]:
        try:
            tree = ast.parse("\n".join(self.lines(path)))
        except (SyntaxError, ValueError):
            return []
        out = []
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
                out.append((start, node.end_lineno or node.lineno))
        return out

    def enclosing(self, loc: Location) -> Optional[Tuple[int, int]]:
        """The innermost function containing ``loc``."""
        inside = [r for r in self.functions(loc[0]) if r[0] <= loc[1] <= r[1]]
        return min(inside, key=lambda r: r[1] - r[0]) if inside else None

    def span(self, line: int, path: str) -> Span:
        text = self.lines(path)[line - 1] if 0 < line <= len(self.lines(path)) else ""
        col = len(text) - len(text.lstrip())
        return Span(line, col, line, max(col, len(text.rstrip())))


def _path_of(finding: Finding, root: Path) -> str:
    path = Path(finding.path)
    if path.is_absolute():
        try:
            return path.resolve().relative_to(root).as_posix()
        except ValueError:
            return path.as_posix()
    return path.as_posix()


def _at(finding: Finding, path: str, loc: Location) -> bool:
    return path == loc[0] and finding.span.line <= loc[1] <= max(finding.span.end_line, finding.span.line)


def _is_static(finding: Finding) -> bool:
    return not finding.code.startswith("ML")


def _confirmations(findings: Sequence[Finding], paths: Sequence[str], results: Sequence[ExportResult],
                   source: _Source) -> Tuple[Set[Tuple[int, str]], Set[int]]:
    """(finding index, target) pairs confirmed, and the ids of results some finding explains."""
    confirmed: Set[Tuple[int, str]] = set()
    explained: Set[int] = set()
    for r in results:
        candidates = [i for i, f in enumerate(findings) if _is_static(f) and r.target in f.targets]
        if not candidates:
            continue
        chosen: List[int] = []
        if r.status in ("failed", "mismatch", "crashed", "timeout"):
            locs = list(r.locations) or ([r.location] if r.location else [])
            chosen = [i for i in candidates if any(_at(findings[i], paths[i], loc) for loc in locs)]
            if not chosen and r.location is not None:
                func = source.enclosing(r.location)
                if func is not None:
                    chosen = [i for i in candidates
                              if paths[i] == r.location[0] and func[0] <= findings[i].span.line <= func[1]]
        if r.target in _TRACERS:
            for path, line, _text in r.details.get("warnings", []) or []:
                hits = [i for i in candidates if _at(findings[i], paths[i], (path, int(line)))]
                chosen.extend(hits)
        if chosen:
            explained.add(id(r))
            confirmed.update((i, r.target) for i in chosen)
    return confirmed, explained


def _reached(result: ExportResult, path: str, line: int) -> bool:
    return any(p == path and first <= line <= last for p, first, last in result.reached)


_FAILING = ("failed", "mismatch", "crashed", "timeout")


def _first_line(text: str) -> str:
    return next((ln.strip() for ln in text.splitlines() if ln.strip()), "")


def _where(loc: Optional[Location]) -> str:
    return f"{loc[0]}:{loc[1]}" if loc else "an unlocated point"


def _state(index: int, finding: Finding, path: str, target: str, results: Sequence[ExportResult],
           confirmed: Set[Tuple[int, str]], side_effect: bool = False) -> Tuple[str, str]:
    """The confirmation state of one finding on one target, and one line saying why.

    A clean export rules a hazard out only when it could have shown it: an export failure for ``fails``,
    compared outputs for a silent or size-dependent change; never a portability cost (``degrades``) or a
    side effect that outputs do not show."""
    mine = [r for r in results if r.target == target]
    if (index, target) in confirmed:
        failing = [r for r in mine if r.status in _FAILING]
        r = failing[0] if failing else (mine[0] if mine else None)
        if r is None:
            return "confirmed", "confirmed"
        if r.status in _FAILING:
            return "confirmed", _shorten(f"{r.model}: {r.status} at {_where(r.location)}: {_first_line(r.message)}", 200)
        return "confirmed", f"{r.model}: the tracer warned at this line"
    effect = dict(finding.effects).get(target, "fails")
    uncompared = None
    for r in mine:
        if r.status != "ok" or not _reached(r, path, finding.span.line):
            continue
        if side_effect and effect != "fails":
            return "not-run", f"{r.model}: exported, but comparing outputs cannot show a dropped side effect"
        if effect == "degrades":
            return "not-run", f"{r.model}: exported; a clean export does not rule out this portability cost"
        compared = r.details.get("compared") or []
        if effect in ("fails", "crashes") or compared:
            how = f"; outputs matched eager on {len(compared)} input set{'s' if len(compared) != 1 else ''}" if compared else ""
            return "not-reproduced", f"{r.model}: exported and ran this code{how}"
        uncompared = r
    if uncompared is not None:
        return "not-run", f"{uncompared.model}: exported, but outputs could not be compared, so a silent change cannot be ruled out"
    stopped = next((r for r in mine if r.status in _FAILING), None)
    if stopped is not None:
        return "not-run", f"{stopped.model}: {target} stopped earlier, at {_where(stopped.location)}"
    if any(r.status == "error" for r in mine):
        return "not-run", "the model factory failed, nothing was exported"
    if mine and all(r.status == "skipped" for r in mine):
        return "not-run", _shorten(f"{target} was not run: {_first_line(mine[0].message)}", 200)
    return "not-run", "no configured model reaches this code"


def _fallback_location(result: ExportResult, root: Path) -> Location:
    """Where to report a problem nothing located: the model's forward (or call) ``def``, else the factory's
    ``def``, else the config line naming the factory."""
    entry = result.details.get("entry")
    if entry:
        return str(entry[0]), int(entry[1])
    factory = str(result.details.get("factory", ""))
    found = factory_location(factory, root) if factory else None
    if found is not None:
        try:
            return found[0].resolve().relative_to(root).as_posix(), found[1]
        except ValueError:
            pass
    config = root / "pyproject.toml"
    if config.is_file():
        lines = config.read_text(encoding="utf-8", errors="replace").splitlines()
        line = next((i for i, text in enumerate(lines, 1) if factory and factory in text), 1)
        return "pyproject.toml", line
    return ".", 1


def _shorten(text: str, width: int = 320) -> str:
    return text if len(text) <= width else text[: width - 3].rstrip() + "..."


def _new_findings(results: Sequence[ExportResult], explained: Set[int], root: Path, catalogue: object,
                  source: _Source) -> List[Finding]:
    # One finding per problem: results of one code at one line with the same message (targets of one
    # model failing alike, or a model that could not be built at all) are reported together.
    groups: Dict[Tuple[str, str, int, str], List[ExportResult]] = {}
    for r in results:
        code = PROBLEM_CODES.get(r.status)
        if code is None or id(r) in explained:
            continue
        loc = r.location or _fallback_location(r, root)
        groups.setdefault((code, loc[0], loc[1], r.message), []).append(r)
    out = []
    for (code, path, line, _), members in groups.items():
        model_level = code == "ML105" or any(m.details.get("phase") == "setup" for m in members)
        targets = () if model_level else tuple(dict.fromkeys(m.target for m in members))
        models = ", ".join(dict.fromkeys(m.model for m in members))
        first = members[0]
        what = ", ".join(targets) or "every"
        fields = {
            "targets": what, "target": what, "model": models,
            "detail": _shorten(" / ".join(ln.strip() for ln in first.message.splitlines() if ln.strip())),
            "seconds": f"{first.seconds:.0f}",
        }
        rule = catalogue.get(code) if hasattr(catalogue, "get") else None
        if rule is not None:
            message, name, severity = rule.message.format(**fields), rule.name, rule.default_severity
            fix = rule.choose_fix(targets)
        else:  # catalogue without the confirm rules: still report, plainly
            message, name, severity, fix = f"{fields['targets']} ({models}): {fields['detail']}", code, Severity.ERROR, None
        effects = tuple((t, _EFFECT[first.status]) for t in targets) if first.status in _EFFECT else ()
        out.append(Finding(
            path=path, span=source.span(line, path), code=code, name=name, message=message, severity=severity,
            targets=targets, effects=effects, fix=fix,
            confirmation=tuple((t, "confirmed") for t in targets), stmt_line=line,
        ))
    return out


def merge(findings: List[Finding], results: List[ExportResult], root: Path, catalogue: object,
          keep_static: bool = False) -> List[Finding]:
    """Static findings with their per-target confirmation, plus findings for failures nothing predicted.

    A static finding that is ``not-reproduced`` on every target it names is marked ``disproved`` (it no
    longer fails the run) unless ``keep_static`` asks to keep static verdicts as they are.
    """
    root = Path(root).resolve()
    source = _Source(root)
    paths = [_path_of(f, root) for f in findings]
    attempted = {r.target for r in results if r.status != "skipped"}
    confirmed, explained = _confirmations(findings, paths, results, source)
    merged: List[Finding] = []
    for i, f in enumerate(findings):
        targets = [t for t in f.targets if t in attempted] if _is_static(f) else []
        if not targets:
            merged.append(f)
            continue
        rule = catalogue.get(f.code) if hasattr(catalogue, "get") else None
        side_effect = bool(getattr(rule, "side_effect", False))
        judged = [(t, *_state(i, f, paths[i], t, results, confirmed, side_effect)) for t in targets]
        states = tuple((t, state) for t, state, _ in judged)
        disproved = (not keep_static and f.suppressed is None and len(targets) == len(f.targets)
                     and all(state == "not-reproduced" for _, state in states))
        merged.append(f.with_(confirmation=states, evidence=tuple((t, why) for t, _, why in judged),
                              disproved=disproved))
    merged.extend(_new_findings(results, explained, root, catalogue, source))
    from mllint.confirm.contracts import contract_findings

    merged.extend(contract_findings(results, root, catalogue, source, _fallback_location))
    return sorted(merged, key=lambda f: f.sort_key())


def confirm_summary(findings: Iterable[Finding], results: Iterable[ExportResult]) -> Dict[str, object]:
    """Counts for the reports: per target, (finding, target) pairs by state and new failures (ML1xx);
    in all, findings confirmed on some target, disproved, and the rest."""
    per_target: Dict[str, Dict[str, int]] = {}
    for r in results:
        if r.status != "skipped":
            per_target.setdefault(r.target, {"confirmed": 0, "not-reproduced": 0, "not-run": 0, "new-failures": 0})
    totals = {"confirmed": 0, "disproved": 0, "undecided": 0, "new-failures": 0}
    for f in findings:
        if f.suppressed is not None:
            continue
        if f.code in PROBLEM_CODES.values() or f.code in _CONTRACT_CODES:
            totals["new-failures"] += 1
            for t in f.targets:
                per_target.setdefault(t, {"confirmed": 0, "not-reproduced": 0, "not-run": 0, "new-failures": 0})
                per_target[t]["new-failures"] += 1
            continue
        if not f.confirmation:
            continue
        for t, state in f.confirmation:
            per_target.setdefault(t, {"confirmed": 0, "not-reproduced": 0, "not-run": 0, "new-failures": 0})
            per_target[t][state] += 1
        states = {state for _, state in f.confirmation}
        if "confirmed" in states:
            totals["confirmed"] += 1
        elif f.disproved:
            totals["disproved"] += 1
        else:
            totals["undecided"] += 1
    return {"findings": totals, "targets": {t: per_target[t] for t in sorted(per_target)}}


def summarise(results: Iterable[ExportResult]) -> Dict[str, int]:
    """Counts per status (for a one-line summary)."""
    out: Dict[str, int] = {}
    for r in results:
        out[r.status] = out.get(r.status, 0) + 1
    return out
