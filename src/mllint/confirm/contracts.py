"""Model contracts: the interface an exported model must keep (input/output names, dtypes, shapes).

A contract is declared per ``[[tool.mllint.models]]`` entry, inline (``contract.inputs = [...]``) or as
``contract = "path"`` to a JSON or TOML file (one contract, or ``models = {name = contract}``; a
``path#name`` picks one) or to a Triton Inference Server ``config.pbtxt``, parsed with protobuf's
``text_format`` into ``tritonclient``'s ``ModelConfig`` (the optional ``triton`` extra, imported only when
a ``.pbtxt`` is named). Loading happens in the parent (no torch, no TensorFlow); the result is plain JSON
data that the child process checks the artifacts against (``mllint.confirm.contract_check``).

Every problem with a contract is a ``ConfigError`` naming the file and, where known, the line (exit 2).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import sys
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from mllint.config import ConfigError, ModelSpec
from mllint.findings import Finding, Span
from mllint.source import escapes_project
from mllint.targets import Severity

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

#: Finding codes of contract violations (cards in rules/confirm/).
CONTRACT_CODES: Dict[str, str] = {
    "input": "ML106",
    "output": "ML107",
    "dynamic": "ML108",
    "probe": "ML109",
}

#: Canonical dtype names; every alias (Triton ``TYPE_FP32``, ``fp32``, ``float``, ``torch.float32`` ...) maps here.
DTYPES: Tuple[str, ...] = (
    "bool",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "float16",
    "bfloat16",
    "float32",
    "float64",
    "string",
)
_ALIASES: Dict[str, str] = {
    "fp16": "float16",
    "half": "float16",
    "bf16": "bfloat16",
    "fp32": "float32",
    "float": "float32",
    "fp64": "float64",
    "double": "float64",
    "long": "int64",
    "int": "int32",
    "short": "int16",
    "byte": "uint8",
    "bytes": "string",
    "str": "string",
    "boolean": "bool",
}
TRITON_PLATFORMS: Dict[str, Tuple[str, ...]] = {
    "onnxruntime_onnx": ("onnx-dynamo", "onnx-legacy"),
    "onnxruntime": ("onnx-dynamo", "onnx-legacy"),
    "pytorch_libtorch": ("torchscript-script", "torchscript-trace"),
    "pytorch": ("torchscript-script", "torchscript-trace"),
    "tensorflow_savedmodel": ("savedmodel",),
    "tensorflow": ("savedmodel",),
}
_DIM_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def canonical_dtype(value: Any) -> Optional[str]:
    """``"TYPE_FP32"`` / ``"fp32"`` / ``"torch.float32"`` -> ``"float32"``; None when unknown."""
    if not isinstance(value, str):
        return None
    text = value.strip().lower()
    for prefix in ("type_", "torch.", "tf.", "np.", "numpy."):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    text = _ALIASES.get(text, text)
    return text if text in DTYPES else None


# -- where things are written ---------------------------------------------------------------------------


class _Text:
    """A contract's file, for line numbers (never for parsing: the real parsers do that)."""

    def __init__(self, display: str, text: str) -> None:
        self.display = display
        self.lines = text.splitlines()

    def find(self, needle: str, start: int = 1, stop: Optional[int] = None) -> Optional[int]:
        """The first 1-based line in [start, stop) containing ``needle``."""
        end = len(self.lines) + 1 if stop is None else min(stop, len(self.lines) + 1)
        for i in range(max(1, start), end):
            if needle in self.lines[i - 1]:
                return i
        return None

    def tensor_line(self, name: str, start: int, stop: Optional[int]) -> Optional[int]:
        return self.find(f'"{name}"', start, stop) or self.find(f"'{name}'", start, stop)


def _model_block(text: _Text, spec: ModelSpec) -> Tuple[int, Optional[int]]:
    """The lines of ``spec``'s ``[[tool.mllint.models]]`` entry in pyproject.toml (best effort)."""
    headers = [i for i, ln in enumerate(text.lines, 1) if ln.strip().startswith("[[tool.mllint.models]]")]
    for n, head in enumerate(headers):
        nxt = headers[n + 1] if n + 1 < len(headers) else None
        # the entry ends at the next models entry or at a table that is not one of its sub-tables
        end = nxt
        for i in range(head + 1, (nxt or len(text.lines) + 1)):
            stripped = text.lines[i - 1].strip()
            if stripped.startswith("[") and not stripped.lstrip("[").startswith("tool.mllint.models."):
                end = i
                break
        if text.find(f'"{spec.name}"', head, end) or text.find(f'"{spec.factory}"', head, end):
            return head, end
    return 1, None


