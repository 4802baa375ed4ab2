"""SARIF 2.1.0 for GitHub code scanning and IDE SARIF viewers.

The contract is documented in docs/output-formats.md. In short: one run; ``tool.driver.rules`` is
the whole catalogue; every finding is a result (suppressed ones with non-empty ``suppressions``)
with ``ruleId``/``ruleIndex``, a location relative to ``%SRCROOT%``, a 1-based region in UTF-16
code units with an exclusive ``endColumn``, ``partialFingerprints.primaryLocationLineHash`` and
``properties.targets``; after ``--confirm``, ``properties.confirmation``.

``%SRCROOT%`` is the repository root (the nearest directory at or above the project root holding
``.git``), else the project root: GitHub reads URIs as relative to the repository root and ignores
``uriBaseId``, so a project in a subdirectory of a repository must still get repository paths.

Parse, decode, read and internal errors (ML001-ML004) are results, so code scanning shows them on
the file, and also ``toolExecutionNotifications``. ``executionSuccessful`` is false only when mllint
itself failed (ML004, exit code 3): SARIF reserves false for a tool that failed or crashed, and
reads error-level notifications as "results may be incomplete", which is what a parse error means.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Dict, List, Optional
from urllib.parse import quote

from mllint.catalogue import RuleSpec
from mllint.findings import Finding, Span
from mllint.fingerprints import file_line_hashes
from mllint.reporters import ReportContext, json_text
from mllint.source import decode, escapes_project
from mllint.targets import FAMILIES
from mllint.utf16 import split_lines, utf16_column

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/mllint/mllint"
SRCROOT = "%SRCROOT%"
LEVELS = {"error": "error", "warning": "warning", "info": "note"}
_PRECISIONS = ("very-high", "high", "medium", "low")
#: Diagnostics meaning mllint could not analyse something (reported as tool notifications too).
NOTIFICATION_CODES = ("ML001", "ML002", "ML003", "ML004")
_STDIN = "-"


def repository_root(project_root: Path) -> Path:
    """The nearest directory at or above ``project_root`` that holds ``.git``; else the project root."""
    start = Path(os.path.abspath(project_root))
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return start


class _Sources:
    """Each reported file's lines (decoded as mllint decoded them) and line hashes, read once."""

    def __init__(self, project_root: Path) -> None:
        self.project_root = Path(os.path.abspath(project_root))
        self._lines: Dict[str, Optional[List[str]]] = {}
        self._hashes: Dict[str, Optional[Dict[int, str]]] = {}

    def path(self, display: str) -> Optional[Path]:
        """Absolute path of a finding's file, without following symlinks; None for stdin."""
        if display == _STDIN:
            return None
        path = Path(os.path.normpath(os.path.join(self.project_root, display)))
        # a symlink out of the project: neither read nor hashed (its content never reaches a report)
        return None if escapes_project(path, Path(self.project_root)) else path

    def line(self, display: str, number: int) -> Optional[str]:
        if display not in self._lines:
            self._lines[display] = self._read_lines(display)
        lines = self._lines[display]
        if lines is None or not 1 <= number <= len(lines):
            return None
        return lines[number - 1]

    def _read_lines(self, display: str) -> Optional[List[str]]:
        path = self.path(display)
        if path is None:
            return None
        try:
            text = decode(display, path.read_bytes()).text  # PEP 263 cookie, BOM: as LibCST saw it
        except OSError:
            return None
        return split_lines(text) if text is not None else None

    def fingerprint(self, display: str, number: int) -> Optional[str]:
        if display not in self._hashes:
            path = self.path(display)
            self._hashes[display] = file_line_hashes(path) if path is not None else None
        hashes = self._hashes[display]
        return hashes.get(number) if hashes else None


class _Locations:
    """Artifact locations and regions, relative to ``%SRCROOT%`` where the file lies under it."""

    def __init__(self, sources: _Sources, base: Path) -> None:
        self.sources = sources
        self.base = base

    def artifact(self, display: str) -> Dict[str, str]:
        path = self.sources.path(display)
        if path is None:
            return {"uri": display}
        try:
            relative = path.relative_to(self.base)
        except ValueError:
            return {"uri": path.as_uri()}
        # the name's own bytes, percent-encoded (also when they are not valid UTF-8)
        raw = relative.as_posix().encode("utf-8", "surrogateescape")
        return {"uri": quote(raw, safe="/"), "uriBaseId": SRCROOT}

    def region(self, display: str, span: Span) -> Dict[str, int]:
        """1-based lines; 1-based UTF-16 columns, end exclusive (code points if the text is unknown)."""
        start_text = self.sources.line(display, span.line)
        end_text = self.sources.line(display, span.end_line)
        start = utf16_column(start_text, span.col) if start_text is not None else span.col
        end = utf16_column(end_text, span.end_col) if end_text is not None else span.end_col
        start_line = max(span.line, 1)
        region = {"startLine": start_line, "startColumn": start + 1,
                  "endLine": max(span.end_line, start_line), "endColumn": end + 1}
        if region["endLine"] == start_line and region["endColumn"] < region["startColumn"]:
            region["endColumn"] = region["startColumn"]
        return region

    def physical(self, display: str, span: Span) -> Dict[str, Any]:
        return {"physicalLocation": {"artifactLocation": self.artifact(display),
                                     "region": self.region(display, span)}}


