"""Column conversion: LibCST counts code points; SARIF, editors and GitHub count UTF-16 code units."""

from __future__ import annotations

import re
from typing import List

# Python ends lines at LF, CRLF and CR only. ``str.splitlines`` also splits at form feed, vertical
# tab, U+2028 and friends, which would shift every later line number away from LibCST's.
_LINE_END = re.compile(r"\r\n|\r|\n")


def split_lines(text: str) -> List[str]:
    """The lines of ``text`` as Python numbers them (index 0 is line 1), without line ends."""
    lines = _LINE_END.split(text)
    if lines and lines[-1] == "" and text:
        lines.pop()  # a final line end does not start another line
    return lines


def utf16_column(line_text: str, codepoint_col: int) -> int:
    """0-based UTF-16 column for a 0-based code-point column of ``line_text``.

    Characters outside the Basic Multilingual Plane (emoji, rare CJK) take two UTF-16 units.
    Columns past the end of the line keep their distance from it.
    """
    prefix = line_text[:codepoint_col]
    return codepoint_col + sum(1 for ch in prefix if ord(ch) > 0xFFFF)
