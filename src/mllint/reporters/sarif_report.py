"""SARIF 2.1.0 for GitHub code scanning and IDE SARIF viewers.

Contract (docs/output-formats.md): one run; ``tool.driver.rules`` is the whole catalogue; every
result has ``ruleId``/``ruleIndex``, a location relative to ``%SRCROOT%`` (the project root, with
forward slashes, percent-encoded), a 1-based region in UTF-16 code units with an exclusive
``endColumn``, ``partialFingerprints.primaryLocationLineHash`` (GitHub's algorithm), and
``properties.targets``; after ``--confirm``, ``properties.confirmation`` maps every target in
``targets`` to confirmed / not-reproduced / not-run. Parse, decode, read and internal errors are
also ``toolExecutionNotifications``; ``executionSuccessful`` is false only when mllint itself failed
(an internal error, ML004), as the exit code 3 says.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Optional
from urllib.parse import quote

from mllint.catalogue import Catalogue, RuleSpec
from mllint.findings import Finding, Span
from mllint.fingerprints import line_hashes
from mllint.reporters import ReportContext
from mllint.targets import FAMILIES
from mllint.utf16 import utf16_column

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/mllint/mllint"
_LEVEL = {"error": "error", "warning": "warning", "info": "note"}
_PRECISION = {"very-high", "high", "medium", "low"}
_NOTIFY = ("ML001", "ML002", "ML003", "ML004")


class _Sources:
    """Line texts and fingerprints of reported files, read once each."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lines: Dict[str, Optional[List[str]]] = {}
        self._hashes: Dict[str, Optional[Dict[int, str]]] = {}
        self._text: Dict[str, Optional[str]] = {}

    def text(self, display: str) -> Optional[str]:
        if display not in self._text:
            if display == "-":
                self._text[display] = None
            else:
                path = Path(display) if Path(display).is_absolute() else self.root / display
                try:
                    self._text[display] = path.read_bytes().decode("utf-8")
                except (OSError, UnicodeDecodeError):
                    self._text[display] = None
        return self._text[display]

    def line(self, display: str, number: int) -> Optional[str]:
        if display not in self._lines:
            text = self.text(display)
            self._lines[display] = text.splitlines() if text is not None else None
        lines = self._lines[display]
        if lines is None or not 1 <= number <= len(lines):
            return None
        return lines[number - 1]

    def fingerprint(self, display: str, number: int) -> Optional[str]:
        if display not in self._hashes:
            text = self.text(display)
            self._hashes[display] = line_hashes(text) if text is not None else None
        hashes = self._hashes[display]
        return hashes.get(number) if hashes else None


def _uri(display: str) -> Dict[str, str]:
    if display.startswith("../") or Path(display).is_absolute():
        return {"uri": Path(display).resolve().as_uri()}
    return {"uri": quote(display, safe="/"), "uriBaseId": "%SRCROOT%"}


def _region(span: Span, path: str, sources: _Sources) -> Dict[str, int]:
    start_text = sources.line(path, span.line)
    end_text = start_text if span.end_line == span.line else sources.line(path, span.end_line)
    start = utf16_column(start_text, span.col) if start_text is not None else span.col
    end = utf16_column(end_text, span.end_col) if end_text is not None else span.end_col
    region = {"startLine": max(span.line, 1), "startColumn": start + 1,
              "endLine": max(span.end_line, span.line, 1), "endColumn": end + 1}
    if region["endLine"] == region["startLine"] and region["endColumn"] < region["startColumn"]:
        region["endColumn"] = region["startColumn"]
    return region


def _rule(rule: RuleSpec) -> Dict[str, Any]:
    tags = ["export", FAMILIES[rule.family], rule.family, *rule.targets]
    if rule.framework != "any":
        tags.insert(1, rule.framework)
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": rule.summary + "."},
        "help": {"text": rule.doc, "markdown": rule.doc},
        "helpUri": rule.help_uri,
        "defaultConfiguration": {"level": _LEVEL[rule.default_severity.value]},
        "properties": {
            "tags": list(dict.fromkeys(tags)),
            "precision": rule.precision if rule.precision in _PRECISION else "medium",
            "targets": list(rule.targets),
            "family": rule.family,
        },
    }


def _result(f: Finding, index: Dict[str, int], sources: _Sources) -> Dict[str, Any]:
    location = {"physicalLocation": {"artifactLocation": _uri(f.path), "region": _region(f.span, f.path, sources)}}
    result: Dict[str, Any] = {
        "ruleId": f.code,
        "ruleIndex": index[f.code],
        "level": _LEVEL[f.severity.value],
        "message": {"text": f.message + (f" Fix: {f.fix}" if f.fix else "")},
        "locations": [location],
        "properties": {"targets": list(f.targets), "effects": {t: e for t, e in f.effects}},
    }
    fingerprint = sources.fingerprint(f.path, f.line)
    if fingerprint:
        result["partialFingerprints"] = {"primaryLocationLineHash": fingerprint}
    if f.confirmation or any(state for _, state in f.confirmation):
        states = dict(f.confirmation)
        result["properties"]["confirmation"] = {t: states.get(t, "not-run") for t in (f.targets or tuple(states))}
    if f.suppressed:
        result["suppressions"] = [{"kind": "inSource" if f.suppressed in ("inline", "file") else "external",
                                   "justification": f"mllint: ignore ({f.suppressed})"}]
    if f.edits:
        result["fixes"] = [{
            "description": {"text": f.fix or "apply mllint's suggested change"},
            "artifactChanges": [{
                "artifactLocation": _uri(f.path),
                "replacements": [{"deletedRegion": _region(e.span, f.path, sources), "insertedContent": {"text": e.text}}
                                 for e in f.edits],
            }],
        }]
    return result


def build_log(ctx: ReportContext) -> Dict[str, Any]:
    catalogue: Catalogue = ctx.catalogue
    rules = list(catalogue)
    index = {r.code: i for i, r in enumerate(rules)}
    sources = _Sources(ctx.root)
    findings = ctx.result.findings
    notifications = []
    for f in findings:
        if f.code in _NOTIFY:
            notifications.append({
                "level": "error",
                "message": {"text": f"{f.path}: {f.message}"},
                "descriptor": {"id": f.code, "index": index[f.code]},
                "locations": [{"physicalLocation": {"artifactLocation": _uri(f.path),
                                                    "region": _region(f.span, f.path, sources)}}],
            })
    run: Dict[str, Any] = {
        "tool": {"driver": {"name": "mllint", "version": ctx.version, "semanticVersion": ctx.version,
                            "informationUri": INFORMATION_URI, "rules": [_rule(r) for r in rules]}},
        "originalUriBaseIds": {"%SRCROOT%": {"uri": ctx.root.resolve().as_uri().rstrip("/") + "/"}},
        "columnKind": "utf16CodeUnits",
        "invocations": [{
            "executionSuccessful": not any(f.code == "ML004" for f in findings),
            "toolExecutionNotifications": notifications,
        }],
        "results": [_result(f, index, sources) for f in findings],
    }
    if ctx.sarif_category:
        run["automationDetails"] = {"id": ctx.sarif_category.rstrip("/") + "/"}
    if ctx.result.confirm_results:
        run["properties"] = {"exports": ctx.result.confirm_results}
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def render(ctx: ReportContext) -> str:
    return json.dumps(build_log(ctx), indent=2, ensure_ascii=False) + "\n"
