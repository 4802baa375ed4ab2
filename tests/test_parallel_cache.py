"""--jobs N equals --jobs 1; the persistent cache replays exactly what did not change; static mode
imports no framework. Counters (``engine.last_stats()``) show what a run parsed and walked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import pytest


from mllint import cache as mcache
from mllint.analysis.index import ProjectIndex
from mllint.catalogue import load_catalogue
from mllint.config import load_settings
from mllint.engine import build_project, last_stats, run_check
from mllint.session import Session
from mllint.tracking import TrackingIndex

REPO = Path(__file__).resolve().parents[1]


def _write(root: Path, files: Dict[str, str]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text("[tool.mllint]\n", encoding="utf-8")
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")


def _check(root: Path, cache_dir: Path, paths: Sequence[str] = (".",), jobs: int = 1) -> List[Tuple[str, int, str, str]]:
    catalogue = load_catalogue()
    settings = load_settings(root, catalogue)
    result = run_check([str(root / p) for p in paths], settings, catalogue, jobs=jobs, cache=True, cache_dir=cache_dir)
    return [(f.path, f.line, f.code, f.message) for f in result.findings]


def _mllint(args: Sequence[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    full = dict(os.environ, **env)
    return subprocess.run([sys.executable, "-m", "mllint", *args], cwd=str(cwd), capture_output=True, text=True,
                          env=full, timeout=300)


BASE = """\
    import torch
    import torch.nn as nn

    class Base(nn.Module):
        def __init__(self):
            super().__init__()
            self.threshold = 0.5

        def gate(self, x):
            return 2
    """
MODEL = """\
    from pkg.base import Base

    class Net(Base):
        def forward(self, x):
            if self.threshold > 0:
                x = x * 2
            if self.gate(x) > 0:
                x = x + 1
            return x
    """
OTHER = """\
    import torch.nn as nn

    class Other(nn.Module):
        def forward(self, x):
            if x.mean() > 0:
                return x
            return -x
    """
USER = """\
    from pkg.base import Base

    class User(Base):
        def forward(self, x):
            if self.threshold > 0:
                return x * 2
            return x
    """
PROJECT = {"pkg/__init__.py": "", "pkg/base.py": BASE, "pkg/model.py": MODEL, "pkg/other.py": OTHER,
           "pkg/user.py": USER, "pkg/plain.py": "def helper(a):\n    return a + 1\n"}


@pytest.mark.slow  # every fixture, a real --jobs 2 pool, two processes
def test_jobs_2_output_is_byte_identical_to_jobs_1_on_fixtures() -> None:
    outputs = []
    for jobs in ("1", "2"):
        proc = _mllint(["check", "fixtures", "--format", "json", "--exit-zero", "--no-cache", "--jobs", jobs], REPO,
                       MLLINT_POOL_MIN_BYTES="0")
        assert proc.returncode in (0, 3), proc.stderr
        outputs.append(proc.stdout)
    assert json.loads(outputs[0])["findings"], "the fixtures have findings"
    assert outputs[0] == outputs[1]


def test_pool_really_runs_and_routes_tasks_across_workers(monkeypatch, tmp_path: Path) -> None:
    # netpkg's Net (model.py) inherits Backbone (backbone.py), which calls a helper in ops.py: with
    # one file per worker the tasks cross workers and must come back to the owner of ops.py.
    monkeypatch.setenv("MLLINT_POOL_MIN_BYTES", "0")
    catalogue = load_catalogue()
    settings = load_settings(REPO, catalogue)
    settings.root = REPO
    folder = str(REPO / "fixtures" / "torch" / "multifile")
    single = run_check([folder], settings, catalogue, jobs=1)
    pooled = run_check([folder], settings, catalogue, jobs=3)
    assert last_stats().jobs == 3
    assert pooled.findings == single.findings
    assert {f.path.rsplit("/", 1)[-1] for f in single.findings} >= {"ops.py", "model.py"}


def test_results_do_not_depend_on_the_order_files_are_processed(tmp_path: Path) -> None:
    _write(tmp_path, PROJECT)
    catalogue = load_catalogue()
    settings = load_settings(tmp_path, catalogue)
    results = []
    for order in (sorted, lambda names: sorted(names, reverse=True)):
        project = build_project([str(tmp_path)], settings, None, None, False)
        session = Session(project, catalogue, settings)
        session.process(order(project.order))
        results.append(sorted((f.path, f.line, f.code, f.message) for f in session.findings(False)))
    assert results[0] == results[1]
    assert any(path == "pkg/other.py" for path, *_ in results[0])


def test_warm_run_parses_nothing_and_replays_identical_findings(tmp_path: Path) -> None:
    root, store = tmp_path / "p", tmp_path / "cache"
    _write(root, PROJECT)
    cold = _check(root, store)
    cold_stats = last_stats()
    assert cold_stats.parsed == 4 and cold_stats.walked > 0 and cold_stats.cache_writes == 6
    assert cold_stats.prefiltered == 2  # pkg/__init__.py and pkg/plain.py cannot hold model code
    warm = _check(root, store)
    stats = last_stats()
    assert warm == cold
    assert (stats.parsed, stats.walked) == (0, 0)
    assert stats.replayed == cold_stats.walked
    single = _check(root, store, ["pkg/model.py"])  # the pre-commit case: one staged file
    assert single == [f for f in cold if f[0] == "pkg/model.py"]
    assert (last_stats().parsed, last_stats().walked) == (0, 0)


def test_editing_a_base_class_reanalyses_its_users_and_nothing_else(tmp_path: Path) -> None:
    root, store = tmp_path / "p", tmp_path / "cache"
    _write(root, PROJECT)
    before = _check(root, store)
    assert [f[:3] for f in before] == [("pkg/other.py", 5, "PT101")]

    # an attribute of the base class becomes a tensor: the subclass's branch now tests tensor data
    (root / "pkg/base.py").write_text(textwrap.dedent(BASE).replace("0.5", "nn.Parameter(torch.ones(1))"))
    after = _check(root, store)
    stats = last_stats()
    assert {("pkg/model.py", 5, "PT101"), ("pkg/user.py", 5, "PT101")} <= {f[:3] for f in after}
    # base.py's own walks (Base.gate, reached from Net.forward), and those that read Base's summary;
    # other.py is neither parsed nor walked
    assert stats.walked_modules == {"pkg.base", "pkg.model", "pkg.user"}
    assert stats.parsed == 3

    # a comment changes base.py's text but not its summary: what reads only the summary (user.py) is
    # not walked again; model.py uses the value Base.gate returns (a body in base.py), so it is
    (root / "pkg/base.py").write_text(textwrap.dedent(BASE).replace("0.5", "nn.Parameter(torch.ones(1))") + "# note\n")
    assert _check(root, store) == after
    assert last_stats().walked_modules == {"pkg.base", "pkg.model"}

    # the body of an inherited method whose return value the subclass uses
    (root / "pkg/base.py").write_text(
        textwrap.dedent(BASE).replace("0.5", "nn.Parameter(torch.ones(1))").replace("return 2", "return x.mean()"))
    final = _check(root, store)
    assert ("pkg/model.py", 7, "PT101") in [f[:3] for f in final]
    assert last_stats().walked_modules == {"pkg.base", "pkg.model"}
    assert final == _check(root, tmp_path / "fresh-cache")  # same as a cold run


def test_corrupt_truncated_and_foreign_entries_are_ignored_and_rebuilt(tmp_path: Path) -> None:
    root, store = tmp_path / "p", tmp_path / "cache"
    _write(root, PROJECT)
    cold = _check(root, store)
    entries = sorted((store / "records").rglob("*.bin"))
    assert len(entries) >= 5
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            return (os.system, (f"touch {marker}",))

    damage = [
        lambda data: data[: len(data) // 2],  # truncated (a crash mid-write without the atomic rename)
        lambda data: data[:-1] + bytes([data[-1] ^ 0xFF]),  # one flipped byte: checksum mismatch
        lambda data: b"",
        lambda data: b"not a cache entry at all",
        lambda data: mcache.dumps(Evil()),  # valid header and checksum, but a pickle that would run code
        lambda data: data[:8] + (99).to_bytes(2, "little") + data[10:],  # another format version
    ]
    for i, path in enumerate(entries):
        path.write_bytes(damage[i % len(damage)](path.read_bytes()))
    assert _check(root, store) == cold
    assert last_stats().parsed > 0
    assert not marker.exists()
    assert _check(root, store) == cold  # rebuilt: the next run replays again
    assert (last_stats().parsed, last_stats().walked) == (0, 0)


def test_concurrent_writer_leaves_no_partial_entry(tmp_path: Path) -> None:
    """Entries are replaced atomically: a reader sees the old entry or the new one, never half."""
    fs = mcache.FileStore(tmp_path)
    record = mcache.SourceRecord("a.py", "a", "d", "k", "a", False, False, False, None, "", [], None)
    fs.save(record)
    path = next(tmp_path.rglob("*.bin"))
    stale = path.read_bytes()
    record.digest = "e"
    fs.save(record)
    assert fs.load("a.py", "a").digest == "e"
    assert mcache.loads(stale).digest == "d"
    assert not list(tmp_path.rglob(".tmp-*"))


def test_clean_removes_the_cache(tmp_path: Path, mllint_cli) -> None:
    root = tmp_path / "p"
    _write(root, PROJECT)
    (root / ".mllint_cache").mkdir()
    proc = mllint_cli(["check", str(root), "--exit-zero"], root)
    assert proc.returncode == 0, proc.stderr
    assert list((root / ".mllint_cache").rglob("*.bin"))
    proc = mllint_cli(["clean", str(root)], root)
    assert proc.returncode == 0 and ".mllint_cache" in proc.stdout
    assert not list((root / ".mllint_cache").rglob("*.bin"))


@pytest.mark.slow  # needs a fresh interpreter's sys.modules, over every fixture
def test_static_mode_imports_no_framework() -> None:
    code = textwrap.dedent("""\
        import sys
        from mllint.cli import main
        code = main(["check", "fixtures", "--no-cache", "--jobs", "1", "--exit-zero", "--format", "json"])
        heavy = sorted(m for m in ("torch", "tensorflow", "keras", "numpy", "jax", "onnx") if m in sys.modules)
        sys.stderr.write("HEAVY=" + ",".join(heavy) + "\\n")
        """)
    proc = subprocess.run([sys.executable, "-c", code], cwd=str(REPO), capture_output=True, text=True, timeout=300)
    assert "HEAVY=\n" in proc.stderr, proc.stderr[-2000:]
    assert json.loads(proc.stdout)["findings"]


def test_tracking_index_knows_every_memo_table_of_the_project_index() -> None:
    """A memo table the tracker does not know would hide dependencies from the cache (stale results)."""
    index = ProjectIndex({})
    memos = {name for name, value in vars(index).items() if isinstance(value, (dict, set)) and name != "summaries"}
    assert memos <= TrackingIndex.KNOWN_MEMOS, (
        f"ProjectIndex has new memo tables {memos - TrackingIndex.KNOWN_MEMOS}: teach TrackingIndex to record "
        "what their answers read (see tracking.TrackingIndex._tracked)")


def test_cache_entries_are_plain_data_only() -> None:
    """Records hold summaries, tasks and located findings (no syntax trees, no functions)."""
    assert mcache.loads(mcache.dumps({"a": (1, frozenset({"x"}))})) == {"a": (1, frozenset({"x"}))}
    assert mcache.loads(mcache.dumps(os.path.join)) is None  # a function: refused
