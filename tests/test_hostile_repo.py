"""A hostile checkout: mllint runs nothing of the repository's and touches nothing outside the project.

Each test builds a repository that would make a careless linter run a command (a marker file proves whether it
ran) or write / delete outside the project (a victim folder proves whether anything changed).
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path

import pytest

HAZARD = textwrap.dedent("""\
    import torch


    class Net(torch.nn.Module):
        def forward(self, x):
            if x.sum() > 0:
                return x * 2
            return x - 1
    """)


def _git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(root), *args],
        check=True,
        capture_output=True,
        env={**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(root.parent)},
    )


def _repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "model.py").write_text(HAZARD)
    (root / "ignored").mkdir()
    (root / "ignored" / "model.py").write_text(HAZARD)
    (root / "pkg" / "generated_model.py").write_text(HAZARD)
    (root / "pkg" / "kept_generated_model.py").write_text(HAZARD)
    (root / ".gitignore").write_text("ignored/\n")
    (root / "pkg" / ".gitignore").write_text("generated_*.py\n!kept_generated_*.py\n")
    _git(root, "init", "-q")
    return root


def _reported(stdout: str) -> set:
    return {f["path"] for f in json.loads(stdout)["findings"]}


@pytest.mark.parametrize(
    "key", ["core.fsmonitor", "core.hooksPath", "diff.external", "core.pager", "core.sshCommand", "core.editor"]
)
def test_repository_git_config_runs_nothing(tmp_path: Path, mllint_cli, key: str) -> None:
    root = _repo(tmp_path)
    marker = tmp_path / "marker"
    script = tmp_path / "evil.sh"
    script.write_text(f"#!/bin/sh\ntouch {marker}\n")
    script.chmod(0o755)
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    for hook in ("post-checkout", "pre-commit", "post-index-change", "fsmonitor-watchman"):
        (hooks / hook).write_text(f"#!/bin/sh\ntouch {marker}\n")
        (hooks / hook).chmod(0o755)
    _git(root, "add", "pkg/model.py")  # before the hostile config: git itself would run it
    _git(root, "config", key, str(hooks if key == "core.hooksPath" else script))
    for args in (
        ["check", ".", "--format", "json", "--no-cache"],
        ["check", "--force-exclude", "--format", "json", "--no-cache", "pkg/model.py", "ignored/model.py"],
    ):
        proc = mllint_cli(args, root)
        assert proc.returncode == 1, proc.stderr
        assert not marker.exists(), f"{key}: the repository's config ran a command"
    assert _reported(mllint_cli(["check", ".", "--format", "json", "--no-cache"], root).stdout) == {
        "pkg/model.py",
        "pkg/kept_generated_model.py",
    }


def test_gitignore_rules_are_honoured_without_git(tmp_path: Path, mllint_cli) -> None:
    """The same rules git applies (nested files, negation, folders), read from the files themselves."""
    root = _repo(tmp_path)
    empty_path = {"PATH": str(tmp_path / "no-git-here")}  # git cannot be run at all
    proc = mllint_cli(["check", ".", "--format", "json", "--no-cache"], root, env_extra=empty_path)
    assert proc.returncode == 1, proc.stderr
    assert _reported(proc.stdout) == {"pkg/model.py", "pkg/kept_generated_model.py"}
    forced = mllint_cli(
        [
            "check",
            "--force-exclude",
            "--format",
            "json",
            "--no-cache",
            "ignored/model.py",
            "pkg/generated_model.py",
            "pkg/model.py",
        ],
        root,
        env_extra=empty_path,
    )
    assert _reported(forced.stdout) == {"pkg/model.py"}


def test_a_tree_without_git_honours_its_gitignore(tmp_path: Path, mllint_cli) -> None:
    root = tmp_path / "plain"
    (root / "build").mkdir(parents=True)
    (root / "out").mkdir()
    (root / "model.py").write_text(HAZARD)
    (root / "out" / "model.py").write_text(HAZARD)
    (root / "pyproject.toml").write_text("[tool.mllint]\n")
    (root / ".gitignore").write_text("out/\n")
    proc = mllint_cli(["check", ".", "--format", "json", "--no-cache"], root)
    assert _reported(proc.stdout) == {"model.py"}


def test_a_symlinked_gitignore_is_not_followed(tmp_path: Path, mllint_cli) -> None:
    root = _repo(tmp_path)
    outside = tmp_path / "outside-ignore"
    outside.write_text("pkg/\n")
    (root / "pkg" / ".gitignore").unlink()
    (root / "pkg" / ".gitignore").symlink_to(outside)
    proc = mllint_cli(["check", ".", "--format", "json", "--no-cache"], root)
    assert "pkg/model.py" in _reported(proc.stdout)


# -- the cache folder ------------------------------------------------------------------------------


def _victim(tmp_path: Path) -> Path:
    victim = tmp_path / "victim"
    (victim / ".git").mkdir(parents=True)
    (victim / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (victim / "precious.txt").write_text("keep me\n")
    return victim


def _snapshot(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_symlinked_cache_folder_is_never_written_or_cleaned(tmp_path: Path, mllint_cli) -> None:
    root = _repo(tmp_path)
    victim = _victim(tmp_path)
    before = _snapshot(victim)
    (root / ".mllint_cache").symlink_to(victim, target_is_directory=True)
    env = {"XDG_CACHE_HOME": str(tmp_path / "xdg")}
    proc = mllint_cli(["check", ".", "--format", "json"], root, env_extra=env)
    assert proc.returncode == 1 and "is a symlink: not used" in proc.stderr
    assert _reported(proc.stdout) == {"pkg/model.py", "pkg/kept_generated_model.py"}
    assert mllint_cli(["clean"], root, env_extra=env).returncode == 0
    assert _snapshot(victim) == before and sorted(p.name for p in victim.iterdir()) == [".git", "precious.txt"]


def test_symlinks_inside_a_real_cache_folder_are_not_followed(tmp_path: Path, mllint_cli) -> None:
    root = _repo(tmp_path)
    victim = _victim(tmp_path)
    before = _snapshot(victim)
    cache = root / ".mllint_cache"
    cache.mkdir()
    (cache / "records").symlink_to(victim, target_is_directory=True)
    (cache / "CACHEDIR.TAG").symlink_to(victim / "precious.txt")
    env = {"XDG_CACHE_HOME": str(tmp_path / "xdg")}
    for _ in range(2):
        proc = mllint_cli(["check", ".", "--format", "json"], root, env_extra=env)
        assert proc.returncode == 1, proc.stderr
        assert _reported(proc.stdout) == {"pkg/model.py", "pkg/kept_generated_model.py"}
    mllint_cli(["clean"], root, env_extra=env)
    assert _snapshot(victim) == before


def test_clean_removes_only_what_mllint_created(tmp_path: Path, mllint_cli) -> None:
    root = _repo(tmp_path)
    cache = root / ".mllint_cache"
    cache.mkdir()
    (cache / "notes.txt").write_text("the user's own file\n")
    env = {"XDG_CACHE_HOME": str(tmp_path / "xdg")}
    assert mllint_cli(["check", "."], root, env_extra=env).returncode == 1
    assert (cache / "records").is_dir() and (cache / "CACHEDIR.TAG").is_file()
    assert mllint_cli(["clean"], root, env_extra=env).returncode == 0
    assert not (cache / "records").exists()
    assert (cache / "notes.txt").read_text() == "the user's own file\n"
    # a folder without mllint's marker is not mllint's: nothing in it is deleted
    foreign = tmp_path / "foreign"
    (foreign / ".mllint_cache" / "records").mkdir(parents=True)
    (foreign / ".mllint_cache" / "records" / "data.bin").write_text("x")
    (foreign / "pyproject.toml").write_text("[tool.mllint]\n")
    assert mllint_cli(["clean"], foreign, env_extra=env).returncode == 0
    assert (foreign / ".mllint_cache" / "records" / "data.bin").exists()


def _forge(cache: Path, clean_digest: str, hazard_digest: str) -> int:
    """Rewrite every record of the clean file as if it described the hazardous content, signed the way the
    public format allows (no secret): what a hostile checkout can ship."""
    import hashlib
    import io
    import pickle

    import mllint.engine  # noqa: F401 - the record classes must be importable to read entries
    from mllint import cache as cache_mod

    forged = 0
    for path in cache.rglob("*.bin"):
        data = path.read_bytes()
        payload = data[cache_mod._HEADER :]
        record = cache_mod._SafeUnpickler(io.BytesIO(payload)).load()
        if getattr(record, "digest", None) != clean_digest:
            continue
        record.digest = hazard_digest
        payload = pickle.dumps(record, protocol=pickle.HIGHEST_PROTOCOL)
        header = cache_mod._MAGIC + cache_mod.FORMAT.to_bytes(2, "little") + len(payload).to_bytes(8, "little")
        path.write_bytes(header + hashlib.blake2b(payload, digest_size=16).digest() + payload)
        forged += 1
    return forged


def test_a_committed_cache_cannot_hide_findings(tmp_path: Path, mllint_cli, monkeypatch) -> None:
    import hashlib

    root = tmp_path / "proj"
    (root / ".mllint_cache").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[tool.mllint]\n")
    clean = HAZARD.replace("if x.sum() > 0:", "if True:")
    (root / "model.py").write_text(clean)
    attacker = {"XDG_CACHE_HOME": str(tmp_path / "attacker")}
    assert mllint_cli(["check", "."], root, env_extra=attacker).returncode == 0
    digest = lambda text: hashlib.blake2b(text.encode(), digest_size=16).hexdigest()  # noqa: E731
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "attacker"))
    assert _forge(root / ".mllint_cache", digest(clean), digest(HAZARD)) >= 1
    (root / "model.py").write_text(HAZARD)
    victim = {"XDG_CACHE_HOME": str(tmp_path / "victim-user")}
    proc = mllint_cli(["check", ".", "--format", "json"], root, env_extra=victim)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert [f["code"] for f in json.loads(proc.stdout)["findings"]] == ["PT101"]


def test_a_type_confused_record_is_a_miss_not_a_crash(tmp_path: Path, mllint_cli, monkeypatch) -> None:
    root = tmp_path / "proj"
    (root / ".mllint_cache").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[tool.mllint]\n")
    (root / "model.py").write_text(HAZARD)
    env = {"XDG_CACHE_HOME": str(tmp_path / "xdg")}
    assert mllint_cli(["check", "."], root, env_extra=env).returncode == 1
    monkeypatch.setenv("XDG_CACHE_HOME", env["XDG_CACHE_HOME"])
    import mllint.engine  # noqa: F401 - the record classes must be importable to read entries
    from mllint import cache as cache_mod

    cache_mod._secret.cache_clear()
    try:
        for path in (root / ".mllint_cache").rglob("*.bin"):
            record = cache_mod.loads(path.read_bytes())
            assert record is not None  # this user's own entry
            record.analyses = {"key": "not an Analyses"}
            record.parse_diags = "not a list"
            path.write_bytes(cache_mod.dumps(record))  # signed with this user's key: only the types are wrong
    finally:
        cache_mod._secret.cache_clear()
    proc = mllint_cli(["check", ".", "--format", "json"], root, env_extra=env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert [f["code"] for f in json.loads(proc.stdout)["findings"]] == ["PT101"]


def test_a_cache_folder_tracked_by_git_is_ignored_with_a_warning(tmp_path: Path, mllint_cli) -> None:
    root = _repo(tmp_path)
    cache = root / ".mllint_cache"
    cache.mkdir()
    (cache / "README").write_text("committed\n")
    _git(root, "add", "-f", ".mllint_cache/README")
    env = {"XDG_CACHE_HOME": str(tmp_path / "xdg")}
    proc = mllint_cli(["check", "."], root, env_extra=env)
    assert proc.returncode == 1 and "is tracked by git: not used" in proc.stderr
    assert sorted(p.name for p in cache.iterdir()) == ["README"]


def test_a_symlink_to_a_file_outside_the_project_is_reported_not_read(tmp_path: Path, mllint_cli) -> None:
    root = _repo(tmp_path)
    secret = tmp_path / "secret.py"
    secret.write_text("TOKEN = 'hunter2-do-not-echo'\n" + HAZARD)
    (root / "pkg" / "leak.py").symlink_to(secret)
    (root / "pkg" / "inside.py").symlink_to(root / "pkg" / "model.py")  # a link within the project is fine
    for args in (
        ["check", ".", "--no-cache"],
        ["check", "pkg/leak.py", "--no-cache"],
        ["check", ".", "--no-cache", "--format", "sarif"],
        ["check", ".", "--no-cache", "--format", "json"],
    ):
        proc = mllint_cli(args, root)
        assert "hunter2" not in proc.stdout + proc.stderr, args
        assert "outside the project" in proc.stdout, args
    doc = json.loads(mllint_cli(["check", ".", "--no-cache", "--format", "json"], root).stdout)
    leaks = [f for f in doc["findings"] if f["path"] == "pkg/leak.py"]
    assert [f["code"] for f in leaks] == ["ML003"]


# -- --output --------------------------------------------------------------------------------------


def test_output_to_special_files_streams_and_never_replaces_them(tmp_path: Path, mllint_cli, run_mllint) -> None:
    root = _repo(tmp_path)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    import threading

    got = {}

    def reader() -> None:
        with open(fifo, "rb") as fh:
            got["data"] = fh.read()

    thread = threading.Thread(target=reader)
    thread.start()
    proc = mllint_cli(["check", ".", "--no-cache", "--format", "json", "-o", str(fifo)], root)
    thread.join(timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert json.loads(got["data"])["schema"] == "mllint-json"
    import stat as stat_mod

    assert stat_mod.S_ISFIFO(os.lstat(fifo).st_mode)  # still a FIFO, not replaced by a regular file
    # links to special files, made here so that a careless writer could only replace its own link: one to
    # /dev/null, and one like /dev/stdout (a link to /proc/self/fd/1, here the captured pipe)
    null = tmp_path / "null"
    null.symlink_to("/dev/null")
    assert mllint_cli(["check", ".", "--no-cache", "-o", str(null)], root).returncode == 1
    assert null.is_symlink() and stat_mod.S_ISCHR(os.stat(null).st_mode)
    stdout = tmp_path / "stdout"
    stdout.symlink_to("/proc/self/fd/1")  # a process's own stdout: only a real process has the captured pipe there
    out = run_mllint(["check", ".", "--no-cache", "--format", "json", "-o", str(stdout)], root)
    assert out.returncode == 1 and json.loads(out.stdout)["schema"] == "mllint-json"
    assert stdout.is_symlink()


def test_output_errors_are_usage_errors(tmp_path: Path, mllint_cli) -> None:
    root = _repo(tmp_path)
    folder = tmp_path / "a-folder"
    folder.mkdir()
    proc = mllint_cli(["check", ".", "--no-cache", "-o", str(folder)], root)
    assert proc.returncode == 2 and "is a directory" in proc.stderr and "Traceback" not in proc.stderr
    blocked = tmp_path / "a-file"
    blocked.write_text("x")
    under_file = mllint_cli(["check", ".", "--no-cache", "-o", str(blocked / "r.json")], root)
    assert under_file.returncode == 2 and "cannot write" in under_file.stderr and "Traceback" not in under_file.stderr
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        ro = mllint_cli(["check", ".", "--no-cache", "-o", str(locked / "r.json")], root)
        assert ro.returncode == 2 and "cannot write" in ro.stderr


def test_output_keeps_the_mode_and_replaces_a_symlink_instead_of_following_it(tmp_path: Path, mllint_cli) -> None:
    root = _repo(tmp_path)
    report = tmp_path / "report.json"
    report.write_text("old")
    report.chmod(0o644)
    assert mllint_cli(["check", ".", "--no-cache", "--format", "json", "-o", str(report)], root).returncode == 1
    assert (report.stat().st_mode & 0o777) == 0o644 and json.loads(report.read_text())["schema"] == "mllint-json"
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    link = root / "mllint.sarif"  # a checkout can ship this symlink where CI writes its report
    link.symlink_to(victim)
    assert mllint_cli(["check", ".", "--no-cache", "--format", "sarif", "-o", "mllint.sarif"], root).returncode == 1
    assert victim.read_text() == "keep me\n" and not link.is_symlink()


@pytest.mark.parametrize("value", ["-1", "0", "nan", "inf", "soon"])
def test_bad_timeouts_are_usage_errors(tmp_path: Path, mllint_cli, value: str) -> None:
    root = _repo(tmp_path)
    proc = mllint_cli(["check", ".", "--confirm", "--model", "pkg.model:make", "--timeout", value], root)
    assert proc.returncode == 2 and "--timeout" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


def test_a_configured_timeout_must_be_positive(tmp_path: Path, mllint_cli) -> None:
    root = _repo(tmp_path)
    (root / "pyproject.toml").write_text(
        '[tool.mllint]\n[[tool.mllint.models]]\nfactory = "pkg.model:make"\ntimeout = 0\n'
    )
    proc = mllint_cli(["check", ".", "--no-cache"], root)
    assert proc.returncode == 2 and "'timeout' must be a positive number" in proc.stderr


@pytest.mark.export
def test_the_command_line_timeout_wins_over_the_configured_one(tmp_path: Path, run_mllint) -> None:
    pytest.importorskip("torch")
    root = tmp_path / "proj"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "stuck.py").write_text(
        textwrap.dedent("""\
        import time

        import torch


        class Stuck(torch.nn.Module):
            def forward(self, x):
                if torch.jit.is_tracing():
                    while True:
                        time.sleep(0.05)
                return x + 1


        def make():
            return Stuck(), (torch.randn(2, 3),)
        """)
    )
    (root / "pyproject.toml").write_text(
        '[tool.mllint]\ntargets = ["torchscript-trace"]\n'
        '[[tool.mllint.models]]\nname = "stuck"\nfactory = "pkg.stuck:make"\ntimeout = 600\n'
    )
    proc = run_mllint(["check", ".", "--confirm", "--no-cache", "--format", "json", "--timeout", "4"], root)
    (export,) = json.loads(proc.stdout)["exports"]
    assert export["status"] == "timeout" and export["seconds"] < 60, export


# -- pathological trees ----------------------------------------------------------------------------


def test_symlink_loops_and_dangling_links_are_reported_and_the_rest_is_checked(tmp_path: Path, mllint_cli) -> None:
    root = _repo(tmp_path)
    (root / "pkg" / "a.py").symlink_to("b.py")
    (root / "pkg" / "b.py").symlink_to("a.py")
    (root / "pkg" / "gone.py").symlink_to("nowhere.py")
    (root / "pkg" / "self").symlink_to(".", target_is_directory=True)
    for fmt in ("json", "sarif", "text"):
        proc = mllint_cli(["check", ".", "--no-cache", "--format", fmt], root)
        assert proc.returncode == 1 and "Traceback" not in proc.stderr, (fmt, proc.stderr)
    doc = json.loads(mllint_cli(["check", ".", "--no-cache", "--format", "json"], root).stdout)
    by_path = {f["path"]: f["code"] for f in doc["findings"]}
    assert by_path["pkg/a.py"] == by_path["pkg/b.py"] == by_path["pkg/gone.py"] == "ML003"
    assert by_path["pkg/model.py"] == "PT101"


def test_a_file_name_that_is_not_utf8_is_reported_in_every_format(tmp_path: Path, mllint_cli) -> None:
    root = _repo(tmp_path)
    with open(os.fsencode(str(root / "pkg")) + b"/caf\xe9.py", "w") as fh:
        fh.write(HAZARD)
    sarif_path = tmp_path / "out.sarif"
    for fmt in ("json", "sarif", "text", "github"):
        out = tmp_path / f"out.{fmt}"
        proc = mllint_cli(["check", ".", "--no-cache", "--format", fmt, "-o", str(out)], root)
        assert proc.returncode == 1 and "Traceback" not in proc.stderr, (fmt, proc.stderr)
        if fmt in ("text", "github"):  # the name's own bytes, as ruff and git print them
            assert b"caf\xe9.py" in out.read_bytes()
        else:  # JSON stays valid UTF-8
            out.read_bytes().decode("utf-8")
    assert mllint_cli(["check", ".", "--no-cache", "--format", "sarif", "-o", str(sarif_path)], root).returncode == 1
    uris = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for r in json.loads(sarif_path.read_text(encoding="utf-8"))["runs"][0]["results"]
    }
    assert "pkg/caf%E9.py" in uris  # the name's own byte, percent-encoded
    doc = json.loads(mllint_cli(["check", ".", "--no-cache", "--format", "json"], root).stdout)
    assert "pkg/caf\udce9.py" in {f["path"] for f in doc["findings"]}


def test_excludes_apply_below_a_folder_named_on_the_command_line(tmp_path: Path, mllint_cli) -> None:
    root = tmp_path / "proj"
    (root / "build" / "x" / "build").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[tool.mllint]\n")
    (root / "build" / "x" / "model.py").write_text(HAZARD)
    (root / "build" / "x" / "build" / "generated.py").write_text(HAZARD)
    proc = mllint_cli(["check", "build/x", "--no-cache", "--format", "json"], root)
    assert proc.returncode == 1, proc.stdout
    assert {f["path"] for f in json.loads(proc.stdout)["findings"]} == {"build/x/model.py"}
    # the whole tree still skips build/ by default
    assert json.loads(mllint_cli(["check", ".", "--no-cache", "--format", "json"], root).stdout)["findings"] == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every folder")
def test_an_unreadable_folder_is_reported(tmp_path: Path, mllint_cli) -> None:
    root = _repo(tmp_path)
    locked = root / "pkg" / "locked"
    locked.mkdir()
    (locked / "m.py").write_text(HAZARD)
    locked.chmod(0)
    try:
        doc = json.loads(mllint_cli(["check", ".", "--no-cache", "--format", "json"], root).stdout)
    finally:
        locked.chmod(0o755)
    assert {"pkg/locked": "ML003"}.items() <= {f["path"]: f["code"] for f in doc["findings"]}.items()
