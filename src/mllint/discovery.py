"""File discovery: which ``*.py`` files a run checks.

Directories are walked with the configured excludes and what git ignores pruned; files named on
the command line are always checked (unless ``--force-exclude``, as pre-commit needs).
"""

from __future__ import annotations

import fnmatch
import os
import subprocess
from pathlib import Path, PurePosixPath
from typing import List, Optional, Sequence, Set

STDIN = "-"


def _matches(rel: PurePosixPath, patterns: Sequence[str]) -> bool:
    text = rel.as_posix()
    for pat in patterns:
        pat = pat.rstrip("/")
        if "/" in pat:
            if fnmatch.fnmatchcase(text, pat) or fnmatch.fnmatchcase(text, pat + "/*"):
                return True
        elif any(fnmatch.fnmatchcase(part, pat) for part in rel.parts):
            return True
    return False


class GitIgnore:
    """What git ignores under one work tree (asked once, with git's own matcher)."""

    def __init__(self, top: Path, ignored: Set[str]) -> None:
        self.top = top
        self.ignored = ignored

    @classmethod
    def for_path(cls, path: Path) -> Optional["GitIgnore"]:
        try:
            top = subprocess.run(
                ["git", "-C", str(path), "rev-parse", "--show-toplevel"],
                capture_output=True, text=True, timeout=30, check=True,
            ).stdout.strip()
            out = subprocess.run(
                ["git", "-C", top, "ls-files", "--others", "--ignored", "--exclude-standard",
                 "--directory", "-z"],
                capture_output=True, timeout=60, check=True,
            ).stdout
        except (OSError, subprocess.SubprocessError):
            return None
        entries = {e.decode("utf-8", "surrogateescape").rstrip("/") for e in out.split(b"\0") if e}
        return cls(Path(top).resolve(), entries)

    def is_ignored(self, path: Path) -> bool:
        try:
            rel = path.resolve().relative_to(self.top).as_posix()
        except ValueError:
            return False
        if rel in self.ignored:
            return True
        parts = rel.split("/")
        return any("/".join(parts[:i]) in self.ignored for i in range(1, len(parts)))


def discover(
    paths: Sequence[str],
    root: Path,
    exclude: Sequence[str],
    *,
    force_exclude: bool = False,
    respect_gitignore: bool = True,
) -> List[Path]:
    """The files to check, sorted, without duplicates. ``-`` (stdin) is kept as given."""
    found: Set[Path] = set()
    out: List[Path] = []
    gitignores: dict = {}

    def gitignore_for(path: Path) -> Optional[GitIgnore]:
        if not respect_gitignore:
            return None
        key = path if path.is_dir() else path.parent
        for known_top, gi in gitignores.items():
            if gi is not None and (key == known_top or known_top in key.parents):
                return gi
        gi = GitIgnore.for_path(key)
        gitignores[gi.top if gi else key] = gi
        return gi

    def rel_to_root(path: Path) -> PurePosixPath:
        try:
            return PurePosixPath(path.resolve().relative_to(root.resolve()).as_posix())
        except ValueError:
            return PurePosixPath(path.as_posix())

    def add(path: Path) -> None:
        key = path.resolve()
        if key not in found:
            found.add(key)
            out.append(path)

    for raw in paths:
        if raw == STDIN:
            out.append(Path(STDIN))
            continue
        path = Path(raw)
        if path.is_dir():
            gi = gitignore_for(path)
            for dirpath, dirnames, filenames in os.walk(path):
                here = Path(dirpath)
                keep = []
                for d in sorted(dirnames):
                    sub = here / d
                    if _matches(rel_to_root(sub), exclude) or (gi and gi.is_ignored(sub)):
                        continue
                    keep.append(d)
                dirnames[:] = keep
                for name in sorted(filenames):
                    if not name.endswith(".py"):
                        continue
                    file = here / name
                    if _matches(rel_to_root(file), exclude) or (gi and gi.is_ignored(file)):
                        continue
                    add(file)
        else:
            # Named explicitly: always checked (and missing files are reported by the reader),
            # unless --force-exclude asks to apply the excludes to it too.
            if force_exclude:
                gi = gitignore_for(path) if path.exists() else None
                if _matches(rel_to_root(path), exclude) or (gi and gi.is_ignored(path)):
                    continue
            add(path)
    return sorted(out, key=lambda p: p.as_posix())


def display_path(path: Path, root: Path) -> str:
    """Path as shown to the user: relative to the project root when under it, forward slashes."""
    if str(path) == STDIN:
        return STDIN
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return Path(os.path.relpath(path.resolve(), Path.cwd())).as_posix() if path.is_absolute() else path.as_posix()
