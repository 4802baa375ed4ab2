"""Baselines for gradual adoption: record today's findings, then report only new ones.

An entry is ``(path, code, fingerprint)``: the display path (relative to the project root), the
rule code, and the GitHub-style ``primaryLocationLineHash`` of the finding's line (a hash of the
line's text and what follows it, see ``fingerprints``). Line numbers are not part of the match, so
entries survive edits elsewhere in the file that shift lines. Entries form a multiset: two equal
findings on one line need two entries. The file is sorted, indented JSON, so a baseline update
reads as a plain diff in review and shrinks as findings are fixed.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from mllint.findings import Finding
from mllint.fingerprints import file_line_hashes, line_hashes

FORMAT_VERSION = 1
#: How a finding matched by the baseline is marked (``Finding.suppressed``; SARIF kind "external").
SUPPRESSED_BY = "baseline"
#: Tool diagnostics that must never be hidden by a baseline (mllint itself failed).
_NEVER = ("ML004",)

Key = Tuple[str, str, str]


class BaselineError(Exception):
    """The baseline file cannot be read or is not a baseline (a usage error)."""


@dataclass(frozen=True)
class Entry:
    path: str
    code: str
    fingerprint: str
    message: str = ""  # for the reader of the file; not part of the match

    @property
    def key(self) -> Key:
        return (self.path, self.code, self.fingerprint)


@dataclass
class Applied:
    """The outcome of matching findings against a baseline."""

    findings: List[Finding]
    matched: int = 0
    stale: List[Entry] = field(default_factory=list)


class _Hashes:
    """Line hashes per display path, read once per file; ``texts`` gives buffers not read from disk (stdin)."""

    def __init__(self, root: Path, texts: Optional[Dict[str, str]] = None) -> None:
        self.root = root
        self.cache: Dict[str, Optional[Dict[int, str]]] = {k: line_hashes(v) for k, v in (texts or {}).items()}

    def get(self, path: str, line: int) -> Optional[str]:
        if path not in self.cache:
            full = Path(path) if Path(path).is_absolute() else self.root / path
            self.cache[path] = file_line_hashes(full) if path != "-" and full.is_file() else None
        hashes = self.cache[path]
        return hashes.get(line) if hashes else None


def eligible(f: Finding) -> bool:
    """Whether a baseline may hold this finding (unsuppressed, and not mllint's own failure)."""
    return f.suppressed is None and f.code not in _NEVER


def entries_for(findings: Iterable[Finding], root: Path, texts: Optional[Dict[str, str]] = None) -> List[Entry]:
    """Baseline entries for the unsuppressed findings (those whose file can be fingerprinted)."""
    hashes = _Hashes(root, texts)
    out = []
    for f in findings:
        if not eligible(f):
            continue
        fp = hashes.get(f.path, f.line)
        if fp is not None:
            out.append(Entry(f.path, f.code, fp, f.message))
    return sorted(out, key=lambda e: (e.path, e.code, e.fingerprint, e.message))


def dumps(entries: Sequence[Entry]) -> str:
    """Stable text: sorted entries, sorted keys, one field per line, trailing newline."""
    doc = {
        "version": FORMAT_VERSION,
        "tool": "mllint",
        "findings": [
            {"path": e.path, "code": e.code, "fingerprint": e.fingerprint, "message": e.message} for e in entries
        ],
    }
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def load(path: Path) -> List[Entry]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BaselineError(f"{path}: no such file or directory (create it with --update-baseline)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BaselineError(f"{path}: cannot read the baseline: {exc}") from None
    except json.JSONDecodeError as exc:
        raise BaselineError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("findings"), list):
        raise BaselineError(f"{path}: not an mllint baseline (expected an object with a 'findings' list)")
    if doc.get("version") != FORMAT_VERSION:
        raise BaselineError(f"{path}: unsupported baseline version {doc.get('version')!r} (expected {FORMAT_VERSION})")
    out = []
    for i, item in enumerate(doc["findings"]):
        if not isinstance(item, dict) or not all(isinstance(item.get(k), str) for k in ("path", "code", "fingerprint")):
            raise BaselineError(f"{path}: findings[{i}] needs string 'path', 'code' and 'fingerprint'")
        out.append(Entry(item["path"], item["code"], item["fingerprint"], str(item.get("message", ""))))
    return out


def _in_scope(entry: Entry, root: Path, checked: Sequence[Path]) -> bool:
    """Whether this run looked at the entry's file (only those entries can be stale)."""
    full = Path(os.path.normpath(root / entry.path))
    for p in checked:
        if full == p or p in full.parents:
            return True
    return False


def apply(
    findings: Sequence[Finding],
    entries: Sequence[Entry],
    root: Path,
    checked: Sequence[Path],
    texts: Optional[Dict[str, str]] = None,
) -> Applied:
    """Mark findings that the baseline lists as suppressed; report entries nothing matched.

    Two passes: first by ``(path, code, fingerprint)``; then the entries left match remaining
    findings by ``(path, code, message)``, since an edit within the fingerprint's window (the
    100 characters after the line start) changes the hash while the finding stays the same.
    ``checked``: the absolute paths the run was given; entries for files outside them are left
    alone (neither matched nor stale), so checking one file does not call the rest stale.
    """
    by_hash = Counter(e.key for e in entries)
    hashes = _Hashes(root, texts)
    out = list(findings)
    pending = []
    for i, f in enumerate(out):
        if not eligible(f):
            continue
        fp = hashes.get(f.path, f.line)
        key = (f.path, f.code, fp or "")
        if fp is not None and by_hash[key] > 0:
            by_hash[key] -= 1
            out[i] = f.with_(suppressed=SUPPRESSED_BY)
        else:
            pending.append(i)
    left = []  # entries the first pass did not use up
    for e in entries:
        if by_hash[e.key] > 0:
            by_hash[e.key] -= 1
            left.append(e)
    by_message = Counter((e.path, e.code, e.message) for e in left)
    for i in pending:
        f = out[i]
        mkey = (f.path, f.code, f.message)
        if by_message[mkey] > 0:
            by_message[mkey] -= 1
            out[i] = f.with_(suppressed=SUPPRESSED_BY)
    stale = []
    for e in left:
        mkey = (e.path, e.code, e.message)
        if by_message[mkey] > 0:
            by_message[mkey] -= 1
            if _in_scope(e, root, checked):
                stale.append(e)
    matched = sum(1 for f in out if f.suppressed == SUPPRESSED_BY)
    return Applied(out, matched, stale)
