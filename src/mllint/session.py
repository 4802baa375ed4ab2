"""The analysis state of one process: the files it reads, the task graph, the tree pool.

Analysis is a graph of ``Task``\\ s (one function under one calling context); each task is walked once
with all rules batched, and its output (follow-up tasks, findings with positions resolved, the names
of what it read elsewhere) is plain data. A task's walk depends only on its key and on whether it is
at the depth limit; which entry point a task is credited to and its depth are the shortest path from
any entry point (ties: the entry point's name); duplicate findings at one location are chosen by a
fixed order. So the result does not depend on the order tasks are walked in, trees can be dropped
after use (memory stays bounded), and the cache can replay any walk whose inputs did not change.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import re
from collections import OrderedDict, deque
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Deque, Dict, Iterable, Iterator, List, Optional, Sequence, Set, Tuple

import libcst as cst

from mllint.analysis.index import MRO_LIMIT, EntryPoint
from mllint.analysis.summary import ModuleSummary, summarize
from mllint.analysis.values import Value
from mllint.analysis.walker import FileContext, RawFinding, Scratch, Task, Walker, configured_dynamic_dims, entry_task
from mllint.assembly import (
    LocatedRaw,
    assemble,
    diagnostic,
    error_diagnostic,
    finish_file,
    locate,
    recursion_in,
    short_error,
)
from mllint.catalogue import Catalogue
from mllint.checks import ALL_CHECKS
from mllint.checks.base import Check, build_dispatch, owner_of
from mllint.config import Settings
from mllint.entries import class_ref
from mllint.findings import Finding, Span
from mllint.positions import Positions
from mllint.project import Project, SourceFile
from mllint.source import (
    AST_BYTES_PER_TOKEN,
    ParseFailure,
    SourceText,
    decode,
    parse,
    parse_need_mib,
    python_syntax_error,
    read,
)
from mllint.tracking import Recorder, TrackingIndex

if TYPE_CHECKING:
    from mllint.cache import Analyses

#: A class whose project hierarchy is deeper than the MRO follows: reported, not judged in silence.
CLASS_TOO_DEEP = "ML008"
#: A file whose parse would need more memory than ``memory-limit``: reported, not parsed.
OVER_MEMORY_LIMIT = "ML009"
#: Calls not followed because the process reached ``MAX_TASKS``: reported, never silent.
TOO_MANY_TASKS = "ML010"
#: Upper bound on distinct tasks per process (a safety valve: reaching it truncates the analysis).
MAX_TASKS = 200_000
#: Tasks this deep make no further calls (the walker's ``max_depth``).
DEEP = 8
#: How many calls deep the value a project function returns is followed.
RV_BUDGET = 7
#: Source bytes of parsed trees kept in memory per process (a tree takes roughly 20-30 times its text).
#: Measured with benchmarks/speed.py on transformers/models: 2 MB instead of 6 MB cut the peak by about
#: 100 MiB; the re-parses it costs were within the noise on timm and transformers. A file larger than
#: the budget is still analysed: the tree just parsed is never the one evicted.
TREE_BUDGET = 2_000_000
#: A file can hold model code (classes, decorated functions, framework use) only if this matches.
MODEL_HINT = re.compile(r"^[ \t]*(?:class\b|@)|torch|tensorflow|keras", re.M)


def configured_max_tasks() -> int:
    """``MLLINT_MAX_TASKS`` if set (for tests of the limit), else ``MAX_TASKS``."""
    try:
        return max(1, int(os.environ.get("MLLINT_MAX_TASKS", MAX_TASKS)))
    except ValueError:
        return MAX_TASKS


def configured_tree_budget() -> int:
    """``MLLINT_TREE_BUDGET`` if set (read per run, so one process can run with several budgets)."""
    try:
        return max(0, int(os.environ.get("MLLINT_TREE_BUDGET", TREE_BUDGET)))
    except ValueError:
        return TREE_BUDGET


def _summarize(
    module: cst.Module, name: str, is_package: bool, text: str
) -> Tuple[Optional[ModuleSummary], Optional[str]]:
    try:
        return summarize(module, name, is_package, text), None
    except Exception as exc:  # never lose a file to a bug in the summary pass
        return None, short_error(exc)


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
    #: model classes of the named files judged as entry points (``pkg.mod:Net`` -> why), excluded ones (->
    #: why), and how many were left out because the configuration or the export calls do not name them
    entries: Dict[str, str] = field(default_factory=dict)
    excluded: Dict[str, str] = field(default_factory=dict)
    not_named: int = 0

    def add(self, other: "RunStats") -> None:
        for name in (
            "parsed",
            "prefiltered",
            "summaries_cached",
            "tasks",
            "walked",
            "replayed",
            "cache_reads",
            "cache_writes",
            "truncated",
            "not_named",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.walked_modules |= other.walked_modules
        self.entries.update(other.entries)
        self.excluded.update(other.excluded)


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
        self.over_limit = False  # too large to parse within the memory limit (ML009): never parsed
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
        #: walk records for this run's analysis key (records to replay, new ones)
        self.analyses: Optional[Analyses] = None
        self.other_analyses: Dict[str, Analyses] = {}
        self.dirty = False
        self.keys: Set[Tuple[object, ...]] = set()  # keys of the tasks walked in this file
        self.file_check: Optional[Tuple[Tuple[LocatedRaw, ...], Tuple[Tuple[str, str], ...]]] = None


@dataclass
class _Node:
    task: Task  # with the best depth and entry point so far
    module: str
    walked: Optional[bool] = None  # depth class of the output held (True: at the depth limit)
    children: Tuple[Task, ...] = ()
    raws: Tuple[LocatedRaw, ...] = ()
    errors: Tuple[Tuple[str, str], ...] = ()


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

    def __init__(
        self,
        project: Project,
        catalogue: Catalogue,
        settings: Settings,
        *,
        owned: Optional[Set[str]] = None,
        store=None,
        akey: str = "",
        checks: Optional[Sequence[Check]] = None,
        tree_budget: Optional[int] = None,
        preloaded: Optional[Dict[str, object]] = None,
    ) -> None:
        self.project = project
        self.catalogue = catalogue
        self.settings = settings
        self.owned = set(project.order) if owned is None else set(owned)
        self.store = store
        self.akey = akey
        self.tree_budget = configured_tree_budget() if tree_budget is None else tree_budget
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
        self.max_tasks = configured_max_tasks()
        #: calls not followed once ``max_tasks`` was reached, per module: (first function, how many)
        self.dropped: Dict[str, Tuple[str, int]] = {}

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

            if (
                record.summary_key == summary_key()
                and record.summary_name == source.summary_name
                and record.is_package == source.is_package
            ):
                st.prefiltered = record.prefiltered
                st.ast_diags = record.ast_diags
                if record.parsed and not any(d.code == OVER_MEMORY_LIMIT for d in record.parse_diags):
                    # (a file refused for its size is judged again: the limit may have changed)
                    st.parsed = True
                    st.summary = record.summary
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

    def _record(self, source: SourceFile):
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
            st.parse_diags.append(error_diagnostic(self.catalogue, st.display, "index", error, text))
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
        if st.over_limit:
            return None
        need = parse_need_mib(text, self.settings.memory_limit)
        if need is not None:  # parsing could take the machine down: reported instead (never silent)
            st.over_limit = True
            st.parse_diags = [self._over_limit(st, need)]
            return None
        self.stats.parsed += 1
        try:
            st.tree = parse(text)
        except ParseFailure as exc:
            if not st.parse_diags:
                st.parse_diags = [diagnostic(self.catalogue, "ML001", st.display, exc.span, detail=exc.detail)]
            return None
        self._evict(room=st.size)  # older trees make room; the new one stays, even over the budget
        self.pool[st.name] = st.size
        self.pool_bytes += st.size
        return st.tree

    def _over_limit(self, st: _Mod, need: int) -> Finding:
        return diagnostic(
            self.catalogue, OVER_MEMORY_LIMIT, st.display, Span(1, 0, 1, 0), need=need, limit=self.settings.memory_limit
        )

    def _evict(self, room: int = 0) -> None:
        """Drop the least recently used unpinned trees until ``room`` more bytes fit the budget."""
        for name in list(self.pool):
            if self.pool_bytes + room <= self.tree_budget:
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
            return [diagnostic(self.catalogue, code, st.display, span, detail=detail)]
        if st.prefiltered:
            if st.ast_diags is None or st.over_limit:
                text = self._text(st) or ""
                need = parse_need_mib(text, self.settings.memory_limit, AST_BYTES_PER_TOKEN, 0)
                if need is not None:  # not remembered in the cache: the limit is not part of its key
                    st.over_limit = True
                    return [self._over_limit(st, need)]
                failure = python_syntax_error(text)
                st.ast_diags = (
                    []
                    if failure is None
                    else [diagnostic(self.catalogue, "ML001", st.display, failure.span, detail=failure.detail)]
                )
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
        entries = self.index.module_entry_points(name, st.summary)
        named: Set[str] = set()
        if self.settings.plan is not None:
            entries = self._select(name, st.summary, entries)
            plan = self.settings.plan
            for e in entries:
                cls = self.index.resolve_class(e.self_class) if e.self_class else None
                if cls is not None and plan.names_exactly(self.index, cls):
                    named.add(cls.qualname)
        for entry in entries:
            if (
                self.settings.dynamic_dims
                and entry.framework == "torch"
                and entry.kind == "forward"
                and not entry.dynamic
            ):
                entry = replace(entry, dynamic=configured_dynamic_dims(self.settings.dynamic_dims))
            task = entry_task(self.index, entry)
            if task is not None:
                self.arrive(replace(task, named=True) if task.self_class in named else task)
        self.drain()
        if name in self.owned and (
            (st.summary.uses_torch or st.summary.uses_tf) and self.file_checks or self._cut_classes(st.summary)
        ):
            self._check_file(st)
        st.positions = None  # the file's findings are located; later walks recompute what they need

    def _select(self, name: str, summary: ModuleSummary, entries: List[EntryPoint]) -> List[EntryPoint]:
        """The entry points the run's plan keeps (``mllint.entries``); the decisions go in the stats."""
        plan = self.settings.plan
        assert plan is not None
        dropped: Set[str] = set()
        for cls in summary.classes.values():
            fw = self.index.framework_of(cls)
            if fw is None:
                continue
            source, reason = plan.decide(self.index, cls, fw)
            if source is None:
                dropped.add(cls.qualname)
            if name not in self.owned:
                continue
            ref = class_ref(self.index, cls)
            if source is not None:
                self.stats.entries[ref] = source
            elif reason:
                self.stats.excluded[ref] = reason
            else:
                self.stats.not_named += 1
        # an export call's own entry (``dynamic_shapes=``) names its class: it stays
        return [e for e in entries if e.dynamic or e.self_class not in dropped]

    def arrive(self, task: Task) -> None:
        """A task reached (again): queue it if new; if reached by a shorter path, pass that on."""
        stack = [task]
        while stack:
            task = stack.pop()
            key = task.key
            node = self.nodes.get(key)
            if node is None:
                if len(self.nodes) >= self.max_tasks:
                    self.stats.truncated += 1
                    # never silent: ML010 on the file the dropped call goes into
                    where = task.func.module
                    if where not in self.owned and self._turning in self.owned:
                        where = self._turning  # said where this process reports: the file being checked
                    first, count = self.dropped.get(where, (task.func.display, 0))
                    self.dropped[where] = (first, count + 1)
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
            children, raws, errors, names = self._live(st, task)
            self._remember(st, wkey, children, raws, errors, names)
        st.keys.add(task.key)
        node.children, node.raws, node.errors = children, raws, errors
        for child in children:
            self.arrive(replace(child, depth=task.depth + 1, entry=task.entry))

    def _live(
        self, st: _Mod, task: Task
    ) -> Tuple[Tuple[Task, ...], Tuple[LocatedRaw, ...], Tuple[Tuple[str, str], ...], Set[str]]:
        """Walk ``task`` now: follow-up tasks, located reports, rule errors, what it read elsewhere."""
        self.stats.walked += 1
        self.stats.walked_modules.add(st.name)
        fctx = self._fctx(st)
        if fctx is None and st.over_limit:  # summary cached, the tree now over memory-limit: ML009 says so
            return (), (), (), set()
        if fctx is None:  # its summary came from the cache and the text no longer parses: never silent
            return (), (), (("engine", "the file's syntax tree could not be rebuilt for analysis"),), set()
        errors: List[Tuple[str, str]] = []

        def on_error(handler: object, exc: BaseException) -> None:
            rule = owner_of(handler)
            if all(r != rule for r, _ in errors):
                errors.append((rule, short_error(exc)))

        st.pins += 1  # the tree stays until the walk's reports are located, whatever else is parsed
        start = len(fctx.findings)
        saved = fctx.summary.aliases
        fctx.summary.aliases = dict(st.pristine_aliases)  # a walk's local imports stay in that walk
        self.recorder.push()
        # the walk's scratch space: checks keep per-walk state there; it dies with the walker
        walker = Walker(fctx, self.dispatch[task.framework], on_error, returns=self._value_of_call, scratch=Scratch())
        try:
            try:
                walker.run(task)
            except RecursionError as exc:
                errors.append(("walker", short_error(exc)))
            finally:
                names = self.recorder.pop()
                fctx.summary.aliases = saved
            raws = fctx.findings[start:]
            del fctx.findings[start:]
            located = self._locate_all(st, raws, errors)
        finally:
            st.pins -= 1
        return tuple(walker.new_tasks), located, tuple(errors), names

    def _locate_all(
        self, st: _Mod, raws: Sequence[RawFinding], errors: List[Tuple[str, str]]
    ) -> Tuple[LocatedRaw, ...]:
        if not raws:
            return ()
        if st.positions is None:
            assert st.tree is not None
            st.positions = Positions(st.tree, self._text(st))
        out = []
        for raw in raws:
            try:
                out.append(locate(raw, st.positions))
            except Exception as exc:  # a report on a node outside its statement: a rule bug
                errors.append(("positions", short_error(exc)))
                if recursion_in(exc):
                    break  # the tree nests too deeply to locate anything: ML006, once
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
            if st.summary is not None and (st.summary.uses_torch or st.summary.uses_tf):
                for check in self.file_checks:
                    try:
                        check.check_file(fctx)
                    except Exception as exc:
                        errors.append((owner_of(check.check_file), short_error(exc)))
            self._report_cut_classes(fctx)
        finally:
            names = self.recorder.pop()
        raws = fctx.findings[start:]
        del fctx.findings[start:]
        located = self._locate_all(st, raws, errors)
        st.pins -= 1
        st.file_check = (located, tuple(errors))
        self._remember(st, wkey, (), located, tuple(errors), names)

    def _cut_classes(self, summary: ModuleSummary) -> bool:
        """Whether a class of the file has a hierarchy deeper than the MRO follows (ML008)."""
        return CLASS_TOO_DEEP in self.settings.enabled_codes and any(
            self.index.mro_truncated(cls) for cls in summary.classes.values()
        )

    def _report_cut_classes(self, fctx: FileContext) -> None:
        """ML008 at each class whose MRO was cut: what it inherits past the cut (``nn.Module``, a Keras
        layer, a method) is unknown, so it was not judged; said once, at the class, in its own file."""
        if CLASS_TOO_DEEP not in self.settings.enabled_codes:
            return
        for node, cls in fctx.class_nodes():
            if self.index.mro_truncated(cls):
                fctx.report(CLASS_TOO_DEEP, node.name, node, node, name=cls.name, limit=MRO_LIMIT)

    # -- cache ------------------------------------------------------------------------------
    def _replay(self, st: _Mod, wkey: Tuple[object, ...]):
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

    def _remember(self, st: _Mod, wkey, children, raws, errors, names: Set[str]) -> None:
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

    def source_record(self, st: _Mod):
        from mllint.cache import KEEP_ANALYSES, SourceRecord, summary_key

        analyses = dict(list(st.other_analyses.items())[-(KEEP_ANALYSES - 1) :]) if KEEP_ANALYSES > 1 else {}
        if st.analyses is not None:
            analyses[self.akey] = st.analyses
        return SourceRecord(
            display=st.display,
            module=st.name,
            digest=st.digest,
            summary_key=summary_key(),
            summary_name=st.source.summary_name,
            is_package=st.source.is_package,
            prefiltered=st.prefiltered,
            parsed=st.parsed,
            summary=st.summary,
            shash=st.shash,
            parse_diags=list(st.parse_diags),
            ast_diags=st.ast_diags,
            analyses=analyses,
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
            self.store.save(record)
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
            if name in self.dropped and TOO_MANY_TASKS in self.settings.enabled_codes:
                first, count = self.dropped[name]
                found.append(
                    diagnostic(
                        self.catalogue,
                        TOO_MANY_TASKS,
                        st.display,
                        Span(1, 0, 1, 0),
                        count=count,
                        func=first,
                        limit=f"{self.max_tasks:,}",
                    )
                )
            if st.error is None:
                items: List[Tuple[LocatedRaw, Optional[str], int]] = []
                errors: List[Tuple[str, str]] = []
                for key in st.keys:
                    node = self.nodes[key]
                    items.extend((raw, node.task.entry, node.task.depth) for raw in node.raws)
                    errors.extend(node.errors)
                if st.file_check is not None:
                    items.extend((raw, None, 0) for raw in st.file_check[0])
                    errors.extend(st.file_check[1])
                deep = any(detail.startswith("RecursionError") for _, detail in errors)
                found.extend(
                    assemble(st.display, items, errors, self.catalogue, self.settings, self._text(st) if deep else None)
                )
            text = self._text(st) if st.has_directives else None
            out.extend(finish_file(st.display, text, found, self.catalogue, self.settings, report_unused_ignores))
        self.stats.tasks = len(self.nodes)
        return out
