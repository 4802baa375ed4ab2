"""Column conversion: LibCST counts code points; SARIF and editors count UTF-16 code units."""

from __future__ import annotations


def utf16_column(line_text: str, codepoint_col: int) -> int:
    """0-based UTF-16 column for a 0-based code-point column of ``line_text``."""
    prefix = line_text[:codepoint_col]
    return codepoint_col + sum(1 for ch in prefix if ord(ch) > 0xFFFF)
