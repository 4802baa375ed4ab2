"""Configuration: ``[tool.mllint]`` of the nearest ``pyproject.toml``, overridden by the command line.

Validation is strict: an unknown key, a wrong type or an unknown rule code is a ``ConfigError``
naming the key and the file (the CLI turns it into exit code 2).
"""

from __future__ import annotations

import difflib
import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from mllint.catalogue import Catalogue
from mllint.targets import MODERN_TARGETS, Severity, target_names

if TYPE_CHECKING:
    from mllint.entries import EntryPlan

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DEFAULT_EXCLUDE: Tuple[str, ...] = (
    ".git", ".hg", ".svn", ".venv", "venv", ".env", "env", ".tox", ".nox", "build", "dist",
    "__pycache__", "node_modules", "site-packages", ".mypy_cache", ".pytest_cache",
    ".ruff_cache", ".mllint_cache", ".eggs", "*.egg-info",
)


#: ``memory-limit`` default, MiB (see ``mllint.source.parse_need_mib``).
DEFAULT_MEMORY_LIMIT = 300


class ConfigError(Exception):
    """Bad configuration or usage; the message names the key and where it came from."""


@dataclass
class ModelSpec:
    """One ``[[tool.mllint.models]]`` entry (used by ``--confirm``)."""

    name: str
    factory: str
    targets: Optional[Tuple[str, ...]] = None
    device: Optional[str] = None
    timeout: Optional[float] = None
    tolerance: Optional[float] = None
    #: The model's contract: a path or an inline table as configured (checked by ``confirm.contracts``).
    contract: Any = None


@dataclass
class Settings:
    """Everything a run needs to know, after merging file and command-line configuration."""

    root: Path
    config_file: Optional[Path] = None
    select: Tuple[str, ...] = ("ALL",)
    ignore: Tuple[str, ...] = ()
    extend_select: Tuple[str, ...] = ()
    per_file_ignores: Dict[str, Tuple[str, ...]] = field(default_factory=dict)
    #: the targets judged; with ``targets_auto`` (no target named, or ``targets = "auto"``) the run replaces
    #: them with those its export calls use (``mllint.entries``)
    targets: Tuple[str, ...] = MODERN_TARGETS
    targets_auto: bool = True
    #: ``module:Class`` globs: the classes judged as entry points, and those never judged
    entry_points: Tuple[str, ...] = ()
    not_exported: Tuple[str, ...] = ()
    #: made by the run before its walks (``mllint.entries.build_plan``); not configuration
    plan: Optional["EntryPlan"] = None
    severity: Dict[str, Severity] = field(default_factory=dict)
    exclude: Tuple[str, ...] = DEFAULT_EXCLUDE
    extend_exclude: Tuple[str, ...] = ()
    onnx_opset: int = 18
    models: List[ModelSpec] = field(default_factory=list)
    #: --confirm: keep static verdicts (a finding disproved on every target still fails the run).
    keep_static_verdicts: bool = False
    enabled_codes: Tuple[str, ...] = ()  # resolved from select / ignore / extend-select
    #: MiB one file's parse may need (estimated before parsing); a file over it is reported (ML009), not
    #: parsed. 0: no limit. The default keeps a process under 400 MiB on every file of torch/transformers.
    memory_limit: int = DEFAULT_MEMORY_LIMIT
    #: ``dynamic-dims``: the dimensions the user ships dynamic, for models no export call in the tree declares:
    #: (label, dim, input names; empty: every tensor input of the model's ``forward``)
    dynamic_dims: Tuple[Tuple[str, int, Tuple[str, ...]], ...] = ()

    def fingerprint(self) -> str:
        """Everything that changes findings, as a stable string (part of cache keys)."""
        return repr(
            (
                # auto targets: walks do not depend on the targets (assembly filters), so the key is stable
                sorted(self.enabled_codes), sorted(self.per_file_ignores.items()),
                "auto" if self.targets_auto else self.targets,
                sorted((k, v.value) for k, v in self.severity.items()), self.onnx_opset, self.dynamic_dims,
            )
        )


def _as_str_list(value: Any, key: str, where: str) -> Tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: '{key}' must be a list of strings, got {value!r}")
    return tuple(value)


