"""How fast is mllint, against the cost of just parsing the same files with LibCST? (issue #7)

    python benchmarks/speed.py                              # timm/models
    python benchmarks/speed.py --corpus transformers        # transformers/models (~2,500 files, 1M lines)
    python benchmarks/speed.py --corpus some/tree --repeat 3 --jobs 4
    python benchmarks/speed.py --touch models/_builder.py   # the file edited for the incremental run

The corpus is located without importing its package (importlib.util.find_spec); when the package is
not installed its wheel is fetched with ``pip download --no-deps`` into a temporary folder and
unpacked there (nothing is installed). The tree is copied into a temporary project, and every
mllint run points ``XDG_CACHE_HOME`` into that project, so neither the cache nor the edit of the
incremental run touches anything else. mllint itself is run from a copy taken at the start (unless
``--no-snapshot``): the cache key includes a digest of mllint's code, so an edit to the checkout
during the benchmark would otherwise turn the warm runs into cold ones.

Every measurement is a fresh process. CPU is user+sys of that process and the workers it reaped
(``os.wait4``); wall is elapsed time; peak is ``ru_maxrss`` (main process, and the largest worker
for ``--jobs N``). Rows:

* parse floor      read every .py file and ``libcst.parse_module`` it, once; the loop alone, and
                   separately the interpreter start and ``import libcst``;
* cold -j1 / -jN   ``mllint check --no-cache``;
* cache fill       the first run with the cache on (cold plus writing the cache);
* warm             the same run again (every record valid);
* touched          after appending a comment line to the module most imported by the others, then
                   after also appending a module-level assignment (its summary changes);
* single file      ``mllint check --no-cache FILE`` (a median-sized file) and the same with a warm
                   cache, against ``python -c "import libcst"``.

Ratios are to the floor process (start-up + parse loop), so both sides pay the interpreter and
``import libcst``; the ``x loop`` column divides by the parse loop alone. The findings of the warm,
touched and ``--jobs N`` runs are compared with those of cold ``--jobs 1``: any difference prints
MISMATCH. Targets (issue #7): cold -j1 <= 2x floor (aim 1.5x); warm <= 10% of cold; touched
<= 10% of cold + the touched file's own cost; single file within 0.3 s of ``import libcst``;
peak < 300 MiB per process.
"""

from __future__ import annotations

import argparse
import importlib.util
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

from common import package_dir

CORPORA = {"timm": ("timm", "models"), "transformers": ("transformers", "models")}
MIB = 1024.0  # ru_maxrss is KiB on Linux

# Runs mllint's CLI as its console script does, then records its own peak and that of the workers
# it reaped (the CPU of both comes from wait4 in the parent).
_WRAP = r"""
import json, resource, sys
out = sys.argv[1]
from mllint.cli import main
try:
    rc = main(sys.argv[2:])
finally:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(out, "w") as fh:
        json.dump({"main_kib": me.ru_maxrss, "workers_kib": kids.ru_maxrss,
                   "main_cpu": me.ru_utime + me.ru_stime, "workers_cpu": kids.ru_utime + kids.ru_stime}, fh)
raise SystemExit(rc)
"""

# The floor: the same files, read and parsed by LibCST once each, nothing else.
_FLOOR = r"""
import json, sys, time
t0 = time.process_time()
import libcst
t1 = time.process_time()
paths = [line for line in open(sys.argv[2], encoding="utf-8").read().splitlines() if line]
w0 = time.perf_counter()
c0 = time.process_time()
failed = 0
for p in paths:
    with open(p, "rb") as fh:
        data = fh.read()
    try:
        libcst.parse_module(data)
    except Exception:
        failed += 1
c1 = time.process_time()
w1 = time.perf_counter()
with open(sys.argv[1], "w") as fh:
    json.dump({"import_cpu": t1 - t0, "loop_cpu": c1 - c0, "loop_wall": w1 - w0, "failed": failed}, fh)
"""


@dataclass
class Run:
    cpu: float
    wall: float
    peak_kib: int  # the largest of the process and its reaped children
    rc: int
    extra: Dict[str, float] = field(default_factory=dict)


