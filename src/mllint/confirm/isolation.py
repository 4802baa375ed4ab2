"""Run each model's exports in its own child process, with a timeout and a memory limit.

One child per model runs all of that model's targets (importing torch or TensorFlow once). When it dies
(segfault, ``os._exit``, the kernel's OOM killer) or hangs, the target it was running becomes ``crashed``
or ``timeout``, the results it already sent are kept, and a fresh child runs the remaining targets. Models
run in parallel with ``jobs`` worker threads, each driving one child at a time. The parent never imports
torch or TensorFlow.
"""

from __future__ import annotations

import json
import os
import re
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Set, Tuple

from mllint.config import ModelSpec
from mllint.confirm.devices import child_environment, resolve_device
from mllint.confirm.locate import UserFiles, faulthandler_frames
from mllint.confirm.results import ExportResult
from mllint.confirm.session import START_MARKER, Job
from mllint.targets import target_names

DEFAULT_TIMEOUT = 300.0
#: The supervisor each child runs under (a script: it imports nothing of mllint).
REAPER = Path(__file__).resolve().with_name("reaper.py")
Progress = Callable[[ExportResult], None]


# Every live child (its process group) and every temporary folder of this process's confirm runs,
# so a SIGTERM / SIGINT to mllint kills the groups and removes the folders from any thread's run.
_LIVE_LOCK = threading.Lock()
_LIVE: Set[subprocess.Popen] = set()
_WORKDIRS: Set[Path] = set()
_ABORTED: List[int] = []  # the signal that interrupted the run: no new child starts after it


class ConfirmInterrupted(Exception):
    """No new child: the run was interrupted by a signal."""


def _abort_all(signum: int) -> None:
    """Kill every live child group and remove every temporary folder (a signal handler's work)."""
    with _LIVE_LOCK:
        _ABORTED.append(signum)
        procs = list(_LIVE)
        dirs = list(_WORKDIRS)
    for proc in procs:
        _stop(proc)  # the supervisor kills the child and what it started, then exits
    for work in dirs:
        shutil.rmtree(work, ignore_errors=True)


def _interrupt(signum: int, frame: object) -> None:
    _abort_all(signum)
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise SystemExit(128 + signum)


