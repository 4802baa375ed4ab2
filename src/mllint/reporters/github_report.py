"""GitHub Actions workflow commands: one annotation per unsuppressed finding, shown on the pull request.

Format: ``::error file=F,line=L,col=C,endLine=EL,endColumn=EC,title=CODE name::message``; severity
error/warning/info maps to the ``error``/``warning``/``notice`` commands. Escaping as the runner
unescapes it: in the message ``%``, CR and LF; in property values also ``:`` and ``,``.

The runner reads a relative ``file`` as relative to the repository root, so paths are made
relative to the repository root (see ``sarif_report.repository_root``), not the project root.
Columns are 1-based code points (as ruff's annotations); the end column is exclusive.
"""

from __future__ import annotations

import os
from pathlib import Path

from mllint.findings import Finding
from mllint.reporters import ReportContext
from mllint.reporters.sarif_report import repository_root

COMMANDS = {"error": "error", "warning": "warning", "info": "notice"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation_path(display: str, project_root: Path, repo_root: Path) -> str:
    """``display`` (relative to the project root) as a path relative to the repository root."""
    if display == "-":
        return display
    path = os.path.normpath(os.path.join(os.path.abspath(project_root), display))
    relative = os.path.relpath(path, repo_root)
    if relative == os.pardir or relative.startswith(os.pardir + os.sep):
        return Path(path).as_posix()  # outside the repository: the runner takes absolute paths
    return Path(relative).as_posix()


def _message(f: Finding) -> str:
    message = f.message + (f" Fix: {f.fix}" if f.fix else "")
    if f.effects:
        message += f" [targets: {', '.join(f'{t} {e}' for t, e in f.effects)}]"
    return message


def render(ctx: ReportContext) -> str:
    repo_root = repository_root(ctx.root)
    lines = []
    for f in ctx.result.active:
        props = [
            f"file={escape_property(annotation_path(f.path, ctx.root, repo_root))}",
            f"line={f.span.line}",
            f"col={f.span.col + 1}",
            f"endLine={f.span.end_line}",
            f"endColumn={f.span.end_col + 1}",
            f"title={escape_property(f'{f.code} {f.name}')}",
        ]
        lines.append(f"::{COMMANDS[f.severity.value]} {','.join(props)}::{escape_data(_message(f))}")
    return "".join(line + "\n" for line in lines)
