"""Record which of the user's functions a model runs, so ``merge`` knows what a clean export vouches for.

A profile hook sees every Python call while the factory builds the model and while the model runs
eagerly; it keeps the code objects of user files. That is cheap (one set lookup per call) and exact
for Python code, which is where static findings live.
"""

from __future__ import annotations

import inspect
import sys
import threading
from types import CodeType, FrameType
from typing import Any, Dict, List, Optional, Set, Tuple

from mllint.confirm.locate import UserFiles


class ReachRecorder:
    """Context manager collecting (path, first line, last line) of every user function called inside it.

    Module and class bodies are left out: importing a file is not running the methods it defines.
    """

    def __init__(self, files: UserFiles) -> None:
        self.files = files
        self._seen: Set[Tuple[CodeType, bool]] = set()
        self._user: Dict[CodeType, Tuple[str, int, int]] = {}
        #: Functions called after ``running()``: while the built model runs, not while it is built.
        self._ran: Set[Tuple[str, int, int]] = set()
        self._running = False
        self._previous: Optional[Any] = None

    def _profile(self, frame: FrameType, event: str, arg: Any) -> None:
        if event != "call":
            return
        code = frame.f_code
        key = (code, self._running)
        if key in self._seen:
            return
        self._seen.add(key)
        # Module and class bodies run at import and span every function they define: only the
        # functions themselves (CO_OPTIMIZED; lambdas and comprehensions included) say what ran.
        if code.co_flags & inspect.CO_OPTIMIZED and self.files.is_user(code.co_filename):
            lines = [ln for _, _, ln in code.co_lines() if ln is not None] if hasattr(code, "co_lines") else []
            last = max(lines, default=code.co_firstlineno)
            where = (self.files.rel(code.co_filename), code.co_firstlineno, max(last, code.co_firstlineno))
            self._user[code] = where
            if self._running:
                self._ran.add(where)

    def running(self) -> None:
        """From now on the model runs (eager reference calls); before, the factory built it."""
        self._running = True

    def __enter__(self) -> "ReachRecorder":
        self._previous = sys.getprofile()
        sys.setprofile(self._profile)
        threading.setprofile(self._profile)
        return self

    def __exit__(self, *exc: object) -> None:
        sys.setprofile(self._previous)
        threading.setprofile(None)

    def ranges(self) -> List[Tuple[str, int, int]]:
        """Everything called: while building and while running."""
        return sorted(set(self._user.values()))

    def ran(self) -> List[Tuple[str, int, int]]:
        """What the model's own calls ran (what an export captures), without the build-only code."""
        return sorted(self._ran)
