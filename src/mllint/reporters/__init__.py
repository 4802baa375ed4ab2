"""Reporters turn a ``RunResult`` into text for people (text) or machines (json, sarif, github).

Each reporter module exposes ``render(ctx: ReportContext) -> str``; the CLI writes the string to
stdout or, atomically, to ``--output``.
"""

from __future__ import annotations

import importlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from mllint.catalogue import Catalogue
from mllint.findings import RunResult

FORMATS = ("text", "json", "sarif", "github")


@dataclass
class ReportContext:
    result: RunResult
    catalogue: Catalogue
    root: Path  # project root: paths in findings are relative to it
    version: str
    targets: tuple = ()  # the user's selected targets
    color: bool = False
    quiet: bool = False
    show_source: bool = True
    sarif_category: Optional[str] = None
    fail_on: str = "warning"
    config_file: Optional[Path] = None  # the pyproject.toml whose [tool.mllint] was used (None: defaults)


_SURROGATE = re.compile("[\udc80-\udcff]")


def json_text(doc: object) -> str:
    """``doc`` as indented JSON; a file name that is not valid UTF-8 (its bytes kept as lone surrogates, as
    Python decodes file names) is written as ``\\udcXX`` escapes, so the report is valid UTF-8 JSON."""
    text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def config_label(ctx: ReportContext) -> str:
    """Which configuration a run used, for the summaries."""
    if ctx.config_file is None:
        return "defaults (no [tool.mllint] table in the project)"
    try:
        return Path(ctx.config_file).resolve().relative_to(Path(ctx.root).resolve()).as_posix()
    except ValueError:
        return str(ctx.config_file)


def render(fmt: str, ctx: ReportContext) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}")
    module = importlib.import_module(f"mllint.reporters.{fmt}_report")
    return module.render(ctx)
