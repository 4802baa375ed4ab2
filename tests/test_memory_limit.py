"""Memory (issue 16, item 12): LibCST's parse takes 2.6-4 KB per token at its peak, so one generated
table in a checkout could take the machine down (1.3 MB: 776 MiB; 10 MB: 5.7 GiB). The need is estimated
before parsing; a file over ``memory-limit`` is reported (ML009), not parsed, and the rest is checked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest

from mllint.source import LIBCST_BYTES_PER_TOKEN, parse_need_mib

MODEL = (
    "import torch\n\n\nclass Net(torch.nn.Module):\n    def forward(self, x):\n"
    "        if x.sum() > 0:  # PT101\n            return x\n        return -x\n"
)


def token_dense(size: int) -> str:
    """About ``size`` bytes of short tokens (a generated lookup table): the worst case per byte."""
    row = "    (" + ", ".join(str(j % 97) for j in range(16)) + "),\n"
    return "import torch\n\nTABLE = [\n" + row * (size // len(row) + 1) + "]\n"


def _peak_of_child(args: List[str], cwd: Path) -> "tuple[int, dict]":
    """Run ``mllint check`` in a fresh process through a fresh parent: the parent's
    ``RUSAGE_CHILDREN.ru_maxrss`` is then that one child's peak (MiB), unmixed with this process's
    other children."""
    probe = (
        "import json, resource, subprocess, sys\n"
        "proc = subprocess.run([sys.executable, '-m', 'mllint', 'check', *sys.argv[1:]], capture_output=True, text=True)\n"
        "print(json.dumps({'peak_kib': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,"
        " 'rc': proc.returncode, 'out': proc.stdout, 'err': proc.stderr[-2000:]}))\n"
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1] / "src")
    done = subprocess.run(
        [sys.executable, "-c", probe, *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=600
    )
    result = json.loads(done.stdout)
    assert result["rc"] in (0, 1), result["err"]
    return result["peak_kib"] // 1024, json.loads(result["out"])


def _run(mllint_cli, tmp_path: Path, *extra: str) -> dict:  # type: ignore[no-untyped-def]
    """The report of ``mllint check`` run in-process (no peak to measure)."""
    proc = mllint_cli(["check", ".", "--no-cache", "--target", "all", "--format", "json", *extra], tmp_path)
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.slow  # the peak is a fresh process's own: a subprocess through a subprocess, over a second
def test_a_token_dense_file_is_reported_within_a_bounded_peak(tmp_path: Path) -> None:
    # 1 MB of short tokens: about 1.4 GiB to parse on the main of before this change
    (tmp_path / "table.py").write_text(token_dense(1_000_000))
    (tmp_path / "model.py").write_text(MODEL)
    peak, report = _peak_of_child([".", "--no-cache", "--target", "all", "--format", "json"], tmp_path)
    codes = {(f["path"], f["code"]) for f in report["findings"]}
    assert ("table.py", "ML009") in codes and ("model.py", "PT101") in codes
    assert peak < 400, f"peak {peak} MiB"


@pytest.mark.slow
def test_a_dense_file_under_the_limit_is_analysed_within_a_bounded_peak(tmp_path: Path) -> None:
    text = token_dense(120_000)
    assert parse_need_mib(text, 300) is None  # under the default limit: parsed
    (tmp_path / "table.py").write_text(text + MODEL.split("\n", 1)[1])
    peak, report = _peak_of_child([".", "--no-cache", "--target", "all", "--format", "json"], tmp_path)
    codes = [f["code"] for f in report["findings"]]
    assert "ML009" not in codes and "PT101" in codes  # analysed: the model after the table is judged
    assert peak < 400, f"peak {peak} MiB"


def test_an_over_limit_file_is_reported_and_the_rest_is_checked(tmp_path: Path, mllint_cli) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.mllint]\nmemory-limit = 1\n")
    (tmp_path / "big.py").write_text(MODEL + "\nX = [" + "1, " * 20_000 + "]\n")
    (tmp_path / "notmodel.py").write_text("X = [" + "1, " * 20_000 + "]\n")  # Python's parser only
    (tmp_path / "model.py").write_text(MODEL)
    findings = _run(mllint_cli, tmp_path)["findings"]
    got = sorted((f["path"], f["code"], f["line"]) for f in findings)
    assert got == [("big.py", "ML009", 1), ("model.py", "PT101", 6), ("notmodel.py", "ML009", 1)]
    big = next(f for f in findings if f["path"] == "big.py")
    assert big["severity"] == "warning"
    assert big["message"].startswith("not analysed: parsing this file would need about ")
    assert big["message"].endswith("MiB, over memory-limit 1 MiB")


def test_the_command_line_limit_wins_and_zero_means_none(tmp_path: Path, mllint_cli) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.mllint]\nmemory-limit = 1\n")
    (tmp_path / "big.py").write_text(MODEL + "\nX = [" + "1, " * 20_000 + "]\n")
    codes = {f["code"] for f in _run(mllint_cli, tmp_path, "--memory-limit", "0")["findings"]}
    assert codes == {"PT101"}
    codes = {f["code"] for f in _run(mllint_cli, tmp_path, "--memory-limit", "5000")["findings"]}
    assert codes == {"PT101"}


def test_the_verdict_follows_the_limit_through_the_cache(tmp_path: Path, mllint_cli) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.mllint]\n")
    (tmp_path / "big.py").write_text(MODEL + "\nX = [" + "1, " * 20_000 + "]\n")
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    common = ["check", ".", "--target", "all", "--format", "json"]

    def codes(*extra: str) -> set:
        proc = mllint_cli([*common, *extra], tmp_path, env_extra=env)
        assert proc.returncode in (0, 1), proc.stderr
        return {f["code"] for f in json.loads(proc.stdout)["findings"]}

    assert codes("--memory-limit", "1") == {"ML009"}
    assert codes() == {"PT101"}  # the refusal was not remembered: parsed now
    assert codes() == {"PT101"}  # from the cache
    assert codes("--jobs", "2", "--memory-limit", "1", "--no-cache") == {"ML009"}


@pytest.mark.parametrize("value", ["-1", "1.5", "lots"])
def test_bad_limits_are_usage_errors(tmp_path: Path, value: str, mllint_cli) -> None:
    (tmp_path / "m.py").write_text(MODEL)
    proc = mllint_cli(["check", ".", "--memory-limit", value], tmp_path)
    assert proc.returncode == 2 and "--memory-limit" in proc.stderr
    toml_value = '"lots"' if value == "lots" else value
    (tmp_path / "pyproject.toml").write_text(f"[tool.mllint]\nmemory-limit = {toml_value}\n")
    proc = mllint_cli(["check", "."], tmp_path)
    assert proc.returncode == 2 and "'memory-limit' must be a whole number of MiB" in proc.stderr


def test_the_estimate_bounds_what_the_parser_takes() -> None:
    # The estimate is a whole-file token count times the measured worst ratio; short files are not counted.
    assert parse_need_mib("x = 1\n" * 10, 1) is None
    dense = token_dense(400_000)
    need = parse_need_mib(dense, 1)
    assert need is not None and need >= 400_000 // 2 * LIBCST_BYTES_PER_TOKEN // 2**20 * 0.9
    assert parse_need_mib(dense, need + 1) is None and parse_need_mib(dense, 0) is None