def timed(cmd: Sequence[str], cwd: Path, env: Dict[str, str]) -> Run:
    """Run ``cmd`` to completion; CPU (user+sys, with reaped children), wall and peak RSS."""
    start = time.perf_counter()
    proc = subprocess.Popen(list(cmd), cwd=str(cwd), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = proc.stderr.read() if proc.stderr else b""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{err.decode(errors='replace')[-3000:]}")
    return Run(usage.ru_utime + usage.ru_stime, wall, usage.ru_maxrss, proc.returncode)


def best(runs: List[Run]) -> Run:
    """The median run by CPU (the single run when --repeat 1)."""
    ordered = sorted(runs, key=lambda r: r.cpu)
    return ordered[(len(ordered) - 1) // 2]


# -- corpus -----------------------------------------------------------------------------------
def locate(corpus: str, scratch: Path) -> Path:
    if corpus not in CORPORA:
        path = Path(corpus)
        if not path.is_dir():
            raise SystemExit(f"--corpus: {corpus} is neither timm, transformers nor a folder")
        return path
    package, sub = CORPORA[corpus]
    return package_dir(package, sub, scratch, note=True)


_FROM = re.compile(r"^\s*from\s+(\.+)([\w.]*)\s+import\s+", re.M)


def most_imported(tree: Path, files: List[Path]) -> Path:
    """The module of ``tree`` that the most other files of ``tree`` import relatively."""
    known = set(files)
    importers: Counter = Counter()
    for path in files:
        targets = set()
        for dots, name in _FROM.findall(path.read_text(encoding="utf-8", errors="replace")):
            base = path.parent
            for _ in range(len(dots) - 1):
                base = base.parent
            stem = base.joinpath(*name.split(".")) if name else base
            for candidate in (stem.with_suffix(".py"), stem / "__init__.py"):
                if candidate in known and candidate != path:
                    targets.add(candidate)
                    break
        importers.update(targets)
    for path, _ in importers.most_common():
        if path.name != "__init__.py":
            return path
    return max(files, key=lambda p: p.stat().st_size)


def snapshot(package: Path, into: Path) -> Path:
    """Copy mllint (and the checkout's rule catalogue, when it is not packaged) to ``into``; the copy's package."""
    target = into / "src" / package.name
    shutil.copytree(package, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    rules = package.parents[1] / "rules"
    if not (package / "_catalogue").is_dir() and rules.is_dir():
        shutil.copytree(rules, into / "rules")  # catalogue.py finds it at parents[2] / "rules"
    return target


# -- findings ---------------------------------------------------------------------------------
def findings_of(report: Path) -> Tuple[Counter, int]:
    doc = json.loads(report.read_text(encoding="utf-8"))
    keys = Counter()
    for f in doc["findings"]:
        keys[(f["path"], f["line"], f["column"], f["end_line"], f["end_column"], f["code"], f["message"],
              json.dumps(f.get("suppressed"), sort_keys=True))] += 1
    return keys, doc["files_checked"]


def compare(label: str, reference: Counter, other: Counter) -> str:
    if other == reference:
        return f"  {label:<28} same findings as cold -j1 ({sum(other.values())})"
    missing, extra = reference - other, other - reference
    lines = [f"  {label:<28} MISMATCH: {sum(missing.values())} missing, {sum(extra.values())} extra"]
    for key in list(missing)[:5]:
        lines.append(f"      - {key[0]}:{key[1]}:{key[2]} {key[5]} {key[6][:100]}")
    for key in list(extra)[:5]:
        lines.append(f"      + {key[0]}:{key[1]}:{key[2]} {key[5]} {key[6][:100]}")
    return "\n".join(lines)


# -- main -------------------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default="timm", help="timm, transformers, or a folder (default: timm)")
    parser.add_argument("--repeat", type=int, default=1, help="run each measurement N times, report the median")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="N for the --jobs N run")
    parser.add_argument("--touch", help="file (relative to the corpus) to edit for the incremental run "
                                        "(default: the module most imported by the others)")
    parser.add_argument("--single", help="file (relative to the corpus) for the single-file run (default: median size)")
    parser.add_argument("--no-snapshot", dest="snapshot", action="store_false",
                        help="run the installed mllint in place (default: a copy of it, so that edits made while "
                             "the benchmark runs change neither the code measured nor the cache key)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary project and print where it is")
    args = parser.parse_args()
    repeat = max(1, args.repeat)

    scratch = Path(tempfile.mkdtemp(prefix="mllint-speed-"))
    try:
        source = locate(args.corpus, scratch / "download")
        project = scratch / "project"
        project.mkdir()
        tree = project / source.name
        shutil.copytree(source, tree, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        env = dict(os.environ, XDG_CACHE_HOME=str(scratch / "cache"))
        for var in ("PYTHONPROFILEIMPORTTIME", "PYTHONDONTWRITEBYTECODE"):
            env.pop(var, None)
        code = Path(importlib.util.find_spec("mllint").origin).parent  # type: ignore[arg-type, union-attr]
        if args.snapshot:
            code = snapshot(code, scratch / "snapshot")
            env["PYTHONPATH"] = os.pathsep.join([str(code.parent)] + [p for p in [env.get("PYTHONPATH")] if p])
        where = subprocess.run([sys.executable, "-c", "import mllint; print(mllint.__file__, mllint.__version__)"],
                               env=env, capture_output=True, text=True, check=True).stdout.split()
        if Path(where[0]).parent.resolve() != code.resolve():
            raise SystemExit(f"mllint imports from {where[0]}, not {code}")
        # compile the snapshot's bytecode once, so no measured run pays for it
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(code)], env=env, check=True)

        files = sorted(tree.rglob("*.py"))
        lines = sum(p.read_bytes().count(b"\n") for p in files)
        listing = scratch / "files.txt"
        listing.write_text("\n".join(str(p) for p in files) + "\n", encoding="utf-8")
        touched = tree / args.touch if args.touch else most_imported(tree, files)
        by_size = sorted(files, key=lambda p: p.stat().st_size)
        single = tree / args.single if args.single else by_size[len(by_size) // 2]
        rel = lambda p: p.relative_to(project).as_posix()  # noqa: E731
        print(f"corpus   {source}  ({len(files)} files, {lines:,} lines), copied to {tree}")
        print(f"mllint   {where[1]} from {code}" + (" (a snapshot: edits to the tree do not reach the runs)"
                                                         if args.snapshot else ""))
        print(f"python   {sys.version.split()[0]}  cores {os.cpu_count()}  --jobs N = {args.jobs}  repeat {repeat}")
        count = lambda p: p.read_bytes().count(b"\n")  # noqa: E731
        print(f"touched  {rel(touched)}  ({count(touched):,} lines)")
        print(f"single   {rel(single)}  ({count(single):,} lines)", flush=True)

        py = sys.executable
        mllint_cmd = [py, "-c", _WRAP]

        def floor() -> Run:
            out = scratch / "floor.json"
            run = timed([py, "-c", _FLOOR, str(out), str(listing)], project, env)
            run.extra = json.loads(out.read_text())
            return run

        def check(name: str, *flags: str, target: Optional[str] = None) -> Run:
            out = scratch / f"{name}.rusage.json"
            report = scratch / f"{name}.json"
            run = timed(mllint_cmd + [str(out), "check", *flags, "--exit-zero", "--format", "json",
                                      "-o", str(report), target or tree.name], project, env)
            run.extra = json.loads(out.read_text())
            return run

        def clean() -> None:
            shutil.rmtree(scratch / "cache", ignore_errors=True)
            shutil.rmtree(project / ".mllint_cache", ignore_errors=True)

        rows: List[Tuple[str, Run, bool]] = []  # (label, run, counts the whole corpus)
        print("measuring: parse floor", flush=True)
        fl = best([floor() for _ in range(repeat)])
        if fl.extra["failed"]:
            print(f"  note: LibCST failed to parse {fl.extra['failed']} file(s)")
        rows.append(("parse floor (process)", fl, True))

        print("measuring: cold --jobs 1", flush=True)
        clean()
        cold1 = best([check("cold1", "--no-cache", "--jobs", "1") for _ in range(repeat)])
        rows.append(("mllint cold --jobs 1", cold1, True))
        print(f"measuring: cold --jobs {args.jobs}", flush=True)
        coldn = best([check("coldn", "--no-cache", "--jobs", str(args.jobs)) for _ in range(repeat)])
        rows.append((f"mllint cold --jobs {args.jobs}", coldn, True))

        print("measuring: cache fill, warm, touched (--jobs 1)", flush=True)
        fills, warms, touches, edits = [], [], [], []
        original = touched.read_bytes()
        for i in range(repeat):
            clean()
            touched.write_bytes(original)
            fills.append(check("fill", "--jobs", "1"))
            warms.append(check("warm", "--jobs", "1"))
            # a comment line: the content digest changes, the module's meaning does not
            commented = original + (b"" if original.endswith(b"\n") else b"\n") + f"# touched by speed.py ({i})\n".encode()
            touched.write_bytes(commented)
            touches.append(check("touched", "--jobs", "1"))
            # then a new module-level name: the module's summary changes too
            touched.write_bytes(commented + f"_touched_by_speed_py = {i}\n".encode())
            edits.append(check("edited", "--jobs", "1"))
        touched.write_bytes(original)
        rows.append(("mllint cache fill --jobs 1", best(fills), True))
        warm = best(warms)
        rows.append(("mllint warm --jobs 1", warm, True))
        touch = best(touches)
        rows.append(("touched: + comment, -j1", touch, True))
        edit = best(edits)
        rows.append(("touched: + global name, -j1", edit, True))
        print(f"measuring: warm --jobs {args.jobs}", flush=True)
        warmn = best([check("warmn", "--jobs", str(args.jobs)) for _ in range(repeat)])
        rows.append((f"mllint warm --jobs {args.jobs}", warmn, True))

        print("measuring: touched file alone, single file, import libcst", flush=True)
        # the touched file's own cost: checking it alone, less the start-up (an empty file)
        empty = project / "empty_module.py"
        empty.write_text("")
        start_up = best([check("empty", "--no-cache", "--jobs", "1", target=empty.name) for _ in range(repeat)])
        own = best([check("own", "--no-cache", "--jobs", "1", target=rel(touched)) for _ in range(repeat)])
        empty.unlink()
        single_cold = best([check("single", "--no-cache", target=rel(single)) for _ in range(repeat)])
        # the console script a user types, in a fresh process
        script = shutil.which("mllint", path=str(Path(py).parent)) or ""
        plain_cmd = [script] if script else [py, "-m", "mllint"]
        single_plain = best([timed(plain_cmd + ["check", "--no-cache", "--exit-zero", "-q", rel(single)], project, env)
                             for _ in range(repeat)])
        single_warm = best([timed(plain_cmd + ["check", "--exit-zero", "-q", rel(single)], project, env)
                            for _ in range(max(2, repeat))][1:] or [single_plain])
        libcst_import = best([timed([py, "-c", "import libcst"], project, env) for _ in range(max(3, repeat))])
        bare = best([timed([py, "-c", "pass"], project, env) for _ in range(max(3, repeat))])

        # -- table ----------------------------------------------------------------------------
        floor_cpu, floor_wall = fl.cpu, fl.wall
        loop = fl.extra["loop_cpu"]
        print()
        print(f"parse floor: parse loop {loop:.2f} s CPU ({fl.extra['loop_wall']:.2f} s wall), "
              f"start-up {fl.cpu - loop:.2f} s CPU (of which import libcst {fl.extra['import_cpu']:.2f} s); "
              f"{len(files) / loop:,.0f} files/s, {lines / loop:,.0f} lines/s")
        head = (f"{'measurement':<30}{'CPU s':>8}{'wall s':>8}{'x floor':>9}{'x loop':>8}{'wall x':>8}"
                f"{'files/s':>9}{'lines/s':>10}{'peak MiB':>10}{'child MiB':>10}")
        print(head)
        print("-" * len(head))

        def row(label: str, run: Run, whole: bool) -> None:
            main_kib = run.extra.get("main_kib", run.peak_kib)
            workers = run.extra.get("workers_kib", 0)
            rate_f = f"{len(files) / run.wall:9,.0f}" if whole else f"{'':>9}"
            rate_l = f"{lines / run.wall:10,.0f}" if whole else f"{'':>10}"
            print(f"{label:<30}{run.cpu:8.2f}{run.wall:8.2f}{run.cpu / floor_cpu:9.2f}{run.cpu / loop:8.2f}"
                  f"{run.wall / floor_wall:8.2f}{rate_f}{rate_l}{main_kib / MIB:10.0f}"
                  + (f"{workers / MIB:10.0f}" if workers else f"{'-':>10}"))

        for label, run, whole in rows:
            row(label, run, whole)
        row("checking an empty file", start_up, False)
        row("touched file alone", own, False)
        row("single file (wrapper)", single_cold, False)
        row("single file, `mllint check`", single_plain, False)
        row("single file, warm cache", single_warm, False)
        row('python -c "import libcst"', libcst_import, False)
        row('python -c "pass"', bare, False)
        print("(x floor / x loop: CPU over the floor process / over its parse loop alone; wall x: wall over the floor's "
              "wall; files/s and lines/s by wall;\n peak MiB: ru_maxrss of the main process; child MiB: its largest "
              "reaped child: a --jobs worker (forked, so it counts pages shared with the parent), else git ls-files)")

        # -- findings -------------------------------------------------------------------------
        reference, checked = findings_of(scratch / "cold1.json")
        print()
        print(f"findings: {sum(reference.values())} in {checked} files checked (cold --jobs 1), by rule: "
              + ", ".join(f"{c} {n}" for c, n in sorted(Counter(k[5] for k in reference.elements()).items())))
        for label, name in ((f"cold --jobs {args.jobs}", "coldn"), ("cache fill --jobs 1", "fill"),
                            ("warm --jobs 1", "warm"), (f"warm --jobs {args.jobs}", "warmn")):
            print(compare(label, reference, findings_of(scratch / f"{name}.json")[0]))
        # the touched run only added a comment line at the end: its findings must be the same
        print(compare("touched: + comment", reference, findings_of(scratch / "touched.json")[0]))
        print(compare("touched: + global name", reference, findings_of(scratch / "edited.json")[0]))

        # -- verdicts -------------------------------------------------------------------------
        def verdict(ok: bool, text: str) -> None:
            print(f"  {'PASS' if ok else 'FAIL'}  {text}")

        own_cost = max(0.0, own.cpu - start_up.cpu)
        peak_kib = max(max(r.extra.get("main_kib", 0), r.extra.get("workers_kib", 0)) for _, r, _ in rows[1:])
        print()
        print("targets (issue #7):")
        ratio = cold1.cpu / floor_cpu
        verdict(ratio <= 2.0, f"cold --jobs 1 <= 2x floor (aim 1.5x): {ratio:.2f}x "
                              f"({cold1.cpu:.2f} s vs {floor_cpu:.2f} s; {cold1.cpu / loop:.2f}x the parse loop alone)")
        verdict(warm.cpu <= 0.10 * cold1.cpu, f"warm <= 10% of cold: {100 * warm.cpu / cold1.cpu:.1f}% "
                                              f"({warm.cpu:.2f} s vs {cold1.cpu:.2f} s)")
        limit = 0.10 * cold1.cpu + own_cost
        for what, run in (("+ comment", touch), ("+ global name", edit)):
            verdict(run.cpu <= limit, f"1 file touched ({what}) <= 10% of cold + the file's own cost: {run.cpu:.2f} s "
                                      f"vs {limit:.2f} s ({0.10 * cold1.cpu:.2f} + {own_cost:.2f})")
        gap = single_plain.wall - libcst_import.wall
        gap_cpu = single_plain.cpu - libcst_import.cpu
        verdict(max(gap, gap_cpu) <= 0.3,
                f"single file within 0.3 s of `import libcst`: +{gap:.2f} s wall, +{gap_cpu:.2f} s CPU "
                f"({single_plain.wall:.2f} s vs {libcst_import.wall:.2f} s wall; warm cache "
                f"+{single_warm.wall - libcst_import.wall:.2f} s)")
        verdict(peak_kib / MIB < 300, f"peak < 300 MiB per process: {peak_kib / MIB:.0f} MiB "
                                      f"(cold -j1 {cold1.extra['main_kib'] / MIB:.0f}, -j{args.jobs} main "
                                      f"{coldn.extra['main_kib'] / MIB:.0f} / worker {coldn.extra['workers_kib'] / MIB:.0f})")
        if args.keep:
            print(f"\nkept {scratch}")
        return 0
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
