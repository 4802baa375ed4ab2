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
    """)

DRIVER = textwrap.dedent("""\
    import sys
    from pathlib import Path
    from mllint.config import ModelSpec
    from mllint.confirm import run_confirm

    run_confirm([ModelSpec("spawns", "sleepy.factories:spawns")], Path(sys.argv[1]),
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
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_kills_the_child_group_and_removes_temp_folders(tmp_path: Path, signum: int) -> None:
    root = tmp_path / "proj"
    (root / "src" / "sleepy").mkdir(parents=True)
    (root / "src" / "sleepy" / "__init__.py").write_text("")
    (root / "src" / "sleepy" / "factories.py").write_text(FACTORY)
    temp = tmp_path / "tmp"
    temp.mkdir()
    marker = tmp_path / "grandchild.pid"
    env = {**os.environ, "PYTHONPATH": SRC, "TMPDIR": str(temp), "GRANDCHILD_PID": str(marker)}
    driver = subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(root)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
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