def _edit_distance(a: str, b: str) -> int:
    """Levenshtein distance: a typo in a short code (``PT1O1``) is one edit from the code meant."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def closest(key: str, known: Sequence[str]) -> Optional[str]:
    """The known value fewest edits from ``key`` (case-insensitive; ties by similarity), if close enough."""
    if not known:
        return None
    low = key.lower()
    best = min(known, key=lambda k: (_edit_distance(low, k.lower()),
                                     -difflib.SequenceMatcher(None, low, k.lower()).ratio(), k))
    return best if _edit_distance(low, best.lower()) <= max(1, len(key) // 3) else None


def _suggest(key: str, known: Sequence[str]) -> str:
    close = closest(key, known)
    return f" (did you mean '{close}'?)" if close else ""


def _check_codes(codes: Sequence[str], key: str, where: str, catalogue: Catalogue) -> None:
    for code in codes:
        if not catalogue.codes_matching(code):
            known = [r.code for r in catalogue] + [r.name for r in catalogue]
            raise ConfigError(
                f"{where}: '{key}' names unknown rule '{code}'{_suggest(code, known)}"
            )


def _check_targets(values: Sequence[str], key: str, where: str) -> Tuple[str, ...]:
    known = target_names()
    for t in values:
        if t not in known:
            raise ConfigError(
                f"{where}: '{key}' has unknown target '{t}'{_suggest(t, known)}; "
                f"known targets: {', '.join(known)}"
            )
    return tuple(t for t in known if t in values)


def _parse_models(value: Any, where: str) -> List[ModelSpec]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ConfigError(f"{where}: 'models' must be an array of tables ([[tool.mllint.models]])")
    out = []
    allowed = {"name", "factory", "targets", "device", "timeout", "tolerance", "contract"}
    for i, entry in enumerate(value):
        here = f"{where}: models[{i}]"
        unknown = set(entry) - allowed
        if unknown:
            k = sorted(unknown)[0]
            raise ConfigError(f"{here}: unknown key '{k}'{_suggest(k, sorted(allowed))}")
        factory = entry.get("factory")
        if not isinstance(factory, str) or ":" not in factory:
            raise ConfigError(f"{here}: 'factory' must be a string 'package.module:function'")
        name = entry.get("name", factory)
        if not isinstance(name, str):
            raise ConfigError(f"{here}: 'name' must be a string")
        targets = None
        if "targets" in entry:
            targets = _check_targets(_as_str_list(entry["targets"], "targets", here), "targets", here)
        device = entry.get("device")
        if device is not None and device not in ("cpu", "cuda", "auto"):
            raise ConfigError(f"{here}: 'device' must be one of cpu, cuda, auto")
        for num in ("timeout", "tolerance"):
            if num in entry and (
                isinstance(entry[num], bool) or not isinstance(entry[num], (int, float))
                or not math.isfinite(entry[num]) or entry[num] <= 0
            ):
                raise ConfigError(f"{here}: '{num}' must be a positive number")
        contract = entry.get("contract")
        if contract is not None and not isinstance(contract, (str, dict)):
            raise ConfigError(f"{here}: 'contract' must be a path (JSON, TOML or Triton config.pbtxt) or a table")
        out.append(
            ModelSpec(name, factory, targets, device, entry.get("timeout"), entry.get("tolerance"), contract)
        )
    return out


_Parser = Callable[[Any, str, str, Catalogue], Any]


def _codes_parser(value: Any, key: str, where: str, catalogue: Catalogue) -> Tuple[str, ...]:
    codes = _as_str_list(value, key, where)
    _check_codes(codes, key, where, catalogue)
    return codes


def _per_file_parser(value: Any, key: str, where: str, catalogue: Catalogue) -> Dict[str, Tuple[str, ...]]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: '{key}' must be a table of glob = [codes]")
    out = {}
    for glob, codes in value.items():
        out[glob] = _codes_parser(codes, f"{key}.{glob}", where, catalogue)
    return out


def _severity_parser(value: Any, key: str, where: str, catalogue: Catalogue) -> Dict[str, Severity]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: '{key}' must be a table of CODE = \"error|warning|info\"")
    out: Dict[str, Severity] = {}
    for code, level in value.items():
        _check_codes([code], f"{key}.{code}", where, catalogue)
        if not isinstance(level, str):
            raise ConfigError(f"{where}: '{key}.{code}' must be a string")
        try:
            sev = Severity.parse(level)
        except ValueError as exc:
            raise ConfigError(f"{where}: '{key}.{code}': {exc}") from None
        for c in catalogue.codes_matching(code):
            out[c] = sev
    return out


def _targets_parser(value: Any, key: str, where: str, catalogue: Catalogue) -> Tuple[str, ...]:
    values = _as_str_list(value, key, where)
    if not values:
        raise ConfigError(f"{where}: '{key}' must name at least one target")
    if any(v.lower() == "all" for v in values):  # "all" (alone or in a list): every target
        return target_names()
    if [v.lower() for v in values] == ["auto"]:
        return ()  # auto: chosen by the run from the project's export calls (apply_table)
    if any(v.lower() == "auto" for v in values):
        raise ConfigError(f"{where}: '{key}': 'auto' cannot be combined with named targets")
    return _check_targets(values, key, where)


def _entry_parser(value: Any, key: str, where: str, catalogue: Catalogue) -> Tuple[str, ...]:
    from mllint.entries import check_pattern

    patterns = _as_str_list(value, key, where)
    for pattern in patterns:
        problem = check_pattern(pattern)
        if problem:
            raise ConfigError(f"{where}: '{key}' has '{pattern}': {problem}")
    return patterns


def _globs_parser(value: Any, key: str, where: str, catalogue: Catalogue) -> Tuple[str, ...]:
    return _as_str_list(value, key, where)


def _opset_parser(value: Any, key: str, where: str, catalogue: Catalogue) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 7 <= value <= 30:
        raise ConfigError(f"{where}: '{key}' must be an integer opset between 7 and 30")
    return value


def _memory_parser(value: Any, key: str, where: str, catalogue: Catalogue) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{where}: '{key}' must be a whole number of MiB (0: no limit), got {value!r}")
    return value


def _dynamic_dims_parser(value: Any, key: str, where: str,
                         catalogue: Catalogue) -> Tuple[Tuple[str, int, Tuple[str, ...]], ...]:
    """``{ batch = 0, sequence = { dim = 1, inputs = ["input_ids"] } }``: a label per dimension, its index, and
    optionally the inputs (``forward`` parameter names) it applies to (default: every tensor input)."""
    def dim_of(raw: Any, label: str) -> int:
        if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
            raise ConfigError(f"{where}: '{key}.{label}' must be a dimension index (0, 1, ...), got {raw!r}")
        return raw

    if not isinstance(value, dict) or not value:
        raise ConfigError(f"{where}: '{key}' must be a table such as {{ batch = 0 }}, got {value!r}")
    out = []
    for label, spec in sorted(value.items()):
        if isinstance(spec, dict):
            unknown = sorted(set(spec) - {"dim", "inputs"})
            if unknown or "dim" not in spec:
                raise ConfigError(f"{where}: '{key}.{label}' takes `dim` and optionally `inputs`"
                                  + (f", not {', '.join(unknown)}" if unknown else ""))
            inputs = _as_str_list(spec.get("inputs", []), f"{key}.{label}.inputs", where)
            out.append((str(label), dim_of(spec["dim"], str(label)), tuple(inputs)))
        else:
            out.append((str(label), dim_of(spec, str(label)), ()))
    return tuple(out)


def _bool_parser(value: Any, key: str, where: str, catalogue: Catalogue) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: '{key}' must be true or false, got {value!r}")
    return value


_KEYS: Dict[str, Tuple[str, _Parser]] = {
    "select": ("select", _codes_parser),
    "ignore": ("ignore", _codes_parser),
    "extend-select": ("extend_select", _codes_parser),
    "per-file-ignores": ("per_file_ignores", _per_file_parser),
    "targets": ("targets", _targets_parser),
    "severity": ("severity", _severity_parser),
    "exclude": ("exclude", _globs_parser),
    "extend-exclude": ("extend_exclude", _globs_parser),
    "onnx-opset": ("onnx_opset", _opset_parser),
    "models": ("models", lambda v, k, w, c: _parse_models(v, w)),
    "keep-static-verdicts": ("keep_static_verdicts", _bool_parser),
    "entry-points": ("entry_points", _entry_parser),
    "not-exported": ("not_exported", _entry_parser),
    "memory-limit": ("memory_limit", _memory_parser),
    "dynamic-dims": ("dynamic_dims", _dynamic_dims_parser),
}
KNOWN_KEYS: Tuple[str, ...] = tuple(_KEYS)


def find_config(start: Path) -> Tuple[Optional[Path], Path]:
    """The project's ``pyproject.toml`` if it has a ``[tool.mllint]`` table, and the project root.

    The search goes up from ``start`` and stops at the first folder holding a ``pyproject.toml`` (the
    project: its config, or none when it has no ``[tool.mllint]`` table) or ``.git`` (the repository root,
    without config): configuration from outside the project (an ancestor folder past the project's own
    ``pyproject.toml`` or ``.git``) is never read. Without either, the root is the current folder when
    ``start`` is under it, else ``start`` itself.
    """
    start = Path(os.path.abspath(start))  # lexically: a symlinked file does not move the project elsewhere
    if start.is_file() or not start.exists():
        start = start.parent
    for folder in [start, *start.parents]:
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            try:
                raw = candidate.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                return None, folder
            try:
                data = tomllib.loads(raw)
            except tomllib.TOMLDecodeError:
                # ours, but broken: load_settings reports it
                return (candidate, folder) if "tool.mllint" in raw else (None, folder)
            if isinstance(data.get("tool"), dict) and "mllint" in data["tool"]:
                return candidate, folder
            return None, folder
        if os.path.lexists(folder / ".git"):
            return None, folder
    cwd = Path.cwd().resolve()
    return None, (cwd if (start == cwd or cwd in start.parents) else start)


def read_table(path: Path) -> Dict[str, Any]:
    """The ``[tool.mllint]`` table of ``path`` (an error if the file is not valid TOML)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    table = data.get("tool", {}).get("mllint", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.mllint] must be a table")
    return table