# -- validation -----------------------------------------------------------------------------------------


def _where(text: _Text, line: Optional[int]) -> str:
    return f"{text.display}:{line}" if line else text.display


def _shape(value: Any, here: str) -> Optional[List[Any]]:
    if value is None:
        return None
    if not isinstance(value, list):
        raise ConfigError(f"{here}: 'shape' must be a list of sizes and dimension names, got {value!r}")
    out: List[Any] = []
    for d in value:
        if isinstance(d, bool):
            raise ConfigError(f"{here}: shape entry {d!r} must be a size, -1 or a dimension name")
        if isinstance(d, int):
            if d < -1:
                raise ConfigError(f"{here}: shape entry {d} must be a size >= 0, -1 (dynamic) or a dimension name")
            out.append(None if d == -1 else d)
        elif isinstance(d, str) and (d == "?" or _DIM_NAME.match(d)):
            out.append(None if d == "?" else d)
        else:
            raise ConfigError(f"{here}: shape entry {d!r} must be a size, -1 or a dimension name")
    return out


def _tensors(value: Any, side: str, text: _Text, start: int, stop: Optional[int]) -> List[Dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ConfigError(f"{_where(text, start)}: contract '{side}' must be a list of tables {{name, dtype, shape}}")
    out = []
    seen = set()
    for i, entry in enumerate(value):
        name = entry.get("name")
        line = text.tensor_line(name, start, stop) if isinstance(name, str) else None
        here = f"{_where(text, line or start)}: contract {side}[{i}]"
        unknown = sorted(set(entry) - {"name", "dtype", "shape"})
        if unknown:
            raise ConfigError(f"{here}: unknown key '{unknown[0]}' (expected name, dtype, shape)")
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{here}: 'name' must be a non-empty string")
        if name in seen:
            raise ConfigError(f"{here}: {side[:-1]} '{name}' is declared twice")
        seen.add(name)
        dtype = None
        if "dtype" in entry:
            dtype = canonical_dtype(entry["dtype"])
            if dtype is None:
                raise ConfigError(
                    f"{here}: unknown dtype {entry['dtype']!r}; known: {', '.join(DTYPES)} (or Triton TYPE_* names)"
                )
        out.append({"name": name, "dtype": dtype, "shape": _shape(entry.get("shape"), here), "line": line or start})
    return out


def _bounds(value: Any, here: str) -> Dict[str, List[Optional[int]]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{here}: 'dims' must be a table of name = {{min, max}} or [min, max]")
    out: Dict[str, List[Optional[int]]] = {}
    for name, bound in value.items():
        if isinstance(bound, list) and len(bound) == 2:
            lo, hi = bound
        elif isinstance(bound, dict) and set(bound) <= {"min", "max"}:
            lo, hi = bound.get("min"), bound.get("max")
        else:
            raise ConfigError(f"{here}: dims.{name} must be {{min = N, max = M}} or [N, M]")
        for v in (lo, hi):
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
                raise ConfigError(f"{here}: dims.{name}: bounds must be integers >= 0")
        if lo is not None and hi is not None and lo > hi:
            raise ConfigError(f"{here}: dims.{name}: min {lo} is above max {hi}")
        out[str(name)] = [lo, hi]
    return out


def _from_table(table: Any, text: _Text, start: int, stop: Optional[int], kind: str) -> Dict[str, Any]:
    here = _where(text, start)
    if not isinstance(table, dict):
        raise ConfigError(f"{here}: a contract must be a table with 'inputs' and/or 'outputs'")
    unknown = sorted(set(table) - {"inputs", "outputs", "dims", "targets"})
    if unknown:
        raise ConfigError(f"{here}: contract: unknown key '{unknown[0]}' (expected inputs, outputs, dims, targets)")
    contract = {
        "kind": kind,
        "source": text.display,
        "line": start,
        "platform": "",
        "inputs": _tensors(table.get("inputs"), "inputs", text, start, stop),
        # an output named like an input is looked up from where the outputs are written
        "outputs": _tensors(table.get("outputs"), "outputs", text, text.find("outputs", start, stop) or start, stop),
        "dims": _bounds(table.get("dims"), here),
        "targets": None,
    }
    if "targets" in table:
        from mllint.config import _as_str_list, _check_targets

        contract["targets"] = list(_check_targets(_as_str_list(table["targets"], "targets", here), "targets", here))
    if not contract["inputs"] and not contract["outputs"]:
        raise ConfigError(f"{here}: the contract declares no inputs and no outputs")
    return contract


def _triton(path: Path, text: _Text, raw: str) -> Dict[str, Any]:
    """A Triton ``config.pbtxt``, parsed by protobuf's ``text_format`` into ``ModelConfig``."""
    try:
        from google.protobuf import text_format
        from tritonclient.grpc import model_config_pb2
    except (ImportError, RuntimeError) as exc:
        raise ConfigError(
            f"{text.display}: reading a Triton config.pbtxt needs the 'triton' extra "
            f"(pip install 'mllint-export[triton]'): {exc}"
        ) from None
    config = model_config_pb2.ModelConfig()
    try:
        text_format.Parse(raw, config)
    except text_format.ParseError as exc:
        line = exc.GetLine() if hasattr(exc, "GetLine") else None
        message = str(exc)
        m = re.match(r"^(\d+):(\d+) ?:? ?(.*)$", message, re.S)
        if m:
            line, message = int(m.group(1)), m.group(3)
        raise ConfigError(f"{_where(text, line)}: not a valid Triton model configuration: {message}") from None
    names = {v.number: v.name for v in model_config_pb2.DataType.DESCRIPTOR.values}
    batch = int(config.max_batch_size)

    def side(items: Iterable[Any], label: str, start: int) -> List[Dict[str, Any]]:
        out = []
        for t in items:
            line = text.find(f'"{t.name}"', start) or text.find(f'"{t.name}"') or 1
            dtype_name = names.get(t.data_type, "TYPE_INVALID")
            dtype = canonical_dtype(dtype_name)
            if dtype is None:
                raise ConfigError(
                    f"{_where(text, line)}: {label} '{t.name}': data_type {dtype_name} is not a tensor "
                    "type mllint can check"
                )
            dims = list(t.reshape.shape) if t.HasField("reshape") else list(t.dims)
            shape: List[Any] = [None if d == -1 else int(d) for d in dims]
            if batch > 0:
                shape = ["batch"] + shape
            out.append({"name": t.name, "dtype": dtype, "shape": shape, "line": line})
        return out

    contract = {
        "kind": "triton",
        "source": text.display,
        "line": text.find("name:") or 1,
        "platform": config.platform or config.backend,
        "inputs": side(config.input, "input", 1),
        "outputs": side(config.output, "output", _first_field(text, "output")),
        "dims": {"batch": [1, batch]} if batch > 0 else {},
        "targets": list(TRITON_PLATFORMS.get(config.platform or config.backend, ())) or None,
    }
    if not contract["inputs"] and not contract["outputs"]:
        raise ConfigError(f"{text.display}: the Triton configuration declares no input and no output")
    return contract


def _first_field(text: _Text, field: str) -> int:
    """The line where a top-level text-format field (``output [`` / ``output {``) starts (1 if not found)."""
    for i, line in enumerate(text.lines, 1):
        if re.match(rf"^\s*{field}\s*(:\s*)?[\[{{]", line):
            return i
    return 1


def _read_file(ref: str, root: Path, spec: ModelSpec, where: str, known: Sequence[str]) -> Dict[str, Any]:
    path_text, _, pick = ref.partition("#")
    rel = Path(path_text)
    if not path_text or rel.is_absolute() or ".." in rel.parts:
        raise ConfigError(f"{where}: contract path '{ref}' must be relative to the project and stay inside it")
    path = root / rel
    if escapes_project(path, root):
        raise ConfigError(f"{where}: contract path '{ref}' leads outside the project (a symlink)")
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{where}: contract file '{path_text}' not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{where}: contract file '{path_text}' cannot be read: {exc}") from None
    text = _Text(rel.as_posix(), raw)
    suffix = rel.suffix.lower()
    if suffix == ".pbtxt":
        if pick:
            raise ConfigError(f"{where}: a config.pbtxt holds one model's configuration; '#{pick}' is not allowed")
        return _triton(path, text, raw)
    if suffix == ".json":
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{text.display}:{exc.lineno}: invalid JSON: {exc.msg}") from None
        kind = "json"
    elif suffix == ".toml":
        try:
            data = tomllib.loads(raw)
        except tomllib.TOMLDecodeError as exc:
            m = re.search(r"line (\d+)", str(exc))
            raise ConfigError(f"{text.display}{':' + m.group(1) if m else ''}: invalid TOML: {exc}") from None
        kind = "toml"
    else:
        raise ConfigError(f"{where}: contract file '{path_text}' must be .json, .toml or a Triton .pbtxt")
    if not isinstance(data, dict):
        raise ConfigError(f"{text.display}: a contract file must hold a table")
    if "models" in data:
        table = data["models"]
        if not isinstance(table, dict):
            raise ConfigError(f"{text.display}: 'models' must be a table of model name = contract")
        for name in table:
            if name not in known:
                line = text.find(f'"{name}"') or text.find(f"{name}") or 1
                raise ConfigError(
                    f"{text.display}:{line}: contract for unknown model '{name}'; configured models: "
                    f"{', '.join(known) or 'none'}"
                )
        wanted = pick or spec.name
        if wanted not in table:
            raise ConfigError(f"{where}: contract file '{path_text}' has no contract for model '{wanted}'")
        line = text.find(f'"{wanted}"') or text.find(f"models.{wanted}") or 1
        return _from_table(table[wanted], text, line, None, kind)
    if pick:
        raise ConfigError(f"{where}: '#{pick}' picks from a 'models' table, which '{path_text}' does not have")
    return _from_table(data, text, 1, None, kind)


def load_contract(
    spec: ModelSpec, root: Path, config_file: Optional[Path], known: Sequence[str]
) -> Optional[Dict[str, Any]]:
    """The checked contract of one model (plain data), or None without one."""
    raw = getattr(spec, "contract", None)
    if raw is None:
        return None
    if isinstance(raw, dict) and raw.get("_loaded"):
        return raw
    display = "pyproject.toml"
    if config_file is not None:
        try:
            display = Path(os.path.abspath(config_file)).relative_to(Path(os.path.abspath(root))).as_posix()
        except ValueError:
            display = Path(config_file).name
    where = f"{display}: model '{spec.name}'"
    if isinstance(raw, str):
        contract = _read_file(raw, root, spec, where, known)
    elif isinstance(raw, dict):
        try:
            source = Path(config_file).read_text(encoding="utf-8") if config_file else ""
        except OSError:
            source = ""
        text = _Text(display, source)
        start, stop = _model_block(text, spec)
        line = text.find("contract", start, stop) or start
        contract = _from_table(raw, text, line, stop, "inline")
    else:
        raise ConfigError(f"{where}: 'contract' must be a path or a table, got {raw!r}")
    contract["_loaded"] = True
    return contract


def resolve_contracts(models: Sequence[ModelSpec], root: Path, config_file: Optional[Path]) -> List[ModelSpec]:
    """``models`` with their contracts loaded and checked (``ConfigError`` on the first bad one)."""
    known = [m.name for m in models]
    out = []
    for spec in models:
        contract = load_contract(spec, Path(root), config_file, known)
        out.append(dataclasses.replace(spec, contract=contract) if contract is not None else spec)
    return out


# -- violations -> findings (in the parent, after the children reported) ---------------------------------


def contract_findings(
    results: Sequence[Any], root: Path, catalogue: object, source: Any, fallback: Any
) -> List[Finding]:
    """One finding per contract violation, grouped over the targets that violate it alike."""
    groups: Dict[Tuple[str, str, int, str], List[Tuple[Any, Dict[str, Any]]]] = {}
    for r in results:
        for v in r.details.get("contract") or []:
            loc = tuple(v["location"]) if v.get("location") else fallback(r, root)
            groups.setdefault((v["code"], str(loc[0]), int(loc[1]), v["message"]), []).append((r, v))
    out: List[Finding] = []
    for (code, path, line, message), members in groups.items():
        targets = tuple(dict.fromkeys(r.target for r, _ in members))
        models = ", ".join(dict.fromkeys(r.model for r, _ in members))
        fields = {"targets": ", ".join(targets), "target": ", ".join(targets), "model": models, "detail": message}
        rule = catalogue.get(code) if hasattr(catalogue, "get") else None
        if rule is not None:
            text, name, severity, fix = (
                rule.message.format(**fields),
                rule.name,
                rule.default_severity,
                rule.choose_fix(targets),
            )
        else:
            text, name, severity, fix = f"{fields['targets']} ({models}): {message}", code, Severity.ERROR, None
        effect = "silent" if code == "ML109" and all(v.get("silent") for _, v in members) else "fails"
        span = source.span(line, path) if source is not None else Span(line, 0, line, 0)
        out.append(
            Finding(
                path=path,
                span=span,
                code=code,
                name=name,
                message=text,
                severity=severity,
                targets=targets,
                effects=tuple((t, effect) for t in targets),
                fix=fix,
                confirmation=tuple((t, "confirmed") for t in targets),
                stmt_line=line,
            )
        )
    return out