def _what_it_does(rule: RuleSpec) -> str:
    """The first paragraph of the rule's "What it does" section, as one line of text."""
    match = re.search(r"^## What it does[ \t]*\n(.*?)(?:\n[ \t]*\n|\n#|\Z)", rule.doc, re.M | re.S)
    paragraph = " ".join(match.group(1).split()) if match else ""
    return paragraph or rule.summary + "."


def _descriptor(rule: RuleSpec) -> Dict[str, Any]:
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": _what_it_does(rule)},
        "help": {"text": rule.doc, "markdown": rule.doc},
        "helpUri": rule.help_uri,
        "defaultConfiguration": {"level": LEVELS[rule.default_severity.value]},
    }


def _rule(rule: RuleSpec) -> Dict[str, Any]:
    tags = ["export", rule.framework if rule.framework != "any" else "", FAMILIES[rule.family],
            rule.family, *rule.targets]
    descriptor = _descriptor(rule)
    descriptor["properties"] = {
        "tags": [tag for tag in dict.fromkeys(tags) if tag],
        "precision": rule.precision if rule.precision in _PRECISIONS else "medium",
        "targets": list(rule.targets),
        "family": rule.family,
    }
    if rule.fix_safety:  # `mllint check --fix` (safe) or `--unsafe-fixes` makes this change
        descriptor["properties"]["fixSafety"] = rule.fix_safety
    return descriptor


def _message(f: Finding) -> Dict[str, str]:
    return {"text": f.message + (f" Fix: {f.fix}" if f.fix else "")}


def _result(f: Finding, rule_index: Dict[str, int], where: _Locations) -> Dict[str, Any]:
    result: Dict[str, Any] = {
        "ruleId": f.code,
        "ruleIndex": rule_index[f.code],
        # A finding the real exports disproved on every target it names is a note: shown, not failing.
        "level": "note" if f.disproved else LEVELS[f.severity.value],
        "message": _message(f),
        "locations": [where.physical(f.path, f.span)],
        "properties": {"targets": list(f.targets), "effects": dict(f.effects)},
    }
    if f.confirmation:
        states = dict(f.confirmation)
        result["properties"]["confirmation"] = {t: states.get(t, "not-run") for t in (f.targets or tuple(states))}
        result["properties"]["evidence"] = dict(f.evidence)
        result["properties"]["disproved"] = f.disproved
    fingerprint = where.sources.fingerprint(f.path, f.span.line)
    if fingerprint:
        result["partialFingerprints"] = {"primaryLocationLineHash": fingerprint}
    # Every finding was checked for suppression comments, so every result carries the array
    # (SARIF: all results of a run have suppressions, or none has); empty means not suppressed.
    result["suppressions"] = [{
        "kind": "inSource" if f.suppressed in ("inline", "file") else "external",
        "justification": "listed in the mllint baseline (--baseline)" if f.suppressed == "baseline"
        else f"mllint: ignore ({f.suppressed})",
    }] if f.suppressed else []
    if f.edits:
        result["fixes"] = [{
            "description": {"text": f.fix or "apply mllint's suggested change"},
            "artifactChanges": [{
                "artifactLocation": where.artifact(f.path),
                "replacements": [{"deletedRegion": where.region(f.path, e.span),
                                  "insertedContent": {"text": e.text}} for e in f.edits],
            }],
        }]
    return result


def _notification(f: Finding, notification_index: Dict[str, int], where: _Locations) -> Dict[str, Any]:
    subject = "" if f.path == _STDIN else f"{f.path}: "
    return {
        "level": "error",
        "message": {"text": subject + f.message},
        "descriptor": {"id": f.code, "index": notification_index[f.code]},
        "locations": [where.physical(f.path, f.span)],
    }


def build_log(ctx: ReportContext) -> Dict[str, Any]:
    """The SARIF log as a JSON-ready dict."""
    rules = list(ctx.catalogue)
    rule_index = {r.code: i for i, r in enumerate(rules)}
    notification_rules = [r for r in rules if r.code in NOTIFICATION_CODES]
    notification_index = {r.code: i for i, r in enumerate(notification_rules)}
    base = repository_root(ctx.root)
    where = _Locations(_Sources(ctx.root), base)
    findings = ctx.result.findings
    driver: Dict[str, Any] = {
        "name": "mllint",
        "version": ctx.version,
        "semanticVersion": ctx.version,
        "informationUri": INFORMATION_URI,
        "rules": [_rule(r) for r in rules],
        "notifications": [_descriptor(r) for r in notification_rules],
    }
    run: Dict[str, Any] = {
        "tool": {"driver": driver},
        "originalUriBaseIds": {SRCROOT: {"uri": base.as_uri().rstrip("/") + "/"}},
        "columnKind": "utf16CodeUnits",
        "invocations": [{
            "executionSuccessful": not any(f.code == "ML004" for f in findings),
            "toolExecutionNotifications": [_notification(f, notification_index, where)
                                           for f in findings if f.code in notification_index],
        }],
        "results": [_result(f, rule_index, where) for f in findings],
    }
    if ctx.sarif_category:
        run["automationDetails"] = {"id": ctx.sarif_category.rstrip("/") + "/"}
    if ctx.result.confirm_results:
        run["properties"] = {"exports": ctx.result.confirm_results, "confirm": ctx.result.confirm_summary}
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def render(ctx: ReportContext) -> str:
    return json_text(build_log(ctx))