def apply_table(settings: Settings, table: Mapping[str, Any], where: str, catalogue: Catalogue) -> None:
    for key, value in table.items():
        if key not in _KEYS:
            raise ConfigError(f"{where}: unknown key '{key}'{_suggest(key, KNOWN_KEYS)}")
        attr, parser = _KEYS[key]
        parsed = parser(value, key, where, catalogue)
        if key == "targets":
            settings.targets_auto = parsed == ()
            parsed = parsed or MODERN_TARGETS
        setattr(settings, attr, parsed)


def resolve_enabled(settings: Settings, catalogue: Catalogue) -> None:
    """Turn select / extend-select / ignore into the set of enabled rule codes."""
    enabled: List[str] = []
    explicitly = set()
    for sel in settings.select + settings.extend_select:
        for code in catalogue.codes_matching(sel):
            if sel.upper() != "ALL" or catalogue.by_code[code].default_enabled:
                explicitly.add(code)
                enabled.append(code)
    ignored = {c for sel in settings.ignore for c in catalogue.codes_matching(sel)}
    settings.enabled_codes = tuple(sorted(set(enabled) - ignored))


def load_settings(
    start: Path,
    catalogue: Catalogue,
    config_file: Optional[Path] = None,
    overrides: Optional[Mapping[str, Any]] = None,
) -> Settings:
    """Settings from ``config_file`` (or the nearest one above ``start``) plus CLI overrides."""
    if config_file is not None:
        if not config_file.is_file():
            raise ConfigError(f"{config_file}: configuration file not found")
        path: Optional[Path] = config_file.resolve()
        root = config_file.resolve().parent
    else:
        path, root = find_config(start)
    settings = Settings(root=root, config_file=path)
    if path is not None:
        apply_table(settings, read_table(path), str(path), catalogue)
    if overrides:
        apply_table(settings, {k: v for k, v in overrides.items() if v is not None}, "command line", catalogue)
    resolve_enabled(settings, catalogue)
    return settings
