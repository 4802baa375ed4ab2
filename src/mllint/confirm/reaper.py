"""The supervisor between mllint and each ``--confirm`` child: nothing the child starts outlives it.

    python .../reaper.py FD CMD...    (run as a script: standard library only, nothing of mllint imported)

It starts CMD (the child, handed the event pipe's write end FD) in a process group of its own and waits for it. On Linux it is first made a
*child subreaper* (``prctl(PR_SET_CHILD_SUBREAPER)``, through ctypes): every process the child starts
that is orphaned, even one that left the child's session with ``os.setsid()`` or daemonised with a
double fork, is re-parented to this process instead of to init, so it can be found (its parent is this
process) and killed. When the child ends, however it ends, everything still left is killed and reaped,
and only then does this process exit, with the child's own status (the same signal when it was killed),
so the pipe to mllint closes at once: a child that forks and dies is reported as dead immediately,
not when its step's timeout expires.

Signals: SIGTERM / SIGINT / SIGHUP (mllint's timeout or interruption) kill the child's group, then the
rest as above; SIGUSR1 is forwarded to the child (its faulthandler dumps the stuck stack). If mllint
itself dies, ``PR_SET_PDEATHSIG`` sends this process SIGTERM. Elsewhere (no prctl) the child's group
is still killed when it ends; descendants that left it with ``setsid`` are then not reached.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
import time
from typing import List, Optional

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36


def _prctl(option: int, value: int) -> bool:
    """``prctl(option, value)``; False where there is no such call (not Linux) or it fails."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return int(libc.prctl(option, ctypes.c_ulong(value), 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def become_subreaper() -> bool:
    """Make orphaned descendants this process's children (Linux 3.4+); False if not possible."""
    return _prctl(PR_SET_CHILD_SUBREAPER, 1)


def children() -> List[int]:
    """The live (non-zombie) processes whose parent is this process, read from /proc."""
    me = os.getpid()
    out = []
    try:
        names = os.listdir("/proc")
    except OSError:
        return []
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if int(fields[1]) == me and fields[0] != b"Z":
            out.append(int(name))
    return out


def reap() -> None:
    """Collect every child that has exited (zombies re-parented here included)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def kill_descendants(group: Optional[int], deadline_s: float = 10.0) -> None:
    """SIGKILL the child's group, then every process re-parented here, until none is left (each kill
    orphans that process's own children, which then arrive here in turn)."""
    if group is not None:
        try:
            os.killpg(group, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        reap()
        left = children()
        if not left:
            return
        for pid in left:
            try:
                group = os.getpgid(pid)
                if group != os.getpgrp():
                    os.killpg(group, signal.SIGKILL)  # what it started in its own group, at once
            except (ProcessLookupError, PermissionError):
                pass
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.01)
    reap()


def _exit_like(status: int) -> None:
    """Exit with ``status`` as ``subprocess`` reports it (a negative value: killed by that signal)."""
    sys.stdout.flush()
    sys.stderr.flush()
    if status < 0:
        sig = -status
        try:
            import resource

            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # the child's crash, not ours: no core file
        except (ImportError, ValueError, OSError):
            pass
        signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, [sig])
        os.kill(os.getpid(), sig)
        time.sleep(1)
        os._exit(128 + sig)
    os._exit(status)


def main(argv: List[str]) -> None:
    subreaper = become_subreaper()
    _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    stop: List[int] = []
    child: List[subprocess.Popen] = []

    def on_stop(signum: int, frame: object) -> None:
        stop.append(signum)
        if child:
            try:
                os.killpg(child[0].pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def on_usr1(signum: int, frame: object) -> None:
        if child:
            try:
                os.kill(child[0].pid, signal.SIGUSR1)
            except ProcessLookupError:
                pass

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_stop)
    if hasattr(signal, "SIGUSR1"):
        signal.signal(signal.SIGUSR1, on_usr1)
    pipe = int(argv[0])  # the event pipe's write end: passed on to the child, then closed here
    proc = subprocess.Popen(argv[1:], start_new_session=True, pass_fds=(pipe,))
    child.append(proc)
    os.close(pipe)  # only the child (and what it starts) holds it now: its death closes the pipe
    if not subreaper:
        sys.stderr.write("mllint confirm: no child subreaper here; a grandchild that calls setsid may survive\n")
    if stop:
        on_stop(stop[0], None)
    while True:
        try:
            status = proc.wait()
            break
        except InterruptedError:  # pragma: no cover - PEP 475 retries
            continue
    kill_descendants(proc.pid)
    _exit_like(status)


if __name__ == "__main__":
    main(sys.argv[1:])
