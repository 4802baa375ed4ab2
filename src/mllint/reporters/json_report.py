"""Machine-readable output, schema ``mllint-json`` version 1 (documented in docs/output-formats.md)."""

from __future__ import annotations

from typing import Any, Dict

from mllint.findings import Finding
from mllint.reporters import ReportContext, config_label, json_text
from mllint.targets import Severity

SCHEMA_VERSION = 1


def finding_to_dict(f: Finding) -> Dict[str, Any]:
    return {
        "path": f.path,
        "line": f.line,
        "column": f.col + 1,
        "end_line": f.span.end_line,
        "end_column": f.span.end_col + 1,
        "code": f.code,
        "name": f.name,
        "severity": f.severity.value,
        "message": f.message,
        "targets": list(f.targets),
        "effects": {t: e for t, e in f.effects},
        "fix": f.fix,
        "suppressed": f.suppressed,
        "confirmation": dict(f.confirmation) if f.confirmation else None,
        "evidence": dict(f.evidence) if f.evidence else None,
        "disproved": f.disproved,
    }


def render(ctx: ReportContext) -> str:
    result = ctx.result
    doc = {
        "schema": "mllint-json",
        "version": SCHEMA_VERSION,
        "mllint_version": ctx.version,
        "root": str(ctx.root),
        "targets": list(ctx.targets),
        "config_file": config_label(ctx) if ctx.config_file is not None else None,
        "files_checked": result.files_checked,
        "summary": {
            "findings": len(result.active),
            "suppressed": len(result.findings) - len(result.active),
            "by_severity": {s: sum(1 for f in result.active if f.severity.value == s) for s in ("error", "warning", "info")},
            "failing": len(result.failing(Severity(ctx.fail_on))),
            "confirm": result.confirm_summary or None,
        },
        "findings": [finding_to_dict(f) for f in result.findings],
        "exports": result.confirm_results or None,
        "entry_points": result.entry_points or None,
    }
    if result.shard:
        doc["shard"] = result.shard
    return json_text(doc)
