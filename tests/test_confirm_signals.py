"""--confirm under SIGTERM / SIGINT: the child's whole process group dies (a sleeping grandchild
too) and the temporary folders are removed; no framework needed, so this runs in seconds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

SRC = str(Path(__file__).resolve().parents[1] / "src")

FACTORY = textwrap.dedent("""\
    import os
    import subprocess
    import sys
    import time


    def spawns():
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        with open(os.environ["GRANDCHILD_PID"], "w") as f:
            f.write(str(child.pid))
        time.sleep(600)


    def spawns_setsid():  # the grandchild leaves the child's session: killing its group misses it
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True)
        with open(os.environ["GRANDCHILD_PID"], "w") as f:
            f.write(str(child.pid))
        time.sleep(600)
    """)

DRIVER = textwrap.dedent("""\
    import sys
    from pathlib import Path
    from mllint.config import ModelSpec
    from mllint.confirm import run_confirm

    run_confirm([ModelSpec("spawns", sys.argv[2])], Path(sys.argv[1]),
                ("torchscript-script",), "cpu", 1, None, False, None, timeout=600)
    """)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (not yet reaped by init) is dead
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


@pytest.mark.skipif(not hasattr(os, "killpg"), reason="POSIX process groups")
@pytest.mark.parametrize(
    "signum, factory",
    [
        (signal.SIGTERM, "spawns"),
        (signal.SIGINT, "spawns"),
        pytest.param(
            signal.SIGTERM,
            "spawns_setsid",
            marks=pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a child subreaper is Linux-only"),
        ),
    ],
)
def test_signal_kills_the_child_group_and_removes_temp_folders(tmp_path: Path, signum: int, factory: str) -> None:
    root = tmp_path / "proj"
    (root / "src" / "sleepy").mkdir(parents=True)
    (root / "src" / "sleepy" / "__init__.py").write_text("")
    (root / "src" / "sleepy" / "factories.py").write_text(FACTORY)
    temp = tmp_path / "tmp"
    temp.mkdir()
    marker = tmp_path / "grandchild.pid"
    env = {**os.environ, "PYTHONPATH": SRC, "TMPDIR": str(temp), "GRANDCHILD_PID": str(marker)}
    driver = subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(root), f"sleepy.factories:{factory}"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while not (marker.exists() and marker.read_text().strip()):
            assert driver.poll() is None, driver.communicate()
            assert time.monotonic() < deadline, "the factory never started"
            time.sleep(0.1)
        grandchild = int(marker.read_text())
        assert _alive(grandchild)
        assert [p.name for p in temp.iterdir() if p.name.startswith("mllint-confirm-")]
        driver.send_signal(signum)
        driver.communicate(timeout=30)
        assert driver.returncode != 0
        end = time.monotonic() + 10
        while _alive(grandchild) and time.monotonic() < end:
            time.sleep(0.1)
        assert not _alive(grandchild), "the grandchild survived the run"
        assert not [p.name for p in temp.iterdir() if p.name.startswith("mllint-confirm-")]
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
        if marker.exists() and marker.read_text().strip() and _alive(int(marker.read_text())):
            os.kill(int(marker.read_text()), signal.SIGKILL)


# -- what the child starts never outlives it; a dead child is seen at once (issue 16, item 13) --------
ESCAPING = textwrap.dedent("""\
    import os
    import subprocess
    import sys
    import time


    def _note(pid):
        with open(os.environ["GRANDCHILD_PID"], "a") as f:
            f.write(f"{pid}\\n")


    def escapes():
        # a grandchild in a session of its own (setsid), and one more level below it that daemonises
        code = (
            "import os, subprocess, sys, time\\n"
            "os.setsid()\\n"
            "inner = subprocess.Popen([sys.executable, '-c', 'import os, time; os.setsid(); time.sleep(600)'])\\n"
            "open(os.environ['GRANDCHILD_PID'], 'a').write(f'{os.getpid()}\\\\n{inner.pid}\\\\n')\\n"
            "time.sleep(600)\\n"
        )
        subprocess.Popen([sys.executable, "-c", code])
        deadline = time.time() + 60
        while time.time() < deadline:
            with open(os.environ["GRANDCHILD_PID"]) as f:
                if len(f.read().split()) >= 2:
                    break
            time.sleep(0.05)
        raise RuntimeError("no model here")


    def forks_and_dies():
        if os.fork() == 0:  # the forked copy holds the event pipe open and lingers
            _note(os.getpid())
            time.sleep(600)
            os._exit(0)
        time.sleep(0.5)
        os._exit(3)
    """)

RESULTS_DRIVER = textwrap.dedent("""\
    import json
    import sys
    import time
    from pathlib import Path
    from mllint.config import ModelSpec
    from mllint.confirm import run_confirm

    start = time.monotonic()
    results = run_confirm([ModelSpec("m", sys.argv[2])], Path(sys.argv[1]), ("torchscript-script",), "cpu", 1,
                          None, False, None, timeout=float(sys.argv[3]))
    print(json.dumps({"seconds": time.monotonic() - start,
                      "results": [[r.status, r.message] for r in results]}))
    """)


def _escaping_project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "src" / "esc").mkdir(parents=True)
    (root / "src" / "esc" / "__init__.py").write_text("")
    (root / "src" / "esc" / "factories.py").write_text(ESCAPING)
    return root


def _pids(marker: Path) -> "list[int]":
    return [int(p) for p in marker.read_text().split()] if marker.exists() else []


@pytest.fixture
def marker(tmp_path: Path):
    """Where the factories note their descendants' pids; whatever survives is killed after the test."""
    path = tmp_path / "grandchildren.pid"
    path.write_text("")
    yield path
    for pid in _pids(path):
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


def _drive(tmp_path: Path, marker: Path, factory: str, timeout: float) -> "tuple[dict, list[int]]":
    import json

    root = _escaping_project(tmp_path)
    env = {**os.environ, "PYTHONPATH": SRC, "GRANDCHILD_PID": str(marker)}
    proc = subprocess.run(
        [sys.executable, "-c", RESULTS_DRIVER, str(root), factory, str(timeout)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout + 120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1]), _pids(marker)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a child subreaper is Linux-only")
def test_a_grandchild_that_calls_setsid_does_not_survive_the_run(tmp_path: Path, marker: Path) -> None:
    report, pids = _drive(tmp_path, marker, "esc.factories:escapes", 120)
    assert len(pids) == 2, pids
    assert report["results"][0][0] != "timeout"
    end = time.monotonic() + 10
    while any(_alive(p) for p in pids) and time.monotonic() < end:
        time.sleep(0.1)
    assert [p for p in pids if _alive(p)] == [], "a setsid grandchild survived the run"


def test_a_factory_that_forks_and_dies_is_reported_at_once(tmp_path: Path, marker: Path) -> None:
    report, pids = _drive(tmp_path, marker, "esc.factories:forks_and_dies", 60)
    assert len(pids) == 1
    assert report["results"] == [
        ["crashed", "the process exited with code 3 (os._exit or sys.exit in user code?) while building the model"]
    ]
    assert report["seconds"] < 20, report  # not the 60 s step timeout
    end = time.monotonic() + 10
    while _alive(pids[0]) and time.monotonic() < end:
        time.sleep(0.1)
    assert not _alive(pids[0]), "the forked copy survived the run"
