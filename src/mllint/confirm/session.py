"""What every framework's runners share inside the child: timing, failure classification, the log, artifacts."""

from __future__ import annotations

import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from mllint.confirm.locate import Located, UserFiles, locate_exception
from mllint.confirm.results import ExportResult, first_lines

#: Written to the child's log when a step starts; the parent reads crash dumps after the last one.
START_MARKER = "=== mllint-confirm: start "

_OOM = re.compile(r"can't allocate memory|out of memory|std::bad_alloc|Cannot allocate memory|OOM when allocating", re.I)


@dataclass
class Job:
    """Everything the child needs, sent by the parent as JSON on stdin."""

    model: str
    factory: str
    root: str
    targets: List[str]
    device: str = "cpu"
    strict: bool = False
    tolerance: Optional[float] = None
    artifacts: Optional[str] = None
    workdir: str = ""
    log: str = ""
    memory_limit_mb: Optional[int] = None
    onnx_opset: Optional[int] = None
    step_timeout: float = 300.0
    #: The model's loaded contract (``confirm.contracts``), checked after each export.
    contract: Optional[Dict[str, Any]] = None


class Outcome(Exception):
    """Raised by a runner step to end the target with a given status (keeps runners flat)."""

    def __init__(self, status: str, message: str, located: Optional[Located] = None, **details: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.located = located or Located()
        self.details = details


class Session:
    """One built model in the child; subclasses run the targets of one framework."""

    framework = ""
    targets: Tuple[str, ...] = ()

    def __init__(self, job: Job, files: UserFiles, tolerance: float) -> None:
        self.job = job
        self.files = files
        self.tolerance = tolerance
        self.notes: List[str] = []
        self.export_seconds: Optional[float] = None
        self.details: Dict[str, Any] = {}

    # -- hooks for subclasses -------------------------------------------------------------------
    def run_target(self, target: str) -> Optional[str]:
        """Run one target; return None when ok, raise ``Outcome`` otherwise. Returns a note to add."""
        raise NotImplementedError

    def recover_location(self, target: str, exc: BaseException, log_text: str) -> Located:
        """For errors without a location: recover one from artifacts (overridden per framework)."""
        return Located()

    # -- shared machinery ---------------------------------------------------------------------
    def applicable(self, target: str) -> bool:
        return target in self.targets

    def timed_export(self, fn: Callable[[], Any]) -> Any:
        """Call the framework's own export; its duration is reported apart from mllint's overhead."""
        start = time.perf_counter()
        try:
            return fn()
        finally:
            self.export_seconds = (self.export_seconds or 0.0) + time.perf_counter() - start

    def artifact_path(self, target: str, suffix: str) -> Path:
        base = Path(self.job.artifacts) if self.job.artifacts else Path(self.job.workdir)
        base.mkdir(parents=True, exist_ok=True)
        return base / f"{target}{suffix}"

    def log_size(self) -> int:
        _flush()
        try:
            return os.path.getsize(self.job.log)
        except OSError:
            return 0

    def log_since(self, offset: int) -> str:
        _flush()
        try:
            with open(self.job.log, "rb") as fh:
                fh.seek(offset)
                return fh.read(4_000_000).decode("utf-8", "replace")
        except OSError:
            return ""

    def failure(self, target: str, exc: BaseException, log_offset: int, prefix: str = "") -> Outcome:
        """Turn an exception into a located ``failed`` outcome (or ``crashed`` for out-of-memory)."""
        text = describe_exception(exc)
        if isinstance(exc, MemoryError) or _OOM.search(str(exc)[:2000]):
            limit = f" (memory limit {self.job.memory_limit_mb} MB)" if self.job.memory_limit_mb else ""
            return Outcome("crashed", f"out of memory{limit}: {first_lines(text, 2)}")
        located = locate_exception(exc, self.files)
        if not located:
            try:
                located = self.recover_location(target, exc, self.log_since(log_offset))
            except Exception as rec_exc:  # noqa: BLE001 - recovery is best effort
                self.notes.append(f"location recovery failed: {type(rec_exc).__name__}: {rec_exc}")
        return Outcome("failed", prefix + first_lines(text, 2, 300), located)

    def run(self, target: str) -> ExportResult:
        start = time.perf_counter()
        self.export_seconds = None
        self.notes = []
        self.details = {}
        status, message, located = "ok", "", Located()
        log_offset = self.log_size()
        try:
            note = self.run_target(target)
            if note:
                self.notes.append(note)
        except Outcome as out:
            status, message, located = out.status, out.message, out.located
            self.details.update(out.details)
        except Exception as exc:  # noqa: BLE001 - any framework error is a result, not a crash
            out = self.failure(target, exc, log_offset)
            status, message, located = out.status, out.message, out.located
        details = dict(self.details)
        if self.notes:
            details["notes"] = list(self.notes)
        if located.how:
            details["how"] = located.how
        return ExportResult(
            model=self.job.model, target=target, status=status, seconds=time.perf_counter() - start,
            message=message, location=located.location, locations=tuple(located.stack),
            export_seconds=self.export_seconds, framework=self.framework, details=details,
        )


def describe_exception(exc: BaseException) -> str:
    """``Type: message``; for exporter wrappers ("This is step 1/3 ...") the explicit cause's message."""
    chain = [exc]
    while chain[-1].__cause__ is not None and len(chain) < 10:
        chain.append(chain[-1].__cause__)
    inner = chain[-1]
    if len(chain) > 1 and str(inner).strip() and "This is step" in str(exc):
        return f"{type(exc).__name__} <- {type(inner).__name__}: {str(inner).strip()}"
    return f"{type(exc).__name__}: {str(exc).strip()}"


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001
            pass
