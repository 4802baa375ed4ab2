"""File discovery: which ``*.py`` files a run checks.

Directories are walked with the configured excludes and what git ignores pruned; files named on
the command line are always checked (unless ``--force-exclude``, as pre-commit needs). Ignore rules are
read from the files, never by running git (see ``GitIgnore``).
"""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path, PurePosixPath
from typing import Dict, List, Optional, Sequence, Set

import pathspec

STDIN = "-"


def _matches(rel: PurePosixPath, patterns: Sequence[str], below: int = 0) -> bool:
    """Whether an exclude pattern matches ``rel`` (relative to the project root): a pattern with a slash
    matches the whole path, one without matches any component past the first ``below`` (the components of a
    folder named on the command line do not exclude what the user asked for)."""
    text = rel.as_posix()
    for pat in patterns:
        pat = pat.rstrip("/")
        if "/" in pat:
            if fnmatch.fnmatchcase(text, pat) or fnmatch.fnmatchcase(text, pat + "/*"):
                return True
        elif any(fnmatch.fnmatchcase(part, pat) for part in rel.parts[below:]):
            return True
    return False


class GitIgnore:
    """What git ignores under one work tree, read from its ``.gitignore`` files and ``.git/info/exclude``.

    git itself is never run: a checkout is untrusted, and its own config (``core.fsmonitor``,
    ``core.hooksPath``, ...) would run commands of its choosing. The patterns are matched with pathspec's
    gitwildmatch implementation, with git's precedence: a deeper ``.gitignore`` over a shallower one, later
    lines over earlier ones, ``info/exclude`` lowest. A symlinked ignore file is not followed (git does not
    follow one either). Without a repository, the project root's ``.gitignore`` files are honoured the same way.
    """

    def __init__(self, top: Path) -> None:
        self.top = top
        self._specs: Dict[Path, Optional[pathspec.GitIgnoreSpec]] = {}
        self._folders: Dict[Path, bool] = {}
        self._exclude = self._read(top / ".git" / "info" / "exclude") if (top / ".git").is_dir() else None

    @classmethod
    def for_path(cls, path: Path, root: Optional[Path] = None) -> Optional["GitIgnore"]:
        """The rules of the repository holding ``path`` (its nearest folder with ``.git``), else of ``root``."""
        start = path.resolve()
        for folder in (start, *start.parents):
            if os.path.lexists(folder / ".git"):
                return cls(folder)
        if root is not None:
            root = root.resolve()
            if start == root or root in start.parents:
                return cls(root)
        return None

    @staticmethod
    def _read(path: Path) -> Optional[pathspec.GitIgnoreSpec]:
        try:
            if path.is_symlink() or not path.is_file():
                return None
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return None
        return pathspec.GitIgnoreSpec.from_lines(lines) if lines else None

    def _spec(self, folder: Path) -> Optional[pathspec.GitIgnoreSpec]:
        if folder not in self._specs:
            self._specs[folder] = self._read(folder / ".gitignore")
        return self._specs[folder]

    def is_ignored(self, path: Path) -> bool:
        try:
            absolute = Path(os.path.abspath(path))
            rel = absolute.relative_to(self.top)
        except ValueError:
            return False
        if not rel.parts or rel.parts[0] == ".git":
            return bool(rel.parts)
        if len(rel.parts) > 1:  # git never looks inside an ignored folder
            parent = absolute.parent
            if parent not in self._folders:
                self._folders[parent] = self.is_ignored(parent)
            if self._folders[parent]:
                return True
        suffix = "/" if absolute.is_dir() and not absolute.is_symlink() else ""
        decision: Optional[bool] = None
        if self._exclude is not None:
            decision = self._exclude.check_file(rel.as_posix() + suffix).include
        folder = self.top
        for depth in range(len(rel.parts)):
            spec = self._spec(folder)
            if spec is not None:
                verdict = spec.check_file(PurePosixPath(*rel.parts[depth:]).as_posix() + suffix).include
                if verdict is not None:
                    decision = verdict
            folder = folder / rel.parts[depth]
        return bool(decision)


def discover(
    paths: Sequence[str],
    root: Path,
    exclude: Sequence[str],
    *,
    force_exclude: bool = False,
    respect_gitignore: bool = True,
    unreadable: Optional[List[OSError]] = None,
) -> List[Path]:
    """The files to check, sorted, without duplicates. ``-`` (stdin) is kept as given. Folders that cannot
    be listed are appended to ``unreadable`` (their errors), for the caller to report."""
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
        gi = GitIgnore.for_path(key, root)
        gitignores[gi.top if gi else key] = gi
        return gi

    base = Path(os.path.abspath(root))

    def rel_to_root(path: Path) -> PurePosixPath:
        """Lexically (a symlink loop or a link out of the project never raises here)."""
        try:
            return PurePosixPath(Path(os.path.abspath(path)).relative_to(base).as_posix())
        except ValueError:
            return PurePosixPath(path.as_posix())

    def add(path: Path) -> None:
        key = Path(os.path.realpath(path))
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
            named = len(rel_to_root(path).parts) if rel_to_root(path) != PurePosixPath(".") else 0
            for dirpath, dirnames, filenames in os.walk(path, onerror=unreadable.append if unreadable is not None
                                                        else None):
                here = Path(dirpath)
                keep = []
                for d in sorted(dirnames):
                    sub = here / d
                    if _matches(rel_to_root(sub), exclude, named) or (gi and gi.is_ignored(sub)):
                        continue
                    keep.append(d)
                dirnames[:] = keep
                for name in sorted(filenames):
                    if not name.endswith(".py"):
                        continue
                    file = here / name
                    if _matches(rel_to_root(file), exclude, named) or (gi and gi.is_ignored(file)):
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


def display_path(path: Path, root: Path, lexical: bool = False) -> str:
    """Path as shown to the user: relative to the project root when under it, forward slashes."""
    if str(path) == STDIN:
        return STDIN
    # never raises, also on a symlink loop; ``lexical``: the link's own name, not where it leads
    real = Path(os.path.abspath(path)) if lexical else Path(os.path.realpath(path))
    try:
        return real.relative_to(os.path.abspath(root) if lexical else os.path.realpath(root)).as_posix()
    except ValueError:
        return Path(os.path.relpath(real, Path.cwd())).as_posix() if path.is_absolute() else path.as_posix()
