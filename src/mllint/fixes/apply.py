"""Fixing files on disk: read, fix, and replace each file atomically (or print the diff).

A file is rewritten through a temporary sibling and one rename, keeping its permissions, encoding
and BOM. It is left alone, and reported, when it is reached through a symlink (never written
through), lies outside the project, or changed while mllint was fixing it (its bytes just before
the rename differ from the bytes the fix was computed from).
"""

from __future__ import annotations

import io
import os
import stat
import tokenize
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from mllint.add_ignore import _through_symlink, _unwritable
from mllint.atomic import write_atomic
from mllint.catalogue import Catalogue
from mllint.findings import Finding
from mllint.fixes import Project, fix_text, fixable, safety_of, unified_diff


@dataclass
class Outcome:
    """What ``fix_files`` did (or, with ``write=False``, would do)."""

    fixed: Dict[str, List[Finding]] = field(default_factory=dict)  # display path -> findings fixed
    diffs: Dict[str, str] = field(default_factory=dict)  # display path -> unified diff
    skipped: List[Tuple[Finding, str]] = field(default_factory=list)  # fixable findings left alone, with why
    #: findings whose fix is unsafe, left for --unsafe-fixes
    unsafe_left: int = 0

    @property
    def total(self) -> int:
        return sum(len(v) for v in self.fixed.values())


class _Changed(Exception):
    """The file changed between reading it and replacing it."""


def _decode(data: bytes) -> Tuple[str, str, bool]:
    encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    text = data.decode(encoding)
    bom = text.startswith("\ufeff")
    return (text[1:] if bom else text), encoding, bom


def _replace(path: Path, before: bytes, after: bytes) -> None:
    """Replace ``path``'s content ``before`` with ``after`` in one rename, unless the file is now a symlink or
    its content is no longer ``before``."""
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISREG(info.st_mode):
        raise _Changed("it is no longer a regular file")
    if path.read_bytes() != before:
        raise _Changed("it changed while mllint was fixing it")
    write_atomic(path, after, mode=stat.S_IMODE(info.st_mode))


#: Lints one file's bytes as if they were the file: (display path, content) -> its findings.
Relint = Callable[[str, bytes], Sequence[Finding]]


def _key(f: Finding) -> Tuple[str, int, int, str]:
    return (f.code, f.span.line, f.span.col, f.message)


def fix_files(
    findings: Sequence[Finding],
    root: Path,
    catalogue: Catalogue,
    unsafe: bool = False,
    write: bool = True,
    given: Sequence[str] = (),
    relint: Optional[Relint] = None,
    project: Optional[Project] = None,
) -> Outcome:
    """Apply the fixes of ``findings`` file by file (``write=False``: compute the diffs only).

    ``relint``: when given, each file's bytes as read for fixing are linted again, and a file whose fixable
    findings are not those of ``findings`` (it changed since it was checked) is left alone."""
    outcome = Outcome()
    by_path: Dict[str, List[Finding]] = defaultdict(list)
    for f in findings:
        if fixable(f, catalogue, unsafe):
            by_path[f.path].append(f)
        elif f.suppressed is None and safety_of(f.code, catalogue) == "unsafe":
            outcome.unsafe_left += 1
    if any(g != "-" and _through_symlink(g) for g in given):
        link = "a path given goes through a symlink (symlinks are never written through)"
        outcome.skipped.extend((f, link) for items in by_path.values() for f in items)
        return outcome
    for display, items in sorted(by_path.items()):
        why: Optional[str] = "stdin cannot be fixed in place" if display == "-" else _unwritable(root, display)
        if why:
            outcome.skipped.extend((f, why) for f in items)
            continue
        path = root / display
        try:
            data = path.read_bytes()
            text, encoding, bom = _decode(data)
        except (OSError, SyntaxError, UnicodeDecodeError, LookupError) as exc:
            outcome.skipped.extend((f, f"cannot read the file: {exc}") for f in items)
            continue
        if relint is not None:
            now = sorted(_key(f) for f in relint(display, data) if fixable(f, catalogue, unsafe))
            if now != sorted(_key(f) for f in items):
                outcome.skipped.extend((f, "file left alone: it changed since mllint checked it") for f in items)
                continue
        result = fix_text(text, items, project=project)
        outcome.skipped.extend((f, "no mechanical fix for this site") for f in result.unfixed)
        if result.text is None:
            continue
        outcome.diffs[display] = unified_diff(display, text, result.text)
        if write:
            new = ("\ufeff" if bom else "") + result.text
            try:
                _replace(path, data, new.encode(encoding))
            except (_Changed, OSError) as exc:
                outcome.skipped.extend((f, f"file left alone: {exc}") for f in result.fixed)
                del outcome.diffs[display]
                continue
        outcome.fixed[display] = result.fixed
    return outcome
