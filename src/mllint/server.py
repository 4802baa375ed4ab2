"""``mllint server``: the Language Server Protocol over stdio (pygls + lsprotocol).

Editors send the buffer as the user types; the server lints that in-memory text through the same
``run_check`` path as ``mllint check - --stdin-filename PATH`` (no framework import, no user code
run; other project modules come from disk and the cache). Diagnostics are published on open, on
save, and on change after a short quiet period (typing does not start a lint per key press).
Findings that carry edits become quick fixes; every finding also gets an "ignore on this line"
action; hovering a finding shows its ``mllint explain`` card. Settings are re-read when the
project's ``pyproject.toml`` changes (its modification time is part of the settings key).
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from mllint import __version__
from mllint.catalogue import Catalogue, load_catalogue
from mllint.config import ConfigError, Settings, find_config, load_settings
from mllint.findings import Finding
from mllint.utf16 import split_lines, utf16_column

SOURCE = "mllint"
#: Seconds without a change before a changed buffer is linted.
DEBOUNCE = 0.3
_SEVERITY = {
    "error": types.DiagnosticSeverity.Error,
    "warning": types.DiagnosticSeverity.Warning,
    "info": types.DiagnosticSeverity.Information,
}


#: Counts a text's length in the position encoding agreed with the client (UTF-16 unless it asked otherwise).
Units = Callable[[str], int]


def _utf16_units(text: str) -> int:
    return utf16_column(text, len(text))


def _position(lines: List[str], line: int, col: int, units: Units) -> types.Position:
    """A 0-based LSP position in the client's units from a 1-based line and a code-point column."""
    index = max(line - 1, 0)
    text = lines[index] if index < len(lines) else ""
    return types.Position(line=index, character=units(text[:col]) + max(col - len(text), 0))


def _range(lines: List[str], line: int, col: int, end_line: int, end_col: int, units: Units) -> types.Range:
    return types.Range(
        start=_position(lines, line, col, units), end=_position(lines, max(end_line, line), end_col, units)
    )


def diagnostic(f: Finding, lines: List[str], units: Units = _utf16_units) -> types.Diagnostic:
    """The LSP diagnostic for a finding: its range, severity, code, and the targets it breaks."""
    message = f"{f.name}: {f.message}"
    if f.effects:
        message += "\ntargets: " + ", ".join(f"{t} {e}" for t, e in f.effects)
    if f.fix:
        message += f"\nfix: {f.fix}"
    return types.Diagnostic(
        range=_range(lines, f.span.line, f.span.col, f.span.end_line, f.span.end_col, units),
        message=message,
        severity=_SEVERITY.get(f.severity.value, types.DiagnosticSeverity.Warning),
        code=f.code,
        source=SOURCE,
    )


@dataclass
class Linted:
    """The last lint of one document: what code actions and hover answer from."""

    version: Optional[int]
    text: str
    findings: List[Finding]
    units: Units = _utf16_units


