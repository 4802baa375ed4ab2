"""What the analysis does not follow is said, not skipped in silence (issue 16, item 11): a call chain
deeper than the walker's depth limit (ML007, at the call not followed) and a class hierarchy deeper
than the MRO follows (ML008, at the class). Both are part of the walk's cached output, once per site."""

from __future__ import annotations

from pathlib import Path
from typing import List

from mllint.analysis.index import MRO_LIMIT
from mllint.catalogue import load_catalogue
from mllint.config import load_settings
from mllint.engine import last_stats, run_check
from mllint.findings import Finding
from mllint.session import DEEP
from mllint.testing import lint_files, lint_source


def _chain(levels: int, hazard_in_last: bool = True) -> str:
    """``forward`` calls ``f1``, which calls ``f2``, ... ``f<levels>``; the last one branches on a tensor."""
    src = "import torch\n\n\n"
    for i in range(levels, 0, -1):
        if i == levels:
            body = "    if x.sum() > 0:\n        return x\n    return -x\n" if hazard_in_last else "    return x\n"
        else:
            body = f"    return f{i + 1}(x)\n"
        src += f"def f{i}(x):\n{body}\n\n"
    src += "class Net(torch.nn.Module):\n    def forward(self, x):\n        return f1(x)\n"
    return src


def _line_of(src: str, text: str) -> int:
    return next(i for i, line in enumerate(src.splitlines(), 1) if text in line)


def _codes(findings: List[Finding], code: str) -> List[Finding]:
    return [f for f in findings if f.code == code]


def test_a_call_past_the_depth_limit_is_reported_at_the_call() -> None:
    src = _chain(DEEP + 1)
    found = lint_source(src, targets=["all"])
    deep = _codes(found, "ML007")
    assert [(f.line, f.severity.value) for f in deep] == [(_line_of(src, f"return f{DEEP + 1}(x)"), "info")]
    assert (
        deep[0].message
        == f"calls deeper than {DEEP} levels from Net.forward are not judged: `f{DEEP + 1}` is not followed"
    )
    assert not any(f.code == "PT101" for f in found)  # the branch in f9 is indeed not judged


def test_a_chain_within_the_limit_is_judged_and_says_nothing_about_depth() -> None:
    found = lint_source(_chain(DEEP), targets=["all"])
    assert _codes(found, "ML007") == []
    assert any(f.code == "PT101" for f in found)  # f8's branch: judged


def test_calls_out_of_project_code_at_the_limit_are_not_reported() -> None:
    src = _chain(DEEP + 1).replace(f"    return f{DEEP + 1}(x)\n", "    return torch.relu(len(x))\n")
    assert _codes(lint_source(src, targets=["all"]), "ML007") == []


def test_one_site_reached_from_several_contexts_is_reported_once(tmp_path: Path) -> None:
    # f8 is reached with a tensor and with a static argument (two tasks): its deep call is one finding
    src = _chain(DEEP + 1).replace("    return f2(x)\n", "    return f2(x) + f2(3)\n")
    found = lint_source(src, targets=["all"])
    assert len(_codes(found, "ML007")) == 1


def test_the_report_is_cached_with_the_walk(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.mllint]\n")
    (tmp_path / "deep.py").write_text(_chain(DEEP + 1))
    catalogue = load_catalogue()
    settings = load_settings(tmp_path, catalogue, None, {"targets": ["all"]})
    cache = tmp_path / "cache"
    first = run_check([str(tmp_path)], settings, catalogue, cache=True, cache_dir=cache)
    second = run_check([str(tmp_path)], settings, catalogue, cache=True, cache_dir=cache)
    assert last_stats().replayed > 0 and last_stats().walked == 0
    assert first.findings == second.findings
    assert len(_codes(second.findings, "ML007")) == 1


def _hierarchy(depth: int) -> str:
    src = "import torch\n\n\nclass C0(torch.nn.Module):\n    def forward(self, x):\n        return x\n\n\n"
    for i in range(1, depth):
        src += f"class C{i}(C{i - 1}):\n    pass\n\n\n"
    return src


def test_a_class_hierarchy_deeper_than_the_mro_follows_is_reported_at_the_class() -> None:
    src = _hierarchy(MRO_LIMIT + 3)
    found = _codes(lint_source(src, targets=["all"]), "ML008")
    names = {f"C{i}" for i in range(MRO_LIMIT, MRO_LIMIT + 3)}
    assert sorted(f.line for f in found) == sorted(_line_of(src, f"class {n}(") for n in names)
    assert all(f.severity.value == "info" for f in found)
    assert found[0].message.endswith(f"its hierarchy has more than {MRO_LIMIT} project classes")


def test_a_hierarchy_of_exactly_the_limit_is_judged() -> None:
    assert _codes(lint_source(_hierarchy(MRO_LIMIT), targets=["all"]), "ML008") == []


def test_the_class_is_reported_in_its_own_file_even_without_framework_imports() -> None:
    base = _hierarchy(MRO_LIMIT)
    last = MRO_LIMIT - 1
    leaf = f"from base import C{last}\n\n\nclass Leaf(C{last}):\n    pass\n"
    found = lint_files({"base.py": base, "leaf.py": leaf}, targets=["all"])
    assert [(f.path, f.line) for f in _codes(found, "ML008")] == [("leaf.py", 4)]


def test_ml008_can_be_ignored() -> None:
    found = lint_source(_hierarchy(MRO_LIMIT + 1), targets=["all"], config={"ignore": ["ML008"]})
    assert _codes(found, "ML008") == []


def test_an_unreadable_folder_is_reported_even_when_running_as_root(tmp_path: Path, monkeypatch) -> None:
    """Root reads every folder, so the permission test elsewhere is skipped there: here listing one folder
    fails the way it does for a user without the right (os.walk's scandir raising PermissionError)."""
    import os

    (tmp_path / "pyproject.toml").write_text("[tool.mllint]\n")
    locked = tmp_path / "pkg" / "locked"
    locked.mkdir(parents=True)
    (locked / "m.py").write_text(_chain(1))
    (tmp_path / "pkg" / "ok.py").write_text(_chain(1))
    real = os.scandir

    def scandir(path="."):  # type: ignore[no-untyped-def]
        if os.fspath(path) == str(locked):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    catalogue = load_catalogue()
    settings = load_settings(tmp_path, catalogue, None, {"targets": ["all"]})
    found = {(f.path, f.code) for f in run_check([str(tmp_path)], settings, catalogue).findings}
    assert ("pkg/locked", "ML003") in found
    assert ("pkg/ok.py", "PT101") in found and not any(path.startswith("pkg/locked/") for path, _ in found)


def test_a_recursive_call_at_the_limit_is_not_reported() -> None:
    # f9 is judged (it is the walk itself): calling itself with the same context is not "not followed"
    src = _chain(DEEP).replace(
        f"def f{DEEP}(x):\n    if x.sum() > 0:\n        return x\n    return -x\n",
        f"def f{DEEP}(x):\n    if x.sum() > 0:\n        return f{DEEP}(x - 1)\n    return -x\n",
    )
    assert f"return f{DEEP}(x - 1)" in src
    found = lint_source(src, targets=["all"])
    assert _codes(found, "ML007") == [] and any(f.code == "PT101" for f in found)
