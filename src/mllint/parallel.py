"""``--jobs N``: the named files split across N long-lived worker processes.

Each worker owns a contiguous share of the files (in ``project.order_for`` order, balanced by
size) and runs a ``Session`` over it: parse, summaries, entry points, walks. Syntax trees never
leave the worker that parsed them; what crosses processes is plain data (tasks, findings, cache
records). A walk that reaches a function in another worker's file is done locally too (its
follow-up tasks may come back), and the task is sent to the file's owner, which reports its
findings. The main process routes those tasks in rounds until no worker has anything new, then
collects each worker's findings. Because a task's walk does not depend on the order tasks arrive
in (see ``engine``), the findings equal those of ``--jobs 1``.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import traceback
from multiprocessing.connection import Connection, wait
from multiprocessing.context import ForkContext, SpawnContext
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

from mllint.catalogue import Catalogue
from mllint.config import Settings
from mllint.project import Project, order_for
from mllint.session import RunStats, Session
from mllint.findings import Finding


class WorkerError(RuntimeError):
    """A worker process failed (its traceback is the message)."""


class WorkerDied(WorkerError):
    """A worker process vanished without a word (killed, ``os._exit``, the OOM killer): not a bug in the
    analysis, so the engine checks the project again in-process instead of failing the run."""

#: Test-only: the index of a worker that exits at once (``os._exit``), to test the in-process retry.
CRASH_WORKER_ENV = "MLLINT_TEST_CRASH_WORKER"


def shard(project: Project, workers: int) -> List[List[str]]:
    """Contiguous runs of the work order with about the same amount of source each."""
    order = order_for(project, project.order)
    sizes = []
    for name in order:
        source = project.named[name]
        try:
            size = len(source.data) if source.data is not None else (source.path.stat().st_size if source.path else 0)
        except OSError:
            size = 0
        sizes.append(size + 200)  # a file costs something even when empty
    total = sum(sizes)
    shards: List[List[str]] = [[] for _ in range(workers)]
    done = 0
    for name, size in zip(order, sizes):
        index = min(workers - 1, int(done * workers / max(total, 1)))
        shards[index].append(name)
        done += size
    return [s for s in shards if s]


def _context() -> Union[ForkContext, SpawnContext]:
    # fork: workers start in milliseconds with everything already imported
    if "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def run_parallel(project: Project, catalogue: Catalogue, settings: Settings, store, akey: str,
                 workers: int, preloaded: Dict[str, object],
                 report_unused_ignores: bool) -> Tuple[List[Finding], RunStats]:
    shards = shard(project, workers)
    ctx = _context()
    store_dir: Optional[Path] = store.directory if store is not None else None
    conns: List[Connection] = []
    procs = []
    for index, names in enumerate(shards):
        mine = {n: preloaded[n] for n in names if n in preloaded}
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_worker, name=f"mllint-worker-{index}", daemon=True,
                           args=(child, project, catalogue, settings, store_dir, akey, names, mine,
                                 report_unused_ignores))
        proc.start()
        child.close()
        conns.append(parent)
        procs.append(proc)
    preloaded.clear()
    owner = {name: i for i, names in enumerate(shards) for name in names}
    try:
        pending = {i: _receive(conn) for i, conn in enumerate(conns)}
        while True:
            inbox: Dict[int, list] = {}
            for tasks in pending.values():
                for task in tasks:
                    inbox.setdefault(owner[task.func.module], []).append(task)
            if not inbox:
                break
            for i, tasks in inbox.items():
                conns[i].send(("tasks", tasks))
            pending = {i: _receive(conns[i]) for i in inbox}
        for conn in conns:
            conn.send(("finish", None))
        findings: List[Finding] = []
        stats = RunStats()
        shared: Dict[Tuple[str, str], object] = {}
        for conn in conns:
            found, worker_stats, records = _receive(conn)
            findings.extend(found)
            stats.add(worker_stats)
            for record in records:
                key = (record.display, record.module)
                if key not in shared:
                    shared[key] = record
                else:
                    _merge(shared[key], record)
        if store is not None:
            for record in shared.values():
                store.save(record)
            stats.cache_writes += store.writes
        return findings, stats
    finally:
        for conn in conns:
            conn.close()
        for proc in procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()


def _merge(into, other) -> None:
    """Two workers' records of one shared (not named) file: the union of their walks."""
    from mllint.cache import merge_analyses

    if into.digest != other.digest:
        return
    for key, analyses in other.analyses.items():
        if key in into.analyses:
            merge_analyses(into.analyses[key], analyses)
        else:
            into.analyses[key] = analyses


def _receive(conn: Connection):
    while True:
        ready = wait([conn], timeout=60)
        if ready:
            break
    try:
        kind, payload = conn.recv()
    except EOFError:
        raise WorkerDied("an mllint worker process exited unexpectedly") from None
    if kind == "error":
        raise WorkerError(payload)
    return payload


def _worker(conn: Connection, project: Project, catalogue: Catalogue, settings: Settings,  # pragma: no cover - child
            store_dir: Optional[Path], akey: str, names: Sequence[str], preloaded: Dict[str, object],
            report_unused_ignores: bool) -> None:
    if os.environ.get(CRASH_WORKER_ENV) == multiprocessing.current_process().name.rsplit("-", 1)[-1]:
        os._exit(17)  # test-only (see CRASH_WORKER_ENV)
    try:
        t0, t1, _ = gc.get_threshold()
        gc.set_threshold(t0, t1, 1_000_000_000)
        store = None
        if store_dir is not None:
            from mllint.cache import FileStore

            store = FileStore(store_dir)
        session = Session(project, catalogue, settings, owned=set(names), store=store, akey=akey, preloaded=preloaded)
        session.process(names)
        conn.send(("exports", session.exports()))
        while True:
            kind, payload = conn.recv()
            if kind == "tasks":
                session.receive(payload)
                conn.send(("exports", session.exports()))
            elif kind == "finish":
                findings = session.findings(report_unused_ignores)
                session.write_cache(names)
                shared = [] if store is None else list(session.dirty_records(
                    n for n in session.mods if n not in project.named))
                stats = session.stats
                if store is not None:
                    stats.cache_reads = store.reads
                    stats.cache_writes = store.writes
                conn.send(("done", (findings, stats, shared)))
                return
    except BaseException:
        try:
            conn.send(("error", traceback.format_exc()))
        except Exception:
            pass
    finally:
        conn.close()
