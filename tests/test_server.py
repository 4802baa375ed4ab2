"""A real ``mllint server`` process over stdio, driven by pygls's LSP client as an editor would."""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap
from pathlib import Path
from typing import Dict, List

import pytest

pytest.importorskip("pygls")
from lsprotocol import types  # noqa: E402
from pygls.lsp.client import LanguageClient  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
MODEL = textwrap.dedent(
    """\
    import torch
    from torch import nn


    class Net(nn.Module):
        def forward(self, x):
            return x * x.mean().item()
    """
)
BRANCH = textwrap.dedent(
    """\
    from torch import nn


    class Gate(nn.Module):
        def forward(self, x):
            if x.sum() > 0:
                return x
            return -x
    """
)


def _apply(text: str, edits: List[types.TextEdit]) -> str:
    """Apply LSP text edits (ASCII text: UTF-16 columns are code points) from the last to the first."""
    lines = text.split("\n")
    for e in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        start, end = e.range.start, e.range.end
        head = lines[start.line][: start.character]
        tail = lines[end.line][end.character :]
        lines[start.line : end.line + 1] = (head + e.new_text + tail).split("\n")
    return "\n".join(lines)


class _Session:
    def __init__(self) -> None:
        self.client = LanguageClient("mllint-test", "1")
        self.diagnostics: Dict[str, List[types.PublishDiagnosticsParams]] = {}
        self.arrived = asyncio.Event()

        @self.client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def on_diagnostics(params: types.PublishDiagnosticsParams) -> None:
            self.diagnostics.setdefault(params.uri, []).append(params)
            self.arrived.set()

        self.messages: List[str] = []

        @self.client.feature(types.WINDOW_SHOW_MESSAGE)
        def on_message(params: types.ShowMessageParams) -> None:
            self.messages.append(params.message)
            self.arrived.set()

    async def next_message(self) -> str:
        async def wait() -> None:
            while not self.messages:
                self.arrived.clear()
                await self.arrived.wait()

        await asyncio.wait_for(wait(), timeout=60)
        return self.messages[-1]

    async def next_diagnostics(self, uri: str, count: int) -> types.PublishDiagnosticsParams:
        """Wait (bounded) until ``uri`` has had ``count`` publications; the last one."""

        async def wait() -> None:
            while len(self.diagnostics.get(uri, [])) < count:
                self.arrived.clear()
                await self.arrived.wait()

        await asyncio.wait_for(wait(), timeout=60)
        return self.diagnostics[uri][-1]


