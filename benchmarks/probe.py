"""Robustness probe of ``mllint check`` on real code (issue 16, "Done when"): inputs tried / crashes /
internal errors / silent losses, with wall time and peak memory.

    python benchmarks/probe.py                                  # torch tensorflow keras transformers numpy scipy onnx
    python benchmarks/probe.py numpy onnx --jobs 1
    python benchmarks/probe.py --discover torch                 # pass "." (discovery) instead of the file list

For each installed package (found in the ``--site`` folders, never imported), every ``*.py`` file is copied
into a scratch project under a temporary folder (``pyproject.toml`` with ``[tool.mllint]``, ``git init``)
and ``mllint check --target all --no-cache --format json -j N`` runs once on it, from the project root,
with the default memory limit. Measured per package:

* files: ``*.py`` files given; checked: the report's ``files_checked``;
* ML001..ML009: findings of each tool code (ML004 is an internal error: each one is listed with its message);
* crash: an exit code other than 0/1, a death by signal, a traceback on stderr or a report that is not JSON;
* lost: files given that are neither counted in ``files_checked`` nor named by a tool finding (ML003 paths
  are outside ``files_checked``), plus any tool finding on a path that was not given (with ``--discover``,
  files under the default excludes, such as a ``build/`` folder, count as lost: discovery skips them);
* wall time and peak RSS (``ru_maxrss`` of the run as ``os.wait4`` reports it: the largest single process of
  the tree, main process or worker), MiB.

Nothing is written into the repository: the scratch folder is removed at the end (``--keep`` keeps it).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

PACKAGES = ("torch", "tensorflow", "keras", "transformers", "numpy", "scipy", "onnx")
REPO = Path(__file__).resolve().parent.parent
DEFAULT_SITES = (
    REPO / ".venv" / "lib" / "python3.11" / "site-packages",
    Path("/work/bench-venv/lib/python3.11/site-packages"),
)
TOOL_CODES = tuple(f"ML00{i}" for i in range(1, 10))
TOOL_CODE = re.compile(r"^ML00\d$")


@dataclass
class Row:
    """One package's result."""

    package: str
    files: int = 0
    checked: int = 0
    codes: Counter = field(default_factory=Counter)
    rule_findings: int = 0
    internal: List[Tuple[str, int, str]] = field(default_factory=list)  # ML004: path, line, message
    crashes: List[str] = field(default_factory=list)
    lost: List[str] = field(default_factory=list)
    lost_n: int = 0  # files lost (one ``lost`` line may stand for several)
    anomalies: List[str] = field(default_factory=list)  # tool findings other than ML004, with messages
    exit_code: Optional[int] = None
    wall: float = 0.0
    peak_mib: float = 0.0


def find_package(name: str, sites: Sequence[Path]) -> Optional[Path]:
    for site in sites:
        candidate = site / name
        if (candidate / "__init__.py").is_file():
            return candidate
    return None


def make_project(source: Path, scratch: Path) -> Tuple[Path, List[str]]:
    """Copy every ``*.py`` under ``source`` into ``scratch/<name>/<name>/``; the project root and the files
    (relative to it, sorted)."""
    root = scratch / source.name
    files: List[str] = []
    for dirpath, dirnames, filenames in os.walk(source):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for fname in sorted(filenames):
            if not fname.endswith(".py"):
                continue
            src = Path(dirpath) / fname
            if not src.is_file():
                continue
            rel = Path(source.name) / src.relative_to(source)
            dest = root / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)
            files.append(rel.as_posix())
    (root / "pyproject.toml").write_text("[tool.mllint]\n", encoding="utf-8")
    subprocess.run(
        ["git", "init", "-q", str(root)],
        check=True,
        env={**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull},
    )
    return root, files


