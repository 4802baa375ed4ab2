"""``--add-ignore``: write ``# mllint: ignore[CODE]`` comments for the current findings (like ruff's ``--add-noqa``).

Edits are line-comment insertions on the original bytes, so everything else in the file (quotes,
spacing, line endings, encoding, BOM) stays as it was. A comment goes on the finding's own line
when a comment can end that line, else on the first line of the enclosing statement (the two
lines a suppression honours, see ``suppressions``); a line that ends inside a string or with a
backslash continuation cannot take one. An existing ``# mllint: ignore[...]`` on the line gets the
code added to its list. Running it twice changes nothing: re-linting finds nothing left to add.
"""

from __future__ import annotations

import io
import os
import re
import tokenize
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Set, Tuple

from mllint.atomic import write_atomic
from mllint.findings import Finding
from mllint.suppressions import _MARK

_ENDING = re.compile(r"(\r\n|\r|\n)$")


@dataclass
class Outcome:
    """What ``add_ignores`` did: comments added per file, and findings it could not place (with why)."""

    added: Dict[str, int] = field(default_factory=dict)
    skipped: List[Tuple[Finding, str]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.added.values())


@dataclass
class _Layout:
    lines: List[str]  # physical lines, each with its own ending
    blocked: Set[int]  # 1-based lines that cannot end with a comment
    comments: Dict[int, Tuple[int, str]]  # line -> (column, comment text)


def _layout(text: str) -> Optional[_Layout]:
    lines = io.StringIO(text, newline="").readlines()
    blocked: Set[int] = set()
    comments: Dict[int, Tuple[int, str]] = {}
    try:
        for tok in tokenize.generate_tokens(iter(lines).__next__):
            if tok.type == tokenize.COMMENT:
                comments[tok.start[0]] = (tok.start[1], tok.string)
            elif tok.type not in (tokenize.NEWLINE, tokenize.NL) and tok.end[0] > tok.start[0]:
                blocked.update(range(tok.start[0], tok.end[0]))  # the line ends inside this token
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return None
    for number, line in enumerate(lines, 1):
        if number not in comments and _ENDING.sub("", line).endswith("\\"):
            blocked.add(number)
    return _Layout(lines, blocked, comments)


def _with_codes(line: str, comment: Optional[Tuple[int, str]], codes: Sequence[str]) -> str:
    """``line`` with ``codes`` ignored by its trailing comment (merged into an existing ignore list)."""
    ending = _ENDING.search(line)
    eol = ending.group(0) if ending else ""
    body = line[: len(line) - len(eol)]
    if comment is not None:
        col, text = comment
        m = _MARK.search(text)
        if m and m.group(1).lower() == "ignore":
            if m.group(2) is None:
                return line  # a bare ignore already covers every code
            have = [c.strip() for c in m.group(2).split(",") if c.strip()]
            merged = ",".join(have + [c for c in codes if c.upper() not in {h.upper() for h in have}])
            start = col + m.start(2)
            return body[:start] + merged + body[start + len(m.group(2)) :] + eol
    return body.rstrip(" \t") + f"  # mllint: ignore[{','.join(codes)}]" + eol


def _plan(layout: _Layout, findings: Sequence[Finding], outcome: Outcome) -> Dict[int, List[str]]:
    wanted: Dict[int, List[str]] = defaultdict(list)
    for f in findings:
        candidates = [f.line] + ([f.stmt_line] if f.stmt_line is not None else [])
        line = next((n for n in candidates if 1 <= n <= len(layout.lines) and n not in layout.blocked), None)
        if line is None:
            outcome.skipped.append((f, "no line of the statement can end with a comment"))
        elif f.code not in wanted[line]:
            wanted[line].append(f.code)
    return wanted


def ignore_line_edit(text: str, finding: Finding) -> Optional[Tuple[int, str]]:
    """``(line, new text of that line without its ending)`` that ignores ``finding``; None if no line can.

    For editors (the language server's "ignore on this line" action) working on an unsaved buffer.
    """
    layout = _layout(text)
    if layout is None:
        return None
    wanted = _plan(layout, [finding], Outcome())
    for number, codes in wanted.items():
        return number, _ENDING.sub("", _with_codes(layout.lines[number - 1], layout.comments.get(number), codes))
    return None


def _rewrite(path: Path, findings: Sequence[Finding], outcome: Outcome) -> int:
    try:
        data = path.read_bytes()
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        text = data.decode(encoding)
    except (OSError, SyntaxError, UnicodeDecodeError, LookupError) as exc:
        outcome.skipped.extend((f, f"cannot read the file: {exc}") for f in findings)
        return 0
    layout = _layout(text)
    if layout is None:
        outcome.skipped.extend((f, "the file does not tokenize") for f in findings)
        return 0
    wanted = _plan(layout, findings, outcome)
    lines = list(layout.lines)
    for number, codes in wanted.items():
        lines[number - 1] = _with_codes(lines[number - 1], layout.comments.get(number), sorted(codes))
    new = "".join(lines)
    if new == text:
        return 0
    mode = os.stat(path).st_mode & 0o7777
    write_atomic(path, new.encode(encoding))
    os.chmod(path, mode)
    return sum(1 for n in wanted if lines[n - 1] != layout.lines[n - 1])


def _unwritable(root: Path, display: str) -> Optional[str]:
    """Why ``display`` must not be edited: outside the project, or reached through a symlink."""
    if Path(display).is_absolute() or ".." in Path(display).parts:
        return "outside the project root (only the project's own files are edited)"
    here = root
    for part in Path(display).parts:
        here = here / part
        if here.is_symlink():
            return "reached through a symlink (symlinks are never written through)"
    return None if here.is_file() else "not a regular file"


def _through_symlink(given: str) -> bool:
    """Whether a command-line path goes through a symlink in the part the user named (below the cwd)."""
    path = Path(os.path.abspath(given))
    cwd = Path(os.getcwd())
    parts = path.relative_to(cwd).parts if cwd in path.parents else (path.name,)
    here = cwd if cwd in path.parents else path.parent
    for part in parts:
        here = here / part
        if here.is_symlink():
            return True
    return False


def add_ignores(findings: Sequence[Finding], root: Path, given: Sequence[str] = ()) -> Outcome:
    """Insert ignore comments for the unsuppressed hazard findings (tool diagnostics ``ML0xx`` excluded).

    ``given``: the command-line paths; when one goes through a symlink nothing is edited, since
    the files found there lie outside what the user pointed at.
    """
    outcome = Outcome()
    if any(g != "-" and _through_symlink(g) for g in given):
        outcome.skipped.extend(
            (f, "a path given goes through a symlink (symlinks are never written through)")
            for f in findings
            if f.suppressed is None and not f.code.startswith("ML0")
        )
        return outcome
    by_path: Dict[str, List[Finding]] = defaultdict(list)
    for f in findings:
        if f.suppressed is None and not f.code.startswith("ML0"):
            by_path[f.path].append(f)
    for display, items in sorted(by_path.items()):
        if display == "-":
            outcome.skipped.extend((f, "stdin cannot be edited") for f in items)
            continue
        why = _unwritable(root, display)
        if why:
            outcome.skipped.extend((f, why) for f in items)
            continue
        path = root / display
        added = _rewrite(path, items, outcome)
        if added:
            outcome.added[display] = added
    return outcome
