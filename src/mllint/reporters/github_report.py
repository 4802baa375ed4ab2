"""GitHub Actions workflow commands: one annotation line per finding, shown on the pull-request diff.

Format: ``::error file=F,line=L,col=C,endLine=EL,endColumn=EC,title=CODE name::message``; severity
error/warning/info maps to error/warning/notice. Escaping as GitHub's runner requires: in the
message ``%``, CR and LF; in properties also ``:`` and ``,``.
"""

from __future__ import annotations

from mllint.reporters import ReportContext

_COMMAND = {"error": "error", "warning": "warning", "info": "notice"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render(ctx: ReportContext) -> str:
    lines = []
    for f in ctx.result.active:
        message = f.message + (f" Fix: {f.fix}" if f.fix else "")
        if f.targets:
            message += f" [targets: {', '.join(f'{t} {e}' for t, e in f.effects)}]"
        props = [
            f"file={escape_property(f.path)}",
            f"line={f.line}",
            f"col={f.col + 1}",
            f"endLine={f.span.end_line}",
            f"endColumn={f.span.end_col + 1}",
            f"title={escape_property(f'{f.code} {f.name}')}",
        ]
        lines.append(f"::{_COMMAND[f.severity.value]} {','.join(props)}::{escape_data(message)}")
    return "\n".join(lines) + ("\n" if lines else "")
