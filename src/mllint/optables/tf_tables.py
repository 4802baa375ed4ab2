"""TensorFlow op tables: which TF ops and public TF / Keras functions TFLite and TF.js accept.

Reads ``rules/data/tf_ops.json`` (in a checkout) or ``mllint/_catalogue/data/tf_ops.json`` (in an
installed wheel), written by ``scripts/gen_tf_op_tables.py`` from measured conversions. Never imports
TensorFlow.

Lookups answer for a fully qualified call name (``tensorflow.math.erf``, ``tensorflow.raw_ops.Svd``,
``keras.ops.erf``) and only with what was measured: a name the table does not know, or whose outcome
depended on dtypes or arguments, gets no verdict.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, FrozenSet, Mapping, Optional, Tuple

DATA_FILE = Path("data") / "tf_ops.json"

#: TFLite outcomes that break a builtins-only conversion.
FLEX = "flex"  # converts only with SELECT_TF_OPS (then needs the Flex delegate at run time)
UNSUPPORTED = "unsupported"  # not convertible even with SELECT_TF_OPS
#: Ops the TF.js converter does not see as such in a frozen graph (variables become constants,
#: calls are inlined) or accepts with ``--strip_debug_ops``: never reported for TF.js by op name.
_TFJS_NOT_JUDGED = re.compile(r"Variable|VarHandle|VarIsInitialized|^Resource|PartitionedCall|^NoOp$|^Assert$|"
                              r"^CheckNumerics$|^Print$")
#: Public aliases of the same functions.
_PREFIX_ALIASES = (("tensorflow.keras.ops.", "keras.ops."), ("tensorflow.compat.v2.", "tensorflow."))
_RAW = "tensorflow.raw_ops."


@dataclass(frozen=True)
class OpVerdict:
    """What TFLite and TF.js make of one call. ``tflite``: ``"flex"``, ``"unsupported"`` or None (fine
    or not known); ``tfjs``: True when the TF.js converter rejects it; ``*_ops``: the op types at fault."""

    name: str
    tflite: Optional[str]
    tflite_ops: Tuple[str, ...]
    tfjs: bool
    tfjs_ops: Tuple[str, ...]

    @property
    def any(self) -> bool:
        return self.tflite is not None or self.tfjs


class TFOpTables:
    """The parsed table (see ``scripts/gen_tf_op_tables.py`` for how each field was measured)."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.versions: Dict[str, str] = dict(data.get("versions", {}))
        self.tflite_ops: Dict[str, str] = {
            op: status for status, ops in data.get("tflite", {}).items() for op in ops
        }
        tfjs = data.get("tfjs")
        self.tfjs_supported: Optional[FrozenSet[str]] = (
            frozenset(tfjs["supported"]) if isinstance(tfjs, dict) and "supported" in tfjs else None
        )
        self.raw_ops: FrozenSet[str] = frozenset(data.get("raw_ops", ()))
        self.python: Dict[str, Dict[str, Any]] = dict(data.get("python", {}))

    # -- op level ------------------------------------------------------------------------------
    def tfjs_rejects(self, op: str) -> Optional[bool]:
        """Whether the TF.js converter rejects op type ``op`` (None: no TF.js table, or not judged)."""
        if self.tfjs_supported is None or _TFJS_NOT_JUDGED.search(op):
            return None
        return op not in self.tfjs_supported

    # -- call level ----------------------------------------------------------------------------
    def lookup(self, qualname: Optional[str]) -> Optional[OpVerdict]:
        """The verdict for a call of ``qualname`` (None when the table has nothing certain)."""
        if not qualname:
            return None
        for old, new in _PREFIX_ALIASES:
            if qualname.startswith(old):
                qualname = new + qualname[len(old):]
        if qualname.startswith(_RAW):
            return self._raw(qualname)
        entry = self.python.get(qualname)
        if entry is None:
            return None
        lite = entry.get("tflite")
        tflite = lite if lite in (FLEX, UNSUPPORTED) else None
        tfjs = entry.get("tfjs") == "unsupported"
        return OpVerdict(qualname, tflite, tuple(entry.get("tflite_ops", ())) if tflite else (),
                         tfjs, tuple(entry.get("tfjs_ops", ())) if tfjs else ())

    def _raw(self, qualname: str) -> Optional[OpVerdict]:
        op = qualname[len(_RAW):]
        if "." in op or op not in self.raw_ops:
            return None
        status = self.tflite_ops.get(op)
        tflite = status if status in (FLEX, UNSUPPORTED) else None
        tfjs = bool(self.tfjs_rejects(op))
        return OpVerdict(qualname, tflite, (op,) if tflite else (), tfjs, (op,) if tfjs else ())


def _rules_root() -> Path:
    """The rule catalogue directory, found as ``mllint.catalogue`` finds it (wheel or checkout)."""
    from mllint.catalogue import catalogue_dir

    return catalogue_dir()


def data_path() -> Path:
    return _rules_root() / DATA_FILE


@functools.lru_cache(maxsize=None)
def load_tf_tables(path: Optional[str] = None) -> TFOpTables:
    """The TF op tables (cached); an empty table when the data file is missing."""
    file = Path(path) if path else data_path()
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        data = {}
    return TFOpTables(data)
