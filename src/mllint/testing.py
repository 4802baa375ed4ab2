"""Helpers for rule authors and tests: lint a source string or a small tree of files in-process."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence

from mllint.catalogue import load_catalogue
from mllint.config import load_settings
from mllint.engine import run_check
from mllint.findings import Finding


def lint_files(files: Mapping[str, str], *, targets: Optional[Sequence[str]] = None,
               select: Optional[Sequence[str]] = None, config: Optional[Dict[str, object]] = None,
               check: Optional[Sequence[str]] = None) -> List[Finding]:
    """Write ``files`` (relative path -> source) to a temporary project and check it.

    ``check`` names the paths to check (default: the whole project).
    """
    catalogue = load_catalogue()
    with tempfile.TemporaryDirectory(prefix="mllint-test-") as tmp:
        root = Path(tmp)
        (root / "pyproject.toml").write_text("[tool.mllint]\n", encoding="utf-8")
        for rel, text in files.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        overrides: Dict[str, object] = dict(config or {})
        if targets is not None:
            overrides["targets"] = list(targets)
        if select is not None:
            overrides["select"] = list(select)
        settings = load_settings(root, catalogue, None, overrides)
        paths = [str(root / p) for p in check] if check else [str(root)]
        return run_check(paths, settings, catalogue).findings


def lint_source(code: str, **kwargs: object) -> List[Finding]:
    """Check one module named ``example.py``."""
    return lint_files({"example.py": code}, **kwargs)  # type: ignore[arg-type]
