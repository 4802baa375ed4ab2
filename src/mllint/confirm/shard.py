"""``--shard I/N`` and ``mllint merge``: confirm models x targets on several machines, decide once.

A shard attempts the (model, target) pairs whose stable hash falls into it: a pair keeps its shard when models
are added or removed (hash-based, not positional). Its JSON report carries, besides the usual fields, a
``shard`` block: the static findings before confirmation, every export result in full (with the code each
model ran), the models in configured order and a fingerprint of the configuration. ``mllint merge`` checks
that the reports belong together (same mllint version and configuration, each shard once), unions their
results in the unsharded order and runs the same ``merge`` over the union: the verdict is the one a single
run would have given.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

from mllint.config import ModelSpec
from mllint.confirm.isolation import model_targets
from mllint.confirm.results import ExportResult
from mllint.findings import Edit, Finding, Span
from mllint.targets import ALL_TARGETS, Severity

SHARD_RE = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


class ShardError(ValueError):
    """A bad ``--shard`` spec or a set of reports that cannot be merged (a usage error, exit 2)."""


def parse_shard(spec: str) -> Tuple[int, int]:
    """``"I/N"`` with 1 <= I <= N."""
    m = SHARD_RE.match(spec or "")
    if not m:
        raise ShardError(f"--shard expects I/N (for example 1/4), got {spec!r}")
    index, count = int(m.group(1)), int(m.group(2))
    if count < 1 or not 1 <= index <= count:
        raise ShardError(f"--shard {spec}: I must be between 1 and N, and N at least 1")
    return index, count


def shard_of(model: str, target: str, count: int) -> int:
    """The shard (1-based) a (model, target) pair belongs to, from a stable hash of the pair."""
    digest = hashlib.sha256(f"{model}\0{target}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def shard_models(models: Sequence[ModelSpec], targets: Sequence[str], index: int, count: int) -> List[ModelSpec]:
    """The models of one shard, each narrowed to its targets in the shard (models with none are left out)."""
    out = []
    for spec in models:
        mine = tuple(t for t in model_targets(spec, targets) if shard_of(spec.name, t, count) == index)
        if mine:
            out.append(dataclasses.replace(spec, targets=mine))
    return out


def config_fingerprint(
    settings_fingerprint: str,
    targets: Sequence[str],
    keep_static: bool,
    models: Sequence[ModelSpec],
    extra: Sequence[object] = (),
) -> str:
    """What must be equal for shard reports to merge: rules and targets, verdict policy, models, options."""
    text = repr(
        (settings_fingerprint, tuple(targets), keep_static, [dataclasses.astuple(m) for m in models], tuple(extra))
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


# -- records: findings and results in full, for the shard block ------------------------------------


def finding_record(f: Finding) -> Dict[str, Any]:
    data = dataclasses.asdict(f)
    data["severity"] = f.severity.value
    return data


def _pairs(value: Any) -> Tuple[Tuple[str, str], ...]:
    return tuple((str(a), str(b)) for a, b in value or ())


def finding_from_record(data: Dict[str, Any]) -> Finding:
    try:
        return Finding(
            path=str(data["path"]),
            span=Span(**data["span"]),
            code=str(data["code"]),
            name=str(data["name"]),
            message=str(data["message"]),
            severity=Severity(data["severity"]),
            targets=tuple(str(t) for t in data.get("targets") or ()),
            effects=_pairs(data.get("effects")),
            fix=data.get("fix"),
            edits=tuple(Edit(Span(**e["span"]), str(e["text"])) for e in data.get("edits") or ()),
            suppressed=data.get("suppressed"),
            confirmation=_pairs(data.get("confirmation")),
            stmt_line=data.get("stmt_line"),
            evidence=_pairs(data.get("evidence")),
            disproved=bool(data.get("disproved", False)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ShardError(f"a static finding in the shard report is malformed ({type(exc).__name__}: {exc})") from None


def result_record(r: ExportResult) -> Dict[str, Any]:
    data = r.to_wire()
    data["reached"] = [list(x) for x in r.reached]
    return data


def result_from_record(data: Dict[str, Any]) -> ExportResult:
    try:
        r = ExportResult.from_wire(data)
        r.reached = tuple((str(p), int(a), int(b)) for p, a, b in data.get("reached") or ())
    except (KeyError, TypeError, ValueError) as exc:
        raise ShardError(f"an export result in the shard report is malformed ({type(exc).__name__}: {exc})") from None
    return r


def shard_block(
    index: int,
    count: int,
    fingerprint: str,
    models: Sequence[ModelSpec],
    keep_static: bool,
    static: Sequence[Finding],
    results: Sequence[ExportResult],
) -> Dict[str, Any]:
    return {
        "index": index,
        "count": count,
        "config": fingerprint,
        "models": [m.name for m in models],
        "keep_static": keep_static,
        "static": [finding_record(f) for f in static],
        "results": [result_record(r) for r in results],
    }


# -- merging reports -------------------------------------------------------------------------------


@dataclasses.dataclass
class MergedInput:
    """What the shard reports add up to: the static findings and every export result, in unsharded order."""

    doc: Dict[str, Any]  # the first report (root, targets, files_checked, version)
    static: List[Finding]
    results: List[ExportResult]
    keep_static: bool


def read_reports(paths: Sequence[Path]) -> MergedInput:
    """Load and check shard reports: one mllint version and configuration, each of the N shards once."""
    docs = []
    for path in paths:
        try:
            doc = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ShardError(f"{path}: {exc.strerror or exc}") from None
        except ValueError as exc:
            raise ShardError(f"{path}: not a JSON report ({exc})") from None
        if not isinstance(doc, dict) or doc.get("schema") != "mllint-json":
            raise ShardError(f"{path}: not an mllint JSON report (write shard reports with --format json)")
        if not isinstance(doc.get("shard"), dict):
            raise ShardError(f"{path}: not a shard report (run mllint check --confirm --shard I/N --format json)")
        docs.append((Path(path), doc))
    if not docs:
        raise ShardError("merge needs at least one report")
    first_path, first = docs[0]
    count = first["shard"].get("count")
    seen: Dict[int, Path] = {}
    for path, doc in docs:
        if doc.get("mllint_version") != first.get("mllint_version"):
            raise ShardError(
                f"{path}: written by mllint {doc.get('mllint_version')}, {first_path} by "
                f"{first.get('mllint_version')}: merge reports of one mllint version"
            )
        if doc["shard"].get("config") != first["shard"].get("config") or doc["shard"].get("count") != count:
            raise ShardError(
                f"{path} and {first_path} come from different configurations (rules, targets, "
                f"models or shard count): merge the shards of one run"
            )
        index = doc["shard"].get("index")
        if index in seen:
            raise ShardError(f"{path} and {seen[index]} are both shard {index}/{count}")
        seen[index] = path
    missing = sorted(set(range(1, int(count) + 1)) - set(seen))
    if missing:
        raise ShardError(
            f"shard{'s' if len(missing) > 1 else ''} {', '.join(f'{i}/{count}' for i in missing)} "
            f"missing: the verdict needs every shard"
        )
    static = [finding_from_record(d) for d in first["shard"].get("static") or []]
    for path, doc in docs[1:]:
        if [finding_from_record(d) for d in doc["shard"].get("static") or []] != static:
            raise ShardError(
                f"{path} and {first_path} report different static findings: were they run on the same commit?"
            )
    models = list(first["shard"].get("models") or [])
    rank = {t: i for i, t in enumerate(ALL_TARGETS)}
    results = [result_from_record(d) for _, doc in docs for d in doc["shard"].get("results") or []]
    results.sort(key=lambda r: (models.index(r.model) if r.model in models else len(models), rank.get(r.target, 99)))
    keep = bool(first["shard"].get("keep_static", False))
    return MergedInput(first, static, results, keep)
