"""Human output: findings grouped by file, with the source line, a caret, and per-target tags."""

from __future__ import annotations

import io
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List, Optional

from rich.console import Console
from rich.text import Text

from mllint.findings import Finding
from mllint.reporters import ReportContext, config_label
from mllint.source import escapes_project
from mllint.targets import target

_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}
_EFFECT_STYLE = {"fails": "red", "silent": "magenta", "run-fails": "red", "crashes": "red", "degrades": "yellow"}


def _source_lines(root: Path, display: str, cache: Dict[str, Optional[List[str]]]) -> Optional[List[str]]:
    if display not in cache:
        path = Path(display) if Path(display).is_absolute() else root / display
        if escapes_project(path, root):  # a symlink out of the project: its content is never shown
            cache[display] = None
            return None
        try:
            cache[display] = path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            cache[display] = None
    return cache[display]


def render(ctx: ReportContext) -> str:
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=ctx.color, no_color=not ctx.color, width=200,
                      highlight=False, soft_wrap=True, emoji=False, markup=False)
    findings = ctx.result.active
    lines_cache: Dict[str, Optional[List[str]]] = {}
    current = None
    for f in findings:
        if ctx.quiet:
            console.print(Text(f"{f.path}:{f.line}:{f.col + 1}: {f.code} {f.message}"))
            continue
        if f.path != current:
            if current is not None:
                console.print()
            console.print(Text(f.path, style="bold underline"))
            current = f.path
        _print_finding(console, ctx, f, lines_cache)
    if not ctx.quiet:
        if ctx.result.confirm_results:
            _print_exports(console, ctx)
        _print_summary(console, ctx)
        console.print(Text(f"Configuration: {config_label(ctx)}", style="dim"))
    return buf.getvalue()


_STATUS_STYLE = {"ok": "green", "failed": "red", "mismatch": "magenta", "crashed": "bold red",
                 "timeout": "red", "error": "red", "skipped": "dim"}


def _short(name: str) -> str:
    """A target's column heading (the table's ``short``)."""
    try:
        return target(name).short
    except KeyError:
        return name


def _print_exports(console: Console, ctx: ReportContext) -> None:
    """The --confirm table: models x targets, status and time."""
    from rich.table import Table

    rows: Dict[str, Dict[str, Dict[str, Any]]] = {}
    targets: List[str] = []
    for r in ctx.result.confirm_results:
        if r.get("applicable") is False:
            continue
        rows.setdefault(str(r["model"]), {})[str(r["target"])] = r
        if r["target"] not in targets:
            targets.append(str(r["target"]))
    if not rows:
        return
    table = Table(title="Exports (--confirm): status and seconds per model and target", title_justify="left",
                  show_edge=False, expand=False, caption=", ".join(f"{_short(t)} = {t}" for t in targets), caption_justify="left")
    table.add_column("model", no_wrap=True)
    for t in targets:
        table.add_column(_short(t), no_wrap=True)
    for model, by_target in rows.items():
        cells = []
        for t in targets:
            res = by_target.get(t)
            if res is None:
                cells.append(Text("-", style="dim"))
            else:
                cells.append(Text(f"{res['status']} {float(res.get('seconds') or 0):.1f}s",
                                  style=_STATUS_STYLE.get(str(res["status"]), "")))
        table.add_row(model, *cells)
    console.print()
    console.print(table)


def _print_finding(console: Console, ctx: ReportContext, f: Finding, cache: Dict[str, Optional[List[str]]]) -> None:
    head = Text(style="dim" if f.disproved else "")
    head.append(f"{f.path}:{f.line}:{f.col + 1}:", style="bold")
    head.append(" ")
    head.append(f.code, style="dim" if f.disproved else _STYLE.get(f.severity.value, ""))
    head.append(f" {f.name} ", style="dim")
    head.append(f.message)
    if f.disproved:
        head.append(" [disproved by --confirm: not failing the run]", style="green")
    console.print(head)
    lines = _source_lines(ctx.root, f.path, cache) if ctx.show_source else None
    if lines and 1 <= f.line <= len(lines):
        src = lines[f.line - 1].expandtabs(1)
        gutter = f"{f.line:>5} | "
        console.print(Text(gutter, style="dim") + Text(src))
        width = max(1, (f.span.end_col if f.span.end_line == f.line else len(src)) - f.col)
        console.print(Text(" " * len(gutter) + " " * f.col) + Text("^" * min(width, max(1, len(src) - f.col)), style=_STYLE.get(f.severity.value, "")))
    if f.effects:
        tags = Text("      targets: ", style="dim")
        for i, (target, effect) in enumerate(f.effects):
            if i:
                tags.append(", ", style="dim")
            tags.append(f"{target}", style="bold")
            tags.append(f" {effect}", style=_EFFECT_STYLE.get(effect, ""))
            state = dict(f.confirmation).get(target)
            if state:
                tags.append(f" [{state}]", style="green" if state == "confirmed" else "dim")
        console.print(tags)
    for target, why in f.evidence:
        console.print(Text(f"      {target}: {why}", style="dim"))
    if f.fix:
        console.print(Text("      fix: ", style="dim") + Text(f.fix, style="green"))


