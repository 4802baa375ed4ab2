"""Project and module resolution: the files named on the command line, and which project file a
module name means (never an installed package, never an excluded folder)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Dict, List, Optional, Sequence, Set, Tuple

from mllint.analysis.index import module_name_for
from mllint.config import Settings
from mllint.discovery import STDIN, _matches, discover, display_path
from mllint.source import escapes_project


@dataclass
class SourceFile:
    """A file the analysis may read: one named on the command line, or a project module it imports."""

    name: str  # module name in the index ("<display>" for a second top-level script of the same name)
    summary_name: str  # the name its summary is built with
    is_package: bool
    path: Optional[Path]
    display: str
    named: bool
    data: Optional[bytes] = None  # stdin


class Project:
    """Named files, and lazy lookup of the project modules they import (never installed packages)."""

    def __init__(self, root: Path, exclude: Sequence[str], named: Sequence[SourceFile], near: Optional[Path]) -> None:
        self.root = root
        self.exclude = tuple(exclude)
        self.near = near
        self.order = [f.name for f in named]
        self.named: Dict[str, SourceFile] = {f.name: f for f in named}
        self._named_paths = {f.path.resolve() for f in named if f.path is not None and f.path.exists()}
        self._context: Dict[str, Optional[SourceFile]] = {}
        #: (display, why) of paths that are reported but never read: links out of the project, symlink loops,
        #: folders that cannot be listed
        self.rejected: List[Tuple[str, str]] = []

    def lookup(self, name: str) -> Optional[SourceFile]:
        found = self.named.get(name)
        if found is not None:
            return found
        if name in self._context:
            return self._context[name]
        result = None
        if name and all(name.split(".")) and not name.startswith("<"):
            path = _find_module_file(name, self.root, self.near)
            if (
                path is not None
                and path.resolve() not in self._named_paths
                and _inside_project(path, self.root, self.exclude)
            ):
                result = SourceFile(name, name, path.name == "__init__.py", path, display_path(path, self.root), False)
        self._context[name] = result
        return result


def build_project(
    paths: Sequence[str],
    settings: Settings,
    stdin_data: Optional[bytes],
    stdin_filename: Optional[str],
    force_exclude: bool,
) -> Project:
    root = settings.root
    exclude = tuple(settings.exclude) + tuple(settings.extend_exclude)
    named: List[SourceFile] = []
    taken: Set[str] = set()
    rejected: List[Tuple[str, str]] = []  # (display, why): reported as ML003, never read
    unreadable: List[OSError] = []
    for path in discover(paths, root, exclude, force_exclude=force_exclude, unreadable=unreadable):
        if str(path) != STDIN and os.path.islink(path) and not os.path.exists(path):
            rejected.append((display_path(path, root, lexical=True), "a symlink loop or a dangling symlink: not read"))
            continue
        if str(path) != STDIN and escapes_project(path, root):
            rejected.append(
                (display_path(path, root, lexical=True), "a symlink to a file outside the project: not read")
            )
            continue
        if str(path) == STDIN:
            real = Path(stdin_filename) if stdin_filename else None
            display = display_path(real, root) if real else STDIN
            name, is_package = module_name_for(real) if real else ("__stdin__", False)
            source = SourceFile(name, name, is_package, real, display, True, stdin_data or b"")
        else:
            name, is_package = module_name_for(path)
            source = SourceFile(name, name, is_package, path, display_path(path, root), True)
        if source.name in taken:  # two top-level scripts with the same name: keep both apart
            source.name = "<" + source.display + ">"
        taken.add(source.name)
        named.append(source)
    # A buffer given on stdin under its real filename (editors) resolves imports from beside that file too.
    near = next((f.path for f in named if f.path is not None and (f.data is None or f.path.is_file())), None)
    project = Project(root, exclude, named, near)
    project.rejected = rejected + [
        (display_path(Path(e.filename), root) if e.filename else ".", f"folder not read: {e.strerror or e}")
        for e in unreadable
    ]
    return project


_IMPORT = re.compile(r"^[ \t]*(?:from[ \t]+(\.*[\w.]*)[ \t]+import|import[ \t]+([\w.]+))", re.M)


def imported_named(project: Project, name: str, text: str) -> List[str]:
    """Named modules a file imports (a cheap textual guess, only used to order the work)."""
    source = project.named[name]
    base = source.summary_name.split(".") if source.is_package else source.summary_name.split(".")[:-1]
    out: List[str] = []
    for absolute, plain in _IMPORT.findall(text):
        target = absolute or plain
        if target.startswith("."):
            level = len(target) - len(target.lstrip("."))
            rest = target.lstrip(".")
            prefix = base[: len(base) - (level - 1)] if level > 1 else base
            target = ".".join(prefix + ([rest] if rest else []))
        parts = target.split(".")
        for cut in range(len(parts), 0, -1):
            cand = ".".join(parts[:cut])
            if cand in project.named and cand != name:
                if cand not in out:
                    out.append(cand)
                break
    return out


def order_for(project: Project, names: Sequence[str]) -> List[str]:
    """An order for the files (results do not depend on it; memory and re-parses do): each file next
    to the most imported file it imports, so that a tree is still in memory when another file needs it."""
    if len(names) < 3:
        return list(names)
    imports: Dict[str, List[str]] = {}
    for name in names:
        source = project.named[name]
        try:
            if source.data is not None:
                text = source.data.decode("utf-8", "replace")
            elif source.path is not None:
                text = source.path.read_text(encoding="utf-8", errors="replace")
            else:
                text = ""
        except OSError:
            text = ""
        imports[name] = imported_named(project, name, text)
    indegree: Dict[str, int] = {}
    for targets in imports.values():
        for t in targets:
            indegree[t] = indegree.get(t, 0) + 1

    def key(name: str) -> Tuple[str, ...]:
        folder = name.rsplit(".", 1)[0]
        outside = [t for t in imports[name] if t.rsplit(".", 1)[0] != folder and not project.named[t].is_package]
        if not outside:
            return (name,)
        top = max(outside, key=lambda t: (indegree.get(t, 0), t))
        return (top, "~", name)

    return sorted(names, key=key)


def _inside_project(path: Path, root: Path, exclude: Sequence[str]) -> bool:
    """Context files come from the project itself, never from installed packages or excluded folders."""
    try:
        rel = path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return not _matches(PurePosixPath(rel.as_posix()), exclude)


def _find_module_file(modname: str, root: Path, near: Optional[Path]) -> Optional[Path]:
    rel = Path(*modname.split("."))
    bases = [root, root / "src"]
    if near is not None:
        # the folder above the file's top-level package (where its imports resolve from)
        folder = near.resolve().parent
        while (folder / "__init__.py").is_file() and folder.parent != folder:
            folder = folder.parent
        bases.insert(0, folder)
    for base in bases:
        for cand in (base / rel.with_suffix(".py"), base / rel / "__init__.py"):
            if cand.is_file():
                return cand
    return None