def run_check(
    python: str, root: Path, paths: Sequence[str], jobs: int, timeout: float
) -> Tuple[Optional[int], bytes, str, float, float]:
    """Exit code (None: killed by the timeout; negative: a signal), stdout, stderr, wall s, peak MiB."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO / "src"), env.get("PYTHONPATH", "")) if p)
    cmd = [
        python,
        "-P",
        "-m",
        "mllint",
        "check",
        "--target",
        "all",
        "--no-cache",
        "--format",
        "json",
        "-j",
        str(jobs),
        *paths,
    ]
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, cwd=str(root), stdout=out, stderr=err, env=env, start_new_session=True)
        deadline = start + timeout
        status = None
        usage = None
        while True:
            pid, st, ru = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                status, usage = st, ru
                break
            if time.perf_counter() > deadline:
                os.killpg(proc.pid, 9)
                _, status, usage = os.wait4(proc.pid, 0)
                status = None
                break
            time.sleep(0.2)
        proc.returncode = 0  # reaped above; keep Popen from waiting again
        wall = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read().decode("utf-8", "replace")
    code = None if status is None else os.waitstatus_to_exitcode(status)
    return code, stdout, stderr, wall, usage.ru_maxrss / 1024 if usage else 0.0


def probe(
    package: str, sites: Sequence[Path], scratch: Path, python: str, jobs: int, timeout: float, discover: bool
) -> Row:
    row = Row(package)
    source = find_package(package, sites)
    if source is None:
        row.crashes.append(f"{package}: not found in {', '.join(map(str, sites))}")
        return row
    root, files = make_project(source, scratch)
    row.files = len(files)
    code, stdout, stderr, row.wall, row.peak_mib = run_check(python, root, ["."] if discover else files, jobs, timeout)
    row.exit_code = code
    if code is None:
        row.crashes.append(f"timeout after {timeout:.0f} s")
    elif code not in (0, 1):
        row.crashes.append(f"exit code {code}")
    if "Traceback" in stderr:
        row.crashes.append("traceback on stderr: " + stderr[stderr.index("Traceback") :][-3000:])
    elif stderr.strip():
        row.anomalies.append("stderr: " + stderr.strip()[-2000:])
    try:
        doc = json.loads(stdout)
    except ValueError as exc:
        row.crashes.append(f"report is not JSON ({exc}); stdout tail: {stdout[-500:]!r}")
        return row
    row.checked = int(doc.get("files_checked") or 0)
    given = set(files)
    named_by_tool: Dict[str, List[str]] = {}
    for f in doc.get("findings", []):
        fcode = f.get("code", "")
        if not TOOL_CODE.match(fcode):
            row.rule_findings += 1
            continue
        row.codes[fcode] += 1
        path = f.get("path", "")
        named_by_tool.setdefault(path, []).append(fcode)
        if fcode == "ML004":
            row.internal.append((path, f.get("line", 0), f.get("message", "")))
        else:
            row.anomalies.append(f"{fcode} {path}:{f.get('line')}: {f.get('message')}")
        if path not in given:
            row.lost.append(f"{fcode} on a path that was not given: {path!r}")
            row.lost_n += 1
    # ML003 (rejected: never read) is the one tool finding whose file is not in files_checked
    rejected = {p for p, cs in named_by_tool.items() if "ML003" in cs and p in given}
    missing = len(given) - row.checked - len(rejected)
    if missing > 0:
        row.lost.append(f"{missing} file(s) given are neither in files_checked nor reported as rejected (ML003)")
        row.lost_n += missing
    elif missing < 0:
        row.anomalies.append(f"files_checked ({row.checked}) + rejected ({len(rejected)}) > files given ({len(given)})")
    return row


def print_table(rows: Sequence[Row]) -> None:
    head = (
        ["package", "files", "checked"]
        + list(TOOL_CODES)
        + ["rule", "ML004", "crash", "lost", "exit", "wall s", "peak MiB"]
    )
    table = [head]
    for r in rows:
        table.append(
            [r.package, str(r.files), str(r.checked)]
            + [str(r.codes.get(c, 0)) for c in TOOL_CODES]
            + [
                str(r.rule_findings),
                str(len(r.internal)),
                str(len(r.crashes)),
                str(r.lost_n),
                str(r.exit_code),
                f"{r.wall:.0f}",
                f"{r.peak_mib:.0f}",
            ]
        )
    total = ["total", str(sum(r.files for r in rows)), str(sum(r.checked for r in rows))]
    total += [str(sum(r.codes.get(c, 0) for r in rows)) for c in TOOL_CODES]
    total += [
        str(sum(r.rule_findings for r in rows)),
        str(sum(len(r.internal) for r in rows)),
        str(sum(len(r.crashes) for r in rows)),
        str(sum(r.lost_n for r in rows)),
        "",
        f"{sum(r.wall for r in rows):.0f}",
        f"{max((r.peak_mib for r in rows), default=0):.0f}",
    ]
    table.append(total)
    widths = [max(len(line[i]) for line in table) for i in range(len(head))]
    for i, line in enumerate(table):
        print("  ".join(cell.rjust(w) if j else cell.ljust(w) for j, (cell, w) in enumerate(zip(line, widths))))
        if i == 0 or i == len(table) - 2:
            print("  ".join("-" * w for w in widths))


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("packages", nargs="*", default=list(PACKAGES), help="installed packages to probe")
    parser.add_argument("--site", action="append", type=Path, help="site-packages folder to look in (repeatable)")
    parser.add_argument("--python", default=sys.executable, help="interpreter that runs mllint")
    parser.add_argument("--jobs", "-j", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per package")
    parser.add_argument("--discover", action="store_true", help="pass '.' instead of the list of files")
    parser.add_argument("--scratch", type=Path, help="scratch folder (default: a new temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch projects")
    args = parser.parse_args(argv)
    sites = tuple(args.site) if args.site else DEFAULT_SITES
    scratch = args.scratch or Path(tempfile.mkdtemp(prefix="mllint-probe-"))
    scratch.mkdir(parents=True, exist_ok=True)
    rows: List[Row] = []
    try:
        for package in args.packages:
            row = probe(package, sites, scratch, args.python, args.jobs, args.timeout, args.discover)
            rows.append(row)
            print(
                f"{package}: {row.files} files, {row.checked} checked, exit {row.exit_code}, "
                f"{row.wall:.0f} s, {row.peak_mib:.0f} MiB",
                flush=True,
            )
            if not args.keep:
                shutil.rmtree(scratch / package, ignore_errors=True)
    finally:
        if not args.keep and args.scratch is None:
            shutil.rmtree(scratch, ignore_errors=True)
    print()
    print_table(rows)
    for r in rows:
        for path, line, message in r.internal:
            print(f"ML004 {r.package} {path}:{line}: {message}")
        for text in r.crashes:
            print(f"CRASH {r.package}: {text}")
        for text in r.lost:
            print(f"LOST {r.package}: {text}")
        for text in r.anomalies:
            print(f"NOTE {r.package}: {text}")
    bad = sum(len(r.internal) + len(r.crashes) + r.lost_n for r in rows)
    print(
        f"\ninputs {sum(r.files for r in rows)} / crashes {sum(len(r.crashes) for r in rows)} / internal errors "
        f"{sum(len(r.internal) for r in rows)} / silent losses {sum(r.lost_n for r in rows)}"
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
