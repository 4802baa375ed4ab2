"""The run: discover -> project -> sessions (in-process or ``--jobs N`` workers) -> findings.

``run_check`` is what the CLI calls. The pipeline's stages live in their own modules:
``discovery`` (which files), ``project`` (which file a module name means), ``session`` (parse,
summaries, the task graph, walks), ``tracking`` (what each walk read, for the cache), ``assembly``
(findings, configuration and suppressions), ``parallel`` (the worker processes), ``cache``.
"""

from __future__ import annotations

import gc
import hashlib
import os
import sys
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple

from mllint.catalogue import Catalogue
from mllint.config import Settings
from mllint.assembly import diagnostic
from mllint.findings import Finding, RunResult, Span
from mllint.project import Project, SourceFile, build_project
from mllint.session import RunStats, Session
from mllint.project import order_for

__all__ = ["run_check", "default_jobs", "last_stats", "build_project", "Project", "Session", "RunStats"]

#: Below this much source to parse, a process pool costs more than it saves (measured: benchmarks/speed.py).
POOL_MIN_BYTES = 400_000

_LAST_STATS = RunStats()


def last_stats() -> RunStats:
    """Counters of the most recent ``run_check`` in this process."""
    return _LAST_STATS


def default_jobs() -> int:
    """The cores this process may run on (``--jobs`` default)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def run_check(
    paths: Sequence[str],
    settings: Settings,
    catalogue: Catalogue,
    *,
    stdin_data: Optional[bytes] = None,
    stdin_filename: Optional[str] = None,
    force_exclude: bool = False,
    report_unused_ignores: bool = False,
    jobs: int = 1,
    cache: bool = False,
    cache_dir: Optional[Path] = None,
) -> RunResult:
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

        def in_process() -> Tuple[Sequence[Finding], RunStats]:
            session = Session(project, catalogue, settings, store=store, akey=akey, preloaded=preloaded)
            _plan_entries(session, settings)
            session.process(order_for(project, project.order))
            found = session.findings(report_unused_ignores)
            session.write_cache()
            return found, session.stats

        if workers <= 1:
            findings, stats = in_process()
        else:
            from mllint.parallel import WorkerDied, run_parallel

            # the plan needs every export call before any walk: read here (summaries only, the few files
            # that may call an export API), and sent to the workers with the settings
            _plan_entries(Session(project, catalogue, settings, store=store, akey=akey), settings)
            try:
                findings, stats = run_parallel(
                    project, catalogue, settings, store, akey, workers, preloaded, report_unused_ignores
                )
            except WorkerDied as exc:
                # A killed worker loses nothing: the run is a pure function of the project, so checking it
                # again in one process gives exactly what --jobs 1 gives.
                sys.stderr.write(f"mllint: warning: {exc}; checking again in-process\n")
                findings, stats = in_process()
                workers = 1
        stats.files = len(project.order)
        stats.jobs = workers
        _LAST_STATS = stats
        findings = list(findings) + [
            diagnostic(catalogue, "ML003", display, Span(1, 0, 1, 0), detail=why)
            for display, why in project.rejected
            if "ML003" in settings.enabled_codes
        ]
        return RunResult(
            findings=sorted(findings, key=Finding.sort_key),
            files_checked=len(project.order),
            root=str(settings.root),
            entry_points=_entry_report(settings, stats),
        )
    finally:
        gc.set_threshold(*thresholds)


def _plan_entries(session: Session, settings: Settings) -> None:
    """Decide the entry points and the ``auto`` targets (``mllint.entries``) before the walks."""
    from mllint.entries import build_plan

    settings.plan = build_plan(session, settings)
    settings.targets = settings.plan.targets


def _entry_report(settings: Settings, stats: RunStats) -> Dict[str, object]:
    """What the summaries and ``--show-entry-points`` say about the entry points and targets."""
    plan = settings.plan
    if plan is None:
        return {}
    return {
        "mode": plan.mode,
        "reason": plan.reason,
        "judged": [{"class": ref, "source": why} for ref, why in sorted(stats.entries.items())],
        "excluded": [{"class": ref, "reason": why} for ref, why in sorted(stats.excluded.items())],
        "not_named": stats.not_named,
        "export_calls": [{"at": at, "api": api, "target": t, "exports": what} for at, api, t, what in plan.calls],
        "targets": list(plan.targets),
        "targets_reason": plan.targets_reason,
    }


def _plan(project: Project, store, jobs: int) -> Tuple[int, Dict[str, object]]:
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


def _unchanged(record, source: SourceFile) -> bool:
    """The file still has the content its record was made from (its walks will likely replay)."""
    if source.path is None or source.data is not None:
        return False
    try:
        data = source.path.read_bytes()
    except OSError:
        return False
    return hashlib.blake2b(data, digest_size=16).hexdigest() == record.digest
