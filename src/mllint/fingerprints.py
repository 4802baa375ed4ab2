"""GitHub code scanning's ``primaryLocationLineHash``: a rolling hash of each line and what follows it.

GitHub's upload action computes this value for results that carry none, and warns when a result's
own value differs. mllint computes it the same way, so alerts keep their identity when unrelated
lines move, and IDE users and CI see the same fingerprint. The algorithm, as the action runs it:

- the file is read as UTF-8 and walked in UTF-16 code units (a BOM is kept as a character);
- spaces and tabs are skipped; CR and CRLF count as one LF;
- a line's hash is a polynomial rolling hash (base 37, wrapping at 64 bits) of the 100 units that
  start at the line's first unit, running on into the following lines; after the last unit come
  one 0xFFFF unit and zeros;
- the value is ``"<unsigned hex>:<n>"`` where ``n`` counts earlier lines with the same hash.

Checked against values produced by GitHub's own implementation (tests/data/sarif/examples/fingerprints).
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional

_MASK = (1 << 64) - 1
_WINDOW = 100
_BASE = 37
_END_OF_FILE = 0xFFFF
_SPACE, _TAB, _LF, _CR = 0x20, 0x09, 0x0A, 0x0D


class _RollingLineHasher:
    """Feeds code units through a window of ``_WINDOW`` units; emits a line's hash when it fills."""

    def __init__(self) -> None:
        self.window: List[int] = [0] * _WINDOW
        self.line_at: List[int] = [-1] * _WINDOW  # line number starting at each window slot, or -1
        self.drop_factor = pow(_BASE, _WINDOW, 1 << 64)
        self.value = 0
        self.index = 0
        self.line = 0
        self.at_line_start = True
        self.after_cr = False
        self.seen: Dict[str, int] = {}
        self.hashes: Dict[int, str] = {}

    def _emit(self) -> None:
        text = format(self.value, "x")
        self.seen[text] = self.seen.get(text, 0) + 1
        self.hashes[self.line_at[self.index]] = f"{text}:{self.seen[text]}"
        self.line_at[self.index] = -1

    def _push(self, unit: int) -> None:
        leaving = self.window[self.index]
        self.window[self.index] = unit
        self.value = (_BASE * self.value + unit - self.drop_factor * leaving) & _MASK
        self.index = (self.index + 1) % _WINDOW

    def feed(self, unit: int) -> None:
        if unit in (_SPACE, _TAB) or (self.after_cr and unit == _LF):
            self.after_cr = False
            return
        self.after_cr = unit == _CR
        if unit == _CR:
            unit = _LF
        if self.line_at[self.index] != -1:
            self._emit()
        if self.at_line_start:
            self.at_line_start = False
            self.line += 1
            self.line_at[self.index] = self.line
        if unit == _LF:
            self.at_line_start = True
        self._push(unit)

    def finish(self) -> Dict[int, str]:
        self.feed(_END_OF_FILE)
        for _ in range(_WINDOW):
            if self.line_at[self.index] != -1:
                self._emit()
            self._push(0)
        return self.hashes


def line_hashes(text: str) -> Dict[int, str]:
    """1-based line number -> ``primaryLocationLineHash`` for every line (and one past the end)."""
    hasher = _RollingLineHasher()
    units = text.encode("utf-16-le", "surrogatepass")
    for i in range(0, len(units), 2):
        hasher.feed(units[i] | (units[i + 1] << 8))
    return hasher.finish()


def file_line_hashes(path: Path) -> Optional[Dict[int, str]]:
    """Line hashes of a file as GitHub's action reads it; None when unreadable or not UTF-8.

    The action decodes invalid UTF-8 with replacement characters; rather than imitate its
    decoder, mllint leaves such files without a fingerprint and lets the action compute it.
    """
    try:
        return line_hashes(path.read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError):
        return None