class Linter:
    """Settings per project (re-read when the config file changes) and one lint of one buffer."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        self._settings: Dict[Tuple[str, Tuple[int, int]], Settings] = {}

    def settings_for(self, path: Path) -> Settings:
        config, root = find_config(path.parent)
        info = config.stat() if config is not None and config.is_file() else None
        stamp = (info.st_mtime_ns, info.st_size) if info is not None else (0, 0)
        key = (str(config or root), stamp)
        if key not in self._settings:
            self._settings = {k: v for k, v in self._settings.items() if k[0] != key[0]}
            self._settings[key] = load_settings(path.parent, self.catalogue)
        return self._settings[key]

    def forget(self) -> None:
        """Drop every cached setting (the editor reported a config change)."""
        self._settings = {}  # rebinding: a lint running in the worker thread keeps its own view

    def lint(self, path: Path, text: str) -> List[Finding]:
        from mllint.engine import run_check

        settings = self.settings_for(path)
        result = run_check(
            ["-"],
            settings,
            self.catalogue,
            stdin_data=text.encode("utf-8"),
            stdin_filename=str(path),
            jobs=1,
            cache=True,
        )
        from mllint.fixes import attach_edits, load_project

        # quick fixes from the codemods, computed on the buffer (every finding is in it), with the models' contracts
        texts = {f.path: text for f in result.active}
        return attach_edits(result.active, settings.root, self.catalogue, texts=texts, project=load_project(settings))


class MllintServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("mllint", __version__)
        self.linter = Linter(load_catalogue())
        self.linted: Dict[str, Linted] = {}
        self.pending: Dict[str, asyncio.TimerHandle] = {}
        # run_check is CPU-bound and keeps per-process state: one lint at a time, off the event loop.
        self.executor = ThreadPoolExecutor(max_workers=1)

    def schedule(self, uri: str, delay: float) -> None:
        old = self.pending.pop(uri, None)
        if old is not None:
            old.cancel()
        loop = asyncio.get_running_loop()
        self.pending[uri] = loop.call_later(delay, lambda: asyncio.ensure_future(self.publish(uri)))

    async def publish(self, uri: str) -> None:
        self.pending.pop(uri, None)
        document = self.workspace.get_text_document(uri)
        path = to_fs_path(uri)
        if path is None or not (document.language_id == "python" or path.endswith((".py", ".pyi"))):
            return  # not Python (a pyproject.toml open beside the code, say)
        version, text = document.version, document.source
        loop = asyncio.get_running_loop()
        try:
            findings = await loop.run_in_executor(self.executor, self.linter.lint, Path(path), text)
        except ConfigError as exc:
            self.window_show_message(
                types.ShowMessageParams(type=types.MessageType.Error, message=f"mllint: configuration error: {exc}")
            )
            findings = []
        except Exception as exc:  # a crash of mllint: say so, keep serving the other documents
            self.window_log_message(
                types.LogMessageParams(
                    type=types.MessageType.Error, message=f"mllint: internal error on {path}: {exc!r}"
                )
            )
            return
        if self.workspace.get_text_document(uri).version != version:
            return  # the buffer changed meanwhile; its own lint will publish
        units = document.position_codec.client_num_units
        self.linted[uri] = Linted(version, text, findings, units)
        lines = split_lines(text)
        self.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(
                uri=uri, version=version, diagnostics=[diagnostic(f, lines, units) for f in findings]
            )
        )

    def relint_all(self) -> None:
        self.linter.forget()
        for uri in list(self.linted):
            self.schedule(uri, 0)


def _overlaps(a: types.Range, b: types.Range) -> bool:
    return (a.start.line, a.start.character) <= (b.end.line, b.end.character) and (b.start.line, b.start.character) <= (
        a.end.line,
        a.end.character,
    )


def code_actions(uri: str, linted: Linted, wanted: types.Range) -> List[types.CodeAction]:
    """Quick fixes from the findings' edits, then an ignore comment per finding, for findings in range."""
    from mllint.add_ignore import ignore_line_edit

    lines = split_lines(linted.text)
    fixes: List[types.CodeAction] = []
    ignores: List[types.CodeAction] = []
    for f in linted.findings:
        diag = diagnostic(f, lines, linted.units)
        if not _overlaps(diag.range, wanted):
            continue
        if f.edits:
            edits = [
                types.TextEdit(
                    range=_range(lines, e.span.line, e.span.col, e.span.end_line, e.span.end_col, linted.units),
                    new_text=e.text,
                )
                for e in f.edits
            ]
            fixes.append(
                types.CodeAction(
                    title=f"Fix {f.code}: {f.fix or 'apply the suggested change'}",
                    kind=types.CodeActionKind.QuickFix,
                    diagnostics=[diag],
                    is_preferred=True,
                    edit=types.WorkspaceEdit(changes={uri: edits}),
                )
            )
        ignore = ignore_line_edit(linted.text, f)
        if ignore is not None:
            line, new_text = ignore
            old = lines[line - 1]
            edit = types.TextEdit(
                range=types.Range(
                    start=types.Position(line=line - 1, character=0),
                    end=types.Position(line=line - 1, character=linted.units(old)),
                ),
                new_text=new_text,
            )
            ignores.append(
                types.CodeAction(
                    title=f"Ignore {f.code} on this line (# mllint: ignore[{f.code}])",
                    kind=types.CodeActionKind.QuickFix,
                    diagnostics=[diag],
                    edit=types.WorkspaceEdit(changes={uri: [edit]}),
                )
            )
    return fixes + ignores


def hover(linted: Linted, at: types.Position, catalogue: Catalogue) -> Optional[types.Hover]:
    """The ``mllint explain`` card of the findings under the cursor."""
    from mllint.docs import explain_text

    lines = split_lines(linted.text)
    point = types.Range(start=at, end=at)
    cards: List[str] = []
    for f in linted.findings:
        rule = catalogue.get(f.code)
        if rule is not None and _overlaps(diagnostic(f, lines, linted.units).range, point):
            card = explain_text(rule)
            if card not in cards:
                cards.append(card)
    if not cards:
        return None
    return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value="\n---\n".join(cards)))


def build_server() -> MllintServer:
    server = MllintServer()

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    async def did_open(ls: MllintServer, params: types.DidOpenTextDocumentParams) -> None:
        await ls.publish(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: MllintServer, params: types.DidChangeTextDocumentParams) -> None:
        ls.schedule(params.text_document.uri, DEBOUNCE)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    async def did_save(ls: MllintServer, params: types.DidSaveTextDocumentParams) -> None:
        if os.path.basename(to_fs_path(params.text_document.uri) or "") == "pyproject.toml":
            ls.relint_all()
        elif params.text_document.uri in ls.linted:
            await ls.publish(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: MllintServer, params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        ls.linted.pop(uri, None)
        handle = ls.pending.pop(uri, None)
        if handle is not None:
            handle.cancel()
        ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def did_change_watched(ls: MllintServer, params: types.DidChangeWatchedFilesParams) -> None:
        if any((to_fs_path(c.uri) or "").endswith("pyproject.toml") for c in params.changes):
            ls.relint_all()

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION, types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix])
    )
    def code_action(ls: MllintServer, params: types.CodeActionParams) -> List[types.CodeAction]:
        linted = ls.linted.get(params.text_document.uri)
        return code_actions(params.text_document.uri, linted, params.range) if linted else []

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    def on_hover(ls: MllintServer, params: types.HoverParams) -> Optional[types.Hover]:
        linted = ls.linted.get(params.text_document.uri)
        return hover(linted, params.position, ls.linter.catalogue) if linted else None

    return server


def main() -> int:
    build_server().start_io()
    return 0
