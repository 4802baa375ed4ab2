"""Reading and parsing one file: exactly one LibCST parse per file, diagnostics instead of crashes."""

from __future__ import annotations

import hashlib
import io
import os
import re
import tokenize
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Tuple

import libcst as cst

from mllint.findings import Span


@dataclass
class SourceText:
    """A file's decoded text, or why it has none."""

    display: str
    text: Optional[str]
    digest: str
    error: Optional[Tuple[str, Span, str]] = None  # (code, span, detail)


def _decode_error_span(data: bytes, offset: int) -> Span:
    line = data.count(b"\n", 0, offset) + 1
    start = data.rfind(b"\n", 0, offset) + 1
    col = len(data[start:offset].decode("utf-8", "replace"))
    return Span(line, col, line, col + 1)


def decode(display: str, data: bytes) -> SourceText:
    """Decode as Python does: a PEP 263 cookie or BOM if present, else UTF-8."""
    digest = hashlib.blake2b(data, digest_size=16).hexdigest()
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:
        return SourceText(display, None, digest, ("ML002", Span(1, 0, 1, 1), str(exc)))
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        detail = f"byte 0x{data[exc.start]:02x} at offset {exc.start} is not valid {encoding}"
        return SourceText(display, None, digest, ("ML002", _decode_error_span(data, exc.start), detail))
    except LookupError:
        return SourceText(display, None, digest, ("ML002", Span(1, 0, 1, 1), f"unknown encoding {encoding!r}"))
    if text.startswith("\ufeff"):
        text = text[1:]
    return SourceText(display, text, digest)


def _inside(path: Path, base: Path) -> bool:
    return path == base or base in path.parents


def escapes_project(path: Path, root: Path) -> bool:
    """A path in the project whose symlinks (the file's or a folder's) lead outside it."""
    return _inside(Path(os.path.abspath(path)), Path(os.path.abspath(root))) and not _inside(
        Path(os.path.realpath(path)), Path(os.path.realpath(root))
    )


