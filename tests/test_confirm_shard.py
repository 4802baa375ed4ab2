"""--shard I/N and `mllint merge`: the union of the shards is the unsharded run (real exports)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from mllint.config import ModelSpec
from mllint.confirm.shard import ShardError, parse_shard, shard_models, shard_of

from confirm_project import MODELS


CONFIG = textwrap.dedent("""\
    [tool.mllint]
    targets = ["torchscript-script", "torchscript-trace", "torch-export"]

    [[tool.mllint.models]]
    name = "clean"
    factory = "pkg.models:clean"

    [[tool.mllint.models]]
    name = "branchy"
    factory = "pkg.models:branchy"

    [[tool.mllint.models]]
    name = "unpredicted"
    factory = "pkg.models:unpredicted"
    """)


def test_shard_specs() -> None:
    assert parse_shard("2/3") == (2, 3) and parse_shard(" 1 / 1 ") == (1, 1)
    for bad in ("3/2", "0/0", "0/2", "1/0", "a/b", "2", ""):
        with pytest.raises(ShardError):
            parse_shard(bad)


def test_the_split_is_a_partition_and_stable_when_models_are_added() -> None:
    targets = ("torchscript-script", "torch-export", "onnx-dynamo")
    models = [ModelSpec(f"m{i}", f"pkg:m{i}") for i in range(12)]
    for count in (1, 2, 5):
        pairs = [
            (m.name, t)
            for i in range(1, count + 1)
            for m in shard_models(models, targets, i, count)
            for t in m.targets or ()
        ]
        assert sorted(pairs) == sorted((m.name, t) for m in models for t in targets)
    before = {(m.name, t): shard_of(m.name, t, 4) for m in models for t in targets}
    grown = models + [ModelSpec("new", "pkg:new")]
    after = {(m.name, t): i for i in range(1, 5) for m in shard_models(grown, targets, i, 4) for t in m.targets or ()}
    assert all(after[pair] == shard for pair, shard in before.items())


def _project(root: Path) -> Path:
    (root / "pkg").mkdir()
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "models.py").write_text(MODELS)
    (root / "pyproject.toml").write_text(CONFIG)
    return root


def _timeless(value: Any) -> Any:
    """The report without wall-clock figures (they differ between any two runs)."""
    if isinstance(value, dict):
        return {k: _timeless(v) for k, v in value.items() if k not in ("seconds", "export_seconds", "setup_seconds")}
    if isinstance(value, list):
        return [_timeless(v) for v in value]
    return value


@pytest.mark.export
def test_merging_every_shard_gives_the_unsharded_report(tmp_path: Path, run_mllint) -> None:
    pytest.importorskip("torch")
    root = _project(tmp_path)
    base = ["check", ".", "--confirm", "--no-cache", "--format", "json"]
    whole = run_mllint(base, root)
    assert whole.returncode == 1, whole.stderr
    codes = sorted(f["code"] for f in json.loads(whole.stdout)["findings"])
    assert "PT101" in codes and "ML105" in codes  # a model that cannot be built: one finding for all shards
    for count in (2, 3):
        paths = []
        for i in range(1, count + 1):
            out = root / f"shard-{i}-of-{count}.json"
            proc = run_mllint(base + ["--shard", f"{i}/{count}", "-o", str(out)], root)
            assert proc.returncode in (0, 1), proc.stderr
            paths.append(str(out))
        merged = run_mllint(["merge", *paths, "--format", "json"], root)
        assert merged.returncode == whole.returncode, merged.stderr
        assert _timeless(json.loads(merged.stdout)) == _timeless(json.loads(whole.stdout))
        # the same holds byte for byte once the timings are equal
        masked = [json.dumps(_timeless(json.loads(t)), indent=2) for t in (merged.stdout, whole.stdout)]
        assert masked[0] == masked[1]
        sarif = run_mllint(["merge", *reversed(paths), "--format", "sarif"], root)
        assert sarif.returncode == whole.returncode
        assert len(json.loads(sarif.stdout)["runs"]) == 1

    # bad input: a missing shard, a shard twice, another configuration, not a shard report
    missing = run_mllint(["merge", paths[0]], root)
    assert missing.returncode == 2 and "missing" in missing.stderr
    twice = run_mllint(["merge", paths[0], paths[0], paths[1]], root)
    assert twice.returncode == 2 and "both shard 1/3" in twice.stderr
    other = root / "other.json"
    run_mllint(base + ["--shard", "2/3", "--target", "torch-export", "-o", str(other)], root)
    mixed = run_mllint(["merge", paths[0], str(other), paths[2]], root)
    assert mixed.returncode == 2 and "different configurations" in mixed.stderr
    plain = run_mllint(["merge", str(root / "pyproject.toml")], root)
    assert plain.returncode == 2 and "not a JSON report" in plain.stderr


def test_shard_needs_confirm_and_a_valid_spec(tmp_path: Path, mllint_cli) -> None:
    root = _project(tmp_path)
    proc = mllint_cli(["check", ".", "--shard", "1/2"], root)
    assert proc.returncode == 2 and "add --confirm" in proc.stderr
    for bad in ("3/2", "0/0"):
        proc = mllint_cli(["check", ".", "--confirm", "--shard", bad], root)
        assert proc.returncode == 2 and "--shard" in proc.stderr, proc.stderr