def default_memory_limit_mb() -> int:
    """80% of physical memory (at least 4 GB) of address space per child: a guard against runaways."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1024 * 1024)
    except (ValueError, OSError, AttributeError):
        return 16384
    return max(4096, int(total * 0.8))


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "model"


def _exit_description(returncode: Optional[int]) -> str:
    if returncode is None:
        return "the process stopped responding"
    if returncode < 0:
        try:
            sig = signal.Signals(-returncode)
        except ValueError:
            return f"the process was killed by signal {-returncode}"
        why = {signal.SIGSEGV: "segmentation fault", signal.SIGABRT: "aborted", signal.SIGBUS: "bus error",
               signal.SIGKILL: "killed; out of memory?", signal.SIGILL: "illegal instruction",
               signal.SIGFPE: "arithmetic error"}.get(sig, sig.name)
        return f"the process died: {sig.name} ({why})"
    return f"the process exited with code {returncode} (os._exit or sys.exit in user code?)"


class _ModelRun:
    """Drives the child processes of one model until every target has a result."""

    def __init__(self, spec: ModelSpec, root: Path, targets: Sequence[str], device: str,
                 artifacts: Optional[Path], strict: bool, timeout: float, memory_limit_mb: Optional[int],
                 onnx_opset: Optional[int], tolerance: Optional[float], emit: Progress, jobs: int = 1) -> None:
        self.spec = spec
        self.jobs = jobs
        self.root = root
        self.targets = list(targets)
        self.device = device
        self.artifacts = artifacts
        self.strict = strict
        self.timeout = timeout
        self.memory_limit_mb = memory_limit_mb
        self.onnx_opset = onnx_opset
        self.tolerance = tolerance
        self.emit = emit
        self.results: Dict[str, ExportResult] = {}
        self.reached: Tuple[Tuple[str, int, int], ...] = ()
        self.ran: List[List] = []
        self.framework = ""
        self.setup_seconds: Optional[float] = None
        self.notes: List[str] = []
        self.entry: Optional[List] = None
        self.files = UserFiles(root)

    # -- bookkeeping --------------------------------------------------------------------------
    def _record(self, result: ExportResult) -> None:
        result.reached = self.reached
        if self.ran:
            result.details.setdefault("ran", self.ran)
        result.details.setdefault("factory", self.spec.factory)
        if self.entry:
            result.details.setdefault("entry", list(self.entry))
        if self.framework and not result.framework:
            result.framework = self.framework
        if self.setup_seconds is not None:
            result.details.setdefault("setup_seconds", round(self.setup_seconds, 3))
        if self.notes and result.status != "skipped":
            result.details["notes"] = list(dict.fromkeys(self.notes + list(result.details.get("notes", []))))
        self.results[result.target] = result
        self.emit(result)

    def _fail_all(self, targets: Sequence[str], status: str, message: str, seconds: float,
                  location: Optional[Tuple[str, int]] = None, locations: Sequence[Tuple[str, int]] = ()) -> None:
        """The model could not be built (or its child died doing so): every target gets that outcome."""
        for target in targets:
            if target not in self.results:
                self._record(ExportResult(self.spec.name, target, status, seconds=seconds, message=message,
                                          location=location, locations=tuple(locations),
                                          details={"phase": "setup"}))

    # -- one child ----------------------------------------------------------------------------
    def run(self) -> List[ExportResult]:
        work = Path(tempfile.mkdtemp(prefix="mllint-confirm-"))
        with _LIVE_LOCK:
            _WORKDIRS.add(work)
        try:
            attempts_without_progress = 0
            while True:
                remaining = [t for t in self.targets if t not in self.results]
                if not remaining:
                    break
                before = len(self.results)
                finished = self._run_child(remaining, work)
                if finished:
                    break
                attempts_without_progress = attempts_without_progress + 1 if len(self.results) == before else 0
                if attempts_without_progress >= 2:
                    self._fail_all(remaining, "crashed", "the child process keeps dying before it reports", 0.0)
                    break
        finally:
            if os.environ.get("MLLINT_CONFIRM_KEEP_LOGS"):  # debugging aid: keep the children's logs
                sys.stderr.write(f"mllint: confirm logs of model {self.spec.name} kept in {work}\n")
            else:
                shutil.rmtree(work, ignore_errors=True)
            with _LIVE_LOCK:
                _WORKDIRS.discard(work)
        return [self.results[t] for t in self.targets if t in self.results]

    def _job(self, targets: Sequence[str], work: Path, log: Path) -> Job:
        artifacts = str(self.artifacts / _safe_name(self.spec.name)) if self.artifacts else None
        return Job(
            model=self.spec.name, factory=self.spec.factory, root=str(self.root), targets=list(targets),
            device=self.device, strict=self.strict, tolerance=self.tolerance, artifacts=artifacts,
            workdir=str(work), log=str(log), memory_limit_mb=None if self.device == "cuda" else self.memory_limit_mb,
            onnx_opset=self.onnx_opset, step_timeout=self.timeout,
            contract=self.spec.contract if isinstance(self.spec.contract, dict) and self.spec.contract.get("_loaded") else None,
        )

    def _spawn(self, job: Job, log: Path) -> Tuple[subprocess.Popen, int]:
        read_fd, write_fd = os.pipe()
        env = dict(os.environ)
        env.update(child_environment(self.device, self.jobs))
        package_parent = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_parent, env.get("PYTHONPATH", "")) if p)
        with _LIVE_LOCK:  # under the lock: an interrupting signal either sees this child or stops it
            if _ABORTED:
                os.close(read_fd)
                os.close(write_fd)
                raise ConfirmInterrupted(f"interrupted by signal {_ABORTED[0]}")
            with open(log, "ab") as log_file:
                proc = subprocess.Popen(  # the supervisor (its own session), which starts the child
                    [sys.executable, "-I", str(REAPER), str(write_fd),
                     sys.executable, "-m", "mllint.confirm.child", str(write_fd)],
                    stdin=subprocess.PIPE, stdout=log_file, stderr=log_file, cwd=str(self.root), env=env,
                    pass_fds=(write_fd,), start_new_session=True,
                )
            _LIVE.add(proc)
        os.close(write_fd)
        assert proc.stdin is not None
        try:
            proc.stdin.write(json.dumps(asdict(job)).encode("utf-8"))
            proc.stdin.close()
        except BrokenPipeError:
            pass
        return proc, read_fd

    def _run_child(self, targets: Sequence[str], work: Path) -> bool:
        """Run one child over ``targets``; True when it reported every one (False: restart for the rest)."""
        log = work / f"child-{len(self.results)}.log"
        proc, read_fd = self._spawn(self._job(targets, work, log), log)
        selector = selectors.DefaultSelector()
        selector.register(read_fd, selectors.EVENT_READ)
        buffer = b""
        ready = False
        current: Optional[str] = None
        step_start = time.monotonic()
        deadline = step_start + self.timeout
        done = False
        eof = False
        try:
            while not done and not eof:
                wait = deadline - time.monotonic()
                if wait <= 0:
                    self._timeout(proc, log, targets, current, ready, time.monotonic() - step_start)
                    return False
                # The supervisor exits once the child is dead and what it started is killed: then what is
                # still in the pipe is read and the child counts as gone, even if something kept the pipe
                # open (where no subreaper could catch it): a dead child is never waited for until timeout.
                exited = proc.poll() is not None
                events = selector.select(timeout=0 if exited else min(wait, 0.25))
                if exited and not events:
                    eof = True
                for _key, _ in events:
                    chunk = os.read(read_fd, 65536)
                    if not chunk:
                        eof = True
                        break
                    buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    try:
                        event = json.loads(line.decode("utf-8"))
                    except ValueError:
                        continue
                    kind = event.get("event")
                    if kind == "ready":
                        ready = True
                        self.framework = event.get("framework", "")
                        self.reached = tuple(tuple(r) for r in event.get("reached", ()))
                        self.ran = [list(r) for r in event.get("ran", ())]
                        self.setup_seconds = event.get("setup_seconds")
                        self.notes = list(event.get("notes") or [])
                        self.entry = event.get("entry")
                    elif kind == "setup-error":
                        self.reached = tuple(tuple(r) for r in event.get("reached", ()))
                        loc = event.get("location")
                        self._fail_all(targets, event.get("status", "error"), event.get("message", "the model could not be built"),
                                       float(event.get("setup_seconds") or 0.0), tuple(loc) if loc else None,
                                       [tuple(x) for x in event.get("locations", [])])
                        done = True
                    elif kind == "start":
                        current = event.get("target")
                    elif kind == "result":
                        self._record(ExportResult.from_wire(event["result"]))
                        current = None
                    elif kind == "done":
                        done = True
                    if kind in ("ready", "start", "result"):
                        step_start = time.monotonic()
                        deadline = step_start + self.timeout
            if done:
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    _kill_group(proc)
                return True
            # The pipe closed without "done": the child died.
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                _kill_group(proc)
            self._crashed(proc.returncode, log, targets, current, ready, time.monotonic() - step_start)
            return False
        finally:
            selector.close()
            os.close(read_fd)
            _kill_group(proc)

    # -- what a dead or stuck child means -----------------------------------------------------
    def _last_section(self, log: Path) -> str:
        try:
            text = log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return text[text.rfind(START_MARKER):] if START_MARKER in text else text

    def _crashed(self, returncode: Optional[int], log: Path, targets: Sequence[str], current: Optional[str],
                 ready: bool, seconds: float) -> None:
        located = faulthandler_frames(self._last_section(log), self.files)
        what = _exit_description(returncode)
        if current is not None:
            self._record(ExportResult(self.spec.name, current, "crashed", seconds=seconds,
                                      message=f"{what} during the {current} export", location=located.location,
                                      locations=tuple(located.stack), framework=self.framework,
                                      details={"how": located.how} if located else {}))
        elif not ready:
            self._fail_all(targets, "crashed", f"{what} while building the model", seconds,
                           located.location, located.stack)

    def _timeout(self, proc: subprocess.Popen, log: Path, targets: Sequence[str], current: Optional[str],
                 ready: bool, seconds: float) -> None:
        if hasattr(signal, "SIGUSR1") and proc.poll() is None:
            try:
                os.kill(proc.pid, signal.SIGUSR1)  # faulthandler dumps the stuck stack into the log
                time.sleep(0.5)
            except ProcessLookupError:
                pass
        _kill_group(proc)
        located = faulthandler_frames(self._last_section(log), self.files)
        limit = f"{self.timeout:g}s"
        if current is not None:
            self._record(ExportResult(self.spec.name, current, "timeout", seconds=seconds,
                                      message=f"the {current} export did not finish within {limit}",
                                      location=located.location, locations=tuple(located.stack),
                                      framework=self.framework, details={"how": located.how} if located else {}))
        elif not ready:
            self._fail_all(targets, "timeout", f"building the model did not finish within {limit}", seconds,
                           located.location, located.stack)
        # else: stuck between targets; the restart runs the rest


def _stop(proc: subprocess.Popen) -> None:
    """Ask the child's supervisor (``reaper.py``) to kill the child and everything it started."""
    try:
        os.kill(proc.pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        pass


def _kill_group(proc: subprocess.Popen) -> None:
    """Kill the child and anything it started (through its supervisor, which finds even what left the
    child's session), then reap the supervisor; if it does not end, kill its group outright."""
    if proc.poll() is None:
        _stop(proc)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
    with _LIVE_LOCK:
        _LIVE.discard(proc)


def model_targets(spec: ModelSpec, targets: Sequence[str]) -> List[str]:
    """The run's targets this model takes part in (its own ``targets`` narrow them), in canonical order."""
    wanted = set(targets) & set(spec.targets) if spec.targets else set(targets)
    return [t for t in target_names() if t in wanted]


def run_confirm(models: List[ModelSpec], root: Path, targets: Tuple[str, ...], device: str, jobs: int,
                artifacts: Optional[Path], strict: bool, progress: Optional[Progress], *,
                timeout: Optional[float] = None, memory_limit_mb: Optional[int] = None,
                onnx_opset: Optional[int] = None, tolerance: Optional[float] = None) -> List[ExportResult]:
    """Attempt the real exports of ``models`` on ``targets``; one result per (model, target), in order.

    ``device`` is cpu, cuda or auto (a model's own ``device`` wins); ``cuda`` without a GPU raises
    ``ValueError``. ``timeout`` (a model's own wins; default 300 s) bounds each step: building the model,
    and each target. ``progress(result)`` is called (from worker threads, serialised) as results arrive.
    """
    unknown = [t for t in targets if t not in target_names()]
    if unknown:
        raise ValueError(f"unknown target(s): {', '.join(unknown)}")
    root = Path(root).resolve()
    resolved = {spec.name: resolve_device(spec.device or device) for spec in models}
    if artifacts is not None:
        artifacts = Path(artifacts).resolve()
        artifacts.mkdir(parents=True, exist_ok=True)
    limit = memory_limit_mb if memory_limit_mb is not None else default_memory_limit_mb()
    lock = threading.Lock()

    def emit(result: ExportResult) -> None:
        if progress is not None:
            with lock:
                progress(result)

    def one(spec: ModelSpec) -> List[ExportResult]:
        run = _ModelRun(
            spec, root, model_targets(spec, targets), resolved[spec.name], artifacts, strict,
            float(spec.timeout or timeout or DEFAULT_TIMEOUT), limit or None, onnx_opset,
            spec.tolerance if spec.tolerance is not None else tolerance, emit, min(int(jobs or 1), len(models)),
        )
        return run.run()

    # SIGTERM / SIGINT kill every child group and remove the temporary folders before mllint exits
    # (the default SIGTERM would leave both behind); only the main thread can install handlers
    saved = {}
    if threading.current_thread() is threading.main_thread():
        with _LIVE_LOCK:
            _ABORTED.clear()
        for sig in (signal.SIGTERM, signal.SIGINT):
            saved[sig] = signal.signal(sig, _interrupt)
    try:
        with ThreadPoolExecutor(max_workers=max(1, int(jobs or 1))) as pool:
            per_model = list(pool.map(one, models))
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
        if _ABORTED:
            _abort_all(_ABORTED[0])  # children a worker thread started while the signal was handled
    return [r for results in per_model for r in results]