def _print_summary(console: Console, ctx: ReportContext) -> None:
    result = ctx.result
    active = result.active
    baselined = sum(1 for f in result.findings if f.suppressed == "baseline")
    suppressed = len(result.findings) - len(active) - baselined
    hidden = ", ".join(p for p in (f"{suppressed} suppressed" if suppressed else "",
                                   f"{baselined} in the baseline" if baselined else "") if p)
    n_files = result.files_checked
    if n_files == 0:
        console.print(Text("No Python files found to check.", style="yellow"))
        return
    if not active:
        msg = f"All good: no export hazards found in {n_files} file{'s' if n_files != 1 else ''}"
        if hidden:
            msg += f" ({hidden})"
        console.print(Text(msg + ".", style="green"))
        _print_entry_summary(console, result.entry_points)
        return
    by_sev = Counter(f.severity.value for f in active if not f.disproved)
    parts = [f"{by_sev[s]} {s}{'s' if by_sev[s] != 1 else ''}" for s in ("error", "warning", "info") if by_sev[s]]
    disproved = sum(1 for f in active if f.disproved)
    if disproved:
        parts.append(f"{disproved} disproved by --confirm")
    files_with = len({f.path for f in active})
    console.print()
    line = Text(f"Found {len(active)} finding{'s' if len(active) != 1 else ''} ({', '.join(parts)}) in "
                f"{files_with} of {n_files} file{'s' if n_files != 1 else ''}", style="bold")
    if hidden:
        line.append(f"; {hidden}", style="dim")
    console.print(line)
    per_target = Counter(t for f in active for t in f.targets)
    if per_target:
        console.print(Text("By target: " + ", ".join(f"{t} {n}" for t, n in sorted(per_target.items())), style="dim"))
    _print_entry_summary(console, result.entry_points)
    if result.confirm_summary:
        _print_confirm_summary(console, result.confirm_summary)


def entry_summary_lines(report: Dict[str, object]) -> List[str]:
    """Which entry points were judged and why, and the targets (also used by ``--show-entry-points``)."""
    if not report:
        return []
    judged, excluded = report.get("judged") or [], report.get("excluded") or []
    assert isinstance(judged, list) and isinstance(excluded, list)
    lines = [f"Entry points: {len(judged)} ({report.get('reason')})"]
    if excluded:
        shown = ", ".join(f"{e['class'].split(':')[-1]} ({str(e['reason']).split(':')[0]})" for e in excluded[:5])
        lines.append(f"Excluded {len(excluded)}: {shown}{', ...' if len(excluded) > 5 else ''}")
    not_named = report.get("not_named") or 0
    if not_named:
        lines.append(f"Not judged: {not_named} model class{'es' if not_named != 1 else ''} not named by "
                     f"{'entry-points' if report.get('mode') == 'config' else 'an export call or factory'}")
    targets = report.get("targets") or []
    assert isinstance(targets, list)
    lines.append(f"Targets ({report.get('targets_reason')}): {', '.join(targets)}")
    return lines


def _print_entry_summary(console: Console, report: Dict[str, object]) -> None:
    for line in entry_summary_lines(report):
        console.print(Text(line, style="dim"))


def _print_confirm_summary(console: Console, summary: Dict[str, object]) -> None:
    """One line of what the real exports decided, then the same per target."""
    totals = summary.get("findings") or {}
    assert isinstance(totals, dict)
    console.print(Text(
        f"Confirmed by real exports: {totals.get('confirmed', 0)} confirmed, {totals.get('disproved', 0)} disproved "
        f"(not failing the run), {totals.get('undecided', 0)} undecided, {totals.get('new-failures', 0)} new export "
        f"failure{'s' if totals.get('new-failures', 0) != 1 else ''}", style="bold"))
    per_target = summary.get("targets") or {}
    assert isinstance(per_target, dict)
    for name, counts in per_target.items():
        console.print(Text(
            f"  {name}: {counts['confirmed']} confirmed, {counts['not-reproduced']} not reproduced, "
            f"{counts['not-run']} not run, {counts['new-failures']} new", style="dim"))


def render_entry_points(report: Dict[str, object]) -> str:
    """``mllint check --show-entry-points``: every entry point with its source, every exclusion with its
    reason, the export calls found and the targets."""
    judged, excluded = report.get("judged") or [], report.get("excluded") or []
    calls = report.get("export_calls") or []
    assert isinstance(judged, list) and isinstance(excluded, list) and isinstance(calls, list)
    out = [f"Entry points: {len(judged)} ({report.get('reason')})"]
    width = max([len(str(e["class"])) for e in judged + excluded] + [10])
    out.extend(f"  {e['class']:<{width}}  {e['source']}" for e in judged)
    if excluded:
        out.append(f"Excluded: {len(excluded)}")
        out.extend(f"  {e['class']:<{width}}  {e['reason']}" for e in excluded)
    not_named = report.get("not_named") or 0
    if not_named:
        out.append(f"Not named by the configuration or an export call: {not_named} model class"
                   f"{'es' if not_named != 1 else ''}")
    if calls:
        out.append(f"Export calls: {len(calls)}")
        out.extend(f"  {c['at']}  {c['api']} -> {c['target']}: {c['exports']}" for c in calls)
    targets = report.get("targets") or []
    assert isinstance(targets, list)
    out.append(f"Targets ({report.get('targets_reason')}): {', '.join(targets)}")
    return "\n".join(out) + "\n"
