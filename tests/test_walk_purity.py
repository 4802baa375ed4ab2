"""A walk's findings are a pure function of its inputs (issue 12, part 1).

Regression tests for the three defects found on main: the task key left out the entry point's
kind, PT101 kept ``id()``-keyed state across walks, and a file over the tree budget was skipped
silently. Plus meta-tests that no check keeps state between walks, and a property test: random
subsets and orders of the fixture files give byte-identical output with ``--jobs 1`` / ``2``, a
cold / warm cache and a large / tiny tree budget.
"""

from __future__ import annotations

import ast
import copy
import importlib
import json
import os
import pkgutil
import random
import shutil
import subprocess
import sys
import textwrap
import weakref
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import pytest

import mllint.checks
from mllint.catalogue import load_catalogue
from mllint.checks import ALL_CHECKS
from mllint.config import load_settings
from mllint.engine import Session, build_project, run_check

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures"


def _project(root: Path, files: Dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text("[tool.mllint]\n", encoding="utf-8")
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def _findings(root: Path, paths: Sequence[str] = (".",)) -> List[Tuple[str, int, str, str]]:
    catalogue = load_catalogue()
    settings = load_settings(root, catalogue)
    result = run_check([str(root / p) for p in paths], settings, catalogue)
    return [(f.path, f.line, f.code, f.message) for f in result.findings]


def _cli_findings(  # type: ignore[no-untyped-def]
    mllint_cli, root: Path, budget: str, paths: Sequence[str] = (".",)
) -> List[Tuple[str, int, str, str]]:
    """The CLI, in-process (``MLLINT_TREE_BUDGET`` is read per run, so the budget applies to this run only)."""
    proc = mllint_cli(
        ["check", "--no-cache", "--format", "json", *paths], root, env_extra={"MLLINT_TREE_BUDGET": budget}
    )
    assert proc.returncode in (0, 1), proc.stderr
    report = json.loads(proc.stdout)
    return [(f["path"], f["line"], f["code"], f["message"]) for f in report["findings"]]


# -- defect 1: the task key leaves out what the walk depends on --------------------------------------
HELPER_CALLED_FROM = """\
    import keras


    def log_shapes(x):
        print("shape", x.shape)  # TF104 when export traces call()
        return x


    class Block(keras.layers.Layer):
        def call(self, x):
            return self.project(x)

        def project(self, x):
            return log_shapes(x)
{train_step}"""

TRAIN_STEP = """\

        def train_step(self, data):
            log_shapes(data)
            return {}
"""


@pytest.mark.parametrize("with_train_step", [False, True], ids=["call-only", "call-and-train_step"])
def test_helper_of_call_keeps_its_finding_when_train_step_calls_it_too(tmp_path: Path, with_train_step: bool) -> None:
    text = HELPER_CALLED_FROM.format(train_step=TRAIN_STEP if with_train_step else "")
    root = _project(tmp_path / "p", {"block.py": text})
    got = [(line, code) for _, line, code, _ in _findings(root)]
    assert (5, "TF104") in got


def test_training_step_alone_is_not_exported_code(tmp_path: Path) -> None:
    """The look-alike negative: a helper only a training step calls is not in the artifact."""
    text = """\
        import keras


        def log_shapes(x):
            print("shape", x.shape)
            return x


        class Block(keras.Model):
            def call(self, x):
                return x * 2

            def train_step(self, data):
                log_shapes(data)
                return {}
        """
    root = _project(tmp_path / "p", {"block.py": text})
    assert [f for f in _findings(root) if f[2] == "TF104"] == []


# -- defect 2: id()-keyed state that outlives the trees it was about ---------------------------------
PT101_FILE = """\
    import torch
    from torch import nn


    class Net{n}(nn.Module):
        def forward(self, x):
            if x.shape[0] and x.dim() > 1 and not x.is_cuda:
                x = x + 1
            flag = x.sum() > 0 and x.dim()
            return x * flag
    """


def test_every_copy_reports_its_finding_under_a_small_tree_budget(tmp_path: Path, mllint_cli) -> None:
    copies = 150
    root = _project(tmp_path / "p", {f"m{i:03d}.py": PT101_FILE.format(n=i) for i in range(copies)})
    # a few trees at a time: old trees are freed and their ids reused
    got = [f for f in _cli_findings(mllint_cli, root, "2000") if f[2] == "PT101" and f[1] == 9]
    assert len(got) == copies


# -- defect 3: a file larger than the tree budget was skipped silently ---------------------------------
@pytest.mark.slow  # parsing the 2 MB file takes seconds, in-process or not
@pytest.mark.parametrize("budget", ["0", "2000000"])
def test_file_over_the_tree_budget_is_analysed(tmp_path: Path, budget: str, mllint_cli) -> None:
    padding = "    # padding\n" * 210_000  # 2.1 MB after dedent: over the default budget too
    root = _project(
        tmp_path / "p", {"big.py": PT101_FILE.format(n=0) + "\n" + padding, "small.py": PT101_FILE.format(n=1)}
    )
    got = [(path, line, code) for path, line, code, _ in _cli_findings(mllint_cli, root, budget)]
    assert [(line, code) for path, line, code in got if path == "big.py"] == [(9, "PT101")]
    assert [(line, code) for path, line, code in got if path == "small.py"] == [(9, "PT101")]


def test_tree_in_use_is_pinned_while_other_files_are_parsed(tmp_path: Path, mllint_cli) -> None:
    """A walk that follows calls into other files (each parse evicts) keeps its own tree."""
    files = {"pkg/__init__.py": ""}
    for i in range(6):
        files[f"pkg/h{i}.py"] = f"""\
            import torch


            def helper{i}(x):
                return x.relu() + {i}
            """
    calls = "\n".join(f"        y = helper{i}(x)" for i in range(6))
    imports = "\n".join(f"from pkg.h{i} import helper{i}" for i in range(6))
    files["pkg/model.py"] = (
        "import torch\nfrom torch import nn\n" + imports + "\n\n\nclass Net(nn.Module):\n"
        "    def forward(self, x):\n" + calls + "\n        if x.sum() > 0:\n            x = x * 2\n        return x\n"
    )
    root = _project(tmp_path / "p", files)
    tiny = _cli_findings(mllint_cli, root, "1", ["pkg/model.py"])
    assert tiny == _cli_findings(mllint_cli, root, "100000000", ["pkg/model.py"])
    assert any(code == "PT101" for _, _, code, _ in tiny)


# -- no check keeps state between walks ----------------------------------------------------------------
def _check_modules() -> List[object]:
    return [
        importlib.import_module(m.name) for m in pkgutil.walk_packages(mllint.checks.__path__, prefix="mllint.checks.")
    ]


def test_checks_do_not_call_id() -> None:
    """``id()`` keys are reused once a tree is freed: checks keep per-walk state in ``ctx.scratch``."""
    offenders = []
    for path in sorted(Path(mllint.checks.__file__).parent.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "id":
                offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []


def _mutable_globals() -> Dict[str, object]:
    out: Dict[str, object] = {}
    for module in _check_modules():
        for name, value in vars(module).items():
            if isinstance(value, (dict, list, set, bytearray, weakref.WeakKeyDictionary, weakref.WeakValueDictionary)):
                out[f"{module.__name__}.{name}"] = value
    return out


def test_checks_keep_no_state_between_walks() -> None:
    """After a run over every fixture, each check instance and each module-level container of the
    checks package is exactly as it was before: nothing a walk saw can change another walk."""
    catalogue = load_catalogue()
    settings = load_settings(FIXTURES, catalogue)
    checks = [cls.from_settings(settings) for cls in ALL_CHECKS]
    before_checks = [copy.deepcopy(vars(c)) for c in checks]
    globals_before = {
        k: copy.copy(v)
        for k, v in _mutable_globals().items()
        if not isinstance(v, (weakref.WeakKeyDictionary, weakref.WeakValueDictionary))
    }
    weak = [
        k
        for k, v in _mutable_globals().items()
        if isinstance(v, (weakref.WeakKeyDictionary, weakref.WeakValueDictionary))
    ]
    assert weak == [], "weak tables of walk state belong in ctx.scratch"
    for folder in ("torch", "tensorflow", "torch_constructs"):
        project = build_project([str(FIXTURES / folder)], settings, None, None, False)
        session = Session(project, catalogue, settings, checks=checks)
        session.process(project.order)
        assert session.stats.walked > 0
    assert [vars(c) for c in checks] == before_checks
    after = _mutable_globals()
    changed = [k for k, v in globals_before.items() if after[k] != v]
    assert changed == []


# -- the property test: byte-identical output whatever the order, jobs, cache and budget --------------
def _fixture_project(root: Path) -> List[str]:
    for folder in ("torch", "tensorflow", "torch_constructs"):
        shutil.copytree(FIXTURES / folder, root / folder)
    (root / "pyproject.toml").write_text("[tool.mllint]\n", encoding="utf-8")
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*.py"))


def _cli(root: Path, paths: Sequence[str], jobs: int, cache: bool, budget: str, cache_home: Path) -> bytes:
    env = dict(
        os.environ,
        MLLINT_TREE_BUDGET=budget,
        MLLINT_POOL_MIN_BYTES="0",
        XDG_CACHE_HOME=str(cache_home),
        PYTHONPATH=str(REPO / "src"),
    )
    args = [sys.executable, "-m", "mllint", "check", "--format", "json", "--jobs", str(jobs), *paths]
    if not cache:
        args.insert(4, "--no-cache")
    proc = subprocess.run(args, cwd=str(root), capture_output=True, env=env, timeout=300)
    assert proc.returncode in (0, 1), proc.stderr.decode()
    return proc.stdout


def _variants(seed: int, files: Sequence[str]) -> Tuple[List[str], List[str]]:
    rng = random.Random(seed)
    subset = rng.sample(list(files), rng.randint(max(2, len(files) // 3), len(files)))
    other = list(subset)
    rng.shuffle(other)
    return subset, other


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_output_is_byte_identical_across_orders_jobs_cache_and_budget(tmp_path: Path, seed: int) -> None:
    root = tmp_path / "proj"
    files = _fixture_project(root)
    subset, shuffled = _variants(seed, files)
    reference = _cli(root, subset, 1, False, "100000000", tmp_path / "nocache")
    assert b'"code"' in reference  # the subset has findings to compare
    runs = 0
    for budget in ("100000000", "1"):
        home = tmp_path / f"cache-{budget}"
        for jobs, order in ((1, shuffled), (2, subset), (2, shuffled)):
            for cache in (False, True, True):  # no cache, then cold (fills it), then warm
                got = _cli(root, order, jobs, cache, budget, home)
                runs += 1
                assert got == reference, (budget, jobs, cache, order)
    assert runs == 18


def test_in_process_output_is_identical_across_orders_and_budgets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fast-loop version: one process, ``--jobs 1``, every order and budget, cold and warm cache."""
    root = tmp_path / "proj"
    files = _fixture_project(root)
    catalogue = load_catalogue()
    settings = load_settings(root, catalogue)
    subset, shuffled = _variants(7, files)

    def run(order: Sequence[str], cache_dir: Path) -> List[object]:
        result = run_check([str(root / p) for p in order], settings, catalogue, cache=True, cache_dir=cache_dir)
        return [f.to_dict() if hasattr(f, "to_dict") else repr(f) for f in result.findings]

    reference = run(subset, tmp_path / "c0")
    assert reference
    for budget in ("1", "100000000"):
        monkeypatch.setenv("MLLINT_TREE_BUDGET", budget)
        for order in (subset, shuffled):
            cache_dir = tmp_path / f"c-{budget}-{order is subset}"
            assert run(order, cache_dir) == reference  # cold
            assert run(order, cache_dir) == reference  # warm


def test_message_names_the_entry_point_the_engine_credits(tmp_path: Path) -> None:
    """A helper reached from two models is credited to the shortest path (ties: the name), and the
    message says so whichever model was walked first."""
    text = """\
        import torch
        from torch import nn


        def gate(x):
            if x.sum() > 0:
                return x
            return -x


        class Deep(nn.Module):
            def forward(self, x):
                return self.inner(x)

            def inner(self, x):
                return gate(x)


        class Shallow(nn.Module):
            def forward(self, x):
                return gate(x)
        """
    root = _project(tmp_path / "p", {"m.py": text})
    got = [(line, message) for _, line, code, message in _findings(root) if code == "PT101"]
    assert len(got) == 1 and got[0][0] == 6
    assert "Shallow.forward" in got[0][1] and "Deep" not in got[0][1]