async def _drive(root: Path) -> None:
    s = _Session()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO / "src"), os.environ.get("PYTHONPATH")])))
    await s.client.start_io(sys.executable, "-m", "mllint", "server", env=env, cwd=str(root))
    init = await asyncio.wait_for(
        s.client.initialize_async(
            types.InitializeParams(
                capabilities=types.ClientCapabilities(), root_uri=root.as_uri(), process_id=os.getpid()
            )
        ),
        timeout=60,
    )
    assert init.capabilities.code_action_provider and init.capabilities.hover_provider
    s.client.initialized(types.InitializedParams())

    uri = (root / "model.py").as_uri()
    s.client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1, text=MODEL)
        )
    )
    published = await s.next_diagnostics(uri, 1)
    assert [(d.code, d.source) for d in published.diagnostics] == [("PT102", "mllint")]
    diag = published.diagnostics[0]
    # `x.mean().item()` on line 7 (0-based 6), columns 19..34.
    assert (diag.range.start.line, diag.range.start.character, diag.range.end.line, diag.range.end.character) == (
        6,
        19,
        6,
        34,
    )
    assert diag.severity == types.DiagnosticSeverity.Warning and "torchscript-trace" in diag.message

    hover = await s.client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=6, character=25)
        )
    )
    assert hover is not None and "# PT102 tensor-item" in hover.contents.value  # type: ignore[union-attr]

    actions = await s.client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=diag.range,
            context=types.CodeActionContext(diagnostics=[diag]),
        )
    )
    assert actions is not None
    titles = [a.title for a in actions]  # type: ignore[union-attr]
    assert titles[0].startswith("Fix PT102") and any("mllint: ignore[PT102]" in t for t in titles)
    fix = actions[0]
    assert isinstance(fix, types.CodeAction) and fix.edit is not None and fix.edit.changes is not None
    fixed = _apply(MODEL, fix.edit.changes[uri])
    assert "return x * x.mean().detach()\n" in fixed

    # The editor applies the edit (a full-text change): diagnostics clear; saving lints again.
    s.client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=fixed)],
        )
    )
    cleared = await s.next_diagnostics(uri, 2)
    assert list(cleared.diagnostics) == [] and cleared.version == 2
    (root / "model.py").write_text(fixed)
    s.client.text_document_did_save(
        types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    saved = await s.next_diagnostics(uri, 3)
    assert list(saved.diagnostics) == []

    # Typing a hazard: several quick changes are debounced into one lint of the last buffer.
    second = (root / "gate.py").as_uri()
    s.client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=second, language_id="python", version=1, text="")
        )
    )
    await s.next_diagnostics(second, 1)
    for version in range(2, 6):
        s.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=second, version=version),
                content_changes=[
                    types.TextDocumentContentChangeWholeDocument(text=BRANCH[: len(BRANCH) * (version - 1) // 4])
                ],
            )
        )
    typed = await s.next_diagnostics(second, 2)
    assert typed.version == 5 and [d.code for d in typed.diagnostics] == ["PT101"]
    await asyncio.sleep(1.0)
    assert len(s.diagnostics[second]) == 2  # no lint per key press

    # The project's config changes on disk: the server re-reads it and re-lints open documents.
    (root / "pyproject.toml").write_text("[tool.mllint]\ntargets = ['torch-export']\nignore = ['PT101']\n")
    s.client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(
            changes=[types.FileEvent(uri=(root / "pyproject.toml").as_uri(), type=types.FileChangeType.Changed)]
        )
    )
    relinted = await s.next_diagnostics(second, 3)
    assert list(relinted.diagnostics) == []

    # Closing a document clears its diagnostics; a broken config is shown to the user, not a crash.
    s.client.text_document_did_close(
        types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=second))
    )
    closed = await s.next_diagnostics(second, 4)
    assert list(closed.diagnostics) == []
    (root / "pyproject.toml").write_text("[tool.mllint]\ntargets = ['torch-exprot']\n")
    s.client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(
            changes=[types.FileEvent(uri=(root / "pyproject.toml").as_uri(), type=types.FileChangeType.Changed)]
        )
    )
    message = await s.next_message()
    assert "configuration error" in message and "did you mean 'torch-export'?" in message

    await asyncio.wait_for(s.client.shutdown_async(None), timeout=30)
    s.client.exit(None)
    await asyncio.wait_for(s.client.stop(), timeout=30)


@pytest.mark.slow  # the language server over stdio in a subprocess (seconds)
def test_language_server_session_over_stdio(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.mllint]\ntargets = ['torch-export', 'torchscript-trace']\n")
    (tmp_path / "model.py").write_text(MODEL)
    asyncio.run(_drive(tmp_path))


def test_diagnostic_columns_follow_the_negotiated_position_encoding() -> None:
    from pygls.workspace.position_codec import PositionCodec

    from mllint.findings import Finding, Span
    from mllint.server import diagnostic
    from mllint.targets import Severity

    line = '    y = {"\u00e9\U0001f600": x.mean().item()}'
    start = line.index("x.mean")
    f = Finding(
        "m.py", Span(1, start, 1, start + len("x.mean().item()")), "PT102", "tensor-item", "m", Severity.WARNING
    )
    got = {}
    for encoding in (
        types.PositionEncodingKind.Utf8,
        types.PositionEncodingKind.Utf16,
        types.PositionEncodingKind.Utf32,
    ):
        units = PositionCodec(encoding=encoding).client_num_units
        r = diagnostic(f, [line], units).range
        got[encoding] = (r.start.character, r.end.character)
    # é is 2 UTF-8 bytes, the emoji 4 bytes or 2 UTF-16 units; both are one code point.
    assert got[types.PositionEncodingKind.Utf32] == (start, start + 15)
    assert got[types.PositionEncodingKind.Utf16] == (start + 1, start + 16)
    assert got[types.PositionEncodingKind.Utf8] == (start + 4, start + 19)
    assert diagnostic(f, [line]).range == diagnostic(f, [line], PositionCodec().client_num_units).range
