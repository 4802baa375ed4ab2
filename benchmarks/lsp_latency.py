"""How long an editor waits for ``mllint server``'s diagnostics, against the same lint run directly.

For each Python file of a corpus (default: this repository's ``fixtures/``), a live server over
stdio gets ``didOpen`` with the file's text; the time until its ``publishDiagnostics`` arrives is
compared with ``run_check`` on the same buffer in this process (the baseline: the lint without the
protocol). Both start from a fresh cache folder: the first lint of a file is cold (what a buffer
being edited costs), the second warm (the file unchanged, e.g. re-opened).
Also checked: each file's diagnostics count equals its unsuppressed findings in the baseline.

    python benchmarks/lsp_latency.py [FOLDER]
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Tuple

from lsprotocol import types
from pygls.lsp.client import LanguageClient

REPO = Path(__file__).resolve().parents[1]


def direct(files: List[Path]) -> Dict[Path, Tuple[int, float, float]]:
    """Unsuppressed findings, cold and warm seconds per file from ``run_check`` on the buffer."""
    from mllint.server import Linter
    from mllint.catalogue import load_catalogue

    linter = Linter(load_catalogue())
    out = {}
    for path in files:
        text = path.read_text(encoding="utf-8")
        start = time.perf_counter()
        linter.lint(path, text)
        cold = time.perf_counter() - start
        start = time.perf_counter()
        findings = linter.lint(path, text)
        out[path] = (len(findings), cold, time.perf_counter() - start)
    return out


async def served(files: List[Path], root: Path) -> Dict[Path, Tuple[int, float, float]]:
    """Diagnostics, cold and warm seconds from didOpen to publishDiagnostics per file."""
    client = LanguageClient("lsp-latency", "1")
    arrived: asyncio.Queue = asyncio.Queue()

    @client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def on_diagnostics(params: types.PublishDiagnosticsParams) -> None:
        arrived.put_nowait((time.perf_counter(), params))

    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    await client.start_io(sys.executable, "-m", "mllint", "server", env=env, cwd=str(root))
    await client.initialize_async(
        types.InitializeParams(capabilities=types.ClientCapabilities(), root_uri=root.as_uri())
    )
    client.initialized(types.InitializedParams())
    out = {}
    for path in files:
        text = path.read_text(encoding="utf-8")
        seconds = []
        for version in (1, 2):
            if version == 2:
                client.text_document_did_close(
                    types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=path.as_uri()))
                )
                await arrived.get()  # the close clears the diagnostics
            start = time.perf_counter()
            client.text_document_did_open(
                types.DidOpenTextDocumentParams(
                    text_document=types.TextDocumentItem(
                        uri=path.as_uri(), language_id="python", version=version, text=text
                    )
                )
            )
            when, params = await asyncio.wait_for(arrived.get(), timeout=120)
            seconds.append(when - start)
        out[path] = (len(params.diagnostics), seconds[0], seconds[1])
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return out


def main() -> int:
    root = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else REPO / "fixtures"
    files = sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)
    with tempfile.TemporaryDirectory() as cache:
        os.environ["XDG_CACHE_HOME"] = cache  # both sides: a fresh cache, never the user's
        sys.path.insert(0, str(REPO / "src"))
        baseline = direct(files)
    with tempfile.TemporaryDirectory() as cache:
        os.environ["XDG_CACHE_HOME"] = cache
        server = asyncio.run(served(files, root))
    mismatched = [p for p in files if baseline[p][0] != server[p][0]]
    print(f"{len(files)} files under {root}")
    for index, kind in ((1, "cold"), (2, "warm")):
        base_ms = [baseline[p][index] * 1000 for p in files]
        lsp_ms = [server[p][index] * 1000 for p in files]
        print(
            f"{kind}: direct run_check (baseline) median {statistics.median(base_ms):.1f} ms, max {max(base_ms):.1f} ms; "
            f"server didOpen -> diagnostics median {statistics.median(lsp_ms):.1f} ms, max {max(lsp_ms):.1f} ms; "
            f"ratio of medians {statistics.median(lsp_ms) / statistics.median(base_ms):.2f}"
        )
    print(f"files whose diagnostics differ from the baseline's findings: {len(mismatched)}")
    for p in mismatched:
        print(f"  {p.relative_to(root)}: server {server[p][0]}, baseline {baseline[p][0]}")
    return 1 if mismatched else 0


if __name__ == "__main__":
    raise SystemExit(main())
