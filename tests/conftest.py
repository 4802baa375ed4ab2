"""Shared test fixtures."""

from __future__ import annotations

import io
import locale
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True, scope="session")
def _private_cache_home(tmp_path_factory: pytest.TempPathFactory):
    """Every test (and every mllint it starts) caches under a temporary XDG_CACHE_HOME, never the user's."""
    old = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg-cache"))
    yield
    if old is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = old


def _mllint_cmd() -> List[str]:
    exe = shutil.which("mllint", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "mllint"]


@pytest.fixture
def run_mllint():
    """Run the installed ``mllint`` command in a subprocess (as a user would)."""

    def run(args: Sequence[str], cwd: Path, stdin: str | None = None, env_extra: dict | None = None) -> subprocess.CompletedProcess:
        env = dict(os.environ)
        env.pop("NO_COLOR", None)
        env.update(env_extra or {})
        return subprocess.run([*_mllint_cmd(), *args], cwd=str(cwd), input=stdin, capture_output=True,
                              text=True, env=env, timeout=300)

    return run


#: Variables an in-process run cannot honour the way a new interpreter would (they act at start-up or import).
_START_UP_ENV = ("PYTHONPATH", "PYTHONHOME", "PYTHONSAFEPATH", "PYTHONIOENCODING", "PYTHONUTF8", "LC_ALL", "LANG",
                 "LC_CTYPE", "PYTHONWARNINGS", "PYTHONDONTWRITEBYTECODE")


def _as_subprocess_text(data: bytes, encoding: str) -> str:
    """Decode a captured stream the way ``subprocess.run(text=True)`` does (locale codec, universal newlines)."""
    return io.TextIOWrapper(io.BytesIO(data), encoding=encoding, newline=None).read()


def run_main_in_process(args: Sequence[str], cwd: Path, stdin: Optional[str] = None,
                        env_extra: Optional[Dict[str, str]] = None) -> subprocess.CompletedProcess:
    """Call ``mllint.cli.main(args)`` in this process as if it were the ``mllint`` command.

    The working folder, environment (``NO_COLOR`` removed, ``env_extra`` added), stdin and the two output
    streams are those a subprocess would see (pipes: not a terminal, bytes in the locale's encoding, stdout
    strict and stderr backslash-escaped like Python's own), and everything is restored afterwards.
    ``SystemExit`` (argparse's usage errors, ``--version``) becomes the exit code as it would for a process.
    Saves the interpreter start and the imports of a real process, about a second a run on this machine.
    """
    import mllint.cache
    from mllint.cli import main

    extra = dict(env_extra or {})
    refused = sorted(set(extra) & set(_START_UP_ENV))
    if refused:
        raise ValueError(f"{refused} act at interpreter start-up: use the run_mllint (subprocess) fixture")
    encoding = locale.getpreferredencoding(False)
    saved_env = dict(os.environ)
    saved_cwd = os.getcwd()
    saved_streams = (sys.stdin, sys.stdout, sys.stderr)
    out, err = io.BytesIO(), io.BytesIO()
    stdout = io.TextIOWrapper(out, encoding=encoding, errors="strict", newline="\n", write_through=True)
    stderr = io.TextIOWrapper(err, encoding=encoding, errors="backslashreplace", newline="\n", write_through=True)
    stdin_stream = io.TextIOWrapper(io.BytesIO((stdin or "").encode(encoding)), encoding=encoding)
    mllint.cache._secret.cache_clear()  # the user cache's key is per XDG_CACHE_HOME / HOME, which env_extra may change
    try:
        os.environ.pop("NO_COLOR", None)
        os.environ.update(extra)
        os.chdir(cwd)
        sys.stdin, sys.stdout, sys.stderr = stdin_stream, stdout, stderr
        try:
            code = main(list(args))
        except SystemExit as exc:
            if exc.code is None:
                code = 0
            elif isinstance(exc.code, int):
                code = exc.code
            else:
                stderr.write(f"{exc.code}\n")
                code = 1
        stdout.flush()
        stderr.flush()
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved_streams
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        mllint.cache._secret.cache_clear()
    return subprocess.CompletedProcess(["mllint", *args], code, _as_subprocess_text(out.getvalue(), encoding),
                                       _as_subprocess_text(err.getvalue(), encoding))


@pytest.fixture
def mllint_cli():
    """Run ``mllint ARGS`` in-process (``run_mllint``'s signature and result), for tests of the CLI's behaviour.

    Exit codes, output text and files written are the command's own; what only a real process shows (the
    installed entry point, start-up environment, signals, a worker's crash) keeps ``run_mllint``.
    """
    return run_main_in_process