def read(path: Path, display: str, root: Optional[Path] = None) -> SourceText:
    """The file's text; a symlink that resolves outside ``root`` (the project) is not read (ML003), so
    nothing outside the project (``/proc/self/environ``, a home folder) is ever echoed into a report."""
    if root is not None and escapes_project(path, root):
        return SourceText(
            display, None, "", ("ML003", Span(1, 0, 1, 0), "a symlink to a file outside the project: not read")
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        return SourceText(display, None, "", ("ML003", Span(1, 0, 1, 0), reason))
    return decode(display, data)


class ParseFailure(Exception):
    def __init__(self, span: Span, detail: str) -> None:
        super().__init__(detail)
        self.span = span
        self.detail = detail


def _python_parse(text: str) -> Optional[BaseException]:
    """What Python's own parser says of ``text``: None when it accepts it, else the error it raised.

    Asked only before a risky LibCST parse and after a failed one (no cost on ordinary files)."""
    import ast

    try:
        ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        return exc
    return None


def python_syntax_error(text: str) -> Optional[ParseFailure]:
    """Python's own syntax error for ``text`` (files that cannot hold model code are only checked so)."""
    error = _python_parse(text)
    return _syntax_failure(error, error.msg or "invalid syntax") if isinstance(error, SyntaxError) else None


def _too_deep(error: Optional[BaseException]) -> Optional[ParseFailure]:
    """The ``ParseFailure`` for nesting Python itself refuses, or None for any other verdict."""
    if isinstance(error, RecursionError):
        return ParseFailure(Span(1, 0, 1, 0), "nested deeper than Python's parser allows (not analysed)")
    if isinstance(error, MemoryError):
        return ParseFailure(Span(1, 0, 1, 0), "Python's parser ran out of memory on this file (not analysed)")
    if isinstance(error, SyntaxError) and ("too many" in (error.msg or "") or "too deeply nested" in (error.msg or "")):
        return _syntax_failure(error, f"{error.msg} (not analysed)")
    return None


def _syntax_failure(error: SyntaxError, detail: str) -> ParseFailure:
    line = error.lineno or 1
    col = max((error.offset or 1) - 1, 0)
    return ParseFailure(Span(line, col, line, col + 1), detail)


# -- memory a parse needs (issue 16, item 12) ---------------------------------------------------
#: Peak memory of one parse per token, measured (ru_maxrss before and after ``libcst.parse_module`` alone,
#: Python 3.11, LibCST's native parser), tokens counted as ``_TOKEN`` counts them (no comments, no line
#: starts): torch/_inductor/ir.py 2,626 B/token (57 k tokens, 143 MiB), transformers/modeling_utils.py
#: 2,891, torch/nn/modules/module.py 2,972, torch/_torch_docs.py 3,915 (long docstrings), generated tables
#: of short tokens 2,739-2,913 (0.05-0.5 MB), torch/testing/_internal/generated/annotated_fn_args.py 3,222
#: (108 k tokens, 332 MiB), torch/testing/_internal/common_methods_invocations.py 3,993 (200 k tokens,
#: 760 MiB; 1.3 MB). Comment and blank lines cost about 14 B per character (210,000 comment lines, 2.9 MB:
#: 39 MiB). Most of it is the parser's transient state, not the tree (after ``malloc_trim`` the 332 MiB
#: parse keeps about 80 MiB). The estimate takes the largest ratios seen, rounded up: it errs on the side
#: of refusing.
LIBCST_BYTES_PER_TOKEN = 4100
LIBCST_BYTES_PER_CHAR = 16
#: The same for Python's own parser (``ast.parse``, files that cannot hold model code): 541 B/token on
#: common_methods_invocations.py (103 MiB); comments cost it nothing.
AST_BYTES_PER_TOKEN = 650
#: One ``tok`` match per significant Python token (names, numbers, strings, operators); comments and
#: line starts are matched (so that a ``#`` or a quote inside them is not a token) but not counted.
_TOKEN = re.compile(
    r"(?P<skip>#[^\n]*|\n[ \t]*)|(?P<tok>"
    r'[rRbBuUfF]{0,2}"""(?:[^"\\]|\\.|"(?!""))*"""'
    r"|[rRbBuUfF]{0,2}'''(?:[^'\\]|\\.|'(?!''))*'''"
    r'|"(?:[^"\\\n]|\\.)*"'
    r"|'(?:[^'\\\n]|\\.)*'"
    r"|\w+|[^\w\s])",
    re.S,
)


def parse_need_mib(
    text: str, limit_mib: int, per_token: int = LIBCST_BYTES_PER_TOKEN, per_char: int = LIBCST_BYTES_PER_CHAR
) -> Optional[int]:
    """The memory (MiB) parsing ``text`` would need, when that is over ``limit_mib`` (0: no limit);
    else None. Cheap: a file too short to reach the limit (a token is at least one character) is
    not even counted."""
    if limit_mib <= 0 or len(text) * (per_token + per_char) <= limit_mib * 2**20:
        return None
    tokens = sum(1 for m in _TOKEN.finditer(text) if m.lastgroup == "tok")
    need = (tokens * per_token + len(text) * per_char) / 2**20
    return int(need + 0.999) if need > limit_mib else None


#: Files this long, or with a line this long, are first checked by Python's own parser: LibCST's parse
#: time grows faster than linearly on pathological nesting (a 20,000-term ``x + x + ...`` takes minutes),
#: while Python rejects what is nested deeper than it allows in milliseconds.
_PRECHECK_LINES = 5000
_PRECHECK_LINE_LENGTH = 1000


def _may_be_pathological(text: str) -> bool:
    lines = text.splitlines()
    return len(lines) > _PRECHECK_LINES or max(map(len, lines), default=0) > _PRECHECK_LINE_LENGTH


def deepest_line(text: str) -> int:
    """The 1-based line where brackets and indentation nest deepest (cheap: one pass, no parse)."""
    best, best_line, depth = -1, 1, 0
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.lstrip()
        if not stripped or stripped.startswith("#"):
            continue
        indent = (len(line) - len(stripped)) // 4
        peak = depth
        for ch in stripped:
            if ch in "([{":
                depth += 1
                peak = max(peak, depth)
            elif ch in ")]}":
                depth = max(depth - 1, 0)
        score = indent + peak + len(stripped) // 200  # long operator chains nest without brackets
        if score > best:
            best, best_line = score, number
    return best_line


def parse(text: str) -> cst.Module:
    """Parse with LibCST's native parser; syntax errors become ``ParseFailure`` with a location."""
    if _may_be_pathological(text):
        refused = _too_deep(_python_parse(text))
        if refused is not None:
            raise refused
    try:
        return cst.parse_module(text)
    except cst.ParserSyntaxError as exc:
        # LibCST's native parser often points past the real error; Python's own compiler gives
        # the location users know from their editor.
        verdict = _python_parse(text)
        refused = _too_deep(verdict)
        if refused is not None:
            raise refused from None
        if isinstance(verdict, SyntaxError):
            raise _syntax_failure(verdict, verdict.msg or "invalid syntax") from None
        line = max(exc.raw_line, 1)
        col = max(exc.raw_column, 0)
        first = str(exc.message).strip().splitlines()[0] if str(exc.message).strip() else "syntax error"
        if verdict is None:
            # Not the user's error: Python compiles the file, LibCST's grammar does not cover it.
            first = f"parser limit: Python accepts this file, LibCST does not ({first}); not analysed"
        raise ParseFailure(Span(line, col, line, col + 1), first) from None
    except (RecursionError, MemoryError):  # pathological nesting
        refused = _too_deep(_python_parse(text))
        if refused is not None:
            raise refused from None
        raise ParseFailure(Span(1, 0, 1, 0), "parser limit: LibCST's parser ran out of depth; not analysed") from None
    except Exception as exc:  # LibCST may raise other errors on exotic input
        raise ParseFailure(Span(1, 0, 1, 0), f"{type(exc).__name__}: {exc}") from None
