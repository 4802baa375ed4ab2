"""The isolated child: ``python -m mllint.confirm.child FD`` builds one model and runs its targets.

The job arrives as JSON on stdin; events go out as JSON lines on file descriptor FD. The child's own
stdout and stderr (and everything the frameworks print from C++) go to a log file, which is also where
``faulthandler`` writes the Python stack if the process segfaults or the parent asks (SIGUSR1) before
killing it for a timeout. A memory limit (RLIMIT_AS) turns runaway allocations into errors.
"""

from __future__ import annotations

import faulthandler
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any, Dict, Optional

from mllint.confirm.session import START_MARKER, Job


class Channel:
    """JSON lines to the parent over a pipe it passed us."""

    def __init__(self, fd: int) -> None:
        self._out = os.fdopen(fd, "w", buffering=1, encoding="utf-8")

    def send(self, event: str, **data: Any) -> None:
        self._out.write(json.dumps({"event": event, **data}, default=str) + "\n")
        self._out.flush()


def _limit_memory(megabytes: Optional[int]) -> None:
    if not megabytes:
        return
    import resource

    limit = int(megabytes) * 1024 * 1024
    try:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ValueError, OSError):
        pass  # a lower hard limit is already in force


def _redirect_output(log_path: str) -> None:
    """Send fds 1 and 2 (Python and C++ output alike) to the log; keep a crash dump there too."""
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    faulthandler.enable(file=sys.stderr, all_threads=True)
    if hasattr(signal, "SIGUSR1"):
        faulthandler.register(signal.SIGUSR1, file=sys.stderr, all_threads=True)


def _marker(text: str) -> None:
    sys.stderr.write(f"\n{START_MARKER}{text} ===\n")
    sys.stderr.flush()


def _build(job: Job, files: Any, channel: Channel) -> Optional[Any]:
    """Import the factory, build the model and its eager reference; report ready or setup-error."""
    from mllint.confirm.factory import FactoryError, call_factory, load_factory, normalise
    from mllint.confirm.locate import locate_exception
    from mllint.confirm.reach import ReachRecorder

    start = time.perf_counter()
    recorder = ReachRecorder(files)
    session = None
    try:
        factory = load_factory(job.factory, Path(job.root))  # imports (frameworks too) are not the model's run
        with recorder:
            spec, framework = normalise(job.factory, call_factory(job.factory, factory))
            recorder.running()
            tolerance = spec.tolerance if spec.tolerance is not None else job.tolerance
            try:
                if framework == "torch":
                    from mllint.confirm.torch_runners import TorchSession

                    session = TorchSession(job, files, spec, tolerance)
                else:
                    from mllint.confirm.tf_runners import TFSession

                    session = TFSession(job, files, spec, framework, tolerance)
            except Exception as exc:  # noqa: BLE001
                raise FactoryError(
                    f"model from '{job.factory}' cannot be run on its example inputs: "
                    f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ''}",
                    exc,
                ) from exc
    except FactoryError as exc:
        located = locate_exception(exc.cause, files) if exc.cause is not None else None
        status, message = "error", str(exc)
        if isinstance(exc.cause, MemoryError) or isinstance(getattr(exc.cause, "__cause__", None), MemoryError):
            limit = f" (memory limit {job.memory_limit_mb} MB)" if job.memory_limit_mb else ""
            status, message = "crashed", f"out of memory while building the model{limit}: {exc}"
        channel.send("setup-error", status=status, message=message, location=located.location if located else None,
                     locations=located.stack if located else [], reached=recorder.ranges(),
                     setup_seconds=time.perf_counter() - start)
        return None
    channel.send("ready", framework=session.framework, reached=recorder.ranges(), ran=recorder.ran(),
                 setup_seconds=time.perf_counter() - start, notes=session.setup_notes,
                 entry=_entry_location(spec.model, files))
    return session


def _entry_location(model: Any, files: Any) -> Optional[list]:
    """The ``def`` line of the model's forward / call / __call__, when the user wrote it."""
    import inspect

    for name in ("forward", "call", "__call__"):
        fn = getattr(type(model), name, None)
        fn = getattr(fn, "python_function", fn)  # tf.function
        try:
            path = inspect.getsourcefile(fn)  # type: ignore[arg-type]
            _, line = inspect.getsourcelines(fn)  # type: ignore[arg-type]
        except (TypeError, OSError):
            continue
        loc = files.loc(path or "", line)
        if loc:
            return list(loc)
    return None


def main(argv: Optional[list] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    channel = Channel(int(argv[0]))
    raw: Dict[str, Any] = json.loads(sys.stdin.read())
    job = Job(**raw)
    _limit_memory(job.memory_limit_mb)
    _redirect_output(job.log)
    os.chdir(job.root)
    from mllint.confirm.locate import UserFiles

    files = UserFiles(Path(job.root))
    _marker("setup")
    session = _build(job, files, channel)
    if session is not None:
        from mllint.confirm.results import ExportResult

        for target in job.targets:
            if not session.applicable(target):
                skipped = ExportResult(job.model, target, "skipped", message=f"not a {session.framework} target",
                                       framework=session.framework, details={"applicable": False})
                channel.send("result", result=skipped.to_wire())
                continue
            _marker(target)
            channel.send("start", target=target)
            result = session.run(target)
            channel.send("result", result=result.to_wire())
    channel.send("done")
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # skip framework teardown (slow, and irrelevant once results are sent)


if __name__ == "__main__":
    sys.exit(main())
