"""Dependency tracking for the cache: which module summaries and bodies a walk reads.

A walk's cache record lists what it read outside its own file (with the digests it saw), so the
walk replays only while every one of them is unchanged. Reads are recorded at the project index:
every summary lookup, and memoised answers (an MRO, a class's framework) with what computing them read.
"""

from __future__ import annotations

from typing import Callable, Dict, Iterable, List, Optional, Set, Tuple

from mllint.analysis.index import ProjectIndex
from mllint.analysis.summary import ModuleSummary


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

    def get(self, key, default=None):
        self.recorder.add(key)
        return dict.get(self, key, default)

    def __getitem__(self, key):
        self.recorder.add(key)
        return dict.__getitem__(self, key)

    def __contains__(self, key) -> bool:
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

    def _tracked(self, what: str, cls, compute):
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

    def mro(self, cls):
        return self._tracked("mro", cls, super().mro)

    def framework_of(self, cls):
        return self._tracked("framework", cls, super().framework_of)
