"""What one export attempt produced: the contract between the child process, the parent and ``merge``.

Kept free of framework imports: the parent process (and the CLI) never imports torch or TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

#: Every status an ``ExportResult`` can have.
#: ok: exported, ran and matched eager within the tolerance; failed: the export (or a first run of the
#: artifact on the example input) raised; mismatch: the artifact runs but computes something else, or
#: raises only on another input; crashed: the process died (signal, ``os._exit``, out of memory);
#: timeout: the step did not finish in time; skipped: not applicable or not runnable here;
#: error: the model could not be built (factory missing, raising, or returning the wrong form).
STATUSES: Tuple[str, ...] = ("ok", "failed", "mismatch", "crashed", "timeout", "skipped", "error")

Location = Tuple[str, int]  # (path relative to the project root, with forward slashes; 1-based line)


@dataclass
class ExportResult:
    """The outcome of one model on one target."""

    model: str
    target: str
    status: str
    seconds: float = 0.0
    message: str = ""
    #: Where the problem is in the user's code (None when nothing could be located).
    location: Optional[Location] = None
    #: Every user line tied to the problem: the call chain down to ``location`` and further problems
    #: reported at once (draft_export, ONNX dispatch); ``location`` is one of them.
    locations: Tuple[Location, ...] = ()
    #: Seconds spent inside the framework's own export/convert call (None when it never ran).
    export_seconds: Optional[float] = None
    framework: str = ""
    #: Extra facts: ``warnings`` [(path, line, text)] (TracerWarnings), ``flex_ops``, ``notes``,
    #: ``setup_seconds``, ``compared`` (inputs compared), ``ran`` (the ``reached`` functions the
    #: model's own calls ran, build-only code left out), ``how`` (how the location was found), ``artifact``.
    details: Dict[str, Any] = field(default_factory=dict)
    #: Code the model ran while being built and called eagerly: (path, first line, last line) per function.
    reached: Tuple[Tuple[str, int, int], ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown export status {self.status!r}")
        if self.location is not None:
            self.location = (str(self.location[0]), int(self.location[1]))
        self.locations = tuple((str(p), int(n)) for p, n in self.locations)
        if self.location is not None and self.location not in self.locations:
            self.locations = (self.location,) + self.locations

    def to_dict(self) -> Dict[str, Any]:
        """JSON-ready form (for ``RunResult.confirm_results``); leaves out the bulky ``reached`` set."""
        out: Dict[str, Any] = {
            "model": self.model,
            "target": self.target,
            "status": self.status,
            "seconds": round(self.seconds, 3),
            "message": self.message,
            "location": {"path": self.location[0], "line": self.location[1]} if self.location else None,
        }
        if self.export_seconds is not None:
            out["export_seconds"] = round(self.export_seconds, 3)
        if self.framework:
            out["framework"] = self.framework
        if self.details.get("device"):
            out["device"] = self.details["device"]
        if self.details.get("applicable") is False:
            out["applicable"] = False  # another framework's target: a table may leave the cell empty
        for key in ("flex_ops", "unsupported_ops", "notes", "artifact", "contract", "contract_probes",
                    "contract_seconds"):
            if self.details.get(key):
                out[key] = self.details[key]
        if self.details.get("warnings"):
            out["warnings"] = [{"path": p, "line": n, "message": m} for p, n, m in self.details["warnings"]]
        return out

    @classmethod
    def from_wire(cls, data: Dict[str, Any]) -> "ExportResult":
        """Rebuild a result sent by the child process as JSON."""
        loc = data.get("location")
        return cls(
            model=data["model"],
            target=data["target"],
            status=data["status"],
            seconds=float(data.get("seconds", 0.0)),
            message=data.get("message", ""),
            location=tuple(loc) if loc else None,
            locations=tuple(tuple(x) for x in data.get("locations", ())),
            export_seconds=data.get("export_seconds"),
            framework=data.get("framework", ""),
            details=dict(data.get("details") or {}),
        )

    def to_wire(self) -> Dict[str, Any]:
        return {
            "model": self.model, "target": self.target, "status": self.status, "seconds": self.seconds,
            "message": self.message, "location": list(self.location) if self.location else None,
            "locations": [list(x) for x in self.locations], "export_seconds": self.export_seconds,
            "framework": self.framework, "details": self.details,
        }


def first_lines(text: str, count: int = 3, width: int = 400) -> str:
    """The first ``count`` non-empty lines of a framework message, without colour codes."""
    import re

    clean = re.sub(r"\x1b\[[0-9;]*m", "", text or "")
    lines: List[str] = [ln.rstrip() for ln in clean.splitlines() if ln.strip()]
    out = "\n".join(lines[:count])
    return out if len(out) <= width else out[: width - 3] + "..."
