"""One target table: a target added to ``mllint.targets.TARGETS`` (and named by a rule card) shows up
everywhere users meet targets: ``mllint rules``, ``mllint explain``, SARIF rule metadata, the CLI's
``--target`` validation and help, the finding's targets; and the checks' guards read the same table."""

from __future__ import annotations

import ast
import json
import shutil
import textwrap
from pathlib import Path
from typing import Iterator

import pytest

from mllint import catalogue as catalogue_mod
from mllint import targets as targets_mod
from mllint.analysis.guards import GUARD_TARGETS
from mllint.cli import build_parser, main
from mllint.targets import TARGETS, Target, guard_targets, target_names

REPO = Path(__file__).resolve().parents[1]
TOY = Target("toy-runtime", "torch", "trace", "jit-trace", "a made-up runtime fed by the TorchScript tracer", "toy")


@pytest.fixture
def toy_target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The table with one more target, and a catalogue copy whose PT101 card names it."""
    monkeypatch.setattr(targets_mod, "TARGETS", TARGETS + (TOY,))
    rules = tmp_path / "rules"
    shutil.copytree(REPO / "rules", rules)
    card = rules / "control-flow" / "PT101-tensor-dependent-branch.md"
    text = card.read_text(encoding="utf-8")
    card.write_text(
        text.replace("[targets]\n", '[targets]\ntoy-runtime = { severity = "warning", effect = "silent" }\n', 1),
        encoding="utf-8",
    )
    monkeypatch.setattr(catalogue_mod, "_catalogue_root", lambda: rules)
    project = tmp_path / "proj"
    project.mkdir()
    (project / "pyproject.toml").write_text("[tool.mllint]\n", encoding="utf-8")
    (project / "net.py").write_text(
        textwrap.dedent("""\
        import torch
        from torch import nn


        class Net(nn.Module):
            def forward(self, x):
                if x.sum() > 0:
                    return x
                return -x
        """),
        encoding="utf-8",
    )
    monkeypatch.chdir(project)
    catalogue_mod.load_catalogue.cache_clear()  # loaded once per process: load this copy instead
    yield project
    catalogue_mod.load_catalogue.cache_clear()


def test_new_target_reaches_rules_explain_sarif_and_cli(toy_target: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "toy-runtime" in target_names()
    assert main(["rules", "--target", "toy-runtime", "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [r["code"] for r in listed] == ["PT101"]
    assert listed[0]["targets"]["toy-runtime"] == {"severity": "warning", "effect": "silent"}

    assert main(["explain", "PT101"]) == 0
    assert "| toy-runtime | warning | silent |" in capsys.readouterr().out

    assert main(["explain", "PT102"]) == 0  # a torch rule that does not name it: "not a hazard for"
    assert "toy-runtime" in capsys.readouterr().out.split("Not a hazard for:")[1].splitlines()[0]

    assert main(["check", "--no-cache", "--format", "sarif", "--target", "toy-runtime", "net.py"]) == 1
    sarif = json.loads(capsys.readouterr().out)
    run = sarif["runs"][0]
    rule = next(r for r in run["tool"]["driver"]["rules"] if r["id"] == "PT101")
    assert "toy-runtime" in rule["properties"]["targets"]
    assert [r["properties"]["targets"] for r in run["results"] if r["ruleId"] == "PT101"] == [["toy-runtime"]]

    help_text = build_parser()._subparsers._group_actions[0].choices["check"].format_help()  # type: ignore[union-attr]
    assert "toy-runtime" in "".join(help_text.split())  # argparse may wrap at the hyphen


def test_unknown_target_is_a_usage_error_naming_the_table(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.mllint]\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["check", "--target", "toy-runtime", "."]) == 2
    err = capsys.readouterr().err
    assert "unknown target 'toy-runtime'" in err and ", ".join(target_names()) in err


def test_walker_guards_and_confirm_runners_come_from_the_table() -> None:
    assert {k: v for k, v in GUARD_TARGETS.items() if v} == guard_targets()  # is_fx_tracing: no target
    assert GUARD_TARGETS["torch.jit.is_scripting"] == frozenset({"torchscript-script"})
    # the runner modules import the frameworks: read their classes' methods from the source instead
    methods = {}
    for framework, module in (("torch", "torch_runners"), ("tensorflow", "tf_runners")):
        tree = ast.parse((REPO / "src" / "mllint" / "confirm" / f"{module}.py").read_text(encoding="utf-8"))
        session = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name.endswith("Session"))
        methods[framework] = {n.name for n in session.body if isinstance(n, ast.FunctionDef)}
        assert any("runner_of(target)" in ast.unparse(n) for n in session.body if isinstance(n, ast.FunctionDef))
    for row in TARGETS:
        if row.runner is not None:
            assert row.runner in methods[row.framework], row.name
